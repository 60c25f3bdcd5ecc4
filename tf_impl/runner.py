"""The TensorFlow runner: the one place where TensorFlow trains a spec'd GAN."""

from __future__ import annotations

import platform
from pathlib import Path

import numpy as np
import tensorflow as tf

from benchmark.peak import matmul_gflops
from benchmark.runner import RunnerOptions, StatefulRunner, StepInputs
from benchmark.specs import GANSpec
from tf_impl.losses import LOSSES, gradient_penalty
from tf_impl.nets import build_network
from tf_impl.optim import build_optimizer
from tf_impl.weights import export_network, import_network

# --precision -> the Keras dtype policy of every layer; fp32 uses options.dtype.
POLICIES = {"bf16": "mixed_bfloat16", "fp16": "mixed_float16"}


def configure_tensorflow(options: RunnerOptions) -> None:
    """Device visibility, memory growth and threads; must precede TF's first op."""
    gpus = tf.config.list_physical_devices("GPU")
    if options.device == "cuda" and not gpus:
        raise RuntimeError("--device cuda: TensorFlow sees no GPU (is tensorflow[and-cuda] installed?)")
    try:
        if options.device == "cpu":
            tf.config.set_visible_devices([], "GPU")
        for gpu in gpus:
            tf.config.experimental.set_memory_growth(gpu, True)
        if options.threads:
            tf.config.threading.set_intra_op_parallelism_threads(options.threads)
            tf.config.threading.set_inter_op_parallelism_threads(options.threads)
    except RuntimeError:
        pass  # TF already initialised in this process (tests that build several runners)


class TFRunner(StatefulRunner):
    framework = "tf"
    modes = ("eager", "function", "xla")
    _export_network = staticmethod(export_network)
    _import_network = staticmethod(import_network)

    def __init__(self, spec: GANSpec, options: RunnerOptions) -> None:
        super().__init__(spec, options)
        configure_tensorflow(options)
        self.device = "/GPU:0" if options.device == "cuda" else "/CPU:0"
        # Per-layer policies, not keras' process-wide one: nothing else changes.
        policy = POLICIES.get(options.precision, options.dtype)
        loss_scale = options.precision == "fp16"
        with self._scope():
            self.generator = build_network(spec.generator, policy, options.sync_batchnorm)
            self.discriminator = build_network(spec.discriminator, policy, options.sync_batchnorm)
            self.g_optimizer = build_optimizer(spec.g_optimizer, loss_scale)
            self.d_optimizer = build_optimizer(spec.d_optimizer, loss_scale)
            # Build the optimizer slots now: `load` assigns into them, and a
            # tf.function must not create variables on its first trace.
            self.g_optimizer.build(self.generator.trainable_variables)
            self.d_optimizer.build(self.discriminator.trainable_variables)
        self.loss = LOSSES[spec.loss]
        self.images: tf.Variable | None = None  # (N, H, W, C)
        self.labels: tf.Variable | None = None  # (N,)
        if options.mode == "eager":
            self._step = self._train_step
        else:
            self._step = tf.function(self._train_step, jit_compile=options.mode == "xla",
                                     reduce_retracing=True)

    def _scope(self):
        """Where variables are created: this runner's device (the data-parallel
        runner: its strategy's scope)."""
        return tf.device(self.device)

    def load_data(self, images: np.ndarray, labels: np.ndarray) -> None:
        # Non-trainable Variables: tf.function captures them by reference,
        # where a constant would be copied into every traced graph.
        with self._scope():
            self.images = tf.Variable(np.asarray(images, self.options.dtype), trainable=False)
            self.labels = tf.Variable(np.asarray(labels, np.int64), trainable=False)

    def train_step(self, inputs: StepInputs) -> dict[str, float]:
        assert inputs.real is not None or self.images is not None, "load_data first"
        step_inputs = (tf.constant(inputs.indices, tf.int64), tf.constant(inputs.noise, self.options.dtype),
                       tf.constant(inputs.fake_labels, tf.int64), tf.constant(inputs.mix, self.options.dtype))
        if inputs.real is None:  # the device pipeline: the step gathers its batch from self.images
            d_loss, g_loss = self._step(*step_inputs)
        else:  # the native pipeline's (n_critic * B, H, W, C) batch, one slice per critic update
            n_critic, batch = inputs.indices.shape
            real = tf.reshape(tf.cast(inputs.real, self.options.dtype), (n_critic, batch, *inputs.real.shape[1:]))
            d_loss, g_loss = self._step(*step_inputs, real, tf.reshape(inputs.real_labels, (n_critic, batch)))
        # .numpy() copies to the host, which also waits for the step to finish.
        return {"d_loss": float(d_loss.numpy()), "g_loss": float(g_loss.numpy())}

    def _generate(self, noise: tf.Tensor, labels: tf.Tensor | None, training: bool) -> tf.Tensor:
        """G's images in the parameters' type (float32 under a mixed policy)."""
        return tf.cast(self.generator(noise, labels, training=training), self.options.dtype)

    def _discriminate(self, images: tf.Tensor, labels: tf.Tensor | None, training: bool) -> tf.Tensor:
        """D's logits in the parameters' type, so that the losses are float32."""
        return tf.cast(self.discriminator(images, labels, training=training), self.options.dtype)

    def _train_step(self, indices: tf.Tensor, noise: tf.Tensor, fake_labels: tf.Tensor, mix: tf.Tensor,
                    real: tf.Tensor | None = None, real_labels: tf.Tensor | None = None
                    ) -> tuple[tf.Tensor, tf.Tensor]:
        # (1) Update D n_critic times, (2) update G.
        d_losses = []
        for k in range(self.spec.n_critic):
            d_losses.append(self._critic_update(k, indices, noise, fake_labels, mix, real, real_labels))
            self._clip_critic()
        return tf.reduce_mean(tf.stack(d_losses)), self._generator_update(noise, fake_labels)

    def _gradient_loss(self, loss: tf.Tensor) -> tf.Tensor:
        """The loss whose gradient an update applies (the data-parallel runner
        divides it by the replicas, since Keras sums replicas' gradients)."""
        return loss

    def _critic_update(self, k: int, indices: tf.Tensor, noise: tf.Tensor, fake_labels: tf.Tensor,
                       mix: tf.Tensor, real_all: tf.Tensor | None = None,
                       real_labels_all: tf.Tensor | None = None) -> tf.Tensor:
        """D's k-th update of a step: minimise loss.d(D(x), D(G(z))) [+ penalty].
        D sees real, then fake, then interpolates, in both twins: each training
        pass advances spectral norm's power iteration. Real images are
        gathered from the loaded data at `indices`, or are `real_all[k]` (the
        native pipeline's). Returns the batch's D loss."""
        d_vars = self.discriminator.trainable_variables
        conditional, penalty = self.spec.conditional, self.spec.gradient_penalty
        labels = fake_labels[k] if conditional else None  # unconditional models ignore labels
        if real_all is None:
            real = tf.gather(self.images, indices[k])  # (B, H, W, C)
            real_labels = tf.gather(self.labels, indices[k]) if conditional else None
        else:
            real, real_labels = real_all[k], real_labels_all[k] if conditional else None
        fake = self._generate(noise[k], labels, training=True)
        with tf.GradientTape() as tape:
            d_loss = self.loss.d(self._discriminate(real, real_labels, training=True),
                                 self._discriminate(fake, labels, training=True))
            if penalty is not None:
                # Interpolates are read with the real images' labels.
                def critic(x):
                    return self._discriminate(x, real_labels, training=True)
                d_loss += penalty * gradient_penalty(critic, real, fake, mix[k])
            # fp16: the LossScaleOptimizer's scale; otherwise the loss itself.
            scaled = self.d_optimizer.scale_loss(self._gradient_loss(d_loss))
        # A LossScaleOptimizer unscales, and skips the step on inf/NaN gradients.
        self.d_optimizer.apply_gradients(zip(tape.gradient(scaled, d_vars), d_vars))
        return d_loss

    def _clip_critic(self) -> None:
        if self.spec.clip_value is not None:
            for v in self.discriminator.trainable_variables:
                v.assign(tf.clip_by_value(v, -self.spec.clip_value, self.spec.clip_value))

    def _generator_update(self, noise: tf.Tensor, fake_labels: tf.Tensor) -> tf.Tensor:
        """G's update: minimise loss.g(D(G(z))). Returns the batch's G loss."""
        g_vars = self.generator.trainable_variables
        labels = fake_labels[-1] if self.spec.conditional else None
        with tf.GradientTape() as tape:
            fake = self._generate(noise[-1], labels, training=True)
            g_loss = self.loss.g(self._discriminate(fake, labels, training=True))
            scaled = self.g_optimizer.scale_loss(self._gradient_loss(g_loss))
        self.g_optimizer.apply_gradients(zip(tape.gradient(scaled, g_vars), g_vars))
        return g_loss

    def _labels(self, labels: np.ndarray | None, n: int) -> tf.Tensor | None:
        labels = self._checked_labels(labels, n)
        return None if labels is None else tf.constant(labels)

    def generate(self, noise: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
        with tf.device(self.device):
            return self._generate(tf.constant(noise, self.options.dtype), self._labels(labels, len(noise)),
                                  training=False).numpy()

    def discriminate(self, images: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
        with tf.device(self.device):
            return self._discriminate(tf.constant(images, self.options.dtype),
                                      self._labels(labels, len(images)), training=False).numpy()

    def _save_optimizers(self, directory: Path) -> None:
        slots = {f"{name}/{i}": v.numpy()
                 for name, opt in (("g", self.g_optimizer), ("d", self.d_optimizer))
                 for i, v in enumerate(opt.variables)}
        np.savez(directory / "optimizers.npz", **slots)

    def _load_optimizers(self, directory: Path) -> None:
        with np.load(directory / "optimizers.npz") as slots:
            for name, opt in (("g", self.g_optimizer), ("d", self.d_optimizer)):
                for i, v in enumerate(opt.variables):
                    v.assign(slots[f"{name}/{i}"])

    def parameter_counts(self) -> dict[str, int]:
        return {net.name: int(sum(np.prod(v.shape) for v in net.trainable_variables))
                for net in (self.generator, self.discriminator)}

    def peak_memory_bytes(self) -> int | None:
        if self.options.device == "cuda":
            return int(tf.config.experimental.get_memory_info("GPU:0")["peak"])
        return None  # CPU: the driver reports the process's peak RSS instead

    def matmul_gflops(self) -> float:
        dtype = {"bf16": tf.bfloat16, "fp16": tf.float16}.get(self.options.precision, self.options.dtype)
        # The sum brings one scalar to the host, which waits for the device.
        multiply = tf.function(lambda a: tf.reduce_sum(tf.linalg.matmul(a, a)))

        def product(size: int):
            with tf.device(self.device):
                a = tf.cast(tf.random.normal((size, size)), dtype)
            return lambda: multiply(a).numpy()

        return matmul_gflops(product)

    def environment(self) -> dict[str, str]:
        import keras

        if self.options.device == "cuda":
            details = tf.config.experimental.get_device_details(tf.config.list_physical_devices("GPU")[0])
            device = details.get("device_name", "GPU")
        else:
            device = platform.processor() or platform.machine()
        return {"framework_version": f"tensorflow {tf.__version__} (keras {keras.__version__})",
                "device_name": device,
                "threads": str(tf.config.threading.get_intra_op_parallelism_threads() or "auto")}
