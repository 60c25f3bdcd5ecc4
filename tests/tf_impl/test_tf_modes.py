"""tf.function and XLA run the same step as eager TensorFlow (twin of
tests/torch_impl/test_torch_modes.py).

`tests.every_path.EVERY_PATH` holds every path the zoo added to the traced
step: labels gathered on the device and concatenated, spectral norm's
variable updates, self-attention, BatchNorm and the gradient penalty's nested
tapes; the zoo's own models run in XLA, TF's default CPU mode, in the
benchmark's smoke profile.

Runs in float64 so that only a real difference shows: losses and every
exported array after two steps agree to 1e-9 relative
(`tests.every_path.relative_error` says relative to what). XLA fuses and
reorders, and its code, like Eigen's and oneDNN's kernels, follows the CPU's
instruction set, so the modes differ by float64 rounding (2^-53) amplified by
two Adam steps: measured 2.4e-15 (losses) and 4.6e-12 (arrays) at most, the
same with AVX-512 and AVX2 kernels. A real difference, down to one float32
rounding of one constant, moves these steps by 1e-7 or more (measured for a
learning rate and a LeakyReLU slope in tests/parity/test_parity.py), so 1e-9
holds over two decades of margin on each side on any CPU."""

from __future__ import annotations

import pytest

from benchmark.runner import RunnerOptions
from tests.every_path import EVERY_PATH, TRAIN_OPTIONS, assert_same_training
from tests.training import train_steps

tf_runner = pytest.importorskip("tf_impl.runner")

RTOL = 1e-9


def train(mode: str):
    runner = tf_runner.TFRunner(EVERY_PATH, RunnerOptions(mode=mode, dtype="float64"))
    return train_steps(runner, **TRAIN_OPTIONS), runner.export_weights()


@pytest.fixture(scope="module")
def eager():
    return train("eager")


@pytest.mark.parametrize("mode", ["function", "xla"])
def test_traced_step_equals_eager(mode, eager):
    assert_same_training(eager, train(mode), RTOL)
