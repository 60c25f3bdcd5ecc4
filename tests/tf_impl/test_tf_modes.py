"""tf.function and XLA run the same step as eager TensorFlow (twin of
tests/torch_impl/test_torch_modes.py).

`tests.every_path.EVERY_PATH` holds every path the zoo added to the traced
step: labels gathered on the device and concatenated, spectral norm's
variable updates, self-attention, BatchNorm and the gradient penalty's nested
tapes; the zoo's own models run in XLA, TF's default CPU mode, in the
benchmark's smoke profile.

Runs in float64 so that only a real difference shows: losses and every
exported array after two steps agree to 1e-9 relative (XLA fuses and
reorders; measured ~1e-15); `tests.every_path.relative_error` says relative
to what."""

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
