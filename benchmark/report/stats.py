"""How sure a speed difference is: a bootstrap interval for the ratio of two
frameworks' throughputs, numpy only."""

from __future__ import annotations

from typing import Sequence

import numpy as np

RESAMPLES = 2000
LEVEL = 0.95


def bootstrap_speed_ratio(fast: Sequence[np.ndarray], slow: Sequence[np.ndarray],
                          resamples: int = RESAMPLES, level: float = LEVEL,
                          seed: int = 0) -> tuple[float, float, float]:
    """Images/s of `fast` over images/s of `slow` (= median step time of
    `slow` over that of `fast`), with a `level` percentile interval.

    Each argument holds the steady-state step times of one or more repeats.
    The bootstrap is hierarchical: it resamples repeats, then steps within
    each, so that with several repeats the interval includes run-to-run
    variation; with one repeat it reflects step-to-step noise only.
    """
    rng = np.random.default_rng(seed)
    point = _pooled_median(slow) / _pooled_median(fast)
    ratios = np.empty(resamples)
    for i in range(resamples):
        ratios[i] = _resampled_median(slow, rng) / _resampled_median(fast, rng)
    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(ratios, [tail, 100 - tail])
    return float(point), float(low), float(high)


def _pooled_median(groups: Sequence[np.ndarray]) -> float:
    return float(np.median(np.concatenate(groups)))


def _resampled_median(groups: Sequence[np.ndarray], rng: np.random.Generator) -> float:
    chosen = rng.integers(0, len(groups), len(groups))
    return float(np.median(np.concatenate([rng.choice(groups[i], len(groups[i])) for i in chosen])))
