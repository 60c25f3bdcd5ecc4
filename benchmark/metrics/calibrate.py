"""Print the metrics on real data: the figures docs/metrics.md quotes.

    python -m benchmark.metrics.calibrate [--data-dir DIR] [--cache-dir DIR]

The yardstick's ends: real test digits against the real training reference
(what a perfect generator would score), uniform noise (what a useless one
scores), and a degradation ladder between them: fewer samples (FID's bias in
N), one digit dropped, real digits under growing noise and blur (the metric
must get worse monotonically). docs/metrics.md turns it into the report's bands. Also times evaluate() on 10k samples, reference cached.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
from scipy import ndimage

from benchmark.data import load_mnist
from benchmark.metrics import evaluate, load_classifier, reference_stats
from benchmark.metrics.classifier import features_and_logits
from benchmark.metrics.table import METRICS

# The scores with a direction (benchmark.metrics.table), label accuracy aside.
SHOWN = tuple(m.key for m in METRICS if m.direction and not m.conditional)


def gaussian_noise(images: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    """Real images plus N(0, sigma^2) pixel noise (in [-1, 1] units), clipped to [-1, 1]."""
    noise = np.random.default_rng(seed).normal(0.0, sigma, images.shape).astype(np.float32)
    return np.clip(images + noise, -1, 1)


def gaussian_blur(images: np.ndarray, sigma: float) -> np.ndarray:
    """Each image blurred with a Gaussian of ``sigma`` pixels (background stays -1)."""
    if sigma == 0:
        return np.asarray(images, dtype=np.float32)
    blurred = ndimage.gaussian_filter(images + 1.0, sigma=(0, sigma, sigma, 0), mode="constant")
    return (blurred - 1.0).astype(np.float32)


def uniform_noise(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (n, 28, 28, 1)).astype(np.float32)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=None, help="MNIST IDX folder (default: the usual lookup)")
    parser.add_argument("--cache-dir", default=None, help="reference statistics cache (default: user cache)")
    args = parser.parse_args(argv)

    clf = load_classifier()
    print(f"classifier: {clf.meta.get('architecture')}")
    print(f"classifier sha256 {clf.digest[:16]}, recorded test accuracy {clf.meta.get('test_accuracy'):.4%}")
    started = time.perf_counter()
    reference = reference_stats(data_dir=args.data_dir, cache_dir=args.cache_dir)
    print(f"reference statistics {reference.key}: {time.perf_counter() - started:.1f} s "
          "(computed on the first run, loaded from the cache after)")

    test_images, test_labels = load_mnist("test", data_dir=args.data_dir)
    _, logits = features_and_logits(test_images)
    print(f"test accuracy, numpy path: {(logits.argmax(1) == test_labels).mean():.4%}")

    def show(name: str, scores: dict[str, float]) -> None:
        print(f"{name:<30}" + "  ".join(f"{key} {scores[key]:.4g}" for key in SHOWN))

    started = time.perf_counter()
    real = evaluate(test_images, requested_labels=test_labels, reference=reference)
    seconds = time.perf_counter() - started
    show("real test (10k) vs train", real)
    print(f"{'':<30}label_accuracy {real['label_accuracy']:.4f}")
    show("real test, first 5k", evaluate(test_images[:5000], reference=reference))  # FID's bias in N
    kept = test_labels != 0  # mode dropping: every 0 gone, the rest perfect
    show(f"test without the 0s ({kept.sum()})", evaluate(test_images[kept], reference=reference))
    show("uniform noise (10k)", evaluate(uniform_noise(len(test_images)), reference=reference))
    for sigma in (0.1, 0.25, 0.5, 1.0):
        show(f"test + Gaussian noise {sigma}", evaluate(gaussian_noise(test_images, sigma), reference=reference))
    for sigma in (0.5, 1.0, 1.5, 2.0):
        show(f"test blurred sigma {sigma} px", evaluate(gaussian_blur(test_images, sigma), reference=reference))

    repeats = []
    for _ in range(3):
        started = time.perf_counter()
        evaluate(test_images, reference=reference)
        repeats.append(time.perf_counter() - started)
    print(f"evaluate() on 10k samples: {seconds:.2f} s first call, then "
          f"{', '.join(f'{s:.2f}' for s in repeats)} s ({platform.processor() or platform.machine()}, "
          f"load average {', '.join(f'{x:.1f}' for x in os.getloadavg())})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
