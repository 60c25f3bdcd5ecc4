"""Step-time statistics. Warm-up steps (tracing, compilation, allocator
growth) are reported on their own and never mixed into steady state."""

from __future__ import annotations

import numpy as np


def warmup_step_count(total_steps: int) -> int:
    """Two warm-up steps when there is room for a steady state after them."""
    return 2 if total_steps >= 6 else 1 if total_steps >= 2 else 0


def summarize_steps(step_seconds: list[float], images_per_step: int) -> dict[str, float | int]:
    """Warm-up total, and median/p10/p90 step time and images/s of the rest."""
    times = np.asarray(step_seconds, dtype=np.float64)
    n_warm = warmup_step_count(len(times))
    steady = times[n_warm:]
    median, p10, p90 = np.percentile(steady, [50, 10, 90]) if len(steady) else (np.nan,) * 3
    return {
        "warmup_steps": n_warm,
        "warmup_s": float(times[:n_warm].sum()),
        "steady_steps": int(len(steady)),
        "step_ms_median": float(median * 1e3),
        "step_ms_p10": float(p10 * 1e3),
        "step_ms_p90": float(p90 * 1e3),
        "images_per_s": float(images_per_step / median),
        # A faster step (p10) means more images/s: the bounds swap.
        "images_per_s_p10": float(images_per_step / p90),
        "images_per_s_p90": float(images_per_step / p10),
    }
