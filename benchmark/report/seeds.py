"""Is framework A's GAN as good as B's? Paired seed statistics for one per-run
metric (final FID by default), numpy and scipy only.

Rules, fixed before any result is seen (docs: QUALITY.md, "A design that answers"):
- Seed s gives both frameworks the same initial weights, data order and noise,
  so the unit of analysis is the paired difference d_s = A(s) - B(s).
- The equivalence margin is `margin_fraction` (10%) of the metric's mean over
  both frameworks and all seeds.
- "equivalent": two one-sided paired t-tests (TOST) put mean d inside +-margin,
  max p < alpha. Checked first: a consistent difference smaller than the
  margin still counts as equivalence for this benchmark.
- "<A> better" / "<B> better": the Wilcoxon signed-rank p (Holm-adjusted across
  models once holm() has run) is below alpha and the 95% bootstrap interval of
  mean d excludes 0; the sign of mean d says which.
- Otherwise "inconclusive: about K seeds would settle it", K from a power
  calculation (80%) on the observed SD of d; see _seeds_needed.
- Every seed giving the same d (SD 0): the tests are degenerate, so d is taken
  as exact: equivalent if |d| < margin, else the better one.
- One seed: no test and no SD, so "inconclusive: one seed".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np

RESAMPLES = 10_000
LEVEL = 0.95
POWER = 0.80
MAX_SEEDS = 1000
MIN_WILCOXON_PAIRS = 6  # with 5 pairs the smallest two-sided p is 0.0625


@dataclass(frozen=True)
class PairedVerdict:
    """One model's A-versus-B comparison over paired seeds."""

    metric: str
    a: str
    b: str
    seeds: tuple[int, ...]
    values_a: tuple[float, ...]
    values_b: tuple[float, ...]
    median_a: float
    iqr_a: tuple[float, float]  # 25th and 75th percentiles
    median_b: float
    iqr_b: tuple[float, float]
    mean_difference: float  # mean of a - b
    interval: tuple[float, float]  # 95% bootstrap interval of mean_difference
    wilcoxon_p: float | None
    holm_p: float | None  # set by holm()
    margin: float
    tost_p: float | None
    verdict: str
    seeds_needed: int | None  # K, only for "inconclusive: about K seeds ..."
    lower_is_better: bool = True  # kept so that holm() can redraw the verdict


def paired_verdict(metric: str, a: str, b: str, seeds: Sequence[int],
                   values_a: Sequence[float], values_b: Sequence[float], *,
                   margin_fraction: float = 0.10, alpha: float = 0.05,
                   lower_is_better: bool = True, seed: int = 0) -> PairedVerdict:
    """The verdict on A against B from per-seed values (same order of seeds);
    `seed` seeds the bootstrap so that a report renders the same twice."""
    va, vb = np.asarray(values_a, float), np.asarray(values_b, float)
    if va.size == 0 or not len(seeds) == va.size == vb.size:
        raise ValueError(f"need one value per seed for both frameworks, got "
                         f"{len(seeds)} seeds, {va.size} and {vb.size} values")
    d = va - vb
    margin = margin_fraction * abs(float(np.mean(np.concatenate([va, vb]))))
    interval = _bootstrap_mean(d, seed)
    wilcoxon_p, tost_p = _wilcoxon(d), _tost(d, margin)
    verdict, needed = _decide(d, interval, wilcoxon_p, tost_p, margin, a, b, alpha, lower_is_better)
    return PairedVerdict(
        metric, a, b, tuple(int(s) for s in seeds), tuple(map(float, va)), tuple(map(float, vb)),
        float(np.median(va)), _iqr(va), float(np.median(vb)), _iqr(vb), float(np.mean(d)),
        interval, wilcoxon_p, None, margin, tost_p, verdict, needed, lower_is_better)


def holm(verdicts: list[PairedVerdict], alpha: float = 0.05) -> list[PairedVerdict]:
    """Each verdict with holm_p, Holm's step-down adjustment of wilcoxon_p across
    the models, and its verdict redrawn with that p. Untested ones keep None.

    Holm by hand: scipy's false_discovery_control is Benjamini-Hochberg, which
    bounds the share of false claims; "A better" per model wants the chance of
    any false claim bounded (family-wise), as QUALITY.md asks."""
    tested = sorted((i for i, v in enumerate(verdicts) if v.wilcoxon_p is not None),
                    key=lambda i: verdicts[i].wilcoxon_p)
    adjusted: dict[int, float] = {}
    running = 0.0  # the running max keeps adjusted p in the order of raw p
    for rank, i in enumerate(tested):
        running = max(running, min(1.0, (len(tested) - rank) * verdicts[i].wilcoxon_p))
        adjusted[i] = running
    redrawn = []
    for i, v in enumerate(verdicts):
        d = np.subtract(v.values_a, v.values_b)
        verdict, needed = _decide(d, v.interval, adjusted.get(i), v.tost_p, v.margin,
                                  v.a, v.b, alpha, v.lower_is_better)
        redrawn.append(replace(v, holm_p=adjusted.get(i), verdict=verdict, seeds_needed=needed))
    return redrawn


def _decide(d: np.ndarray, interval: tuple[float, float], p: float | None, tost_p: float | None,
            margin: float, a: str, b: str, alpha: float, lower_is_better: bool) -> tuple[str, int | None]:
    mean = float(np.mean(d))
    exact = d.size >= 2 and np.ptp(d) == 0  # no spread: nothing for a test to weigh
    if tost_p is not None and tost_p < alpha:
        return "equivalent", None
    significant = p is not None and p < alpha and not interval[0] <= 0.0 <= interval[1]
    if (exact and mean != 0) or significant:
        a_better = (mean < 0) == lower_is_better
        return f"{a if a_better else b} better", None
    needed = _seeds_needed(d, margin, alpha)
    if needed is None:
        return ("inconclusive: one seed" if d.size == 1 else "inconclusive"), None
    return f"inconclusive: about {needed} seeds would settle it", needed


def _seeds_needed(d: np.ndarray, margin: float, alpha: float) -> int | None:
    """Seeds at which the equivalence or the difference test, whichever needs
    fewer, would reach p < alpha with 80% power if the observed mean and SD of d
    held. A normal approximation: it runs a little low at small n, hence
    "about"; it ignores Holm's correction, so it is a floor with many models."""
    if d.size < 2:
        return None
    from scipy import stats  # here, as in _tost and _wilcoxon: 0.45 s that a one-seed report never needs

    sd, shift = float(np.std(d, ddof=1)), abs(float(np.mean(d)))
    z_power = stats.norm.ppf(POWER)
    candidates = []
    if shift < margin:  # TOST: each one-sided test at alpha; the nearer bound binds
        candidates.append(((stats.norm.ppf(1 - alpha) + z_power) * sd / (margin - shift)) ** 2)
    if shift > 0:  # Wilcoxon cannot reach 0.05 below 6 pairs, whatever the effect
        two_sided = ((stats.norm.ppf(1 - alpha / 2) + z_power) * sd / shift) ** 2
        candidates.append(max(MIN_WILCOXON_PAIRS, two_sided))
    if not candidates:
        return None
    return min(MAX_SEEDS, max(d.size + 1, math.ceil(min(candidates))))


def _tost(d: np.ndarray, margin: float) -> float | None:
    """max of the two one-sided paired t-test p values against -margin and +margin."""
    if d.size < 2:
        return None
    if np.ptp(d) == 0:  # SD 0 makes t infinite or NaN: decide on the exact d
        return 0.0 if abs(d[0]) < margin or d[0] == 0 else 1.0
    from scipy import stats

    above = stats.ttest_1samp(d, -margin, alternative="greater").pvalue
    below = stats.ttest_1samp(d, margin, alternative="less").pvalue
    return float(max(above, below))


def _wilcoxon(d: np.ndarray) -> float | None:
    # One pair gives no distribution to test against, and with every d == 0
    # there is nothing to rank (scipy drops zeros and then fails).
    if d.size < 2 or not np.any(d):
        return None
    from scipy import stats

    return float(stats.wilcoxon(d).pvalue)


def _bootstrap_mean(d: np.ndarray, seed: int) -> tuple[float, float]:
    """Percentile interval of mean d over seeds resampled with replacement;
    unreliable at few seeds (Colas et al.), hence Wilcoxon beside it."""
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, d.size, (RESAMPLES, d.size))].mean(axis=1)
    tail = (1.0 - LEVEL) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def _iqr(values: np.ndarray) -> tuple[float, float]:
    low, high = np.percentile(values, [25, 75])
    return float(low), float(high)
