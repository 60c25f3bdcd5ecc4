"""The WGAN-GP gradient penalty (`losses.gradient_penalty` in each twin) and
its place in the training step.

Tolerances, each named at its test:
- a linear critic f(x) = <w, x> has gradient w at every x, so the penalty is
  (||w|| - 1)^2 exactly; float32 rounding of a 784-term norm: 1e-6 absolute.
- the penalty of the wgan_gp critic from the same weights and inputs, and its
  gradient with respect to every critic weight (the double backward): float32,
  1e-5 relative to the largest magnitude.
- the step's d_loss with the penalty minus the d_loss without it is
  gradient_penalty * penalty: float32, 1e-5 relative.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from benchmark.runner import RunnerOptions, StepInputs
from benchmark.specs import get_spec
from benchmark.specs.layers import Dense, Flatten, NetSpec
from benchmark.weights import initial_weights

torch = pytest.importorskip("torch")
torch_losses = pytest.importorskip("torch_impl.losses")
torch_nets = pytest.importorskip("torch_impl.nets")
torch_weights = pytest.importorskip("torch_impl.weights")
torch_runner = pytest.importorskip("torch_impl.runner")
tf = pytest.importorskip("tensorflow")
tf_losses = pytest.importorskip("tf_impl.losses")
tf_nets = pytest.importorskip("tf_impl.nets")
tf_weights = pytest.importorskip("tf_impl.weights")
tf_runner = pytest.importorskip("tf_impl.runner")

BATCH = 16
LINEAR_ATOL = 1e-6
RTOL = 1e-5


def relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
    return float(np.max(np.abs(actual - expected)) / max(np.max(np.abs(expected)), 1e-12))


def nchw(images: np.ndarray) -> "torch.Tensor":
    return torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))


def penalties(net: NetSpec, weights, real, fake, mix):
    """(torch penalty, tf penalty, torch gradients, tf gradients), gradients
    canonical: key -> array in the layout of `benchmark.weights`."""
    t_model = torch_nets.build_network(net).train()
    torch_weights.import_network(net, t_model, weights)
    t_penalty = torch_losses.gradient_penalty(t_model, nchw(real), nchw(fake), torch.from_numpy(mix))
    t_penalty.backward()
    # A weight the penalty does not depend on (a bias) gets no gradient: None, read as 0.
    t_grads = {key: torch_weights._from_torch(layer, key, zero_if_none(t.grad, t))
               for layer, key, t in torch_weights._tensors(net, t_model) if t.requires_grad}

    k_model = tf_nets.build_network(net)
    tf_weights.import_network(net, k_model, weights)
    keyed = [(key, v) for _, key, v in tf_weights._variables(net, k_model) if v.trainable]
    with tf.GradientTape() as tape:
        k_penalty = tf_losses.gradient_penalty(lambda x: k_model(x, training=True),
                                               tf.constant(real), tf.constant(fake), tf.constant(mix))
    k_grads = {key: zero_if_none(g, v)
               for (key, v), g in zip(keyed, tape.gradient(k_penalty, [v for _, v in keyed]))}
    return float(t_penalty.detach()), float(k_penalty), t_grads, k_grads


def zero_if_none(grad, variable) -> np.ndarray:
    return np.zeros(tuple(variable.shape), np.float32) if grad is None else np.asarray(grad)


@pytest.fixture(scope="module")
def batch(mnist_train):
    rng = np.random.default_rng(5)
    real = np.array(mnist_train[0][:BATCH])
    fake = np.tanh(rng.normal(size=real.shape)).astype(np.float32)
    return real, fake, rng.random(BATCH).astype(np.float32)


@pytest.mark.parametrize("norm", [1.0, 2.0, 0.5])
def test_penalty_of_a_linear_critic_is_hand_computable(norm, batch):
    net = NetSpec("critic", (28, 28, 1), (Flatten(), Dense("score", 28 * 28, 1)))
    w = np.random.default_rng(0).normal(size=(28 * 28, 1))
    weights = {"critic/score/kernel": (norm * w / np.linalg.norm(w)).astype(np.float32),
               "critic/score/bias": np.array([0.3], np.float32)}
    t_penalty, k_penalty, _, _ = penalties(net, weights, *batch)
    assert t_penalty == pytest.approx((norm - 1.0) ** 2, abs=LINEAR_ATOL)
    assert k_penalty == pytest.approx((norm - 1.0) ** 2, abs=LINEAR_ATOL)


def test_penalty_and_its_gradients_agree_for_the_wgan_gp_critic(batch):
    spec = get_spec("wgan_gp")
    weights = initial_weights(spec, seed=3)
    t_penalty, k_penalty, t_grads, k_grads = penalties(spec.discriminator, weights, *batch)
    assert t_penalty > 0.01  # not a trivial 0
    assert t_penalty == pytest.approx(k_penalty, rel=RTOL)
    assert t_grads.keys() == k_grads.keys()
    for key in t_grads:
        if key.endswith("logit/bias"):  # the bias leaves the gradient unchanged: exactly 0
            assert not np.any(t_grads[key]) and not np.any(k_grads[key])
        else:
            assert relative_error(t_grads[key], k_grads[key]) < RTOL, key


@pytest.mark.parametrize("runner_cls", [torch_runner.TorchRunner, tf_runner.TFRunner],
                         ids=["torch", "tf"])
def test_training_step_adds_the_weighted_penalty(runner_cls, batch, mnist_train):
    real, _, _ = batch
    spec = dataclasses.replace(get_spec("wgan_gp"), n_critic=1)
    plain = dataclasses.replace(spec, gradient_penalty=None)
    rng = np.random.default_rng(11)
    inputs = StepInputs.draw(spec, np.arange(BATCH)[None, :], rng)
    weights = initial_weights(spec, seed=3)
    d_losses = []
    for s in (spec, plain):
        runner = runner_cls(s, RunnerOptions())
        runner.import_weights(weights)
        runner.load_data(real, np.zeros(BATCH, np.int64))
        d_losses.append(runner.train_step(inputs)["d_loss"])
    # The penalty the step saw: the step's fake batch is G(noise[0]) in training mode.
    runner = runner_cls(plain, RunnerOptions())
    runner.import_weights(weights)
    fake = generate_in_training_mode(runner, inputs.noise[0])
    net = spec.discriminator
    t_penalty, _, _, _ = penalties(net, weights, real, fake, inputs.mix[0])
    assert d_losses[0] - d_losses[1] == pytest.approx(spec.gradient_penalty * t_penalty, rel=RTOL)


def generate_in_training_mode(runner, noise: np.ndarray) -> np.ndarray:
    """G(noise) with batch statistics, as inside a training step."""
    if runner.framework == "torch":
        runner.generator.train()
        with torch.no_grad():
            return runner.generator(torch.from_numpy(noise)).permute(0, 2, 3, 1).numpy()
    return runner.generator(tf.constant(noise), training=True).numpy()
