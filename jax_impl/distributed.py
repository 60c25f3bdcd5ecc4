"""Data-parallel JAX: one process drives N local devices (N GPUs, or on a CPU
N XLA:CPU devices) through `jax.sharding`. See `benchmark.distributed` for
the slicing of a step, the same as torch's and tf's.

How the step is spread, and why this way:
- One mesh of the N devices with one axis, "data". The training state
  (parameters, BatchNorm statistics, spectral-norm vectors, optimizer state)
  and the data set are replicated on every device; each step's drawn inputs
  ((n_critic, B, ...) indices, noise, labels, penalty mixes) are split along
  B, so device r holds columns [r B/N, (r + 1) B/N), `benchmark.distributed.shard`'s
  slice. The step is the single device's `train_step`, jitted with the
  state's output sharding replicated: XLA's SPMD partitioner runs each
  device's slice on that device and all-reduces what the replicated outputs
  need (the gradients, the losses, synced BatchNorm's moments).
- Gradients. Each loss is the global batch's mean, so its gradient is the
  mean of the replicas' gradients of their slices' means: DDP's average, and
  tf.distribute's sum of losses divided by the replicas. The gradient
  penalty's inner gradient is per sample, so it splits the same way.
- BatchNorm. With --sync-batchnorm it normalises with the global batch's
  statistics in two passes (mean, then mean squared deviation), each an
  all-reduce the partitioner inserts. Without it, each replica's slice is
  normalised with its own statistics (`jax_impl.nets`' BatchNorm groups) and
  the moving statistics take the slices' mean: what torch averages after
  every step and tf's MEAN-aggregated variables hold.
- Spectral norm's u, v depend on the replicated weights only: one value on
  every device, as in the twins.
- jit only: op-by-op eager dispatch of sharded arrays measures dispatch, not
  a data-parallel step.

Why not shard_map with explicit pmean: differentiating through a collective
inside shard_map (synced BatchNorm's moments) needs the transposes of psum to
be right for every loss; jit over the global step leaves autodiff to see the
whole computation, so N replicas compute the single device's arithmetic with
the batch sums split and added in another order (tests/distributed).

One host only: `jax.distributed` across hosts is not wired in yet.
"""

from __future__ import annotations

import jax
import numpy as np
from jax._src import xla_bridge  # backends_are_initialized: no public equivalent (jax 0.10)
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from benchmark.distributed import check_batch
from benchmark.runner import RunnerOptions, StepInputs
from benchmark.specs import GANSpec
from benchmark.weights import Weights
from jax_impl.runner import JITTED, JaxRunner, train_step
from jax_impl.weights import export_network


def mesh_devices(options: RunnerOptions) -> list[jax.Device]:
    """`options.devices` devices of this host: the first N GPUs with --device
    cuda, else N XLA:CPU devices. JAX splits the CPU into N devices only
    before its backends start (`jax_num_cpu_devices`), so on a CPU the
    runner must be the first JAX user of a fresh process, as the worker is."""
    n = options.devices
    if options.device == "cuda":
        try:
            gpus = jax.devices("gpu")
        except RuntimeError:
            gpus = []
        if len(gpus) < n:
            raise RuntimeError(f"--devices {n}: JAX sees {len(gpus)} GPU(s)")
        return gpus[:n]
    if not xla_bridge.backends_are_initialized():
        jax.config.update("jax_num_cpu_devices", n)
    cpus = jax.devices("cpu")
    if len(cpus) < n:
        raise RuntimeError(f"--devices {n} on the CPU needs {n} XLA:CPU devices, set before JAX starts; "
                           f"this process has {len(cpus)} (run it in a fresh process)")
    return cpus[:n]


class ShardedJaxRunner(JaxRunner):
    """JaxRunner whose jitted step runs each replica's slice on its own device
    of a one-axis mesh (module docstring)."""

    modes = ("jit",)

    def __init__(self, spec: GANSpec, options: RunnerOptions) -> None:
        if options.mode not in self.modes:
            raise ValueError(f"jax with --devices {options.devices} runs in mode jit only, not "
                             f"{options.mode!r}: eager dispatch of sharded arrays is not a data-parallel step")
        self.devices = mesh_devices(options)  # before JaxRunner starts the backends
        super().__init__(spec, options)
        self.replicas = len(self.devices)
        self.mesh = Mesh(np.array(self.devices), ("data",))
        self.replicated = NamedSharding(self.mesh, PartitionSpec())
        self.sliced = NamedSharding(self.mesh, PartitionSpec(None, "data"))  # (steps, B, ...): B split
        self.functions = {**JITTED, "train_step": jax.jit(
            train_step, static_argnums=0, donate_argnums=1, keep_unused=True,
            out_shardings=(self.replicated, self.replicated))}

    def _replicate(self) -> None:
        self.state = jax.device_put(self.state, self.replicated)

    def load_data(self, images: np.ndarray, labels: np.ndarray) -> None:
        super().load_data(images, labels)
        self.images, self.labels = jax.device_put((self.images, self.labels), self.replicated)

    def import_weights(self, weights: Weights) -> None:
        super().import_weights(weights)
        self._replicate()

    def _load_optimizers(self, directory) -> None:
        super()._load_optimizers(directory)
        self._replicate()

    def step_arguments(self, inputs: StepInputs) -> tuple:
        check_batch(inputs.indices.shape[1], self.replicas)
        return super().step_arguments(inputs)

    def _put(self, array, dtype, split: bool = False) -> jax.Array:
        """From the host straight to the mesh: split along B, or on every
        device (learning rates; the native pipeline's batch, which the step
        gathers from)."""
        return jax.device_put(np.asarray(array, dtype), self.sliced if split else self.replicated)

    def replica_states(self) -> list[Weights]:
        """Every device's copy of every weight, BatchNorm statistic and
        spectral-norm vector: for the tests that check the replicas agree."""
        states = []
        with self._scope():
            for device in self.devices:
                ts = jax.tree.map(lambda a: next(s.data for s in a.addressable_shards if s.device == device),
                                  self.state)
                states.append({k: np.asarray(v) for k, v in
                               export_network(ts.g_params, ts.g_state, ts.d_params, ts.d_state).items()})
        return states

    def environment(self) -> dict[str, str]:
        return {**super().environment(), "data_parallel": f"jax.sharding, jit over a mesh of "
                f"{self.replicas} {self.devices[0].platform} devices"}
