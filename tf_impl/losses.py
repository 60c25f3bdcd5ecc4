"""GAN losses as pure functions of discriminator logits (TensorFlow twin of
`torch_impl/losses.py`). Every D loss is `(real_logits, fake_logits) -> scalar`,
every G loss `(fake_logits) -> scalar`; logits are (B, 1)."""

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


class GANLoss(NamedTuple):
    d: Callable[[tf.Tensor, tf.Tensor], tf.Tensor]
    g: Callable[[tf.Tensor], tf.Tensor]


LOSSES: dict[str, GANLoss] = {
    "bce": GANLoss(bce_d_loss, bce_g_loss),
    "wasserstein": GANLoss(wasserstein_d_loss, wasserstein_g_loss),
}
