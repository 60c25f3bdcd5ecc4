"""A hand-written JAX loop that `benchmark.loops.compare` times our JaxRunner
against (twin of `torch_impl/loops.py` and `tf_impl/loops.py`).

Nothing here uses `jax_impl` but the thread bound (`start_backends`): the networks are written out in plain JAX
(`jax.lax`, `jax.numpy`, parameters as dicts), as an expert would write them,
and only their parameter counts are checked against the spec. Adam and
RMSprop are written out too (PyTorch's update rules: optax is not a
dependency). Hyperparameters (learning rates, betas, n_critic, clipping) are
read from the spec, so every variant trains by the same rules.

There is no tutorial loop: neither JAX nor Flax ships a GAN example to copy,
only community notebooks (`benchmark.frameworks`, tutorial_mode).

The generator's transposed convolutions come in three formulations:
  "adjoint" (default) the transpose of the strided convolution, its vjps
          written out (`deconv_adjoint`), the form our runner takes and the
          fastest measured on XLA:CPU;
  "phases" stride-1 forms: 7x7x128 -> 14x14x64 as four 2x2 convolutions,
          one per output phase; 14x14x64 -> 28x28x1 as one 3x3 convolution
          to 4 channels and a depth-to-space (sub-pixel);
  "lax"   `lax.conv_transpose`, what one writes first: its kernel gradient is
          XLA:CPU's slow path (jax#23783).
"""

from __future__ import annotations

import collections
import functools
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from benchmark.flops import training_flops_per_step
from benchmark.loops import Op
from benchmark.specs import GANSpec, OptimizerSpec
from jax_impl.runner import start_backends

if TYPE_CHECKING:
    from benchmark.loops import Loop

LATENT_DIM = 100
DN = ("NHWC", "HWIO", "NHWC")
BN_MOMENTUM, BN_EPS, SLOPE = 0.1, 1e-5, 0.2
_SEED = [0]


# Options of BareLoop the other frameworks' bare loops lack (benchmark.loops.compare).
BARE_OPTIONS = ("conv_transpose",)


def configure(threads: int, seed: int, device: str = "cpu") -> None:
    """Threads (XLA:CPU's pool, as JaxRunner bounds it), the RNG seed and the
    default device; must precede JAX's first op to bound the threads."""
    start_backends(threads)
    _SEED[0] = seed
    jax.config.update("jax_default_device", jax.devices("gpu" if device == "cuda" else "cpu")[0])


# --- networks: (params, batch statistics) as dicts ----------------------------------------


def _normal(key, shape, mean=0.0):
    """DCGAN paper: kernels N(0, 0.02), BatchNorm gamma N(1, 0.02)."""
    return mean + 0.02 * jax.random.normal(key, shape, jnp.float32)


def init_generator(key) -> tuple[dict, dict]:
    k = jax.random.split(key, 5)
    params = {"dense": _normal(k[0], (LATENT_DIM, 7 * 7 * 128)),
              "bn1_gamma": _normal(k[1], (128,), 1.0), "bn1_beta": jnp.zeros(128),
              "deconv1": _normal(k[2], (4, 4, 128, 64)),
              "bn2_gamma": _normal(k[3], (64,), 1.0), "bn2_beta": jnp.zeros(64),
              "deconv2": _normal(k[4], (4, 4, 64, 1)), "deconv2_bias": jnp.zeros(1)}
    stats = {"bn1_mean": jnp.zeros(128), "bn1_var": jnp.ones(128), "bn2_mean": jnp.zeros(64), "bn2_var": jnp.ones(64)}
    return params, stats


def init_discriminator(key) -> tuple[dict, dict]:
    k = jax.random.split(key, 4)
    params = {"conv1": _normal(k[0], (4, 4, 1, 64)), "conv1_bias": jnp.zeros(64),
              "conv2": _normal(k[1], (4, 4, 64, 128)),
              "bn_gamma": _normal(k[2], (128,), 1.0), "bn_beta": jnp.zeros(128),
              "dense": _normal(k[3], (7 * 7 * 128, 1)), "dense_bias": jnp.zeros(1)}
    return params, {"bn_mean": jnp.zeros(128), "bn_var": jnp.ones(128)}


def batch_norm(x, gamma, beta, mean, var):
    """Training mode: batch statistics; the moving ones move (unbiased variance)."""
    axes = tuple(range(x.ndim - 1))
    batch_mean, batch_var = jnp.mean(x, axes), jnp.var(x, axes)
    n = x.size // x.shape[-1]
    new_mean = (1 - BN_MOMENTUM) * mean + BN_MOMENTUM * batch_mean
    new_var = (1 - BN_MOMENTUM) * var + BN_MOMENTUM * batch_var * n / (n - 1)
    y = (x - batch_mean) * lax.rsqrt(batch_var + BN_EPS) * gamma + beta
    return y, lax.stop_gradient(new_mean), lax.stop_gradient(new_var)


# Sub-pixel form of a k4 s2 p1 transposed convolution, y[2i - 1 + t] += x[i] w[t]:
# output phase r at window position j (input offset j - 1) reads tap TAPS[r][j].
TAPS = ({0: 3, 1: 1}, {1: 2, 2: 0})
_INDEX = np.full((3, 3, 2, 2), 16, np.int32)  # 16: the appended zero tap
for _rh, _row in enumerate(TAPS):
    for _jh, _th in _row.items():
        for _rw, _col in enumerate(TAPS):
            for _jw, _tw in _col.items():
                _INDEX[_jh, _jw, _rh, _rw] = _th * 4 + _tw


def deconv_subpixel(x, w):
    """(B, n, n, in) -> (B, 2n, 2n, out); w (4, 4, in, out)."""
    cin, cout = w.shape[2:]
    taps = jnp.concatenate([w.reshape(16, cin, cout), jnp.zeros((1, cin, cout), w.dtype)])
    sub = taps[_INDEX].transpose(0, 1, 4, 2, 3, 5).reshape(3, 3, cin, 4 * cout)
    y = lax.conv_general_dilated(x, sub, (1, 1), ((1, 1), (1, 1)), dimension_numbers=DN)
    b, n = y.shape[:2]
    return y.reshape(b, n, n, 2, 2, cout).transpose(0, 1, 3, 2, 4, 5).reshape(b, 2 * n, 2 * n, cout)


# The same layer as four 2x2 convolutions: phase r reads offsets (-1, 0) (r = 0)
# or (0, 1) (r = 1), i.e. taps TAPS[r] in window order, padded on that side.
PHASE_TAPS, PHASE_PADS = ((3, 1), (2, 0)), ((1, 0), (0, 1))


def deconv_phases(x, w):
    """(B, n, n, in) -> (B, 2n, 2n, out); w (4, 4, in, out)."""
    rows = []
    for rh in range(2):
        columns = [lax.conv_general_dilated(x, w[np.array(PHASE_TAPS[rh])][:, np.array(PHASE_TAPS[rw])], (1, 1),
                                            (PHASE_PADS[rh], PHASE_PADS[rw]), dimension_numbers=DN)
                   for rw in range(2)]
        rows.append(jnp.stack(columns, axis=3))  # (B, n, n, 2, out)
    b, n = x.shape[:2]
    return jnp.stack(rows, axis=2).reshape(b, 2 * n, 2 * n, w.shape[-1])


def deconv_lax(x, w):
    """The same layer as `lax.conv_transpose` writes it (w flipped: its kernel is a correlation's)."""
    return lax.conv_transpose(x, w[::-1, ::-1], (2, 2), ((2, 2), (2, 2)), dimension_numbers=DN)


def _conv_s2(u, k):
    """Conv2d(4, 2, 1): (B, 2n, 2n, a) -> (B, n, n, b); k (4, 4, a, b)."""
    return lax.conv_general_dilated(u, k, (2, 2), ((1, 1), (1, 1)), dimension_numbers=DN)


@jax.custom_vjp
def deconv_adjoint(x, w):
    """(B, n, n, in) -> (B, 2n, 2n, out); w (4, 4, in, out): the transpose of
    Conv2d(4, 2, 1) from out to in channels with kernel w (channel axes
    swapped), with its vjps written out so that no gradient is an lhs-dilated
    convolution's kernel gradient (XLA:CPU's slow path)."""
    b, n = x.shape[:2]
    k = w.transpose(0, 1, 3, 2)
    out = jax.ShapeDtypeStruct((b, 2 * n, 2 * n, w.shape[3]), x.dtype)  # a shape, not an array to fill
    return jax.linear_transpose(lambda u: _conv_s2(u, k), out)(x)[0]


def _deconv_adjoint_forward(x, w):
    return deconv_adjoint(x, w), (x, w)


def _deconv_adjoint_backward(residuals, g):
    """<g, C(w)^T x> = <C(w) g, x>: the input gradient is the convolution of
    g, the kernel gradient that convolution's kernel gradient at x."""
    x, w = residuals
    y, kernel_vjp = jax.vjp(lambda k: _conv_s2(g, k), w.transpose(0, 1, 3, 2))
    return y, kernel_vjp(x)[0].transpose(0, 1, 3, 2)


deconv_adjoint.defvjp(_deconv_adjoint_forward, _deconv_adjoint_backward)


# --jax-conv-transpose -> the generator's two transposed convolutions (7x7 -> 14x14, 14x14 -> 28x28)
CONV_TRANSPOSES = {"adjoint": (deconv_adjoint, deconv_adjoint), "phases": (deconv_phases, deconv_subpixel),
                   "lax": (deconv_lax, deconv_lax)}


def generator(params, stats, z, deconvs):
    x = (z @ params["dense"]).reshape(-1, 7, 7, 128)  # state size. 7 x 7 x 128
    x, m1, v1 = batch_norm(x, params["bn1_gamma"], params["bn1_beta"], stats["bn1_mean"], stats["bn1_var"])
    x = deconvs[0](jax.nn.relu(x), params["deconv1"])  # state size. 14 x 14 x 64
    x, m2, v2 = batch_norm(x, params["bn2_gamma"], params["bn2_beta"], stats["bn2_mean"], stats["bn2_var"])
    x = deconvs[1](jax.nn.relu(x), params["deconv2"]) + params["deconv2_bias"]  # state size. 28 x 28 x 1
    return jnp.tanh(x), {"bn1_mean": m1, "bn1_var": v1, "bn2_mean": m2, "bn2_var": v2}


def discriminator(params, stats, x):
    conv = functools.partial(lax.conv_general_dilated, window_strides=(2, 2), padding=((1, 1), (1, 1)),
                             dimension_numbers=DN)
    x = jax.nn.leaky_relu(conv(x, params["conv1"]) + params["conv1_bias"], SLOPE)  # 14 x 14 x 64
    x, mean, var = batch_norm(conv(x, params["conv2"]), params["bn_gamma"], params["bn_beta"],
                              stats["bn_mean"], stats["bn_var"])  # 7 x 7 x 128
    x = jax.nn.leaky_relu(x, SLOPE).reshape(x.shape[0], -1)
    return x @ params["dense"] + params["dense_bias"], {"bn_mean": mean, "bn_var": var}  # a logit


def build_networks(spec: GANSpec, seed: int = 0) -> tuple[tuple[dict, dict], tuple[dict, dict]]:
    """((G params, G stats), (D params, D stats)); raises if their sizes differ from the spec's."""
    kg, kd = jax.random.split(jax.random.key(seed))
    # One program per network, as a JAX user initialises (jit of the init): op by op, each
    # kernel's shape compiled a random-normal program of its own, ~1 s each on the CPU.
    g, d = jax.jit(init_generator)(kg), jax.jit(init_discriminator)(kd)
    counts = {name: sum(int(a.size) for a in params.values())
              for name, (params, _) in (("generator", g), ("discriminator", d))}
    if counts != spec.parameter_counts():
        raise AssertionError(f"bare networks have {counts} parameters, {spec.name} has "
                             f"{spec.parameter_counts()}: the hand-written architecture drifted")
    return g, d


# --- optimizers: PyTorch's rules ------------------------------------------------------------


def build_optimizer(spec: OptimizerSpec):
    """(init(params) -> state, update(grads, state, params) -> (params, state))."""
    if spec.name == "adam":
        b1, b2, eps, lr = spec.beta1, spec.beta2, spec.eps, spec.lr

        def update(grads, state, params):
            t, m, v = state
            t = t + 1
            m = jax.tree.map(lambda m, g: b1 * m + (1 - b1) * g, m, grads)
            v = jax.tree.map(lambda v, g: b2 * v + (1 - b2) * g * g, v, grads)
            c1, c2 = 1 - b1 ** t, jnp.sqrt(1 - b2 ** t)
            new = jax.tree.map(lambda p, m, v: p - (lr / c1) * m / (jnp.sqrt(v) / c2 + eps), params, m, v)
            return new, (t, m, v)

        return (lambda params: (jnp.zeros((), jnp.float32), jax.tree.map(jnp.zeros_like, params),
                                jax.tree.map(jnp.zeros_like, params))), update
    alpha, eps, lr = spec.alpha, spec.eps, spec.lr

    def rmsprop(grads, square_avg, params):
        square_avg = jax.tree.map(lambda s, g: alpha * s + (1 - alpha) * g * g, square_avg, grads)
        return jax.tree.map(lambda p, g, s: p - lr * g / (jnp.sqrt(s) + eps), params, grads, square_avg), square_avg

    return (lambda params: jax.tree.map(jnp.zeros_like, params)), rmsprop


# --- the loop ---------------------------------------------------------------------------------


def _bce(logits, target: float):
    return jnp.mean(jnp.maximum(logits, 0) - logits * target + jnp.log1p(jnp.exp(-jnp.abs(logits))))


class BareLoop:
    """The fast hand-written step: one function of (state, key) for the whole
    step (n_critic D updates, then G's), jitted with the state donated in jit
    mode and run op by op in eager mode; images on the device, batch indices
    and noise drawn inside the step, one device->host copy per step."""

    variant = "bare"

    def __init__(self, spec: GANSpec, images: np.ndarray, batch_size: int, mode: str,
                 device: str = "cpu", conv_transpose: str = "adjoint") -> None:
        if conv_transpose not in CONV_TRANSPOSES:
            raise ValueError(f"conv_transpose {conv_transpose!r}; valid: {', '.join(CONV_TRANSPOSES)}")
        self.spec, self.mode, self.batch_size = spec, mode, batch_size
        self.images_per_step = batch_size * spec.n_critic
        self.flops_per_step = training_flops_per_step(spec, batch_size)
        self.images = jnp.array(np.asarray(images, np.float32))  # (N, 28, 28, 1), copied to the device
        (g_params, g_stats), (d_params, d_stats) = build_networks(spec, _SEED[0])
        g_init, self.g_update = build_optimizer(spec.g_optimizer)
        d_init, self.d_update = build_optimizer(spec.d_optimizer)
        self.state = (g_params, g_stats, d_params, d_stats, g_init(g_params), d_init(d_params))
        self.key = jax.random.key(_SEED[0] + 1)
        self.deconvs = CONV_TRANSPOSES[conv_transpose]
        self._step = jax.jit(self._train_step, donate_argnums=0) if mode == "jit" else self._train_step

    def d_loss(self, real, fake):
        if self.spec.loss == "wasserstein":
            return jnp.mean(fake) - jnp.mean(real)
        return _bce(real, 1.0) + _bce(fake, 0.0)

    def g_loss(self, fake):
        if self.spec.loss == "wasserstein":
            return -jnp.mean(fake)
        return _bce(fake, 1.0)

    def _train_step(self, state, key, images):
        g_params, g_stats, d_params, d_stats, g_opt, d_opt = state
        n_critic, clip = self.spec.n_critic, self.spec.clip_value
        key, k_index, k_noise = jax.random.split(key, 3)
        index = jax.random.randint(k_index, (n_critic, self.batch_size), 0, images.shape[0])
        noise = jax.random.normal(k_noise, (n_critic + 1, self.batch_size, LATENT_DIM))

        # (1) Update D n_critic times.
        def d_objective(params, stats, real, fake):
            real_logits, stats = discriminator(params, stats, real)
            fake_logits, stats = discriminator(params, stats, fake)
            return self.d_loss(real_logits, fake_logits), stats

        d_sum = 0.0
        for k in range(n_critic):
            fake, g_stats = generator(g_params, g_stats, noise[k], self.deconvs)
            (d_loss, d_stats), grads = jax.value_and_grad(d_objective, has_aux=True)(
                d_params, d_stats, images[index[k]], lax.stop_gradient(fake))
            d_params, d_opt = self.d_update(grads, d_opt, d_params)
            if clip is not None:
                d_params = jax.tree.map(lambda p: jnp.clip(p, -clip, clip), d_params)
            d_sum += d_loss

        # (2) Update G; D's weights get no gradient.
        def g_objective(params, g_stats, d_stats):
            fake, g_stats = generator(params, g_stats, noise[n_critic], self.deconvs)
            logits, d_stats = discriminator(d_params, d_stats, fake)
            return self.g_loss(logits), (g_stats, d_stats)

        (g_loss, (g_stats, d_stats)), grads = jax.value_and_grad(g_objective, has_aux=True)(
            g_params, g_stats, d_stats)
        g_params, g_opt = self.g_update(grads, g_opt, g_params)
        return (g_params, g_stats, d_params, d_stats, g_opt, d_opt), key, jnp.stack([d_sum / n_critic, g_loss])

    def prepare(self) -> None:
        pass

    def step(self) -> tuple[float, float]:
        self.state, self.key, losses = self._step(self.state, self.key, self.images)
        d_mean, g = np.asarray(losses).tolist()  # the one sync
        return d_mean, g


def tutorial_loop(spec: GANSpec, images: np.ndarray, batch_size: int, device: str = "cpu"):
    raise ValueError("JAX has no canonical GAN tutorial to mirror (benchmark.frameworks, tutorial_mode)")


# --- profiling (python -m benchmark.loops.profile) ------------------------------------

# What an op's time means in the profile's table.
PROFILE_TIME = "time on the XLA pool thread that ran it; ops overlap across threads"

# One instruction of optimized HLO text: `%name = shape opcode(...)`, its
# called computation and its metadata's op_name, when it has them.
_INSTRUCTION = re.compile(r"^\s*(?:ROOT )?%?([\w.\-]+) = (\([^=]*?\)|\S+) ([\w\-]+)\(")
_COMPUTATION = re.compile(r"^(?:ENTRY )?%?([\w.\-]+) ")
_CALLS = re.compile(r"calls=%?([\w.\-]+)")
_OP_NAME = re.compile(r'op_name="(?:jit\([^)]*\)/)?([^"]+)"')
_KINDS = {"convolution": "convolution", "dot": "dot"}  # opcode -> kind; other ops: their fusion's name


def hlo_sources(hlo_text: str) -> dict[str, tuple[str, str, str]]:
    """Instruction name -> (output shape, the JAX operation it came from, kind).
    A fusion takes what it lacks from the computation it calls: the first
    op_name there, and "convolution" or "dot" when it holds one."""
    first_op_name: dict[str, str] = {}
    kind_of: dict[str, str] = {}
    instructions, computation = [], ""
    for line in hlo_text.splitlines():
        if line and not line[0].isspace() and "{" in line:
            match = _COMPUTATION.match(line)
            computation = match.group(1) if match else ""
            continue
        match = _INSTRUCTION.match(line)
        if not match:
            continue
        name, shape, opcode = match.groups()
        op_name = _OP_NAME.search(line)
        if op_name:
            first_op_name.setdefault(computation, op_name.group(1))
        if opcode in _KINDS:
            kind_of.setdefault(computation, _KINDS[opcode])
        calls = _CALLS.search(line)
        instructions.append((name, shape, opcode, op_name.group(1) if op_name else None,
                             calls.group(1) if calls else None))
    sources = {}
    for name, shape, opcode, op_name, called in instructions:
        source = op_name or first_op_name.get(called, "")
        kind = _KINDS.get(opcode) or kind_of.get(called) or re.sub(r"\.\d+$", "", name)
        sources[name] = (shape, source, kind)
    return sources


def profile_ops(loop: "Loop", steps: int, run_steps: Callable[[], object]) -> list[Op]:
    """Our jitted step's ops over `run_steps()` (which runs `steps` steps of
    `loop`, our JaxRunner): each HLO instruction's time on XLA:CPU's pool
    threads, named by the JAX operation it came from."""
    runner = loop.runner
    loop.prepare()
    with runner._scope():
        hlo = runner.functions["train_step"].lower(*runner.step_arguments(loop.inputs)).compile().as_text()
    sources = hlo_sources(hlo)
    with tempfile.TemporaryDirectory(prefix="ganbench-profile-") as trace_dir:
        jax.profiler.start_trace(trace_dir)
        run_steps()
        jax.profiler.stop_trace()
        data = jax.profiler.ProfileData.from_file(str(next(Path(trace_dir).rglob("*.xplane.pb"))))
    total_ns: collections.Counter = collections.Counter()
    calls: collections.Counter = collections.Counter()
    for plane in data.planes:
        for line in plane.lines:
            if not line.name.startswith("tf_XLAEigen"):  # XLA:CPU's pool threads
                continue
            for event in line.events:
                if event.name in sources:  # compiled ops, not the executor's own spans
                    total_ns[event.name] += event.duration_ns
                    calls[event.name] += 1
    ops = []
    for name, ns in total_ns.items():
        shape, source, kind = sources[name]
        ops.append(Op(name, calls[name] / steps, ns / 1e6 / steps, f"{shape} {source}".strip(), kind))
    return ops
