"""torch.compile runs the same step as eager PyTorch (twin of
tests/tf_impl/test_tf_modes.py), on `tests.every_path.EVERY_PATH`: labels
concatenated, BatchNorm, self-attention, spectral norm in both networks and
the gradient penalty through a spectrally normalised critic.

The critic runs on real, fake and interpolated images before its backward
pass, so spectral norm's power iteration must leave the u, v that the first
pass saved for backward untouched. With in-place buffer updates,
torch.compile failed exactly there ("modified by an inplace operation"), and
sn_dcgan and sagan with it: eager PyTorch had hidden it behind a clone that
compiled graphs elide.

float64; tolerance as in the TF twin: losses and every exported array after two
steps agree to 1e-9 relative. Inductor fuses, reorders and vectorises for the
CPU's instruction set: float64 rounding amplified by two Adam steps, measured
2.4e-15 (losses) and 2.7e-12 (arrays, on a bias whose gradient is
analytically 0) at most, with AVX-512 and AVX2 kernels; any real difference
lands at 1e-7 or above (the TF twin's docstring), so 1e-9 separates the two on
any CPU. Compiling takes about 75 s on 2 cores with a cold inductor cache, as
in CI."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from benchmark.runner import RunnerOptions  # noqa: E402
from tests.every_path import EVERY_PATH, TRAIN_OPTIONS, assert_same_training  # noqa: E402
from tests.training import train_steps  # noqa: E402
from torch_impl.runner import TorchRunner  # noqa: E402

RTOL = 1e-9


def train(mode: str):
    runner = TorchRunner(EVERY_PATH, RunnerOptions(mode=mode, dtype="float64"))
    return train_steps(runner, **TRAIN_OPTIONS), runner.export_weights()


def test_compiled_step_equals_eager():
    from torch._dynamo.utils import counters

    eager = train("eager")
    graphs_before = counters["stats"]["unique_graphs"]
    compiled = train("compile")
    # Dynamo falls back to eager silently (past its recompile limit, or on an
    # error it suppresses): make sure graphs were really compiled.
    assert counters["stats"]["unique_graphs"] > graphs_before
    assert_same_training(eager, compiled, RTOL)


def test_real_batches_have_the_fakes_strides():
    """torch.compile guards on strides, a size-1 axis's too: a grey real batch
    with other strides than G's fakes made D compile once more. Loaded data
    and the device pipeline's batches take G's output's C-order strides."""
    import numpy as np

    from benchmark.specs import get_spec
    from torch_impl.input_pipeline import DeviceInput

    spec = get_spec("dcgan")
    runner = TorchRunner(spec, RunnerOptions(mode="eager"))
    images = np.zeros((4, *spec.image_shape), np.float32)
    runner.load_data(images, np.zeros(4, np.int64))
    with torch.no_grad():
        fakes = runner.generator(torch.zeros(2, spec.latent_dim), None)
    real = runner.images[torch.tensor([0, 1])]
    assert real.shape == fakes.shape and real.stride() == fakes.stride() == (28 * 28, 28 * 28, 28, 1)
    (batch, _), = DeviceInput(images, None).epoch(np.array([[0, 1]]))
    assert batch.stride() == fakes.stride()
