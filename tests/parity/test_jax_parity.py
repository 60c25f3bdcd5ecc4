"""The JAX twin computes what the PyTorch twin computes, for every model in
SPECS: the design and tolerances of `tests/parity/test_parity.py` (read its
module docstring), JAX against PyTorch.

1. One pass in float32 (outputs in inference mode; both losses of a first
   step with D's learning rate 0): each twin within the derived rounding
   budget of its own float64 run, so the float32 twins within twice that.
   Here the float64 twins are also compared directly, at FLOAT64_RTOL.
2. Training in float64: losses of 3 steps and every array after them within
   FLOAT64_RTOL = 1e-9 (wgan and wgan_gp with 2 critic updates a step, not 5:
   `tests.training.two_critic_updates`; so in section 1's first step). Unlike TensorFlow, JAX computes in float64 with
   the spec's own constants (LeakyReLU's 0.2, the learning rates are float64
   in a float64 run), so PyTorch runs with its own constants, and the proof
   that the bound sees a one-rounding difference is JAX with its learning
   rates rounded to float32 (2.5e-8 relative): it must miss the bound.
3. Training in float32: |torch32 - jax32| <= |torch32 - torch64| +
   |jax32 - jax64| + FLOAT64_RTOL |jax64| (C = 1, exact).

JAX runs in `jit` mode (`tests/jax_impl/test_jax_modes.py` holds eager to
it). Learning rates are arguments of the compiled step, so the frozen critic
and the lr-rounded run reuse the model's compiled program: two compilations
per model (float32, float64), which bound this module's time.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pytest

from benchmark.runner import RunnerOptions, StepInputs
from benchmark.specs import SPECS, GANSpec
from benchmark.specs.layers import NetSpec
from benchmark.weights import initial_weights
from tests.parity.bounds import BATCH, PIXELS, clipped, loss_bound, relative_error, step_scales
from tests.parity.rounding import rounding_budget
from tests.training import frozen_critic, two_critic_updates

torch = pytest.importorskip("torch")
torch_runner = pytest.importorskip("torch_impl.runner")
jax_runner = pytest.importorskip("jax_impl.runner")

FLOAT64_RTOL = 1e-9  # test_parity.py, section 2
STEPS = 3
DATA = 256
WEIGHT_SEED = 1234
MODELS = sorted(SPECS)

# name -> (framework, dtype)
RUNS = {"torch32": ("torch", "float32"), "jax32": ("jax", "float32"),
        "torch64": ("torch", "float64"), "jax64": ("jax", "float64")}


def float32_learning_rates(spec: GANSpec) -> GANSpec:
    """`spec` with both learning rates rounded to float32: one rounding of one
    constant, the smallest real difference the float64 bound must see."""
    def rounded(o):
        return dataclasses.replace(o, lr=float(np.float32(o.lr)))
    return dataclasses.replace(spec, d_optimizer=rounded(spec.d_optimizer), g_optimizer=rounded(spec.g_optimizer))


def build(run: str, spec: GANSpec, weights, images: np.ndarray):
    framework, dtype = RUNS[run]
    if framework == "torch":
        runner = torch_runner.TorchRunner(spec, RunnerOptions(mode="eager", dtype=dtype))
    else:
        runner = jax_runner.JaxRunner(spec, RunnerOptions(mode="jit", dtype=dtype))
    runner.import_weights(weights)
    runner.load_data(images.astype(dtype), np.arange(len(images)) % 10)
    return runner


@pytest.fixture(scope="module")
def images(mnist_train):
    return np.array(mnist_train[0][:DATA])


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """PyTorch on one thread: a batch of 16 gains nothing from a second, and
    XLA's pool competes with it in this process (test_parity.py)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def step_inputs(spec, step: int, dtype: str = "float32") -> StepInputs:
    rng = np.random.default_rng(100 + step)
    return StepInputs.draw(spec, rng.integers(0, DATA, (spec.n_critic, BATCH)), rng, dtype)


def assert_within_rounding(results: dict[str, np.ndarray], tolerance: float, what: str) -> None:
    """Each float32 twin within `tolerance` of its float64 run, the twins
    within twice that of each other, and the float64 twins within FLOAT64_RTOL."""
    for framework in ("torch", "jax"):
        error = float(np.max(np.abs(results[f"{framework}32"] - results[f"{framework}64"])))
        assert error <= tolerance, f"{what}: {framework} float32 is {error:.3g} off float64 (> {tolerance:.3g})"
    gap = float(np.max(np.abs(results["torch32"] - results["jax32"])))
    assert gap <= 2 * tolerance, f"{what}: the float32 twins are {gap:.3g} apart (> 2 x {tolerance:.3g})"
    assert relative_error(results["jax64"], results["torch64"]) < FLOAT64_RTOL, f"{what}: float64"


@pytest.mark.parametrize("model", MODELS)
def test_parameter_counts_and_weights_round_trip(model, images):
    spec = SPECS[model]
    weights = initial_weights(spec, WEIGHT_SEED)
    runner = build("jax32", spec, weights, images)
    assert runner.parameter_counts() == spec.parameter_counts()
    exported = runner.export_weights()
    assert exported.keys() == weights.keys()
    for key, value in weights.items():
        np.testing.assert_array_equal(exported[key], value, err_msg=key)


@pytest.mark.parametrize("model", MODELS)
def test_outputs_agree_from_the_same_weights(model, images):
    """G(z), D(x) and D(G(z)) in inference mode: section 1."""
    spec = SPECS[model]
    weights = initial_weights(spec, WEIGHT_SEED)
    runners = {run: build(run, spec, weights, images) for run in RUNS}
    noise = np.random.default_rng(7).standard_normal((BATCH, spec.latent_dim))
    labels = np.arange(BATCH) % spec.num_classes

    def tolerance(net: NetSpec, out: dict[str, np.ndarray]) -> float:
        return rounding_budget([net], training=False, batch=BATCH) * float(np.max(np.abs(out["torch64"])))

    fakes = {run: r.generate(noise.astype(RUNS[run][1]), labels) for run, r in runners.items()}
    assert {f.shape for f in fakes.values()} == {(BATCH, *spec.image_shape)}
    assert_within_rounding(fakes, tolerance(spec.generator, fakes), "G(z)")
    for what, batch in {"D(x)": images[:BATCH], "D(G(z))": fakes["torch64"]}.items():
        logits = {run: r.discriminate(batch.astype(RUNS[run][1]), labels) for run, r in runners.items()}
        assert {d.shape for d in logits.values()} == {(BATCH, 1)}
        assert_within_rounding(logits, tolerance(spec.discriminator, logits), what)


@pytest.mark.parametrize("model", MODELS)
def test_first_losses_agree_before_any_update(model, images):
    """Both losses of a first step with D's learning rate 0: the step's whole
    forward arithmetic in training mode at rounding (section 1)."""
    spec = frozen_critic(two_critic_updates(SPECS[model]))
    weights = clipped(spec, initial_weights(spec, WEIGHT_SEED))
    losses = {run: build(run, spec, weights, images).train_step(step_inputs(spec, 0, RUNS[run][1]))
              for run in RUNS}
    scales = step_scales(build("torch64", spec, weights, images), step_inputs(spec, 0, "float64"))
    penalty = spec.gradient_penalty is not None
    nets = (spec.generator, spec.discriminator) + ((spec.discriminator,) if penalty else ())
    path = rounding_budget(nets, training=True, batch=BATCH, extra=(PIXELS,) if penalty else ())
    for name in ("d_loss", "g_loss"):
        values = {run: np.array(result[name]) for run, result in losses.items()}
        assert_within_rounding(values, loss_bound(spec, name, losses["torch64"][name], scales, path), name)


@pytest.fixture(scope="module")
def trajectories(images):
    """model -> {run: (losses (STEPS, 2), exported weights after STEPS steps)}
    for RUNS and "jax64 f32 lr" (learning rates rounded to float32)."""
    @functools.cache
    def train(model: str):
        spec = two_critic_updates(SPECS[model])
        weights = initial_weights(spec, WEIGHT_SEED)
        result = {}
        for run in (*RUNS, "jax64 f32 lr"):
            runner = (build("jax64", float32_learning_rates(spec), weights, images) if run == "jax64 f32 lr"
                      else build(run, spec, weights, images))
            dtype = RUNS.get(run, ("", "float64"))[1]
            steps = [runner.train_step(step_inputs(spec, step, dtype)) for step in range(STEPS)]
            result[run] = (np.array([[s["d_loss"], s["g_loss"]] for s in steps]), runner.export_weights())
        return result
    return train


@pytest.mark.parametrize("model", MODELS)
def test_float64_training_agrees(model, trajectories):
    """Losses of every step and every array after STEPS steps: section 2."""
    runs = trajectories(model)
    (torch_losses, torch_w), (jax_losses, jax_w) = runs["torch64"], runs["jax64"]
    np.testing.assert_array_less(np.abs(jax_losses - torch_losses), FLOAT64_RTOL * np.abs(torch_losses))
    initial = initial_weights(SPECS[model], WEIGHT_SEED)
    for key in initial:
        assert jax_w[key].dtype == np.float64, key
        assert relative_error(jax_w[key], torch_w[key]) < FLOAT64_RTOL, key
        if key.endswith("/kernel"):
            assert not np.array_equal(jax_w[key], initial[key]), f"{key} never changed"
    # The bound sees the smallest real difference: one float32 rounding of the learning rates.
    rounded = runs["jax64 f32 lr"][1]
    assert max(relative_error(rounded[key], torch_w[key]) for key in initial) > FLOAT64_RTOL


@pytest.mark.parametrize("model", MODELS)
def test_float32_training_gap_is_float32_rounding(model, trajectories):
    """|torch32 - jax32| <= |torch32 - torch64| + |jax32 - jax64| + FLOAT64_RTOL |torch64|: section 3."""
    runs = trajectories(model)
    torch32, jax32 = runs["torch32"][0], runs["jax32"][0]
    torch64, jax64 = runs["torch64"][0], runs["jax64"][0]
    assert np.all(np.isfinite(torch32)) and np.all(np.isfinite(jax32))
    bound = np.abs(torch32 - torch64) + np.abs(jax32 - jax64) + FLOAT64_RTOL * np.abs(torch64)
    gap = np.abs(torch32 - jax32)
    assert np.all(gap <= bound), f"(step, [d_loss, g_loss]) gaps {gap} > bounds {bound}"


def test_weight_clipping_bounds_the_critic(images):
    spec = two_critic_updates(SPECS["wgan"])
    runner = build("jax32", spec, initial_weights(spec, WEIGHT_SEED), images)
    runner.train_step(step_inputs(spec, 0))
    for key, value in runner.export_weights().items():
        if key.startswith("discriminator/") and "/moving_" not in key:
            assert np.max(np.abs(value)) <= np.float32(spec.clip_value), key
