"""GAN losses as pure functions of discriminator logits (TensorFlow twin of
`torch_impl/losses.py`). Every D loss is `(real_logits, fake_logits) -> scalar`,
every G loss `(fake_logits) -> scalar`; logits are (B, 1). The gradient
penalty, a function of the critic itself, comes last."""

from __future__ import annotations

from typing import Callable, NamedTuple

import tensorflow as tf


def _bce_with_logits(logits: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
    return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits))


def bce_d_loss(real_logits: tf.Tensor, fake_logits: tf.Tensor) -> tf.Tensor:
    """-log D(x) - log(1 - D(G(z))), each term a batch mean (Goodfellow et al. 2014)."""
    return (_bce_with_logits(real_logits, tf.ones_like(real_logits))
            + _bce_with_logits(fake_logits, tf.zeros_like(fake_logits)))


def bce_g_loss(fake_logits: tf.Tensor) -> tf.Tensor:
    """Non-saturating: -log D(G(z))."""
    return _bce_with_logits(fake_logits, tf.ones_like(fake_logits))


def wasserstein_d_loss(real_scores: tf.Tensor, fake_scores: tf.Tensor) -> tf.Tensor:
    """The critic maximises E[f(x)] - E[f(G(z))]; this is its negative."""
    return tf.reduce_mean(fake_scores) - tf.reduce_mean(real_scores)


def wasserstein_g_loss(fake_scores: tf.Tensor) -> tf.Tensor:
    return -tf.reduce_mean(fake_scores)


def least_squares_d_loss(real_scores: tf.Tensor, fake_scores: tf.Tensor) -> tf.Tensor:
    """LSGAN (a=0, b=1): 0.5 E[(D(x) - 1)^2] + 0.5 E[D(G(z))^2]."""
    return (0.5 * tf.reduce_mean(tf.square(real_scores - 1.0))
            + 0.5 * tf.reduce_mean(tf.square(fake_scores)))


def least_squares_g_loss(fake_scores: tf.Tensor) -> tf.Tensor:
    """LSGAN (c=1): 0.5 E[(D(G(z)) - 1)^2]."""
    return 0.5 * tf.reduce_mean(tf.square(fake_scores - 1.0))


def hinge_d_loss(real_scores: tf.Tensor, fake_scores: tf.Tensor) -> tf.Tensor:
    """E[relu(1 - D(x))] + E[relu(1 + D(G(z)))] (Lim & Ye 2017; Miyato et al. 2018)."""
    return tf.reduce_mean(tf.nn.relu(1.0 - real_scores)) + tf.reduce_mean(tf.nn.relu(1.0 + fake_scores))


def hinge_g_loss(fake_scores: tf.Tensor) -> tf.Tensor:
    return -tf.reduce_mean(fake_scores)


class GANLoss(NamedTuple):
    d: Callable[[tf.Tensor, tf.Tensor], tf.Tensor]
    g: Callable[[tf.Tensor], tf.Tensor]


LOSSES: dict[str, GANLoss] = {
    "bce": GANLoss(bce_d_loss, bce_g_loss),
    "wasserstein": GANLoss(wasserstein_d_loss, wasserstein_g_loss),
    "least_squares": GANLoss(least_squares_d_loss, least_squares_g_loss),
    "hinge": GANLoss(hinge_d_loss, hinge_g_loss),
}


def gradient_penalty(critic: Callable[[tf.Tensor], tf.Tensor], real: tf.Tensor,
                     fake: tf.Tensor, mix: tf.Tensor) -> tf.Tensor:
    """E[(||grad_x_hat critic(x_hat)||_2 - 1)^2], x_hat = mix * real + (1 - mix) * fake
    (Gulrajani et al. 2017), differentiable with respect to the critic's weights
    when called under the caller's GradientTape.

    Args:
      critic: images (B, H, W, C) -> scores (B, 1).
      real, fake: (B, H, W, C), no gradient needed.
      mix: (B,) in [0, 1), one weight per sample.

    Under mixed precision x_hat stays float32 (the layers cast their inputs),
    so the inner gradient and its norm are float32; under fp16 only the outer
    loss is scaled, as in torch_impl/losses.py.
    """
    mix = tf.reshape(mix, (-1, 1, 1, 1))
    x_hat = tf.stop_gradient(mix * real + (1.0 - mix) * fake)
    # Each score depends on its own sample only, so the gradient of the sum is
    # the per-sample gradient; the outer tape differentiates this inner one.
    with tf.GradientTape() as tape:
        tape.watch(x_hat)
        score_sum = tf.reduce_sum(critic(x_hat))
    grad = tape.gradient(score_sum, x_hat)
    norm = tf.sqrt(tf.reduce_sum(tf.square(grad), axis=(1, 2, 3)))  # (B,)
    return tf.reduce_mean(tf.square(norm - 1.0))
