"""Canonical weights: numpy arrays keyed by the spec's names
("generator/deconv1/kernel"), in the layout `benchmark.specs.layers` fixes.

Both frameworks start every run from `initial_weights(spec, seed)`, so the two
twins begin from the same numbers, not just the same distribution.
"""

from __future__ import annotations

import numpy as np

from benchmark.specs import GANSpec
from benchmark.specs.layers import parameter_shapes

Weights = dict[str, np.ndarray]


def canonical_shapes(spec: GANSpec) -> dict[str, tuple[int, ...]]:
    return {**parameter_shapes(spec.generator), **parameter_shapes(spec.discriminator)}


def initial_weights(spec: GANSpec, seed: int) -> Weights:
    """DCGAN-paper initialisation drawn from numpy: kernels N(0, std), BatchNorm
    gamma N(1, std), biases and beta 0, moving mean 0, moving variance 1."""
    rng = np.random.default_rng(seed)
    std = spec.init.std
    weights: Weights = {}
    for key, shape in canonical_shapes(spec).items():
        kind = key.rsplit("/", 1)[1]
        if kind == "kernel":
            value = rng.normal(0.0, std, shape)
        elif kind == "gamma":
            value = rng.normal(1.0, std, shape)
        elif kind == "moving_var":
            value = np.ones(shape)
        else:  # bias, beta, moving_mean
            value = np.zeros(shape)
        weights[key] = value.astype(np.float32)
    return weights


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
