"""One test per parity trap of ../shared/JAX.md, each against PyTorch (or an
exact answer) in float64, where a convention error shows as a difference of
order 1 and agreement is float64 rounding: FLOAT64_RTOL = 1e-12 relative to
the largest magnitude (these are one or two layers, a few hundred terms per
sum: rounding ~1e-15). Each test also shows that the wrong convention would
miss it. float64 JAX runs inside `jax.enable_x64`, as the float64 runner does.

Traps covered elsewhere: float64 enabled and donated buffers in
test_jax_modes.py; every model's step in tests/parity/test_jax_parity.py.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
jax = pytest.importorskip("jax")

import jax.numpy as jnp  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from jax import lax  # noqa: E402

from benchmark.specs import get_spec  # noqa: E402
from benchmark.specs.layers import (  # noqa: E402
    Activation, BatchNorm, Conv2d, ConvTranspose2d, Dense, NetSpec, parameter_specs,
)
from benchmark.weights import initial_weights, power_iteration, spectral_norm_matrix  # noqa: E402
from jax_impl import losses as jax_losses  # noqa: E402
from jax_impl import nets as jax_nets  # noqa: E402
from jax_impl import optim as jax_optim  # noqa: E402
from jax_impl.weights import split_network  # noqa: E402
from torch_impl import losses as torch_losses  # noqa: E402
from torch_impl import nets as torch_nets  # noqa: E402
from torch_impl.weights import export_network, import_network  # noqa: E402

FLOAT64_RTOL = 1e-12


@pytest.fixture(autouse=True)
def x64():
    with jax.enable_x64(True):
        yield


def relative_error(actual, expected) -> float:
    expected = np.asarray(expected)
    return float(np.max(np.abs(np.asarray(actual) - expected)) / max(np.max(np.abs(expected)), 1e-300))


def random_weights(net: NetSpec, seed: int = 0) -> dict[str, np.ndarray]:
    """N(0, 0.3) kernels and biases, BatchNorm gamma N(1, 0.3), moving
    statistics (0.5, 2), unit spectral-norm vectors: nothing a zero hides."""
    rng = np.random.default_rng(seed)
    weights = {}
    for key, param in parameter_specs(net).items():
        if param.init == "unit_vector":
            value = rng.standard_normal(param.shape)
            value /= np.linalg.norm(value)
        elif key.endswith("moving_mean"):
            value = np.full(param.shape, 0.5)
        elif key.endswith("moving_var"):
            value = np.full(param.shape, 2.0)
        else:
            value = rng.normal(1.0 if param.init == "normal_one" else 0.0, 0.3, param.shape)
        weights[key] = value
    return weights


def run_both(net: NetSpec, weights, x: np.ndarray, training: bool):
    """(jax output, jax state, torch output, torch's exported weights) of one pass in float64."""
    params, state = split_network(net, weights, jnp.float64)
    y, state = jax_nets.build_network(net).apply(params, state, jnp.asarray(x), training=training)
    model = torch_nets.build_network(net).double()
    import_network(net, model, weights)
    model.train(training)
    x_t = torch.from_numpy(x.transpose(0, 3, 1, 2) if x.ndim == 4 else x)
    with torch.no_grad():
        y_t = model(x_t).numpy()
    y_t = y_t.transpose(0, 2, 3, 1) if y_t.ndim == 4 else y_t
    return np.asarray(y), {k: np.asarray(v) for k, v in state.items()}, y_t, export_network(net, model)


# -- transposed convolution: padding and formulation -----------------------------------------

GEOMETRIES = [  # (kernel, stride, padding, output_padding): the models' k4 s2 p1 first
    (4, 2, 1, 0), (5, 2, 2, 1), (3, 1, 1, 0), (4, 2, 0, 0), (3, 2, 1, 0)]


@pytest.mark.parametrize("k,s,p,op", GEOMETRIES)
def test_transposed_convolution_padding_and_formulations(k, s, p, op):
    """torch's ConvTranspose2d(k, s, p, output_padding) four ways: the
    adjoint form the networks use (`conv_transpose`), the lhs-dilated form,
    lax.conv_transpose with padding k - 1 - p (not p: the trap), and the
    oracle, the vjp of the forward strided convolution; also their gradients
    (kernel and input)."""
    rng = np.random.default_rng(k * 100 + s * 10 + p)
    x = rng.standard_normal((2, 5, 5, 3))
    kernel = rng.standard_normal((k, k, 3, 4))  # canonical (kh, kw, in, out)
    want = F.conv_transpose2d(torch.from_numpy(x.transpose(0, 3, 1, 2)),
                              torch.from_numpy(kernel.transpose(2, 3, 0, 1)), stride=s, padding=p,
                              output_padding=op).numpy().transpose(0, 2, 3, 1)
    pad = (k - 1 - p, k - 1 - p + op)
    lax_form = lax.conv_transpose(x, kernel.transpose(0, 1, 3, 2), (s, s), (pad, pad),
                                  dimension_numbers=jax_nets.CONV_DIMENSIONS, transpose_kernel=True)
    # The forward convolution maps the output size back to 5 (its floor
    # division drops what output_padding added); kernel (kh, kw, out, in).
    forward = lambda z: lax.conv_general_dilated(  # noqa: E731
        z, kernel.transpose(0, 1, 3, 2), (s, s), ((p, p), (p, p)), dimension_numbers=jax_nets.CONV_DIMENSIONS)
    _, vjp = jax.vjp(forward, jnp.zeros((2, *want.shape[1:3], 4)))
    forms = {"adjoint": jax_nets.conv_transpose(x, kernel, s, p, op),
             "dilated": jax_nets.conv_transpose_dilated(x, kernel, s, p, op),
             "lax.conv_transpose": lax_form, "vjp of the strided conv": vjp(jnp.asarray(x))[0]}
    for name, y in forms.items():
        assert y.shape == want.shape, name
        assert relative_error(y, want) < FLOAT64_RTOL, name
    if k - 1 - p != p:  # torch's p given as lax's padding: the trap (k5 p2 and k3 p1 coincide)
        wrong = lax.conv_transpose(x, kernel.transpose(0, 1, 3, 2), (s, s), ((p, p + op), (p, p + op)),
                                   dimension_numbers=jax_nets.CONV_DIMENSIONS, transpose_kernel=True)
        assert wrong.shape != want.shape or relative_error(wrong, want) > 0.1, "padding p looks right"

    cotangent = rng.standard_normal(want.shape)
    grads = {name: jax.grad(lambda x, w, f=f: jnp.sum(f(x, w, s, p, op) * cotangent), argnums=(0, 1))(x, kernel)
             for name, f in (("adjoint", jax_nets.conv_transpose), ("dilated", jax_nets.conv_transpose_dilated))}
    for a, b in zip(grads["adjoint"], grads["dilated"]):  # the adjoint's gradients are written out (custom vjps)
        assert relative_error(a, b) < FLOAT64_RTOL


CONV_GEOMETRIES = [  # (size, kernel, stride, padding): the models' k4 s2 p1 at 28 and 14 first
    (28, 4, 2, 1), (14, 4, 2, 1), (7, 3, 2, 0), (9, 5, 3, 2), (8, 3, 1, 1)]


@pytest.mark.parametrize("n,k,s,p", CONV_GEOMETRIES)
def test_strided_convolution_formulations(n, k, s, p):
    """torch's Conv2d(k, s, p) as XLA's strided convolution and as the form
    the networks use (its gradients written out), with the gradients of both
    (input and kernel) and the second derivatives a gradient penalty takes
    (of a function of the input gradient, in the kernel and the input)."""
    rng = np.random.default_rng(n + k + s + p)
    x = rng.standard_normal((2, n, n, 3))
    kernel = rng.standard_normal((k, k, 3, 4))
    want = F.conv2d(torch.from_numpy(x.transpose(0, 3, 1, 2)), torch.from_numpy(kernel.transpose(3, 2, 0, 1)),
                    stride=s, padding=p).numpy().transpose(0, 2, 3, 1)
    forms = (jax_nets.conv_strided, jax_nets.conv_strided_vjp)
    for f in forms:
        y = f(x, kernel, s, p)
        assert y.shape == want.shape and relative_error(y, want) < FLOAT64_RTOL, f.__name__
    cotangent = rng.standard_normal(want.shape)
    # Both arguments differentiated, or one (the rules then skip the other's gradient).
    for argnums in ((0, 1), (0,), (1,)):
        grads = [jax.grad(lambda x, w, f=f: jnp.sum(f(x, w, s, p) * cotangent), argnums=argnums)(x, kernel)
                 for f in forms]
        for a, b in zip(*grads):
            assert relative_error(b, a) < FLOAT64_RTOL, argnums

    def penalty(w, x, f):
        g = jax.grad(lambda x: jnp.sum(jnp.tanh(f(x, w, s, p))))(x)
        return jnp.sum(jnp.square(g)) + jnp.sum(jnp.sin(g))

    for argnums in ((0, 1), (0,), (1,)):
        second = [jax.grad(penalty, argnums=argnums)(kernel, x, f) for f in forms]
        for a, b in zip(*second):
            assert relative_error(b, a) < FLOAT64_RTOL, argnums


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n,k,s,p", CONV_GEOMETRIES)
def test_the_written_out_transposes_are_jaxs_own(n, k, s, p, dtype):
    """The input and kernel gradients the custom vjps call directly are the
    convolutions JAX's own transpose rules emit: equal to jax.vjp's, bit for bit."""
    rng = np.random.default_rng(n * k + s + p)
    x = jnp.asarray(rng.standard_normal((2, n, n, 3)), dtype)
    kernel = jnp.asarray(rng.standard_normal((k, k, 3, 4)), dtype)
    y, vjp = jax.vjp(lambda x, w: jax_nets.conv_strided(x, w, s, p), x, kernel)
    cotangent = jnp.asarray(rng.standard_normal(y.shape), dtype)
    dx, dw = vjp(cotangent)
    np.testing.assert_array_equal(jax_nets._input_gradient(cotangent, kernel, n, s, p), dx)
    np.testing.assert_array_equal(jax_nets._kernel_gradient(x, cotangent, k, s, p), dw)


# -- BatchNorm: variance, momentum ------------------------------------------------------------

def test_batchnorm_variance_and_momentum():
    """Training mode normalises with the biased batch variance and moves the
    statistics with PyTorch's momentum, the variance unbiased; a momentum of
    0.3 (not the default) tells (1 - m) from m apart."""
    net = NetSpec("n", (4, 4, 3), (BatchNorm("bn", 3, momentum=0.3),))
    weights = random_weights(net)
    x = np.random.default_rng(1).standard_normal((5, 4, 4, 3)) * 2 + 1
    y, state, y_t, torch_state = run_both(net, weights, x, training=True)
    assert relative_error(y, y_t) < FLOAT64_RTOL
    n = 5 * 4 * 4
    unbiased = x.reshape(n, 3).var(axis=0, ddof=1)
    expected = 0.7 * 2.0 + 0.3 * unbiased
    for got in (state["n/bn/moving_var"], torch_state["n/bn/moving_var"]):
        assert relative_error(got, expected) < FLOAT64_RTOL
    assert relative_error(0.7 * 2.0 + 0.3 * x.reshape(n, 3).var(axis=0), expected) > 1e-3  # biased: missed
    assert relative_error(state["n/bn/moving_mean"], 0.7 * 0.5 + 0.3 * x.reshape(n, 3).mean(axis=0)) < FLOAT64_RTOL
    y_eval, _, y_eval_t, _ = run_both(net, weights, x, training=False)
    assert relative_error(y_eval, y_eval_t) < FLOAT64_RTOL


def test_batchnorm_variance_is_two_pass_in_float32():
    """Features of mean 1000 and spread 1: E[x^2] - E[x]^2 in float32 loses
    the variance to cancellation (1000^2 x 2^-24 = 0.06 of it), the two-pass
    form keeps it to a few ulp. float32 JAX against float64 numpy."""
    net = NetSpec("n", (8,), (BatchNorm("bn", 8),))
    weights = {"n/bn/gamma": np.ones(8), "n/bn/beta": np.zeros(8), "n/bn/moving_mean": np.zeros(8),
               "n/bn/moving_var": np.ones(8)}
    x = 1000 + np.random.default_rng(2).standard_normal((64, 8))
    with jax.enable_x64(False):
        params, state = split_network(net, weights, jnp.float32)
        y, _ = jax_nets.build_network(net).apply(params, state, jnp.asarray(x, jnp.float32), training=True)
    x32 = x.astype(np.float32).astype(np.float64)  # the input float32 holds
    exact = (x32 - x32.mean(0)) / np.sqrt(x32.var(0) + 1e-5)
    assert relative_error(y, exact) < 1e-4  # measured ~1e-6; the one-pass form is off by ~1e-2


# -- spectral norm: order and layout ----------------------------------------------------------

SN_NETS = {
    "dense": NetSpec("n", (10,), (Dense("layer", 10, 6, spectral_norm=True),)),
    "conv": NetSpec("n", (8, 8, 3), (Conv2d("layer", 3, 5, 3, 2, 1, spectral_norm=True),)),
    "conv_transpose": NetSpec("n", (4, 4, 3), (ConvTranspose2d("layer", 3, 5, 4, 2, 1, spectral_norm=True),)),
}


@pytest.mark.parametrize("kind", sorted(SN_NETS))
def test_spectral_norm_order_and_layout(kind):
    """One training pass runs one power iteration, u from v from the stored u
    (torch's order; Flax's v-first order lands elsewhere), on the (out, fan_in)
    matrix with fan_in ordered (kh, kw, in); the output divides by u . W v."""
    net = SN_NETS[kind]
    weights = random_weights(net)
    x = np.random.default_rng(3).standard_normal((4, *net.input_shape))
    y, state, y_t, torch_state = run_both(net, weights, x, training=True)
    matrix = spectral_norm_matrix(weights["n/layer/kernel"])
    u, v = power_iteration(matrix, weights["n/layer/sn_u"])
    assert relative_error(state["n/layer/sn_u"], u) < FLOAT64_RTOL
    assert relative_error(state["n/layer/sn_v"], v) < FLOAT64_RTOL
    assert relative_error(y, y_t) < FLOAT64_RTOL
    assert relative_error(state["n/layer/sn_u"], torch_state["n/layer/sn_u"]) < FLOAT64_RTOL
    # v first (from the stored v), then u: another pair.
    u_flax = matrix @ weights["n/layer/sn_v"]
    u_flax /= np.linalg.norm(u_flax)
    assert relative_error(u_flax, u) > 1e-3
    y_eval, _, y_eval_t, _ = run_both(net, weights, x, training=False)
    assert relative_error(y_eval, y_eval_t) < FLOAT64_RTOL


# -- gradient penalty: sum, not mean ----------------------------------------------------------

def test_gradient_penalty_differentiates_the_sum_of_scores():
    """A linear critic f(x) = <w, x> has gradient w for every sample, so the
    penalty is (||w|| - 1)^2 exactly; a mean of the scores would give each
    sample w / B and (||w|| / B - 1)^2. Then the wgan_gp critic against
    PyTorch's penalty, from the same weights and inputs."""
    rng = np.random.default_rng(4)
    w = rng.standard_normal(28 * 28) * 0.05
    real, fake = rng.standard_normal((2, 8, 28, 28, 1))
    mix = rng.random(8)

    def linear(x):
        return x.reshape(x.shape[0], -1) @ w, None

    penalty, _ = jax_losses.gradient_penalty(linear, jnp.asarray(real), jnp.asarray(fake), jnp.asarray(mix))
    exact = (np.linalg.norm(w) - 1) ** 2
    assert relative_error(penalty, exact) < FLOAT64_RTOL
    assert relative_error((np.linalg.norm(w) / 8 - 1) ** 2, exact) > 0.1

    spec = get_spec("wgan_gp")
    weights = initial_weights(spec, 5)
    params, state = split_network(spec.discriminator, weights, jnp.float64)
    critic = jax_nets.build_network(spec.discriminator)
    penalty, _ = jax_losses.gradient_penalty(
        lambda x: critic.apply(params, state, x, training=True), jnp.asarray(real), jnp.asarray(fake),
        jnp.asarray(mix))
    model = torch_nets.build_network(spec.discriminator).double()
    import_network(spec.discriminator, model, weights)
    nchw = [torch.from_numpy(a.transpose(0, 3, 1, 2)) for a in (real, fake)]
    want = torch_losses.gradient_penalty(model, *nchw, torch.from_numpy(mix)).item()
    assert relative_error(penalty, want) < FLOAT64_RTOL


# -- optimizers: RMSprop's eps, Adam ----------------------------------------------------------

def optimizer_trajectories(name: str, steps: int = 6, **hyper):
    """Parameters after each of `steps` updates, torch and ours, from the
    same start and gradients of scale 1e-8 to 1 (where eps's place shows)."""
    rng = np.random.default_rng(6)
    start = rng.standard_normal(50)
    grads = [rng.standard_normal(50) * 10.0 ** rng.integers(-8, 1, 50) for _ in range(steps)]
    lr = hyper.pop("lr")
    p = torch.nn.Parameter(torch.from_numpy(start.copy()))
    optimizer = (torch.optim.RMSprop([p], lr=lr, **hyper) if name == "rmsprop"
                 else torch.optim.Adam([p], lr=lr, **hyper))
    torch_path = []
    for g in grads:
        p.grad = torch.from_numpy(g)
        optimizer.step()
        torch_path.append(p.detach().numpy().copy())
    if name == "rmsprop":
        rule = jax_optim.rmsprop(hyper["alpha"], hyper["eps"])
    else:
        rule = jax_optim.adam(*hyper["betas"], hyper["eps"])
    params = {"p": jnp.asarray(start)}
    state, ours = rule.init(params), []
    for g in grads:
        params, state = rule.update({"p": jnp.asarray(g)}, state, params, jnp.asarray(lr))
        ours.append(np.asarray(params["p"]))
    return np.array(torch_path), np.array(ours), start, grads


def test_rmsprop_puts_eps_outside_the_square_root():
    """PyTorch's RMSprop (alpha 0.99, eps 1e-8 outside the root, square
    average from 0), the WGAN critic's; optax's default (eps inside, decay
    0.9) moves small-gradient weights elsewhere."""
    want, got, start, grads = optimizer_trajectories("rmsprop", lr=5e-5, alpha=0.99, eps=1e-8)
    assert relative_error(got - start, want - start) < FLOAT64_RTOL
    v = 0.01 * grads[0] ** 2
    inside = start - 5e-5 * grads[0] / np.sqrt(v + 1e-8)
    assert relative_error(inside - start, want[0] - start) > 0.1


@pytest.mark.parametrize("betas", [(0.5, 0.999), (0.0, 0.9)])  # DCGAN's; SAGAN's (beta1 0)
def test_adam_is_pytorchs(betas):
    want, got, start, _ = optimizer_trajectories("adam", lr=2e-4, betas=betas, eps=1e-8)
    assert relative_error(got - start, want - start) < FLOAT64_RTOL


def test_optax_adam_with_eps_root_0_agrees():
    """JAX.md: optax's Adam (eps_root 0) is PyTorch's formula; a cross-check
    where optax is installed (tests only, not a dependency)."""
    optax = pytest.importorskip("optax")
    want, _, start, grads = optimizer_trajectories("adam", lr=2e-4, betas=(0.5, 0.999), eps=1e-8)
    optimizer = optax.adam(2e-4, b1=0.5, b2=0.999, eps=1e-8, eps_root=0.0)
    params = jnp.asarray(start)
    state = optimizer.init(params)
    for g in grads:
        updates, state = optimizer.update(jnp.asarray(g), state, params)
        params = optax.apply_updates(params, updates)
    assert relative_error(np.asarray(params) - start, want[-1] - start) < 1e-9


# -- LeakyReLU: the spec's slope --------------------------------------------------------------

def test_leaky_relu_uses_the_specs_slope():
    net = NetSpec("n", (6,), (Activation("leaky_relu", 0.2),))
    x = np.array([[-3.0, -1.0, -1e-3, 0.0, 1e-3, 2.0]])
    y, _, y_t, _ = run_both(net, {}, x, training=True)
    np.testing.assert_array_equal(y, np.where(x > 0, x, 0.2 * x))
    np.testing.assert_array_equal(y, y_t)
    assert not np.allclose(jax.nn.leaky_relu(jnp.asarray(x)), y)  # jax.nn's default slope is 0.01
