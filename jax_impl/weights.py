"""Converts between JAX pytrees and canonical weights (`benchmark.weights`).

JAX's native layouts are the canonical ones (Dense (in, out); convolution
kernels HWIO = (kh, kw, in, out), transposed ones included, as
`jax_impl.nets` reads them; BatchNorm moving_var the unbiased variance;
features flattened (H, W, C)), so the mapping is the identity: a network's
canonical arrays split into trainable `params` and `state` (BatchNorm
statistics, spectral-norm vectors), keyed by their canonical names.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from benchmark.specs.layers import NetSpec, parameter_specs
from benchmark.weights import Weights


def split_network(net: NetSpec, weights: Weights, dtype) -> tuple[dict[str, jax.Array], dict[str, jax.Array]]:
    """(params, state) of `net` from canonical `weights`, as `dtype` arrays."""
    params, state = {}, {}
    for key, param in parameter_specs(net).items():
        (params if param.trainable else state)[key] = jnp.asarray(np.asarray(weights[key]), dtype)
    return params, state


def export_network(*trees: dict[str, jax.Array]) -> Weights:
    """Canonical numpy arrays from a network's params and state (copies: a
    donated buffer is invalid after the next step)."""
    return {key: np.array(value) for tree in trees for key, value in tree.items()}
