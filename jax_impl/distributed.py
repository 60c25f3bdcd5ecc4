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
- Several hosts (JAX_NUM_PROCESSES > 1, `benchmark.distributed.this_process`):
  `jax.distributed.initialize` joins every process's local devices into one
  global device list (on a CPU, N / processes XLA:CPU devices each and gloo's
  collectives), and the mesh spans them all. The program is the same; each
  process builds its addressable shards of every input from the host's global
  step (`jax.make_array_from_callback`: every process draws the same step),
  and what one process reads alone (samples for frames and scores, weights
  for checkpoints) it computes from its local copy of the replicated state, so
  that process 0's extra work is no collective the others would have to join.

Why not shard_map with explicit pmean: differentiating through a collective
inside shard_map (synced BatchNorm's moments) needs the transposes of psum to
be right for every loss; jit over the global step leaves autodiff to see the
whole computation, so N replicas compute the single device's arithmetic with
the batch sums split and added in another order (tests/distributed).
"""

from __future__ import annotations

import os

import jax
import numpy as np
from jax._src import xla_bridge  # backends_are_initialized: no public equivalent (jax 0.10)
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from benchmark.distributed import COLLECTIVE_TIMEOUT_S, Process, check_batch, this_process
from benchmark.runner import RunnerOptions, StepInputs
from benchmark.specs import GANSpec
from benchmark.weights import Weights
from jax_impl.runner import JITTED, JaxRunner, train_step
from jax_impl.weights import export_network


# Seconds a process waits for its peers to join (jax's default: 300) and to
# answer heartbeats before the coordination service declares one dead (100).
JOIN_TIMEOUT_S = int(os.environ.get("GANBENCH_JAX_JOIN_TIMEOUT_S", 300))
HEARTBEAT_TIMEOUT_S = int(os.environ.get("GANBENCH_JAX_HEARTBEAT_TIMEOUT_S", 100))


def join_processes(process: Process, options: RunnerOptions) -> list[jax.Device]:
    """`jax.distributed.initialize` for process `process.rank` of
    `process.world` (JAX_COORDINATOR_ADDRESS names process 0's host:port);
    every process brings devices / world devices. Returns the global devices."""
    n = options.devices
    if n % process.world:
        raise RuntimeError(f"--devices {n} over JAX_NUM_PROCESSES={process.world} processes: "
                           f"each process drives devices / processes of them; choose a multiple of {process.world}")
    if not os.environ.get("JAX_COORDINATOR_ADDRESS"):
        raise RuntimeError(f"JAX_NUM_PROCESSES={process.world} needs JAX_COORDINATOR_ADDRESS=host:port, "
                           "an address of process 0's host that every process reaches")
    if options.device != "cuda":
        jax.config.update("jax_num_cpu_devices", n // process.world)
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(num_processes=process.world, process_id=process.rank,
                               initialization_timeout=JOIN_TIMEOUT_S,
                               heartbeat_timeout_seconds=HEARTBEAT_TIMEOUT_S,
                               # the peers wait at close() while process 0 scores and writes
                               shutdown_timeout_seconds=int(COLLECTIVE_TIMEOUT_S))
    devices = jax.devices()
    if len(devices) != n:
        raise RuntimeError(f"--devices {n}: the {process.world} processes bring {len(devices)} devices "
                           f"({jax.local_device_count()} here); each must drive {n // process.world}")
    return devices


def mesh_devices(options: RunnerOptions) -> list[jax.Device]:
    """`options.devices` devices: the first N GPUs with --device cuda, else N
    XLA:CPU devices of this host, or every process's share of them across
    hosts (`join_processes`). JAX splits the CPU into N devices and joins
    other processes only before its backends start, so the runner must be
    the first JAX user of a fresh process, as the worker is."""
    n = options.devices
    process = this_process()
    if process.world > 1:
        if xla_bridge.backends_are_initialized():
            raise RuntimeError("jax.distributed must start before JAX's backends: run in a fresh process")
        return join_processes(process, options)
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
        self.process = this_process()
        self.replicas = len(self.devices)
        self.mesh = Mesh(np.array(self.devices), ("data",))
        self.replicated = NamedSharding(self.mesh, PartitionSpec())
        self.sliced = NamedSharding(self.mesh, PartitionSpec(None, "data"))  # (steps, B, ...): B split
        self.functions = {**JITTED, "train_step": jax.jit(
            train_step, static_argnums=0, donate_argnums=1, keep_unused=True,
            out_shardings=(self.replicated, self.replicated))}

    def _global(self, array, sharding: NamedSharding) -> jax.Array:
        """A host array (the same on every process) as one global array: each
        process builds its own devices' shards, so the mesh may span hosts.
        In the runner's scope: outside it a float64 array would become float32."""
        array = np.asarray(array)
        with self._scope():
            return jax.make_array_from_callback(array.shape, sharding, lambda index: array[index])

    def _replicate(self) -> None:
        self.state = jax.tree.map(lambda a: self._global(a, self.replicated), self.state)

    def _local_state(self):
        """This process's copy of the replicated state, on its first device:
        what it reads alone (inference, weights) runs without its peers."""
        return jax.tree.map(lambda a: a.addressable_data(0), self.state)

    def load_data(self, images: np.ndarray, labels: np.ndarray) -> None:
        super().load_data(images, labels)
        self.images, self.labels = (self._global(a, self.replicated) for a in (self.images, self.labels))

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
        return self._global(np.asarray(array, dtype), self.sliced if split else self.replicated)

    def generate(self, noise: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
        return self._on_local_state(super().generate, noise, labels)

    def discriminate(self, images: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
        return self._on_local_state(super().discriminate, images, labels)

    def _on_local_state(self, method, *args):
        """`method` with this process's copy of the state in place of the
        global one: process 0 alone draws frames and scores."""
        state = self.state
        self.state = self._local_state()
        try:
            return method(*args)
        finally:
            self.state = state

    def step_seconds(self, seconds: float) -> float:
        """The slowest process's time: each times its own devices' step."""
        if self.process.world == 1:
            return seconds
        return float(np.max(multihost_utils.process_allgather(np.float64(seconds))))

    def synchronize(self) -> None:
        if self.process.world > 1:
            multihost_utils.sync_global_devices("ganbench")

    def close(self) -> None:
        """Leaves jax.distributed with the peers (a barrier of the
        coordination service), so none sees a finished process as dead."""
        if self.process.world > 1:
            jax.distributed.shutdown()

    def replica_states(self) -> list[Weights]:
        """Every device's copy of every weight, BatchNorm statistic and
        spectral-norm vector: for the tests that check the replicas agree."""
        states = []
        with self._scope():
            for device in (d for d in self.devices if d.process_index == jax.process_index()):
                ts = jax.tree.map(lambda a: next(s.data for s in a.addressable_shards if s.device == device),
                                  self.state)
                states.append({k: np.asarray(v) for k, v in
                               export_network(ts.g_params, ts.g_state, ts.d_params, ts.d_state).items()})
        return states

    def environment(self) -> dict[str, str]:
        hosts = f" in {self.process.world} processes (jax.distributed)" if self.process.world > 1 else ""
        return {**super().environment(), "data_parallel": f"jax.sharding, jit over a mesh of "
                f"{self.replicas} {self.devices[0].platform} devices{hosts}"}
