"""Which runner trains which (framework, model), imported only when asked for.

The framework packages are heavy (seconds to import, gigabytes of libraries)
and must not meet in one process unless torch comes first, so nothing here
imports them at module level.
"""

from __future__ import annotations

import importlib

from benchmark.config import DATA_PARALLEL_MODES, FRAMEWORK_PACKAGES, FRAMEWORKS
from benchmark.runner import Runner, RunnerOptions
from benchmark.specs import SPECS, GANSpec, get_spec

RUNNERS: dict[str, str] = {
    "torch": "torch_impl.runner:TorchRunner",
    "tf": "tf_impl.runner:TFRunner",
    "jax": "jax_impl.runner:JaxRunner",
}
# --devices N > 1: the data-parallel runners (benchmark.distributed): DDP under
# torchrun; tf.distribute's MirroredStrategy (MultiWorkerMirroredStrategy with
# TF_CONFIG). JAX has none yet (the CLI refuses jax with --devices > 1).
DATA_PARALLEL_RUNNERS: dict[str, str] = {
    "torch": "torch_impl.distributed:DistributedTorchRunner",
    "tf": "tf_impl.distributed:MirroredTFRunner",
}
# --input-pipeline native: each framework's own loader (its users' way of
# loading data); JAX has none (the CLI refuses jax with --input-pipeline native).
NATIVE_INPUTS: dict[str, str] = {
    "torch": "torch_impl.input_pipeline:NativeInput",
    "tf": "tf_impl.input_pipeline:NativeInput",
}
assert tuple(RUNNERS) == FRAMEWORKS and set(DATA_PARALLEL_RUNNERS) <= set(RUNNERS)
assert set(DATA_PARALLEL_RUNNERS) == set(DATA_PARALLEL_MODES) and set(NATIVE_INPUTS) <= set(RUNNERS)

# Every model is built from its spec by the framework's generic builder, so
# each framework runs each model; the pairs are listed for discoverability.
PAIRS: tuple[tuple[str, str], ...] = tuple((f, m) for f in RUNNERS for m in SPECS)


class FrameworkUnavailable(RuntimeError):
    """The framework's package is not importable in this environment."""


def runner_class(framework: str, data_parallel: bool = False) -> type[Runner]:
    if framework not in RUNNERS:
        raise KeyError(f"unknown framework {framework!r}; valid frameworks: {', '.join(RUNNERS)}")
    return _load(framework, DATA_PARALLEL_RUNNERS if data_parallel else RUNNERS)


def _load(framework: str, table: dict[str, str]) -> type:
    """The class `table` names for `framework`, its module imported now."""
    if framework not in table:
        raise KeyError(f"{framework} has none; frameworks with one: {', '.join(table)}")
    module_name, class_name = table[framework].split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        package = FRAMEWORK_PACKAGES[framework]
        raise FrameworkUnavailable(
            f"framework {framework!r} is not installed here ({error}); install {package} "
            "(`make install`, see README) or leave it out of --frameworks"
        ) from error
    return getattr(module, class_name)


def create_runner(framework: str, model: str | GANSpec, options: RunnerOptions) -> Runner:
    """The runner for (framework, model); unknown keys raise listing valid ones.
    `model` may be a spec (a registered one with run-specific overrides).
    `options.devices` > 1 gives the framework's data-parallel runner."""
    spec = get_spec(model) if isinstance(model, str) else model
    return runner_class(framework, data_parallel=options.devices > 1)(spec, options)


def create_native_input(framework: str, dataset: str, data_dir: str | None = None,
                        image_size: int | None = None, workers: int = 2, device: str = "cpu"):
    """`framework`'s native input pipeline over the train split of `dataset`:
    `.epoch(plan)` yields each step's (images, labels) as the framework's
    tensors, in the plan's order (torch: a DataLoader with `workers`
    processes; tf: tf.data)."""
    if framework not in NATIVE_INPUTS:
        raise KeyError(f"{framework} has no native input pipeline; frameworks with one: {', '.join(NATIVE_INPUTS)}")
    native_input = _load(framework, NATIVE_INPUTS)
    if framework == "torch":
        return native_input(dataset, "train", data_dir, image_size, workers=workers,
                            pin_memory=device == "cuda")
    return native_input(dataset, "train", data_dir, image_size)
