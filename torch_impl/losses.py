"""GAN losses as pure functions of discriminator logits (PyTorch twin of
`tf_impl/losses.py`). Every D loss is `(real_logits, fake_logits) -> scalar`,
every G loss `(fake_logits) -> scalar`; logits are (B, 1). The gradient
penalty, a function of the critic itself, comes last."""

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


def least_squares_d_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """LSGAN (a=0, b=1): 0.5 E[(D(x) - 1)^2] + 0.5 E[D(G(z))^2]."""
    return 0.5 * torch.square(real_scores - 1.0).mean() + 0.5 * torch.square(fake_scores).mean()


def least_squares_g_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """LSGAN (c=1): 0.5 E[(D(G(z)) - 1)^2]."""
    return 0.5 * torch.square(fake_scores - 1.0).mean()


def hinge_d_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """E[relu(1 - D(x))] + E[relu(1 + D(G(z)))] (Lim & Ye 2017; Miyato et al. 2018)."""
    return torch.relu(1.0 - real_scores).mean() + torch.relu(1.0 + fake_scores).mean()


def hinge_g_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    return -fake_scores.mean()


class GANLoss(NamedTuple):
    d: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    g: Callable[[torch.Tensor], torch.Tensor]


LOSSES: dict[str, GANLoss] = {
    "bce": GANLoss(bce_d_loss, bce_g_loss),
    "wasserstein": GANLoss(wasserstein_d_loss, wasserstein_g_loss),
    "least_squares": GANLoss(least_squares_d_loss, least_squares_g_loss),
    "hinge": GANLoss(hinge_d_loss, hinge_g_loss),
}


def gradient_penalty(critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor,
                     fake: torch.Tensor, mix: torch.Tensor) -> torch.Tensor:
    """E[(||grad_x_hat critic(x_hat)||_2 - 1)^2], x_hat = mix * real + (1 - mix) * fake
    (Gulrajani et al. 2017), differentiable with respect to the critic's weights.

    Args:
      critic: images (B, C, H, W) -> scores (B, 1).
      real, fake: (B, C, H, W), no gradient needed.
      mix: (B,) in [0, 1), one weight per sample.

    Under mixed precision x_hat stays in the parameters' type (float32), so
    the inner gradient and its norm are float32 while the critic's layers run
    in bf16/fp16. Under fp16 the inner gradient is not loss-scaled (its entries
    are around 0.1, far above float16's underflow); the outer backward pass is,
    like every loss's, and GradScaler skips a step whose scaled gradients overflow.
    """
    mix = mix.view(-1, 1, 1, 1)
    x_hat = (mix * real + (1.0 - mix) * fake).detach().requires_grad_(True)
    # Each score depends on its own sample only, so the gradient of the sum is
    # the per-sample gradient; create_graph keeps it differentiable.
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    norm = torch.sqrt(torch.square(grad).sum(dim=(1, 2, 3)))  # (B,)
    return torch.square(norm - 1.0).mean()
