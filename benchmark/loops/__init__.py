"""Our training step against hand-written ones: `python -m benchmark.loops.compare`
(and where its time goes, op by op: `python -m benchmark.loops.profile`).

Three variants train the same architecture on the same MNIST images at the
same batch size, in one framework and execution mode at a time:
  ours      the project's runner, driven as `benchmark.driver` drives it;
  bare      the loop an expert writes for speed, in each framework's own folder
            (`torch_impl/loops.py`, `tf_impl/loops.py`, `jax_impl/loops.py`);
  tutorial  the loop of the framework's own DCGAN tutorial, in its own mode
            (JAX has none).

This package file imports no training framework: the parent process of the
script plans and reports without one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

VARIANTS = ("ours", "bare", "tutorial")
# The models the hand-written loops cover: DCGAN's networks, trained by BCE or by
# WGAN's clipped critic.
MODELS = ("dcgan", "wgan")


class Loop(Protocol):
    """One variant, built and ready: `step()` trains one generator update and its
    n_critic discriminator updates and returns (d_loss, g_loss) after the work
    finished; `prepare()` does the untimed part before each step, if any."""

    variant: str
    mode: str
    images_per_step: int  # real images D sees in one step: batch * n_critic
    # Multiply-add FLOPs of one step (benchmark.flops' counting). The DCGAN
    # tutorials do less work per step than ours and bare: their G update reuses
    # the fake batch (and TF's one forward pass) of the D update.
    flops_per_step: int

    def prepare(self) -> None: ...

    def step(self) -> tuple[float, float]: ...


@dataclass
class Op:
    name: str  # torch: the aten op; jax: the HLO instruction
    calls: float  # per step
    ms: float  # per step
    detail: str = ""  # input shapes (torch); output shape and source operation (jax)
    kind: str = ""  # what the by-kind table groups by
