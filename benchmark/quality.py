"""Sample quality during training: a fixed noise set's samples, scored at the
driver's probe steps (`--quality-probes`, evenly spaced over a run).

MNIST is scored by the framework-neutral evaluator on the committed MNIST
classifier (`benchmark.metrics`), and once at the end by the standard FID and
KID on Inception-v3 beside it (`inception_beside`); any other data by FID and
KID on Inception-v3 (`benchmark.metrics.inception`), in a process of its own.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import numpy as np

from benchmark.io import user_cache, write_npy
from benchmark.metrics import evaluate, reference_stats
from benchmark.metrics.table import BESIDE_PREFIX, INCEPTION, keys_of
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
        images = generate_all(runner, self.noise, self.labels)
        return evaluate(images, self.labels if self.conditional else None, self.reference)


def generate_all(runner: Runner, noise: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """G(noise) (N, H, W, C), GENERATE_CHUNK samples per call."""
    return np.concatenate([runner.generate(noise[i:i + GENERATE_CHUNK], labels[i:i + GENERATE_CHUNK])
                           for i in range(0, len(noise), GENERATE_CHUNK)])


class InceptionProbe:
    """FID and KID on Inception-v3 pool3 features of the same `count` samples
    every time, against `count` real training images (fixed: the first rows
    of a seed-0 permutation), scored by `inception.score_in_subprocess` so
    that no framework's worker imports the scorer's torch. Without the
    standard weights every probe returns NaN scores and the reason."""

    def __init__(self, spec: GANSpec, count: int, rng: np.random.Generator, real_images: np.ndarray,
                 threads: int = 0, device: str = "cpu") -> None:
        from benchmark.metrics.inception import InceptionWeightsError, find_weights

        self.noise = rng.standard_normal((count, spec.latent_dim), dtype=np.float32)
        self.labels = np.arange(count) % spec.num_classes
        self.conditional = spec.conditional
        self.threads, self.device = threads, device
        try:  # the suite tried the download once (benchmark.harness.checks); each run only looks
            self.weights, self.reason = find_weights(download=False), None
        except InceptionWeightsError as error:
            self.weights, self.reason = None, str(error)
        self.real_path = saved_real_subset(real_images, count) if self.weights else None

    def __call__(self, runner: Runner) -> dict[str, float]:
        from benchmark.metrics.inception import score_in_subprocess

        record = {"num_samples": len(self.noise), "features": INCEPTION}
        if self.weights is None:
            return {**record, **dict.fromkeys(keys_of(INCEPTION), float("nan")), "inception_reason": self.reason}
        scores = score_in_subprocess(generate_all(runner, self.noise, self.labels), self.real_path, self.weights, download=False,
                                     threads=self.threads, device=self.device)
        return {**record, **scores}


def inception_beside(runner: Runner, spec: GANSpec, count: int, rng: np.random.Generator,
                     real_images: np.ndarray, threads: int = 0, device: str = "cpu") -> dict[str, object]:
    """MNIST's FID and KID on Inception-v3 at the end of a run, beside the
    classifier's: ``count`` samples of their own fixed noise against as many
    real training images, under the metric table's ``inception_`` keys, with
    the seconds the scoring took and, without the weights, why not."""
    start = time.perf_counter()
    scores = InceptionProbe(spec, count, rng, real_images, threads=threads, device=device)(runner)
    beside = {f"{BESIDE_PREFIX}{key}": scores[key] for key in keys_of(INCEPTION)}
    return {**beside, "inception_samples": count, "inception_reason": scores.get("inception_reason"),
            "inception_s": time.perf_counter() - start}


def saved_real_subset(images: np.ndarray, count: int) -> Path:
    """`count` real images (the first rows of a seed-0 permutation) as an .npy
    in the user cache, named by its content, written once; the scorer caches
    their Inception statistics under the same content."""
    chosen = np.ascontiguousarray(images[np.random.default_rng(0).permutation(len(images))[:count]], np.float32)
    digest = hashlib.sha256(chosen.tobytes()).hexdigest()[:16]
    path = user_cache("metrics") / f"inception-real-images-{digest}.npy"
    if not path.is_file():
        write_npy(path, chosen)
    return path
