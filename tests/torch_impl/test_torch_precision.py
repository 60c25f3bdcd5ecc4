"""Mixed precision in PyTorch (`--precision bf16 | fp16`): from the canonical
initial weights, on the same batch and noise, mixed-precision steps give
finite losses close to the fp32 steps', while parameters, optimizer state,
generated images and logits stay float32.

Tolerance: |mixed - fp32| <= 0.05 * max(1, |fp32|) (TOLERANCE, shared with
tests/tf_impl/test_tf_precision.py), where only rounding separates the runs:
- both losses of a first step whose D learning rate is 0
  (`tests.training.frozen_critic`): every critic pass and G's loss read the
  initial weights. The one comparison fp16 gets: its scaler skips updates while
  the scale backs off from 2^16, fp32's do not, so no later loss compares
  (step 0's D loss does not either when n_critic > 1: wgan_gp averages five
  critic passes, four after updates, which moved it 0.3%).
- bf16 also: both losses of two plain steps. bf16 cannot skip an update, but it
  rounds gradients, so Adam's sign-like first updates flip where fp32's
  gradient is below bf16's resolution; no bound on that can be derived
  (tests/parity/test_parity.py), and 5% is kept as the same yardstick.
Why 5%: bfloat16 keeps 8 significant bits, so a cast rounds by up to
u = 2^-8 (0.4%) relative (float16: 11 bits, 2^-11). A layer under autocast
rounds its input, its weight and its output, each error uniform in +-u and
independent: about u of relative error per layer. Along G and then D (six
weight layers in DCGAN, their activations rounding too, ~10 roundings) that
adds in quadrature to sqrt(10) u = 1.3% of a logit's scale at one standard
deviation, 4.4% at 3.5. A loss is a batch mean of functions of slope at most
1 of the logits (1.5 for least squares near 0), whose scale at the initial
weights is at most ~3 here: 5% of max(1, |loss|) covers that at 3.5 standard
deviations without counting the mean's averaging. Measured: first-step losses
1.2e-3 at most, the two plain bf16 steps 8e-3 at most, with AVX-512 (BF16)
and with AVX2 kernels. The losses must also differ from fp32's, which shows
that autocast really ran.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from benchmark.runner import RunnerOptions  # noqa: E402
from benchmark.specs import get_spec  # noqa: E402
from tests.training import frozen_critic, train_steps, two_critic_updates  # noqa: E402
from torch_impl.runner import TorchRunner  # noqa: E402

TOLERANCE = 0.05
BATCH, STEPS, DATA = 8, 2, 48
CASES = [("dcgan", "bf16"), ("wgan_gp", "bf16"), ("sn_dcgan", "bf16"), ("dcgan", "fp16"), ("wgan_gp", "fp16")]


def train(model: str, precision: str, frozen: bool = False) -> tuple[TorchRunner, list[dict[str, float]]]:
    """STEPS plain steps, or with `frozen` one step of `frozen_critic`."""
    spec = two_critic_updates(get_spec(model))  # wgan_gp: 2 critic updates a step (tests.training)
    spec = frozen_critic(spec) if frozen else spec
    runner = TorchRunner(spec, RunnerOptions(precision=precision, threads=2))
    return runner, train_steps(runner, steps=1 if frozen else STEPS, batch=BATCH, data=DATA,
                               weight_seed=1, data_seed=0)


@pytest.fixture(scope="module")
def fp32_losses() -> dict[tuple[str, bool], list[dict[str, float]]]:
    """(model, frozen) -> the fp32 losses of `train`."""
    return {(model, frozen): train(model, "fp32", frozen)[1]
            for model in dict.fromkeys(m for m, _ in CASES) for frozen in (False, True)}


def assert_close(mixed: list[dict[str, float]], reference: list[dict[str, float]]) -> None:
    for step, (losses, expected) in enumerate(zip(mixed, reference, strict=True)):
        for name, value in losses.items():
            assert abs(value - expected[name]) <= TOLERANCE * max(1.0, abs(expected[name])), \
                (step, name, value, expected[name])


@pytest.mark.parametrize("model, precision", CASES)
def test_mixed_step_is_close_to_fp32_and_keeps_float32_state(model, precision, fp32_losses):
    assert_close(train(model, precision, frozen=True)[1], fp32_losses[model, True])
    runner, losses = train(model, precision)
    assert all(np.isfinite(value) for step in losses for value in step.values()), losses
    if precision == "bf16":  # fp16 skips updates that fp32 makes (module docstring)
        assert_close(losses, fp32_losses[model, False])
    assert losses != fp32_losses[model, False], "autocast changed nothing"

    for net in (runner.generator, runner.discriminator):
        assert {p.dtype for p in net.parameters()} == {torch.float32}
    for optimizer in (runner.g_optimizer, runner.d_optimizer):
        states = [t for state in optimizer.state.values() for t in state.values()
                  if torch.is_tensor(t) and t.is_floating_point() and t.dim()]
        assert {t.dtype for t in states} <= {torch.float32}  # empty while fp16 skipped every step
    assert runner.g_optimizer.state, "G was never updated"
    assert runner.d_scaler.is_enabled() == (precision == "fp16")

    noise = np.random.default_rng(2).standard_normal((4, runner.spec.latent_dim)).astype(np.float32)
    images = runner.generate(noise)
    assert images.dtype == np.float32 and images.shape == (4, 28, 28, 1)
    assert np.all(np.abs(images) <= 1)
    assert runner.discriminate(images).dtype == np.float32


def test_unknown_precision_is_refused():
    with pytest.raises(ValueError, match="valid: fp32, bf16, fp16"):
        RunnerOptions(precision="int8")
    with pytest.raises(ValueError, match="float32 parameters"):
        RunnerOptions(precision="bf16", dtype="float64")
