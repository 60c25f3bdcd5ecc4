"""Step-time statistics. Warm-up steps (tracing, compilation, allocator
growth) are reported on their own and never mixed into steady state."""

from __future__ import annotations

import numpy as np

# The first steps of every process start: tf.function traces and XLA compiles
# on step 1; step 2 still pays for allocator growth and first-touch memory.
WARMUP_STEPS_PER_START = 2


def summarize_steps(step_seconds: list[float], warmup: list[bool],
                    images_per_step: int) -> dict[str, float | int | None]:
    """Warm-up total, and median/p10/p90 step time and images/s of the rest.

    A run too short to have steady steps (every step warm-up) has no speed:
    its step times and images/s are None, never the warm-up's.
    """
    times = np.asarray(step_seconds, dtype=np.float64)
    is_warm = np.asarray(warmup, dtype=bool)
    steady = times[~is_warm]
    stats: dict[str, float | int | None] = {
        "warmup_steps": int(is_warm.sum()),
        "warmup_s": float(times[is_warm].sum()),
        "steady_steps": len(steady),
    }
    if not len(steady):
        return {**stats, **dict.fromkeys(("step_ms_median", "step_ms_p10", "step_ms_p90", "images_per_s",
                                          "images_per_s_p10", "images_per_s_p90"))}
    median, p10, p90 = np.percentile(steady, [50, 10, 90])
    return {
        **stats,
        "step_ms_median": float(median * 1e3),
        "step_ms_p10": float(p10 * 1e3),
        "step_ms_p90": float(p90 * 1e3),
        "images_per_s": float(images_per_step / median),
        # A faster step (p10) means more images/s: the bounds swap.
        "images_per_s_p10": float(images_per_step / p90),
        "images_per_s_p90": float(images_per_step / p10),
    }
