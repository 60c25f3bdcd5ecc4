"""Optimizers from an `OptimizerSpec`. PyTorch's own update rules are the
reference that `tf_impl/optim.py` reproduces."""

from __future__ import annotations

from typing import Iterable

import torch

from benchmark.specs import OptimizerSpec


def build_optimizer(spec: OptimizerSpec, params: Iterable[torch.nn.Parameter]) -> torch.optim.Optimizer:
    if spec.name == "adam":
        return torch.optim.Adam(params, lr=spec.lr, betas=(spec.beta1, spec.beta2), eps=spec.eps)
    if spec.name == "rmsprop":
        return torch.optim.RMSprop(params, lr=spec.lr, alpha=spec.alpha, eps=spec.eps)
    raise ValueError(f"unknown optimizer {spec.name!r}; valid: adam, rmsprop")
