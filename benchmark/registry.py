"""Which runner trains which (framework, model), imported only when asked for.

The framework's classes are named in benchmark.frameworks' table and loaded
from there; nothing here imports a framework at module level.
"""

from __future__ import annotations

from benchmark.frameworks import FrameworkUnavailable, framework
from benchmark.frameworks import TABLE as FRAMEWORKS
from benchmark.runner import Runner, RunnerOptions
from benchmark.specs import SPECS, GANSpec, get_spec

__all__ = ["PAIRS", "FrameworkUnavailable", "runner_class", "create_runner", "create_native_input"]

# Every model is built from its spec by the framework's generic builder, so
# each framework runs each model; the pairs are listed for discoverability.
PAIRS: tuple[tuple[str, str], ...] = tuple((f, m) for f in FRAMEWORKS for m in SPECS)


def runner_class(name: str, data_parallel: bool = False) -> type[Runner]:
    """The framework's runner class, or its data-parallel one (--devices N > 1)."""
    facts = framework(name)
    target = facts.data_parallel_runner if data_parallel else facts.runner
    if target is None:
        raise KeyError(f"{name} has no data-parallel runner; frameworks with one: "
                       f"{', '.join(f.name for f in FRAMEWORKS.values() if f.data_parallel_runner)}")
    return facts.load(target)


def create_runner(name: str, model: str | GANSpec, options: RunnerOptions) -> Runner:
    """The runner for (framework, model); unknown keys raise listing valid ones.
    `model` may be a spec (a registered one with run-specific overrides).
    `options.devices` > 1 gives the framework's data-parallel runner."""
    spec = get_spec(model) if isinstance(model, str) else model
    return runner_class(name, data_parallel=options.devices > 1)(spec, options)


def create_native_input(name: str, dataset: str, data_dir: str | None = None,
                        image_size: int | None = None, workers: int = 2, device: str = "cpu"):
    """The framework's native input pipeline over the train split of `dataset`:
    `.epoch(plan)` yields each step's (images, labels) as the framework's
    tensors, in the plan's order, and `.epochs(plans)` one such iterable per
    plan, from the same worker processes. `workers`: loader processes, where its
    loader has them (Framework.loader_processes); `device` "cuda" pins host
    memory where that means something."""
    facts = framework(name)
    if facts.input_pipeline is None:
        raise KeyError(f"{name} has no native input pipeline; frameworks with one: "
                       f"{', '.join(f.name for f in FRAMEWORKS.values() if f.input_pipeline)}")
    native_input = facts.load(f"{facts.input_pipeline}:NativeInput")
    return native_input(dataset, "train", data_dir, image_size, workers=workers, pin_memory=device == "cuda")
