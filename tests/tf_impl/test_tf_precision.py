"""Mixed precision in TensorFlow (`--precision bf16 | fp16`, Keras
`mixed_bfloat16` / `mixed_float16` policies on each layer): from the canonical
initial weights, on the same batch and noise, two mixed-precision steps give
finite losses close to the fp32 steps', in eager and traced modes, while
variables, optimizer slots, generated images and logits stay float32.

Tolerance: |mixed - fp32| <= 0.05 * max(1, |fp32|), as in
tests/torch_impl/test_torch_precision.py and for the same reason: bfloat16's
8 significant bits move these near-chance losses by a few tenths of a percent
to about a percent (float16: less); 5% flags a step that lost its loss
scaling or its float32 losses, not rounding. The losses must also differ from
fp32's, which shows that the policy really took effect.
"""

from __future__ import annotations

import numpy as np
import pytest

tf_runner = pytest.importorskip("tf_impl.runner")
import keras  # noqa: E402

from benchmark.runner import RunnerOptions  # noqa: E402
from benchmark.specs import get_spec  # noqa: E402
from tests.training import train_steps  # noqa: E402

TOLERANCE = 0.05
BATCH, STEPS, DATA = 8, 2, 48
CASES = [("dcgan", "bf16", "eager"), ("dcgan", "bf16", "function"), ("dcgan", "bf16", "xla"),
         ("wgan_gp", "bf16", "eager"), ("sn_dcgan", "bf16", "eager"),
         ("dcgan", "fp16", "function"), ("wgan_gp", "fp16", "function")]


def train(model: str, precision: str, mode: str) -> tuple[object, list[dict[str, float]]]:
    runner = tf_runner.TFRunner(get_spec(model), RunnerOptions(mode=mode, precision=precision, threads=2))
    return runner, train_steps(runner, steps=STEPS, batch=BATCH, data=DATA, weight_seed=1, data_seed=0)


@pytest.fixture(scope="module")
def fp32_losses() -> dict[str, list[dict[str, float]]]:
    return {model: train(model, "fp32", "eager")[1] for model in dict.fromkeys(m for m, _, _ in CASES)}


@pytest.mark.parametrize("model, precision, mode", CASES)
def test_mixed_step_is_close_to_fp32_and_keeps_float32_state(model, precision, mode, fp32_losses):
    runner, losses = train(model, precision, mode)
    for step, (mixed, reference) in enumerate(zip(losses, fp32_losses[model])):
        for name, value in mixed.items():
            assert np.isfinite(value), (step, name)
            # fp16 skips the first D updates while the loss scale backs off from
            # 2^16, so only the first D loss (before any update) is comparable.
            if precision == "bf16" or (step, name) == (0, "d_loss"):
                assert abs(value - reference[name]) <= TOLERANCE * max(1.0, abs(reference[name])), \
                    (step, name, value, reference[name])
    assert losses != fp32_losses[model], "the mixed policy changed nothing"

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
