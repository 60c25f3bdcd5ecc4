"""A few training steps of a runner on synthetic images, for the tests that
compare one runner's steps with another's (precision, execution modes).

Both frameworks' tests draw through here, so "the same steps" means the same
weights, images, batches and noise by construction, not by copy-paste.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from benchmark.runner import Runner, StepInputs
from benchmark.specs import GANSpec
from benchmark.specs.layers import Activation, NetSpec
from benchmark.weights import initial_weights


def frozen_critic(spec: GANSpec) -> GANSpec:
    """`spec` with D's learning rate 0: every critic pass of a step, and G's
    loss after them, read D's initial weights, so a first step's losses are
    one pass through the networks from the initial weights, with no update
    whose sign rounding could flip in between (tests/parity/test_parity.py)."""
    return dataclasses.replace(spec, d_optimizer=dataclasses.replace(spec.d_optimizer, lr=0.0))


def two_critic_updates(spec: GANSpec) -> GANSpec:
    """`spec` with at most 2 critic updates a step instead of WGAN's 5: the
    second already takes its own row of every (n_critic, B) input, its own
    clipping and the optimizer state the first left; three more run the same
    code again and add time (JAX unrolls the critic loop: its compilation of
    a WGAN step about halves), not a path. The training tests use it; a
    mutation that gives every critic update row 0 fails them at 2."""
    return dataclasses.replace(spec, n_critic=min(spec.n_critic, 2))


def without_layers(spec: GANSpec, kind: type) -> GANSpec:
    """`spec` with every layer of type `kind` dropped from both networks (a
    kind that keeps its input's shape: BatchNorm, SelfAttention)."""
    def net(n: NetSpec) -> NetSpec:
        return dataclasses.replace(n, layers=tuple(layer for layer in n.layers if not isinstance(layer, kind)))
    return dataclasses.replace(spec, generator=net(spec.generator), discriminator=net(spec.discriminator))


def float32_constants(spec: GANSpec) -> GANSpec:
    """`spec` with the constants TensorFlow reads in float32 whatever the
    model's type (LeakyReLU slopes, learning rates) rounded to float32: what
    both float32 twins and float64 TensorFlow compute with."""
    def to_f32(x: float) -> float:
        return float(np.float32(x))

    def net(n: NetSpec) -> NetSpec:
        return dataclasses.replace(n, layers=tuple(
            dataclasses.replace(layer, negative_slope=to_f32(layer.negative_slope))
            if isinstance(layer, Activation) and layer.kind == "leaky_relu" else layer
            for layer in n.layers))

    return dataclasses.replace(
        spec, generator=net(spec.generator), discriminator=net(spec.discriminator),
        d_optimizer=dataclasses.replace(spec.d_optimizer, lr=to_f32(spec.d_optimizer.lr)),
        g_optimizer=dataclasses.replace(spec.g_optimizer, lr=to_f32(spec.g_optimizer.lr)))


def train_steps(runner: Runner, *, steps: int, batch: int, data: int, weight_seed: int,
                data_seed: int, dtype: str = "float32") -> list[dict[str, float]]:
    """Imports the spec's canonical weights (`weight_seed`), loads `data`
    images tanh(N(0, 1)) with labels 0..9 in turn, and runs `steps` training
    steps on batches and noise drawn from `data_seed`; returns their losses."""
    spec = runner.spec
    rng = np.random.default_rng(data_seed)
    runner.import_weights(initial_weights(spec, seed=weight_seed))
    runner.load_data(np.tanh(rng.normal(size=(data, *spec.image_shape))).astype(dtype),
                     np.arange(data) % spec.num_classes)
    return [runner.train_step(StepInputs.draw(spec, rng.integers(0, data, (spec.n_critic, batch)), rng, dtype))
            for _ in range(steps)]
