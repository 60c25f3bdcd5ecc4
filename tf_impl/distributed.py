"""Data-parallel TensorFlow: tf.distribute's MirroredStrategy over N devices of
this host (N GPUs, or on a CPU N logical devices), or
MultiWorkerMirroredStrategy across the hosts TF_CONFIG names. See
`benchmark.distributed` for the slicing of a step, the same as torch's.

What tf.distribute needs from a GAN, and where it is done here:
- Every variable (networks, optimizer slots, the data set) is created inside
  the strategy's scope; the optimizers are built there eagerly
  (keras#23085: Adam built inside a distributed tf.function can fail to trace).
- Replica r's inputs are slice r of the host's global step
  (`experimental_distribute_values_from_function`): a seeded Keras random op
  would give every replica the same numbers.
- Keras' optimizer sums the replicas' gradients in apply_gradients, so each
  replica differentiates its batch mean divided by the replicas
  (`tf.nn.compute_average_loss` with the global batch): the sum is the
  gradient of the global batch mean, as DDP's average is. Gradient tapes and
  apply_gradients run inside `strategy.run`; the gradient penalty's inner
  tape too (keras#20164 reports WGAN-GP failing under the strategy: tested).
- Weight clipping runs in cross-replica context after each critic update, on
  every replica's copy (a replica-context assign of a mirrored weight needs an
  aggregation Keras' layers do not set).
- Spectral norm's u, v are ONLY_FIRST_REPLICA variables (every replica
  computes the same ones); BatchNorm's moving statistics are MEAN-aggregated,
  or with --sync-batchnorm computed from the global batch (tf_impl/nets.py).
- No XLA: jit_compile with cross-replica all-reduce has broken repeatedly
  (TF#45940, #53140, #58961), and Keras turns auto-XLA off under tf.distribute.
"""

from __future__ import annotations

import functools

import numpy as np
import tensorflow as tf

from benchmark.distributed import check_batch, tf_config_workers
from benchmark.runner import RunnerOptions, StepInputs
from benchmark.specs import GANSpec
from tf_impl.runner import TFRunner


def make_strategy(options: RunnerOptions) -> tf.distribute.Strategy:
    """MultiWorkerMirroredStrategy when TF_CONFIG names several hosts, else
    MirroredStrategy over `options.devices` devices of this host. Must run
    before TensorFlow initialises: on a CPU it splits the CPU into that many
    logical devices (which share one thread pool, so their timings say
    nothing about scaling)."""
    n = options.devices
    # --threads is left to TensorFlow's defaults here: the strategy starts
    # TensorFlow before TFRunner could size its pools, and replicas wait for one
    # another inside a step, each holding a pool thread.
    if tf_config_workers() > 1:
        return tf.distribute.MultiWorkerMirroredStrategy()
    if options.device == "cuda":
        gpus = tf.config.list_physical_devices("GPU")
        if len(gpus) < n:
            raise RuntimeError(f"--devices {n}: TensorFlow sees {len(gpus)} GPU(s)")
        return tf.distribute.MirroredStrategy([f"/GPU:{i}" for i in range(n)])
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_visible_devices([], "GPU")
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * n)
    except RuntimeError:  # TensorFlow already initialised in this process
        pass
    logical = tf.config.list_logical_devices("CPU")
    if len(logical) < n:
        raise RuntimeError(f"--devices {n} on the CPU needs {n} logical CPU devices, set before "
                           f"TensorFlow starts; this process has {len(logical)} (run it in a fresh process)")
    # Reductions through one device: with the default collective all-reduce
    # the replicas' traced graphs gave one collective instance to different
    # reductions (a BatchNorm sum on one replica, a gradient on the other:
    # "Shape mismatch in the collective instance").
    return tf.distribute.MirroredStrategy([f"/CPU:{i}" for i in range(n)],
                                          cross_device_ops=tf.distribute.ReductionToOneDevice())


class MirroredTFRunner(TFRunner):
    """TFRunner whose step runs each replica's slice under a tf.distribute
    strategy (module docstring)."""

    # One tf.function around the step: run eagerly, MirroredStrategy runs each
    # replica in a thread and their collectives meet out of order (measured:
    # "Shape mismatch in the collective instance"). No XLA (module docstring).
    modes = ("function",)

    def __init__(self, spec: GANSpec, options: RunnerOptions) -> None:
        if options.mode not in self.modes:
            raise ValueError(f"tf with --devices {options.devices} runs in mode function only, not "
                             f"{options.mode!r}: eager replicas' collectives meet out of order, and XLA "
                             "does not compile cross-replica all-reduce reliably")
        self.strategy = make_strategy(options)
        self.replicas = self.strategy.num_replicas_in_sync
        if self.replicas != options.devices:
            raise ValueError(f"--devices {options.devices}, but the strategy has {self.replicas} replicas "
                             "(MultiWorkerMirroredStrategy: every host's GPUs, or one CPU per host)")
        super().__init__(spec, options)
        self._step = tf.function(self._distributed_step, reduce_retracing=True)

    def _scope(self):
        return self.strategy.scope()

    def _gradient_loss(self, loss: tf.Tensor) -> tf.Tensor:
        return loss / self.replicas  # Keras sums the replicas' gradients

    def train_step(self, inputs: StepInputs) -> dict[str, float]:
        assert self.images is not None, "load_data first"
        check_batch(inputs.indices.shape[1], self.replicas)
        local = inputs.indices.shape[1] // self.replicas
        dtype = self.options.dtype

        def sliced(array: np.ndarray, tf_dtype):
            def value(context: tf.distribute.ValueContext):
                r = context.replica_id_in_sync_group
                return tf.constant(array[:, r * local:(r + 1) * local], tf_dtype)
            return self.strategy.experimental_distribute_values_from_function(value)

        d_loss, g_loss = self._step(sliced(inputs.indices, tf.int64), sliced(inputs.noise, dtype),
                                    sliced(inputs.fake_labels, tf.int64), sliced(inputs.mix, dtype))
        return {"d_loss": float(d_loss.numpy()), "g_loss": float(g_loss.numpy())}

    def _distributed_step(self, indices, noise, fake_labels, mix) -> tuple[tf.Tensor, tf.Tensor]:
        """The step of TFRunner._train_step, each update run on every replica's
        slice; the losses are the replicas' mean, the global batch's."""
        mean = tf.distribute.ReduceOp.MEAN
        d_losses = []
        for k in range(self.spec.n_critic):
            local = self.strategy.run(functools.partial(self._critic_update, k),
                                      args=(indices, noise, fake_labels, mix))
            d_losses.append(self.strategy.reduce(mean, local, axis=None))
            self._clip_critic()  # cross-replica context: every replica's copy
        g_loss = self.strategy.reduce(mean, self.strategy.run(self._generator_update,
                                                              args=(noise, fake_labels)), axis=None)
        return tf.reduce_mean(tf.stack(d_losses)), g_loss

    def replica_states(self) -> list[dict[str, np.ndarray]]:
        """Every replica's copy of every network variable, by variable path:
        for the tests that check the replicas agree."""
        states: list[dict[str, np.ndarray]] = [{} for _ in range(self.replicas)]
        for net in (self.generator, self.discriminator):
            for v in net.variables:
                copies = self.strategy.experimental_local_results(getattr(v, "value", v))
                for r, copy in enumerate(copies):
                    states[r][v.path] = np.asarray(copy.numpy())
        return states

    def environment(self) -> dict[str, str]:
        return {**super().environment(), "data_parallel": f"{type(self.strategy).__name__}, "
                f"{self.replicas} replicas"}
