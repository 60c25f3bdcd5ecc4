"""A few training steps of a runner on synthetic images, for the tests that
compare one runner's steps with another's (precision, execution modes).

Both frameworks' tests draw through here, so "the same steps" means the same
weights, images, batches and noise by construction, not by copy-paste.
"""

from __future__ import annotations

import numpy as np

from benchmark.runner import Runner, StepInputs
from benchmark.weights import initial_weights


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
