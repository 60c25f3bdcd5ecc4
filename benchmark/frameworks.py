"""Every fact about a framework, in one table: what the rest of the project
asks instead of testing a framework's name.

A fourth framework is its own folder (`<name>_impl/`: nets, weights, losses,
optim, runner, and where it has them input_pipeline, distributed and loops),
one `Framework` entry below, and its tests (docs/architecture.md).

The modules named here are imported only when asked for (`load`): the
framework packages take seconds to import, hold gigabytes of libraries, and
must not meet in one process unless torch comes first.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from typing import Any


class FrameworkUnavailable(RuntimeError):
    """The framework's package is not importable in this environment."""


@dataclass(frozen=True)
class Framework:
    name: str  # as --frameworks takes it and runs record it
    package: str  # the importable package: what the pre-flight check finds, what an error says to install
    modes: tuple[str, ...]  # --modes it has, the reference mode among them
    # Taken where nothing is measured (`--modes auto` in the smoke profile, or a
    # calibration that could time no mode): the fastest mode on the 2-core AVX2
    # EPYC the project was first measured on, on CPUs and GPUs alike. `--modes
    # auto` measures instead (benchmark.harness.calibration): on an AVX-512 Xeon
    # tf function beat xla (docs/performance.md, "Hardware matters").
    reference_mode: str
    runner: str  # "module:Class" of its benchmark.runner.Runner
    precisions: tuple[str, ...]  # --precision values its runner has (fp32 and the mixed ones)
    # The hand-written loops `python -m benchmark.loops.compare` times against
    # ours (BareLoop, tutorial_loop, configure; profile_ops where it profiles).
    loops: str
    # The mode its own DCGAN tutorial runs in, None where it has no tutorial.
    tutorial_mode: str | None
    profiler: bool = False  # its loops module profiles our step op by op (python -m benchmark.loops.profile)
    # --devices N > 1: its data-parallel runner, the modes it has there, and the
    # one `--modes auto` takes (the calibration times single devices).
    data_parallel_runner: str | None = None
    data_parallel_modes: tuple[str, ...] = ()
    data_parallel_reference_mode: str | None = None
    # How a data-parallel run starts (benchmark.distributed.worker_command):
    # "worker" is one worker process for every device; "torchrun" one per device.
    launcher: str = "worker"
    # --input-pipeline native: the module with its NativeInput (its own loader)
    # and DeviceInput (the device pipeline's batches, for the throughput script).
    input_pipeline: str | None = None
    loader_processes: bool = False  # its native loader has worker processes (--workers counts)
    default: bool = False  # run when --frameworks is not given

    def load(self, target: str) -> Any:
        """The object `target` ("module:attribute", or a module) names, imported now;
        FrameworkUnavailable, saying what to install, when the package is missing."""
        module_name, _, attribute = target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as error:
            raise FrameworkUnavailable(
                f"framework {self.name!r} is not installed here ({error}); install {self.package} "
                "(`make install`, see README) or leave it out of --frameworks") from error
        return getattr(module, attribute) if attribute else module

    def installed(self) -> bool:
        """Whether its package is importable, without importing it (seconds)."""
        try:
            return importlib.util.find_spec(self.package) is not None
        except (ImportError, ValueError):
            return False


TABLE: dict[str, Framework] = {f.name: f for f in (
    Framework("torch", package="torch", modes=("eager", "compile"), reference_mode="eager",
              runner="torch_impl.runner:TorchRunner", precisions=("fp32", "bf16", "fp16"),
              loops="torch_impl.loops", tutorial_mode="eager", profiler=True,  # pytorch/examples' DCGAN is eager
              data_parallel_runner="torch_impl.distributed:DistributedTorchRunner",  # DDP under torchrun
              data_parallel_modes=("eager", "compile"), data_parallel_reference_mode="eager",
              launcher="torchrun", input_pipeline="torch_impl.input_pipeline",  # torchvision + DataLoader
              loader_processes=True, default=True),
    Framework("tf", package="tensorflow", modes=("eager", "function", "xla"), reference_mode="xla",
              runner="tf_impl.runner:TFRunner", precisions=("fp32", "bf16", "fp16"),
              loops="tf_impl.loops", tutorial_mode="function",  # TF's tutorial: @tf.function, no XLA
              # MirroredStrategy (MultiWorkerMirroredStrategy with TF_CONFIG): one
              # tf.function around the strategy's step, no XLA under tf.distribute
              data_parallel_runner="tf_impl.distributed:MirroredTFRunner",
              data_parallel_modes=("function",), data_parallel_reference_mode="function",
              input_pipeline="tf_impl.input_pipeline", default=True),  # tensorflow-datasets + tf.data
    # JAX joins on request (`--frameworks torch tf jax`), so a machine without
    # it runs as before. No loss scaling, so no fp16; no tutorial (neither JAX
    # nor Flax ships a GAN example).
    Framework("jax", package="jax", modes=("eager", "jit"), reference_mode="jit",
              runner="jax_impl.runner:JaxRunner", precisions=("fp32", "bf16"),
              loops="jax_impl.loops", tutorial_mode=None, profiler=True,
              # jax.sharding: one process, the jitted step over a mesh of N devices
              data_parallel_runner="jax_impl.distributed:ShardedJaxRunner",
              data_parallel_modes=("jit",), data_parallel_reference_mode="jit",
              input_pipeline="jax_impl.input_pipeline", loader_processes=True),  # Grain's DataLoader
)}

NAMES = tuple(TABLE)
DEFAULT_NAMES = tuple(name for name, f in TABLE.items() if f.default)
# Every precision some framework has, fp32 first (benchmark.runner.RunnerOptions.precision).
PRECISIONS = tuple(dict.fromkeys(p for f in TABLE.values() for p in f.precisions))


def framework(name: str) -> Framework:
    """The table's entry for `name`; KeyError listing the valid names."""
    try:
        return TABLE[name]
    except KeyError:
        raise KeyError(f"unknown framework {name!r}; valid frameworks: {', '.join(NAMES)}") from None


def with_(fact: str) -> tuple[str, ...]:
    """The frameworks that have `fact` (a field that is None or empty where they have none)."""
    return tuple(name for name, f in TABLE.items() if getattr(f, fact))
