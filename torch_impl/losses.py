"""GAN losses as pure functions of discriminator logits (PyTorch twin of
`tf_impl/losses.py`). Every D loss is `(real_logits, fake_logits) -> scalar`,
every G loss `(fake_logits) -> scalar`; logits are (B, 1)."""

from __future__ import annotations

from typing import Callable, NamedTuple

import torch
import torch.nn.functional as F


def bce_d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """-log D(x) - log(1 - D(G(z))), each term a batch mean (Goodfellow et al. 2014)."""
    return (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
            + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))


def bce_g_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating: -log D(G(z))."""
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def wasserstein_d_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """The critic maximises E[f(x)] - E[f(G(z))]; this is its negative."""
    return fake_scores.mean() - real_scores.mean()


def wasserstein_g_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    return -fake_scores.mean()


class GANLoss(NamedTuple):
    d: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    g: Callable[[torch.Tensor], torch.Tensor]


LOSSES: dict[str, GANLoss] = {
    "bce": GANLoss(bce_d_loss, bce_g_loss),
    "wasserstein": GANLoss(wasserstein_d_loss, wasserstein_g_loss),
}
