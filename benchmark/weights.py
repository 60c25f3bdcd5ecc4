"""Canonical weights: numpy arrays keyed by the spec's names
("generator/deconv1/kernel"), in the layout `benchmark.specs.layers` fixes.

Both frameworks start every run from `initial_weights(spec, seed)`, so the two
twins begin from the same numbers, not just the same distribution.
"""

from __future__ import annotations

import numpy as np

from benchmark.specs import GANSpec
from benchmark.specs.layers import Parameter, parameter_specs

Weights = dict[str, np.ndarray]

# Power iterations run on each spectrally normalised kernel when it is drawn,
# so that sigma is already a good estimate in the first inference-mode pass
# (torch.nn.utils.parametrizations.spectral_norm does 15 at construction).
INITIAL_POWER_ITERATIONS = 15
SN_EPS = 1e-12  # normalize(x) = x / max(||x||, eps), as torch.nn.functional.normalize


def canonical_specs(spec: GANSpec) -> dict[str, Parameter]:
    return {**parameter_specs(spec.generator), **parameter_specs(spec.discriminator)}


def canonical_shapes(spec: GANSpec) -> dict[str, tuple[int, ...]]:
    return {key: param.shape for key, param in canonical_specs(spec).items()}


def initial_weights(spec: GANSpec, seed: int) -> Weights:
    """DCGAN-paper initialisation drawn from numpy: kernels N(0, std), BatchNorm
    gamma N(1, std), biases, beta and attention gamma 0, moving mean 0, moving
    variance 1; spectral-norm u a random unit vector, then
    `INITIAL_POWER_ITERATIONS` power iterations on its kernel set u and v."""
    rng = np.random.default_rng(seed)
    std = spec.init.std
    weights: Weights = {}
    for key, param in canonical_specs(spec).items():
        if param.init == "normal":
            value = rng.normal(0.0, std, param.shape)
        elif param.init == "normal_one":
            value = rng.normal(1.0, std, param.shape)
        elif param.init == "unit_vector":
            value = rng.standard_normal(param.shape)
            value /= np.linalg.norm(value)
        else:
            value = np.ones(param.shape) if param.init == "ones" else np.zeros(param.shape)
        weights[key] = value
    for key in weights:
        if key.endswith("/sn_u"):
            prefix = key[: -len("sn_u")]
            u, v = weights[key], weights[prefix + "sn_v"]
            matrix = spectral_norm_matrix(weights[prefix + "kernel"])
            for _ in range(INITIAL_POWER_ITERATIONS):
                u, v = power_iteration(matrix, u)
            weights[key], weights[prefix + "sn_v"] = u, v
    return {key: value.astype(np.float32) for key, value in weights.items()}


def nudged_by_one_ulp(weights: Weights) -> tuple[Weights, str]:
    """The rounding control's start (`--rounding-control`): `weights` with the
    first element of the generator's first kernel moved up by one float32 ulp,
    and that key. One bit in one weight: what separates two frameworks after
    their first rounding difference, so a framework against its nudged twin
    gives the spread that chaos alone produces (Summers & Dinneen 2021 found a
    one-bit change about as variable as a new seed)."""
    key = next(k for k in weights if k.startswith("generator/") and k.endswith("/kernel"))
    nudged = weights[key].copy()
    nudged.flat[0] = np.nextafter(nudged.flat[0], np.float32(np.inf))
    return {**weights, key: nudged}, key


def spectral_norm_matrix(kernel: np.ndarray) -> np.ndarray:
    """The (out, fan_in) matrix whose largest singular value spectral norm
    divides a canonical kernel by (see `benchmark.specs.layers`)."""
    return kernel.reshape(-1, kernel.shape[-1]).T


def power_iteration(matrix: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One step, the numpy reference of both twins: (new u, new v)."""
    v = matrix.T @ u
    v = v / max(np.linalg.norm(v), SN_EPS)
    u = matrix @ v
    return u / max(np.linalg.norm(u), SN_EPS), v


def check_weights(spec: GANSpec, weights: Weights) -> None:
    """Raises ValueError if `weights` lacks a key, has an extra one, or a shape differs."""
    expected = canonical_shapes(spec)
    missing = sorted(set(expected) - set(weights))
    extra = sorted(set(weights) - set(expected))
    wrong = [k for k in expected if k in weights and tuple(weights[k].shape) != expected[k]]
    if missing or extra or wrong:
        details = [f"missing {missing}" if missing else "", f"unexpected {extra}" if extra else ""]
        details += [f"{k}: shape {weights[k].shape}, expected {expected[k]}" for k in wrong]
        raise ValueError(f"weights do not fit {spec.name}: " + "; ".join(d for d in details if d))
