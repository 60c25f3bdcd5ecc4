"""Sample quality during training: a fixed noise set's samples, scored by the
framework-neutral evaluator (`benchmark.metrics`) at the driver's probe steps
(`--quality-probes`, evenly spaced over a run)."""

from __future__ import annotations

import numpy as np

from benchmark.metrics import evaluate, reference_stats
from benchmark.runner import Runner
from benchmark.specs import GANSpec

GENERATE_CHUNK = 1000  # samples per generator call: bounded memory on any device


class QualityProbe:
    """Scores `runner`'s generator on the same `count` latent vectors every
    time (and, for a conditional model, the same requested labels, 0..9 in turn)."""

    def __init__(self, spec: GANSpec, count: int, rng: np.random.Generator,
                 data_dir: str | None) -> None:
        self.noise = rng.standard_normal((count, spec.latent_dim), dtype=np.float32)
        self.labels = np.arange(count) % spec.num_classes
        self.conditional = bool(getattr(spec, "conditional", False))
        self.reference = reference_stats(data_dir)

    def __call__(self, runner: Runner) -> dict[str, float]:
        images = np.concatenate([
            runner.generate(self.noise[i:i + GENERATE_CHUNK], self.labels[i:i + GENERATE_CHUNK])
            for i in range(0, len(self.noise), GENERATE_CHUNK)])
        return evaluate(images, self.labels if self.conditional else None, self.reference)
