"""Mixed precision in JAX (`--precision bf16`): matmul and convolution
operands in bfloat16, parameters, optimizer state, BatchNorm, softmax and
losses float32. The design and tolerance of tests/torch_impl/test_torch_precision.py
(its docstring derives 5% of max(1, |fp32 loss|) from bfloat16's 2^-8
rounding along G and D): both losses of a first frozen-critic step, and of
two plain steps, close to fp32's but not equal to them; the state float32.
fp16 is refused: the JAX twin has no loss scaling.
"""

from __future__ import annotations

import numpy as np
import pytest

jax = pytest.importorskip("jax")

from benchmark.runner import RunnerOptions  # noqa: E402
from benchmark.specs import get_spec  # noqa: E402
from jax_impl.runner import JaxRunner  # noqa: E402
from tests.training import frozen_critic, train_steps  # noqa: E402

TOLERANCE = 0.05  # tests/torch_impl/test_torch_precision.py
BATCH, STEPS, DATA = 8, 2, 48


def train(precision: str, frozen: bool):
    spec = frozen_critic(get_spec("dcgan")) if frozen else get_spec("dcgan")
    runner = JaxRunner(spec, RunnerOptions(mode="jit", precision=precision))
    return runner, train_steps(runner, steps=1 if frozen else STEPS, batch=BATCH, data=DATA,
                               weight_seed=1, data_seed=0)


@pytest.mark.parametrize("frozen", [True, False])
def test_bf16_step_is_close_to_fp32_and_keeps_float32_state(frozen):
    _, reference = train("fp32", frozen)
    runner, losses = train("bf16", frozen)
    for step, (got, want) in enumerate(zip(losses, reference, strict=True)):
        for name, value in got.items():
            assert np.isfinite(value) and abs(value - want[name]) <= TOLERANCE * max(1.0, abs(want[name])), \
                (step, name, value, want[name])
    assert losses != reference, "bf16 changed nothing"
    assert all(leaf.dtype == np.float32 for leaf in jax.tree.leaves(runner.state) if leaf.dtype.kind == "f")
    assert runner.generate(np.zeros((2, 100), np.float32)).dtype == np.float32


def test_fp16_is_refused():
    with pytest.raises(ValueError, match="fp16"):
        JaxRunner(get_spec("dcgan"), RunnerOptions(mode="jit", precision="fp16"))
