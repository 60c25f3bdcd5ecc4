"""Optimizers from an `OptimizerSpec`, with PyTorch's update rules
(`benchmark.specs.gan.OptimizerSpec`) as pure functions of pytrees.

optax differs where JAX.md warns: its RMSprop puts eps inside the square root
and defaults to decay 0.9 with no bias, and its Adam's eps_root must be 0;
writing the two rules out keeps PyTorch's arithmetic term by term (tests
check them against torch and optax).
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from benchmark.specs import OptimizerSpec

Params = Any  # a pytree of arrays


class Optimizer(NamedTuple):
    """init(params) -> state; update(grads, state, params, lr) -> (params, state).

    The learning rate is an argument, not a constant of the rule: a jitted
    step takes it as an array, so that specs differing only in learning rates
    share one compiled program (tests/parity's frozen critic, --d-lr sweeps)."""

    init: Callable[[Params], Any]
    update: Callable[[Params, Any, Params, Any], tuple[Params, Any]]


class AdamState(NamedTuple):
    step: jax.Array  # () int32, updates taken
    m: Params
    v: Params


def adam(beta1: float, beta2: float, eps: float) -> Optimizer:
    """torch.optim.Adam: m = m + (1 - b1)(g - m); v = b2 v + (1 - b2) g^2;
    p -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps). The bias
    corrections are computed in the parameters' type (PyTorch: Python
    doubles), a float32 rounding of them in float32 runs."""

    def init(params: Params) -> AdamState:
        zeros = jax.tree.map(jnp.zeros_like, params)
        return AdamState(jnp.zeros((), jnp.int32), zeros, jax.tree.map(jnp.zeros_like, params))

    def update(grads: Params, state: AdamState, params: Params, lr) -> tuple[Params, AdamState]:
        step = state.step + 1
        m = jax.tree.map(lambda m, g: m + (g - m) * (1 - beta1), state.m, grads)
        v = jax.tree.map(lambda v, g: v * beta2 + (1 - beta2) * g * g, state.v, grads)

        corrections: dict[Any, tuple[jax.Array, jax.Array]] = {}  # per parameter type, computed once

        def apply(p: jax.Array, m: jax.Array, v: jax.Array) -> jax.Array:
            if p.dtype not in corrections:
                t = step.astype(p.dtype)
                corrections[p.dtype] = (lr / (1 - jnp.power(jnp.asarray(beta1, p.dtype), t)),
                                        jnp.sqrt(1 - jnp.power(jnp.asarray(beta2, p.dtype), t)))
            step_size, bias_correction2_sqrt = corrections[p.dtype]
            return p - step_size * (m / (jnp.sqrt(v) / bias_correction2_sqrt + eps))

        return jax.tree.map(apply, params, m, v), AdamState(step, m, v)

    return Optimizer(init, update)


class RMSpropState(NamedTuple):
    square_avg: Params


def rmsprop(alpha: float, eps: float) -> Optimizer:
    """torch.optim.RMSprop: v = alpha v + (1 - alpha) g^2, from v = 0;
    p -= lr * g / (sqrt(v) + eps), eps outside the root."""

    def init(params: Params) -> RMSpropState:
        return RMSpropState(jax.tree.map(jnp.zeros_like, params))

    def update(grads: Params, state: RMSpropState, params: Params, lr) -> tuple[Params, RMSpropState]:
        v = jax.tree.map(lambda v, g: v * alpha + (1 - alpha) * g * g, state.square_avg, grads)
        new = jax.tree.map(lambda p, g, v: p - lr * (g / (jnp.sqrt(v) + eps)), params, grads, v)
        return new, RMSpropState(v)

    return Optimizer(init, update)


def build_optimizer(spec: OptimizerSpec) -> Optimizer:
    """The rule of `spec`; its `lr` is passed to each update."""
    if spec.name == "adam":
        return adam(spec.beta1, spec.beta2, spec.eps)
    if spec.name == "rmsprop":
        return rmsprop(spec.alpha, spec.eps)
    raise ValueError(f"unknown optimizer {spec.name!r}; valid: adam, rmsprop")
