"""GAN losses as pure functions of discriminator logits (JAX twin of
`torch_impl/losses.py`). Every D loss is `(real_logits, fake_logits) -> scalar`,
every G loss `(fake_logits) -> scalar`; logits are (B, 1). The gradient
penalty, a function of the critic itself, comes last."""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp


def _bce_with_logits(logits: jax.Array, target: float) -> jax.Array:
    """Batch mean of PyTorch's BCEWithLogits: max(x, 0) - x y + log(1 + exp(-|x|))."""
    return jnp.mean(jnp.maximum(logits, 0) - logits * target + jnp.log1p(jnp.exp(-jnp.abs(logits))))


def bce_d_loss(real_logits: jax.Array, fake_logits: jax.Array) -> jax.Array:
    """-log D(x) - log(1 - D(G(z))), each term a batch mean (Goodfellow et al. 2014)."""
    return _bce_with_logits(real_logits, 1.0) + _bce_with_logits(fake_logits, 0.0)


def bce_g_loss(fake_logits: jax.Array) -> jax.Array:
    """Non-saturating: -log D(G(z))."""
    return _bce_with_logits(fake_logits, 1.0)


def wasserstein_d_loss(real_scores: jax.Array, fake_scores: jax.Array) -> jax.Array:
    """The critic maximises E[f(x)] - E[f(G(z))]; this is its negative."""
    return jnp.mean(fake_scores) - jnp.mean(real_scores)


def wasserstein_g_loss(fake_scores: jax.Array) -> jax.Array:
    return -jnp.mean(fake_scores)


def least_squares_d_loss(real_scores: jax.Array, fake_scores: jax.Array) -> jax.Array:
    """LSGAN (a=0, b=1): 0.5 E[(D(x) - 1)^2] + 0.5 E[D(G(z))^2]."""
    return 0.5 * jnp.mean(jnp.square(real_scores - 1.0)) + 0.5 * jnp.mean(jnp.square(fake_scores))


def least_squares_g_loss(fake_scores: jax.Array) -> jax.Array:
    """LSGAN (c=1): 0.5 E[(D(G(z)) - 1)^2]."""
    return 0.5 * jnp.mean(jnp.square(fake_scores - 1.0))


def hinge_d_loss(real_scores: jax.Array, fake_scores: jax.Array) -> jax.Array:
    """E[relu(1 - D(x))] + E[relu(1 + D(G(z)))] (Lim & Ye 2017; Miyato et al. 2018)."""
    return jnp.mean(jnp.maximum(1.0 - real_scores, 0)) + jnp.mean(jnp.maximum(1.0 + fake_scores, 0))


def hinge_g_loss(fake_scores: jax.Array) -> jax.Array:
    return -jnp.mean(fake_scores)


class GANLoss(NamedTuple):
    d: Callable[[jax.Array, jax.Array], jax.Array]
    g: Callable[[jax.Array], jax.Array]


LOSSES: dict[str, GANLoss] = {
    "bce": GANLoss(bce_d_loss, bce_g_loss),
    "wasserstein": GANLoss(wasserstein_d_loss, wasserstein_g_loss),
    "least_squares": GANLoss(least_squares_d_loss, least_squares_g_loss),
    "hinge": GANLoss(hinge_d_loss, hinge_g_loss),
}


def gradient_penalty(critic: Callable[[jax.Array], tuple[jax.Array, Any]], real: jax.Array,
                     fake: jax.Array, mix: jax.Array) -> tuple[jax.Array, Any]:
    """E[(||grad_x_hat critic(x_hat)||_2 - 1)^2], x_hat = mix * real + (1 - mix) * fake
    (Gulrajani et al. 2017), differentiable with respect to the critic's weights.

    Args:
      critic: images (B, H, W, C) -> (scores (B, 1), aux): aux carries the
        critic's new state (its training pass moves BatchNorm statistics and
        spectral-norm vectors, as PyTorch's does), returned as is.
      real, fake: (B, H, W, C), no gradient needed.
      mix: (B,) in [0, 1), one weight per sample.

    The inner gradient is of the scores' sum, not their mean: PyTorch's
    `grad_outputs=ones` (each score depends on its own sample only, so this
    is the per-sample gradient). x_hat stays in the parameters' type.
    """
    mix = mix.reshape(-1, 1, 1, 1)
    x_hat = jax.lax.stop_gradient(mix * real + (1.0 - mix) * fake)

    def total(x: jax.Array) -> tuple[jax.Array, Any]:
        scores, aux = critic(x)
        return jnp.sum(scores), aux

    grad, aux = jax.grad(total, has_aux=True)(x_hat)
    norm = jnp.sqrt(jnp.sum(jnp.square(grad), axis=(1, 2, 3)))  # (B,)
    return jnp.mean(jnp.square(norm - 1.0)), aux
