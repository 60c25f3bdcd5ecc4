"""The native JAX pipeline (Grain's DataLoader with a worker process) yields
the device pipeline's batches, in the driver's order, bit for bit, and a step
on them is the device pipeline's step. Mirrors
tests/torch_impl/test_torch_input_pipeline.py and tests/tf_impl/test_tf_input_pipeline.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmark.data import load_dataset
from tests.datasets import read_with_workers, tiny_sources, with_native_input

jax = pytest.importorskip("jax")
pytest.importorskip("grain")
from jax_impl.input_pipeline import DeviceInput, NativeInput  # noqa: E402


@pytest.fixture
def sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    return tiny_sources(tmp_path, monkeypatch)


@pytest.mark.parametrize("key", ["fashion_mnist", "cifar10", "folder"])
def test_native_batches_are_the_device_batches(sources: dict, key: str) -> None:
    images, labels, native, plan = with_native_input(sources[key], NativeInput, workers=1)  # one Grain worker process
    device = DeviceInput(images, labels)
    epochs = native.epochs([plan, plan[:1]])
    batches, workers = read_with_workers(next(epochs))
    assert len(batches) == len(plan)
    for step, (got, got_labels), (want, want_labels) in zip(plan, batches, device.epoch(plan)):
        assert got.dtype == np.float32 and got.shape == (2, *images.shape[1:])
        assert np.array_equal(np.asarray(got), np.asarray(want)), f"step {step}: images differ"
        expected = np.asarray(want_labels) if labels is not None else np.full(2, -1)
        assert np.array_equal(np.asarray(got_labels), expected)
    again, workers_again = read_with_workers(next(epochs))  # the next epoch's plan
    assert len(again) == 1 and np.array_equal(np.asarray(again[0][0]), images[plan[0].reshape(-1)])
    assert workers and workers_again == workers, "Grain's worker processes started again for the next epoch"


def test_a_step_on_native_batches_is_the_device_step(sources: dict) -> None:
    """Two runners from the same weights, one fed the loaded data set, one each
    step's native batch: the same losses and weights after two WGAN-GP steps
    (5 critic batches each, the penalty's interpolates)."""
    from benchmark.config import RunConfig
    from benchmark.driver import Seeds, epoch_batches
    from benchmark.registry import create_runner
    from benchmark.runner import RunnerOptions, StepInputs
    from benchmark.specs import get_spec
    from benchmark.weights import initial_weights

    name, data_dir = sources["fashion_mnist"]
    images, labels = load_dataset(name, data_dir=data_dir)
    spec = get_spec("wgan_gp")
    config = RunConfig(framework="jax", model="wgan_gp", mode="eager", device="cpu", profile="smoke", epochs=1,
                       batch_size=2, train_size=None, sample_count=4, seed=0, threads=1, data_dir=None)
    weights = initial_weights(spec, seed=0)
    device, native = (create_runner("jax", spec, RunnerOptions(mode="eager", threads=1)) for _ in range(2))
    for runner in (device, native):
        runner.import_weights(weights)
    device.load_data(images, labels)
    plan = epoch_batches(len(images), config, spec, Seeds.from_seed(0).order)[:2]
    noise_a, noise_b = Seeds.from_seed(0).noise, Seeds.from_seed(0).noise
    for indices, (real, real_labels) in zip(plan, NativeInput(name, data_dir=data_dir, workers=0).epoch(plan)):
        want = device.train_step(StepInputs.draw(spec, indices, noise_a))
        got = native.train_step(StepInputs.draw(spec, indices, noise_b, real=real, real_labels=real_labels))
        assert got == want
    for key, value in device.export_weights().items():
        assert np.array_equal(native.export_weights()[key], value), key
