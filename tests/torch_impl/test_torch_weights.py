"""torch_impl.weights: exported weights are the runner's state at export time."""

import numpy as np
import pytest

pytest.importorskip("torch")

from benchmark.registry import create_runner  # noqa: E402
from benchmark.runner import RunnerOptions  # noqa: E402
from benchmark.specs import SPECS  # noqa: E402
from tests.training import train_steps  # noqa: E402


def test_exported_weights_are_copies_a_later_step_leaves_alone():
    """A CPU tensor's .numpy() is a view: without a copy, training on would
    move the exported BatchNorm statistics and biases under their reader."""
    runner = create_runner("torch", SPECS["dcgan"], RunnerOptions(threads=1))
    train_steps(runner, steps=1, batch=8, data=16, weight_seed=0, data_seed=0)
    exported = runner.export_weights()
    kept = {key: value.copy() for key, value in exported.items()}
    train_steps(runner, steps=1, batch=8, data=16, weight_seed=0, data_seed=1)
    assert all(np.array_equal(exported[key], kept[key]) for key in kept)
    assert not all(np.array_equal(runner.export_weights()[key], kept[key]) for key in kept)
