"""Mixed precision in TensorFlow (`--precision bf16 | fp16`, Keras
`mixed_bfloat16` / `mixed_float16` policies on each layer): from the canonical
initial weights, on the same batch and noise, mixed-precision steps give
finite losses close to the fp32 steps', in eager and traced modes, while
variables, optimizer slots, generated images and logits stay float32.

Tolerance: |mixed - fp32| <= 0.05 * max(1, |fp32|), compared on the same
losses as tests/torch_impl/test_torch_precision.py (a first step with D's
learning rate 0; for bf16 also two plain steps) and derived there: a cast to
bfloat16 rounds by up to 2^-8, about ten such roundings along G and D add to
~1.3% of a logit at one standard deviation, and a loss moves by at most
about that times the logits' scale (<= ~3 here); 5% of max(1, |loss|) is 3.5
standard deviations. Measured: first-step losses 2e-3 at most, the plain bf16
steps 8e-3, with AVX-512 (BF16) kernels and with oneDNN off (TensorFlow's
Eigen kernels, what it runs on a CPU without bfloat16 instructions; capping
oneDNN at AVX2 on a bfloat16-capable CPU crashes TensorFlow's bf16 matmul,
which still picks oneDNN by the CPU's flags, so the bf16 cases skip then:
tests/isa.py). The losses must also differ from fp32's, which shows that the
policy really took effect.
"""

from __future__ import annotations

import numpy as np
import pytest

tf_runner = pytest.importorskip("tf_impl.runner")
import keras  # noqa: E402

from benchmark.runner import RunnerOptions  # noqa: E402
from benchmark.specs import get_spec  # noqa: E402
from tests.isa import skip_tf_bf16_under_a_onednn_cap  # noqa: E402
from tests.training import frozen_critic, train_steps, two_critic_updates  # noqa: E402

TOLERANCE = 0.05
BATCH, STEPS, DATA = 8, 2, 48
CASES = [("dcgan", "bf16", "eager"), ("dcgan", "bf16", "function"), ("dcgan", "bf16", "xla"),
         ("wgan_gp", "bf16", "eager"), ("sn_dcgan", "bf16", "eager"),
         ("dcgan", "fp16", "function"), ("wgan_gp", "fp16", "function")]


def train(model: str, precision: str, mode: str, frozen: bool = False) -> tuple[object, list[dict[str, float]]]:
    """STEPS plain steps, or with `frozen` one step of `frozen_critic`."""
    spec = two_critic_updates(get_spec(model))  # wgan_gp: 2 critic updates a step (tests.training)
    spec = frozen_critic(spec) if frozen else spec
    runner = tf_runner.TFRunner(spec, RunnerOptions(mode=mode, precision=precision, threads=2))
    return runner, train_steps(runner, steps=1 if frozen else STEPS, batch=BATCH, data=DATA,
                               weight_seed=1, data_seed=0)


@pytest.fixture(scope="module")
def fp32_losses() -> dict[tuple[str, bool], list[dict[str, float]]]:
    """(model, frozen) -> the eager fp32 losses of `train`."""
    return {(model, frozen): train(model, "fp32", "eager", frozen)[1]
            for model in dict.fromkeys(m for m, _, _ in CASES) for frozen in (False, True)}


def assert_close(mixed: list[dict[str, float]], reference: list[dict[str, float]]) -> None:
    for step, (losses, expected) in enumerate(zip(mixed, reference, strict=True)):
        for name, value in losses.items():
            assert abs(value - expected[name]) <= TOLERANCE * max(1.0, abs(expected[name])), \
                (step, name, value, expected[name])


@pytest.mark.parametrize("model, precision, mode", [
    pytest.param(*case, marks=skip_tf_bf16_under_a_onednn_cap) if case[1] == "bf16" else case for case in CASES])
def test_mixed_step_is_close_to_fp32_and_keeps_float32_state(model, precision, mode, fp32_losses):
    assert_close(train(model, precision, mode, frozen=True)[1], fp32_losses[model, True])
    runner, losses = train(model, precision, mode)
    assert all(np.isfinite(value) for step in losses for value in step.values()), losses
    if precision == "bf16":  # fp16 skips updates that fp32 makes (module docstring)
        assert_close(losses, fp32_losses[model, False])
    assert losses != fp32_losses[model, False], "the mixed policy changed nothing"

    policy = {"bf16": "mixed_bfloat16", "fp16": "mixed_float16"}[precision]
    for net in (runner.generator, runner.discriminator):
        assert net.dtype_policy.name == policy
        assert {v.dtype for v in net.variables} == {"float32"}
    for optimizer in (runner.g_optimizer, runner.d_optimizer):
        assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer) == (precision == "fp16")
        assert {v.dtype for v in optimizer.variables if "float" in v.dtype} == {"float32"}
    # Keras' process-wide policy is untouched: other models build in float32.
    assert keras.config.dtype_policy().name == "float32"

    noise = np.random.default_rng(2).standard_normal((4, runner.spec.latent_dim)).astype(np.float32)
    images = runner.generate(noise)
    assert images.dtype == np.float32 and images.shape == (4, 28, 28, 1)
    assert np.all(np.abs(images) <= 1)
    assert runner.discriminate(images).dtype == np.float32
