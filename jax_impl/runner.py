"""The JAX runner: the one place where JAX trains a spec'd GAN.

Everything a step changes is one pytree (`TrainState`): both networks'
parameters and state (BatchNorm statistics, spectral-norm vectors) and both
optimizers' state. A step is a pure function of it; `jit` mode compiles the
whole step (n_critic D updates and the G update) into one XLA program whose
input state buffers are donated, `eager` mode runs the same function op by op.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax._src import xla_bridge  # backends_are_initialized: no public equivalent (jax 0.10)

from benchmark.peak import matmul_gflops
from benchmark.runner import Runner, RunnerOptions, StepInputs
from benchmark.specs import GANSpec
from benchmark.specs.layers import NetSpec
from benchmark.weights import Weights, check_weights
from jax_impl.losses import LOSSES, gradient_penalty
from jax_impl.nets import build_network, cast
from jax_impl.optim import build_optimizer
from jax_impl.weights import export_network, split_network

# --precision -> the operand type of every matmul and convolution; parameters,
# optimizer state, BatchNorm, softmax and losses stay float32.
COMPUTE_DTYPES = {"bf16": "bfloat16"}


def start_backends(threads: int) -> int:
    """Starts JAX's backends with XLA:CPU's thread pool on `threads` cores
    (0: every core this process may use); returns the pool's size.

    XLA:CPU has no thread setting and ignores OMP_NUM_THREADS: it sizes its
    pool once, when the backends start, from the cores the starting thread may
    use (sched_getaffinity), and the pool's threads inherit that mask. So the
    calling thread is narrowed to the first `threads` of its cores while the
    backends start, then widened again: the pool keeps `threads` threads on
    those cores, the rest of the process keeps every core. Once the backends
    have started (an earlier runner in this process) the pool stays as it is.
    """
    if _POOL_SIZE:
        return _POOL_SIZE[0]
    cores = os.sched_getaffinity(0)
    narrow = 0 < threads < len(cores) and not xla_bridge.backends_are_initialized()
    if narrow:
        os.sched_setaffinity(0, sorted(cores)[:threads])
    try:
        jax.devices()  # starts every backend, the CPU's pool among them
    finally:
        if narrow:
            os.sched_setaffinity(0, cores)
    _POOL_SIZE.append(threads if narrow else len(cores))
    return _POOL_SIZE[0]


_POOL_SIZE: list[int] = []  # XLA:CPU's pool size, once start_backends has run


class TrainState(NamedTuple):
    """Everything a training step reads and replaces, donated in `jit` mode."""

    g_params: dict[str, jax.Array]
    g_state: dict[str, jax.Array]
    d_params: dict[str, jax.Array]
    d_state: dict[str, jax.Array]
    g_opt: Any
    d_opt: Any


@dataclass(frozen=True)
class StepProgram:
    """What a compiled step depends on, hashable: the jit cache key (a static
    argument), so every runner of one (spec, types, device) in a process
    shares one compiled program. Learning rates are not in it: they are the
    step's `lrs` argument (spec learning rates set to 0 here)."""

    spec: GANSpec
    dtype: str  # the parameters' type
    compute_dtype: str | None  # the matmul/conv operand type (bf16), None: the parameters'
    # BatchNorm's statistics in training: per replica's slice of the batch
    # (--devices N without --sync-batchnorm: N), or over the whole batch (1).
    batchnorm_groups: int = 1

    @classmethod
    def of(cls, spec: GANSpec, options: RunnerOptions) -> "StepProgram":
        zero = dataclasses.replace(spec, d_optimizer=dataclasses.replace(spec.d_optimizer, lr=0.0),
                                   g_optimizer=dataclasses.replace(spec.g_optimizer, lr=0.0))
        groups = 1 if options.sync_batchnorm else options.devices
        return cls(zero, options.dtype, COMPUTE_DTYPES.get(options.precision), groups)

    def apply(self, net: NetSpec, params, state, x, labels, training: bool):
        """A network's output in the parameters' type, and its new state."""
        y, state = build_network(net).apply(params, state, x, labels if self.spec.conditional else None,
                                            training=training, compute_dtype=self.compute_dtype,
                                            batchnorm_groups=self.batchnorm_groups if training else 1)
        return cast(y, self.dtype), state


def train_step(program: StepProgram, ts: TrainState, images: jax.Array, labels: jax.Array,
               indices: jax.Array, noise: jax.Array, fake_labels: jax.Array, mix: jax.Array,
               lrs: jax.Array) -> tuple[TrainState, jax.Array]:
    """One generator update after `spec.n_critic` critic updates, as a pure
    function (StepInputs' arrays; lrs = (D's, G's) learning rates).

    Returns the new TrainState and (mean critic loss, generator loss)."""
    spec, G, D = program.spec, program.spec.generator, program.spec.discriminator
    loss, penalty = LOSSES[spec.loss], spec.gradient_penalty
    d_optimizer, g_optimizer = build_optimizer(spec.d_optimizer), build_optimizer(spec.g_optimizer)
    apply = program.apply

    # (1) Update D n_critic times: minimise loss.d(D(x), D(G(z))) [+ penalty].
    # D sees real, then fake, then interpolates, as in the twins: each
    # training pass moves BatchNorm statistics and spectral norm's vectors.
    def critic_update(carry, xs):
        g_state, d_params, d_state, d_opt = carry
        rows, z, y_fake, m = xs
        real, real_labels = images[rows], labels[rows]
        fake, g_state = apply(G, ts.g_params, g_state, z, y_fake, True)
        fake = jax.lax.stop_gradient(fake)  # PyTorch: G under no_grad, in train mode

        def d_loss_fn(params, state):
            real_logits, state = apply(D, params, state, real, real_labels, True)
            fake_logits, state = apply(D, params, state, fake, y_fake, True)
            d_loss = loss.d(real_logits, fake_logits)
            if penalty is not None:
                # Interpolates are read with the real images' labels.
                gp, state = gradient_penalty(lambda x: apply(D, params, state, x, real_labels, True),
                                             real, fake, m)
                d_loss = d_loss + penalty * gp
            return d_loss, jax.lax.stop_gradient(state)

        (d_loss, d_state), grads = jax.value_and_grad(d_loss_fn, has_aux=True)(d_params, d_state)
        d_params, d_opt = d_optimizer.update(grads, d_opt, d_params, lrs[0])
        if spec.clip_value is not None:
            c = spec.clip_value
            d_params = jax.tree.map(lambda p: jnp.clip(p, -c, c), d_params)
        return (g_state, d_params, d_state, d_opt), d_loss

    # Unrolled, not a lax.scan: on a GPU a loop's condition syncs with the host
    # (jax#2491), and on XLA:CPU the scan ran WGAN's step 25x slower (9 s
    # against 0.4 s at batch 32; WGAN-GP 15 s against 2.1 s) and compiled no faster.
    carry = (ts.g_state, ts.d_params, ts.d_state, ts.d_opt)
    xs = (indices, noise[:-1], fake_labels[:-1], mix)
    d_losses = []
    for k in range(spec.n_critic):
        carry, d_loss = critic_update(carry, jax.tree.map(lambda a, k=k: a[k], xs))
        d_losses.append(d_loss)
    d_losses = jnp.stack(d_losses)
    g_state, d_params, d_state, d_opt = carry

    # (2) Update G: minimise loss.g(D(G(z))). D runs in training mode, so its
    # statistics and vectors move as in the twins; its weights stay.
    def g_loss_fn(params, g_state, d_state):
        fake, g_state = apply(G, params, g_state, noise[-1], fake_labels[-1], True)
        fake_logits, d_state = apply(D, d_params, d_state, fake, fake_labels[-1], True)
        return loss.g(fake_logits), jax.lax.stop_gradient((g_state, d_state))

    (g_loss, (g_state, d_state)), grads = jax.value_and_grad(g_loss_fn, has_aux=True)(
        ts.g_params, g_state, d_state)
    g_params, g_opt = g_optimizer.update(grads, ts.g_opt, ts.g_params, lrs[1])
    new = TrainState(g_params, g_state, d_params, d_state, g_opt, d_opt)
    return new, jnp.stack([jnp.mean(d_losses), g_loss])


def generate(program: StepProgram, params, state, noise, labels):
    return program.apply(program.spec.generator, params, state, noise, labels, False)[0]


def discriminate(program: StepProgram, params, state, images, labels):
    return program.apply(program.spec.discriminator, params, state, images, labels, False)[0]


# jit mode: the whole step one XLA program, the TrainState's buffers donated
# (invalid after the call: `export_weights` copies). keep_unused: a training
# step overwrites spectral norm's v without reading it, and jit would prune
# that argument and leave its buffer undonated. Compiled on first call, which
# the driver times as warm-up.
JITTED = {"train_step": jax.jit(train_step, static_argnums=0, donate_argnums=1, keep_unused=True),
          "generate": jax.jit(generate, static_argnums=0),
          "discriminate": jax.jit(discriminate, static_argnums=0)}
EAGER = {"train_step": train_step, "generate": generate, "discriminate": discriminate}


def _scoped(method: Callable) -> Callable:
    """Runs a public method in the runner's JAX scope (`JaxRunner._scope`)."""
    @functools.wraps(method)
    def wrapper(self: "JaxRunner", *args, **kwargs):
        with self._scope():
            return method(self, *args, **kwargs)
    return wrapper


class JaxRunner(Runner):
    framework = "jax"
    modes = ("eager", "jit")

    def __init__(self, spec: GANSpec, options: RunnerOptions) -> None:
        super().__init__(spec, options)
        if options.precision == "fp16":
            raise ValueError("--precision fp16: the JAX twin has no loss scaling; use bf16 or fp32")
        platform_name = "gpu" if options.device == "cuda" else "cpu"
        self.threads = start_backends(options.threads)
        try:
            self.device = jax.local_devices(backend=platform_name)[0]  # this process's, across hosts too
        except RuntimeError:
            raise RuntimeError("--device cuda: JAX sees no GPU (is jax[cuda12] installed?)") from None
        self.dtype = np.dtype(options.dtype)
        self.compute_dtype = COMPUTE_DTYPES.get(options.precision)
        self.program = StepProgram.of(spec, options)
        self.lrs = (spec.d_optimizer.lr, spec.g_optimizer.lr)
        self.g_optimizer = build_optimizer(spec.g_optimizer)
        self.d_optimizer = build_optimizer(spec.d_optimizer)
        self.functions = JITTED if options.mode == "jit" else EAGER
        self.state: TrainState | None = None  # set by import_weights
        self.images: jax.Array | None = None  # (N, H, W, C)
        self.labels: jax.Array | None = None  # (N,)

    def _scope(self) -> contextlib.ExitStack:
        """The runner's device, and float64 enabled for float64 runners only:
        jax_enable_x64 is a context here, never a process-wide switch, so that
        float32 runners in the same process keep float32 defaults."""
        stack = contextlib.ExitStack()
        stack.enter_context(jax.default_device(self.device))
        if self.dtype == np.float64:
            stack.enter_context(jax.enable_x64(True))
        return stack

    @_scoped
    def load_data(self, images: np.ndarray, labels: np.ndarray) -> None:
        # jnp.array copies: JAX owns its data set on the device, as the other twins do.
        self.images = jnp.array(np.asarray(images, self.dtype))
        self.labels = jnp.array(np.asarray(labels, np.int32))

    def step_arguments(self, inputs: StepInputs) -> tuple:
        """`train_step`'s arguments for one step: (program, state, images,
        labels, indices, noise, fake_labels, mix, lrs). With the native
        pipeline's batch (n_critic * B, H, W, C) the step gathers critic update
        k's rows k*B..(k+1)*B-1 from it instead of from the loaded data set."""
        if inputs.real is None:
            assert self.images is not None and self.state is not None, "import_weights and load_data first"
            images, labels, indices = self.images, self.labels, inputs.indices
        else:
            assert self.state is not None, "import_weights first"
            images = self._put(inputs.real, self.dtype)
            labels = self._put(inputs.real_labels, np.int32)
            indices = np.arange(inputs.indices.size).reshape(inputs.indices.shape)
        return (self.program, self.state, images, labels, self._put(indices, np.int32, split=True),
                self._put(inputs.noise, self.dtype, split=True), self._put(inputs.fake_labels, np.int32, split=True),
                self._put(inputs.mix, self.dtype, split=True), self._put(self.lrs, self.dtype))

    def _put(self, array, dtype, split: bool = False) -> jax.Array:
        """A host array as a `dtype` array on the runner's device. `split`: one
        of a step's drawn (steps, B, ...) arrays, which a data-parallel runner
        splits along B (jax_impl.distributed)."""
        return jnp.asarray(array, dtype)

    @_scoped
    def train_step(self, inputs: StepInputs) -> dict[str, float]:
        self.state, losses = self.functions["train_step"](*self.step_arguments(inputs))
        d_loss, g_loss = np.asarray(losses).tolist()  # one device->host copy; waits for the step
        return {"d_loss": d_loss, "g_loss": g_loss}

    # -- inference --------------------------------------------------------------------------

    def _labels(self, labels: np.ndarray | None, n: int) -> jax.Array | None:
        labels = self._checked_labels(labels, n)
        return None if labels is None else jnp.asarray(labels.astype(np.int32))

    @_scoped
    def generate(self, noise: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
        ts = self.state
        return np.asarray(self.functions["generate"](self.program, ts.g_params, ts.g_state, jnp.asarray(noise, self.dtype),
                                         self._labels(labels, len(noise))))

    @_scoped
    def discriminate(self, images: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
        ts = self.state
        return np.asarray(self.functions["discriminate"](self.program, ts.d_params, ts.d_state, jnp.asarray(images, self.dtype),
                                             self._labels(labels, len(images))))

    # -- weights and checkpoints ------------------------------------------------------------

    @_scoped
    def export_weights(self) -> Weights:
        ts = self.state
        return export_network(ts.g_params, ts.g_state, ts.d_params, ts.d_state)

    @_scoped
    def import_weights(self, weights: Weights) -> None:
        check_weights(self.spec, weights)
        g_params, g_state = split_network(self.spec.generator, weights, self.dtype)
        d_params, d_state = split_network(self.spec.discriminator, weights, self.dtype)
        if self.state is None:  # fresh optimizers; a reload keeps their state, as the twins do
            g_opt, d_opt = self.g_optimizer.init(g_params), self.d_optimizer.init(d_params)
        else:
            g_opt, d_opt = self.state.g_opt, self.state.d_opt
        self.state = TrainState(g_params, g_state, d_params, d_state, g_opt, d_opt)

    def _save_optimizers(self, directory: Path) -> None:
        with self._scope():
            leaves = jax.tree.leaves((self.state.g_opt, self.state.d_opt))
            np.savez(directory / "optimizers.npz", *[np.array(leaf) for leaf in leaves])

    def _load_optimizers(self, directory: Path) -> None:
        with self._scope(), np.load(directory / "optimizers.npz") as archive:
            structure = jax.tree.structure((self.state.g_opt, self.state.d_opt))
            leaves = [jnp.asarray(archive[f"arr_{i}"]) for i in range(len(archive.files))]
            g_opt, d_opt = jax.tree.unflatten(structure, leaves)
        self.state = self.state._replace(g_opt=g_opt, d_opt=d_opt)

    def parameter_counts(self) -> dict[str, int]:
        ts = self.state
        return {name: sum(int(a.size) for a in params.values())
                for name, params in (("generator", ts.g_params), ("discriminator", ts.d_params))}

    def peak_memory_bytes(self) -> int | None:
        if self.device.platform == "gpu":
            stats = self.device.memory_stats() or {}
            return int(stats["peak_bytes_in_use"]) if "peak_bytes_in_use" in stats else None
        return None  # CPU: the driver reports the process's peak RSS instead

    @_scoped
    def matmul_gflops(self) -> float:
        dtype = self.compute_dtype or self.dtype
        square = jax.jit(lambda a: a @ a)

        def product(size: int):
            a = jnp.asarray(np.random.default_rng(0).standard_normal((size, size)), dtype)
            return lambda: square(a).block_until_ready()

        return matmul_gflops(product)

    def environment(self) -> dict[str, str]:
        device = (self.device.device_kind if self.device.platform == "gpu"
                  else platform.processor() or platform.machine())
        return {"framework_version": f"jax {jax.__version__}", "device_name": device,
                "threads": str(self.threads)}  # XLA:CPU's pool (start_backends)
