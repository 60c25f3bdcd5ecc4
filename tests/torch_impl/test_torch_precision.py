"""Mixed precision in PyTorch (`--precision bf16 | fp16`): from the canonical
initial weights, on the same batch and noise, two mixed-precision steps give
finite losses close to the fp32 steps', while parameters, optimizer state,
generated images and logits stay float32.

Tolerance: |mixed - fp32| <= 0.05 * max(1, |fp32|). bfloat16 keeps 8
significant bits (relative rounding 2^-9 ~ 0.2% per operation) and a DCGAN
forward pass sums up to 3,136 products per output through four layers, so
the logits, and the losses of these near-chance initial networks (BCE ~1.4,
the critic's penalty ~10, Wasserstein losses ~0.01 hence the absolute floor),
move by a few tenths of a percent to about a percent; float16 keeps 11 bits
and moves them less. 5% flags a step that lost its scaling or its float32
losses, not rounding. The losses must also differ from fp32's, which shows
that autocast really ran.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from benchmark.runner import RunnerOptions  # noqa: E402
from benchmark.specs import get_spec  # noqa: E402
from tests.training import train_steps  # noqa: E402
from torch_impl.runner import TorchRunner  # noqa: E402

TOLERANCE = 0.05
BATCH, STEPS, DATA = 8, 2, 48
CASES = [("dcgan", "bf16"), ("wgan_gp", "bf16"), ("sn_dcgan", "bf16"), ("dcgan", "fp16"), ("wgan_gp", "fp16")]


def train(model: str, precision: str) -> tuple[TorchRunner, list[dict[str, float]]]:
    runner = TorchRunner(get_spec(model), RunnerOptions(precision=precision, threads=2))
    return runner, train_steps(runner, steps=STEPS, batch=BATCH, data=DATA, weight_seed=1, data_seed=0)


@pytest.fixture(scope="module")
def fp32_losses() -> dict[str, list[dict[str, float]]]:
    return {model: train(model, "fp32")[1] for model in dict.fromkeys(m for m, _ in CASES)}


@pytest.mark.parametrize("model, precision", CASES)
def test_mixed_step_is_close_to_fp32_and_keeps_float32_state(model, precision, fp32_losses):
    runner, losses = train(model, precision)
    for step, (mixed, reference) in enumerate(zip(losses, fp32_losses[model])):
        for name, value in mixed.items():
            assert np.isfinite(value), (step, name)
            # fp16 skips the first D updates while the loss scale backs off from
            # 2^16, so only the first D loss (before any update) is comparable.
            if precision == "bf16" or (step, name) == (0, "d_loss"):
                assert abs(value - reference[name]) <= TOLERANCE * max(1.0, abs(reference[name])), \
                    (step, name, value, reference[name])
    assert losses != fp32_losses[model], "autocast changed nothing"

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
