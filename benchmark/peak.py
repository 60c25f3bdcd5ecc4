"""The yardstick of "share of peak": the best matrix-product rate this
machine reaches in a given arithmetic (float32, bfloat16, float16).

A bf16 run measured against a float32 peak can show more than 100% (AMX and
AVX512-BF16 multiply bfloat16 several times faster than float32), so every
run probes its own framework's matrix product in its own arithmetic, and the
report divides by the best probe of that arithmetic on that device.
"""

from __future__ import annotations

import time
from typing import Callable

MIN_SIZE, MAX_SIZE = 128, 4096
MIN_PRODUCT_S = 0.02  # grow the matrices until one product takes this long (or MAX_SIZE)
REPEATS = 3


def matmul_gflops(product_of_size: Callable[[int], Callable[[], None]]) -> float:
    """GFLOP/s of the fastest of REPEATS square products.

    `product_of_size(n)` prepares an (n, n) operand and returns a function
    that multiplies it by itself and waits for the device. The size doubles
    from MIN_SIZE until one product takes MIN_PRODUCT_S, so that a machine
    with slow arithmetic in this type (float16 on most CPUs) is probed in
    well under a second and a fast one at a size where the rate is sustained.
    """
    size = MIN_SIZE
    while True:
        run = product_of_size(size)
        run()  # first call: thread pools, kernel selection, page faults
        best = float("inf")
        for _ in range(REPEATS):
            started = time.perf_counter()
            run()
            best = min(best, time.perf_counter() - started)
        if best >= MIN_PRODUCT_S or size >= MAX_SIZE:
            return 2 * size**3 / best / 1e9
        size *= 2


def numpy_float32_gflops() -> float:
    """numpy's BLAS float32 rate: a framework-free peak, known before any run."""
    import numpy as np

    def product(size: int) -> Callable[[], None]:
        a = np.random.default_rng(0).standard_normal((size, size), dtype=np.float32)
        return lambda: a @ a

    return matmul_gflops(product)
