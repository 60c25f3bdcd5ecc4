"""Hand-written TensorFlow/Keras loops that `benchmark.loops.compare` times our
TFRunner against (twin of `torch_impl/loops.py`).

Nothing here uses `tf_impl`: the networks are written out with keras.layers
and Keras' own BatchNormalization and optimizers, as an expert would write
them, and only their parameter counts are checked against the spec.
Hyperparameters (learning rates, betas, n_critic, clipping) are read from the
spec, so every variant trains by the same rules.
"""

from __future__ import annotations

from typing import Iterator

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from benchmark.flops import training_flops_per_step, tutorial_dcgan_flops_per_step
from benchmark.specs import GANSpec, OptimizerSpec

LATENT_DIM = 100


def configure(threads: int, seed: int, device: str = "cpu") -> None:
    """Threads (intra- and inter-op, as TFRunner sets them), visible devices and
    the RNG seed; must precede TensorFlow's first op to take effect."""
    try:
        if device == "cpu":
            tf.config.set_visible_devices([], "GPU")
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:
        pass  # TensorFlow already started in this process (tests)
    tf.random.set_seed(seed)


def _kernel_init() -> keras.initializers.Initializer:
    return keras.initializers.RandomNormal(0.0, 0.02)


def _batch_norm() -> layers.BatchNormalization:
    # PyTorch's momentum 0.1 and eps 1e-5, as the spec has them.
    return layers.BatchNormalization(momentum=0.9, epsilon=1e-5,
                                     gamma_initializer=keras.initializers.RandomNormal(1.0, 0.02))


def build_generator() -> keras.Sequential:
    return keras.Sequential([
        keras.Input((LATENT_DIM,)),
        layers.Dense(7 * 7 * 128, use_bias=False, kernel_initializer=_kernel_init()),
        layers.Reshape((7, 7, 128)),
        _batch_norm(),
        layers.ReLU(),
        layers.Conv2DTranspose(64, 4, strides=2, padding="same", use_bias=False,
                               kernel_initializer=_kernel_init()),  # 14x14x64
        _batch_norm(),
        layers.ReLU(),
        layers.Conv2DTranspose(1, 4, strides=2, padding="same", activation="tanh",
                               kernel_initializer=_kernel_init()),  # 28x28x1
    ], name="generator")


def build_discriminator() -> keras.Sequential:
    return keras.Sequential([
        keras.Input((28, 28, 1)),
        layers.Conv2D(64, 4, strides=2, padding="same", kernel_initializer=_kernel_init()),  # 14x14x64
        layers.LeakyReLU(0.2),
        layers.Conv2D(128, 4, strides=2, padding="same", use_bias=False,
                      kernel_initializer=_kernel_init()),  # 7x7x128
        _batch_norm(),
        layers.LeakyReLU(0.2),
        layers.Flatten(),
        layers.Dense(1, kernel_initializer=_kernel_init()),  # a logit
    ], name="discriminator")


def build_networks(spec: GANSpec) -> tuple[keras.Sequential, keras.Sequential]:
    """(G, D), initialised; raises if their sizes differ from the spec's."""
    generator, discriminator = build_generator(), build_discriminator()
    counts = {name: int(sum(np.prod(v.shape) for v in net.trainable_variables))
              for name, net in (("generator", generator), ("discriminator", discriminator))}
    if counts != spec.parameter_counts():
        raise AssertionError(f"bare networks have {counts} parameters, {spec.name} has "
                             f"{spec.parameter_counts()}: the hand-written architecture drifted")
    return generator, discriminator


def build_optimizer(spec: OptimizerSpec) -> keras.optimizers.Optimizer:
    if spec.name == "adam":
        return keras.optimizers.Adam(spec.lr, beta_1=spec.beta1, beta_2=spec.beta2, epsilon=spec.eps)
    return keras.optimizers.RMSprop(spec.lr, rho=spec.alpha, epsilon=spec.eps)


def _tf_device(device: str) -> str:
    return "/GPU:0" if device == "cuda" else "/CPU:0"


class BareLoop:
    """The fast hand-written step: one tf.function (jit_compile in xla mode)
    over Keras models, images in a device Variable, batch indices and noise
    drawn inside the step, one device->host copy per step."""

    variant = "bare"

    def __init__(self, spec: GANSpec, images: np.ndarray, batch_size: int, mode: str,
                 device: str = "cpu") -> None:
        self.spec, self.mode, self.batch_size = spec, mode, batch_size
        self.images_per_step = batch_size * spec.n_critic
        self.flops_per_step = training_flops_per_step(spec, batch_size)
        with tf.device(_tf_device(device)):
            # A Variable, not a constant: a traced graph captures it by reference.
            self.images = tf.Variable(np.asarray(images, np.float32), trainable=False)
            self.generator, self.discriminator = build_networks(spec)
            self.generator_optimizer = build_optimizer(spec.g_optimizer)
            self.discriminator_optimizer = build_optimizer(spec.d_optimizer)
            self.generator_optimizer.build(self.generator.trainable_variables)
            self.discriminator_optimizer.build(self.discriminator.trainable_variables)
        self._step = (self._train_step if mode == "eager"
                      else tf.function(self._train_step, jit_compile=mode == "xla"))

    def d_loss(self, real: tf.Tensor, fake: tf.Tensor) -> tf.Tensor:
        if self.spec.loss == "wasserstein":
            return tf.reduce_mean(fake) - tf.reduce_mean(real)
        return (tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(tf.ones_like(real), real))
                + tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(tf.zeros_like(fake), fake)))

    def g_loss(self, fake: tf.Tensor) -> tf.Tensor:
        if self.spec.loss == "wasserstein":
            return -tf.reduce_mean(fake)
        return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(tf.ones_like(fake), fake))

    def _train_step(self) -> tf.Tensor:
        n_critic, clip = self.spec.n_critic, self.spec.clip_value
        d_vars = self.discriminator.trainable_variables
        g_vars = self.generator.trainable_variables
        index = tf.random.uniform((n_critic, self.batch_size), 0, self.images.shape[0], tf.int64)
        noise = tf.random.normal((n_critic + 1, self.batch_size, LATENT_DIM))

        # (1) Update D n_critic times.
        d_sum = tf.constant(0.0)
        for k in range(n_critic):
            fake = self.generator(noise[k], training=True)
            with tf.GradientTape() as tape:
                d_loss = self.d_loss(self.discriminator(tf.gather(self.images, index[k]), training=True),
                                     self.discriminator(fake, training=True))
            self.discriminator_optimizer.apply_gradients(zip(tape.gradient(d_loss, d_vars), d_vars))
            if clip is not None:
                for v in d_vars:
                    v.assign(tf.clip_by_value(v, -clip, clip))
            d_sum += d_loss

        # (2) Update G.
        with tf.GradientTape() as tape:
            g_loss = self.g_loss(self.discriminator(self.generator(noise[n_critic], training=True),
                                                    training=True))
        self.generator_optimizer.apply_gradients(zip(tape.gradient(g_loss, g_vars), g_vars))
        return tf.stack([d_sum / n_critic, g_loss])

    def prepare(self) -> None:
        pass

    def step(self) -> tuple[float, float]:
        d_mean, g = self._step().numpy()  # the one sync
        return float(d_mean), float(g)


def _tutorial_dataset(images: np.ndarray, batch_size: int) -> tf.data.Dataset:
    """The tutorials' pipeline: from_tensor_slices, shuffle over every image,
    batch (drop_remainder: every timed step trains on a whole batch and never
    retraces). Autotuning is off: this pipeline has nothing for it to tune (no
    prefetch, no parallel map), and its model thread, left running, made the
    iterator's destructor wait for it: 20 to 60 s when a long-lived loop was
    freed (in the test suite, by a garbage collection in another test)."""
    options = tf.data.Options()
    options.autotune.enabled = False
    return (tf.data.Dataset.from_tensor_slices(np.asarray(images, np.float32))
            .shuffle(len(images)).batch(batch_size, drop_remainder=True).with_options(options))


def _epochs(dataset: tf.data.Dataset) -> Iterator[tf.Tensor]:
    """Batches of one epoch after another, as the tutorial's `for epoch ...: for image_batch in dataset`."""
    while True:
        yield from dataset


class TutorialDCGANLoop:
    """The TensorFlow DCGAN tutorial's loop on the bare networks: a tf.data
    pipeline (from_tensor_slices, shuffle, batch) iterated in Python, and a
    @tf.function train_step(images) with noise from tf.random.normal and two
    GradientTapes over one forward pass. The step returns its losses, read with
    .numpy() (the tutorial returns nothing; without a read the clock would stop
    before the work does)."""

    variant = "tutorial"
    mode = "function"

    def __init__(self, spec: GANSpec, images: np.ndarray, batch_size: int, device: str = "cpu") -> None:
        self.batch_size = batch_size
        self.images_per_step = batch_size
        self.flops_per_step = tutorial_dcgan_flops_per_step(spec, batch_size, one_forward=True)
        self.train_dataset = _tutorial_dataset(images, batch_size)
        self.batches = _epochs(self.train_dataset)
        with tf.device(_tf_device(device)):
            self.generator, self.discriminator = build_networks(spec)
        self.cross_entropy = keras.losses.BinaryCrossentropy(from_logits=True)
        self.generator_optimizer = build_optimizer(spec.g_optimizer)
        self.discriminator_optimizer = build_optimizer(spec.d_optimizer)
        self.train_step = tf.function(self._train_step)

    def discriminator_loss(self, real_output: tf.Tensor, fake_output: tf.Tensor) -> tf.Tensor:
        real_loss = self.cross_entropy(tf.ones_like(real_output), real_output)
        fake_loss = self.cross_entropy(tf.zeros_like(fake_output), fake_output)
        return real_loss + fake_loss

    def generator_loss(self, fake_output: tf.Tensor) -> tf.Tensor:
        return self.cross_entropy(tf.ones_like(fake_output), fake_output)

    def _train_step(self, images: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        noise = tf.random.normal([self.batch_size, LATENT_DIM])

        with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
            generated_images = self.generator(noise, training=True)

            real_output = self.discriminator(images, training=True)
            fake_output = self.discriminator(generated_images, training=True)

            gen_loss = self.generator_loss(fake_output)
            disc_loss = self.discriminator_loss(real_output, fake_output)

        gradients_of_generator = gen_tape.gradient(gen_loss, self.generator.trainable_variables)
        gradients_of_discriminator = disc_tape.gradient(disc_loss, self.discriminator.trainable_variables)

        self.generator_optimizer.apply_gradients(
            zip(gradients_of_generator, self.generator.trainable_variables))
        self.discriminator_optimizer.apply_gradients(
            zip(gradients_of_discriminator, self.discriminator.trainable_variables))
        return disc_loss, gen_loss

    def prepare(self) -> None:
        pass

    def step(self) -> tuple[float, float]:
        image_batch = next(self.batches)
        disc_loss, gen_loss = self.train_step(image_batch)
        return float(disc_loss.numpy()), float(gen_loss.numpy())


class TutorialWGANLoop:
    """The tutorial's loop adapted to WGAN: n_critic batches from the dataset
    iterator, each through a @tf.function critic step (critic weights clipped
    after its update), then a @tf.function generator step; losses read with
    .numpy() once per G update, as a log line would."""

    variant = "tutorial"
    mode = "function"

    def __init__(self, spec: GANSpec, images: np.ndarray, batch_size: int, device: str = "cpu") -> None:
        self.spec, self.batch_size = spec, batch_size
        self.images_per_step = batch_size * spec.n_critic
        self.flops_per_step = training_flops_per_step(spec, batch_size)
        self.train_dataset = _tutorial_dataset(images, batch_size)
        self.batches = _epochs(self.train_dataset)
        with tf.device(_tf_device(device)):
            self.generator, self.critic = build_networks(spec)
        self.generator_optimizer = build_optimizer(spec.g_optimizer)
        self.critic_optimizer = build_optimizer(spec.d_optimizer)
        self.critic_step = tf.function(self._critic_step)
        self.generator_step = tf.function(self._generator_step)

    def _critic_step(self, images: tf.Tensor) -> tf.Tensor:
        noise = tf.random.normal([self.batch_size, LATENT_DIM])
        with tf.GradientTape() as disc_tape:
            generated_images = self.generator(noise, training=True)
            real_output = self.critic(images, training=True)
            fake_output = self.critic(generated_images, training=True)
            disc_loss = tf.reduce_mean(fake_output) - tf.reduce_mean(real_output)
        gradients = disc_tape.gradient(disc_loss, self.critic.trainable_variables)
        self.critic_optimizer.apply_gradients(zip(gradients, self.critic.trainable_variables))
        clip = self.spec.clip_value
        if clip is not None:
            for var in self.critic.trainable_variables:
                var.assign(tf.clip_by_value(var, -clip, clip))
        return disc_loss

    def _generator_step(self) -> tf.Tensor:
        noise = tf.random.normal([self.batch_size, LATENT_DIM])
        with tf.GradientTape() as gen_tape:
            gen_loss = -tf.reduce_mean(self.critic(self.generator(noise, training=True), training=True))
        gradients = gen_tape.gradient(gen_loss, self.generator.trainable_variables)
        self.generator_optimizer.apply_gradients(zip(gradients, self.generator.trainable_variables))
        return gen_loss

    def prepare(self) -> None:
        pass

    def step(self) -> tuple[float, float]:
        for _ in range(self.spec.n_critic):
            disc_loss = self.critic_step(next(self.batches))
        gen_loss = self.generator_step()
        return float(disc_loss.numpy()), float(gen_loss.numpy())


def tutorial_loop(spec: GANSpec, images: np.ndarray, batch_size: int, device: str = "cpu"):
    """The tutorial's loop for the spec's loss: DCGAN's for BCE, WGAN's for Wasserstein."""
    cls = TutorialWGANLoop if spec.loss == "wasserstein" else TutorialDCGANLoop
    return cls(spec, images, batch_size, device)
