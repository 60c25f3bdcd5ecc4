"""The share-of-peak yardstick: matrix-product probes in each arithmetic."""

from __future__ import annotations

import importlib.util
import math

import pytest

from benchmark import peak
from benchmark.runner import RunnerOptions
from tests.isa import skip_tf_bf16_under_a_onednn_cap


def test_the_probe_grows_the_product_until_it_is_long_enough_to_time():
    sizes = []

    def instant(size):  # a product that takes no time: the probe must stop at MAX_SIZE
        sizes.append(size)
        return lambda: None

    assert peak.matmul_gflops(instant) > 0
    assert sizes[0] == peak.MIN_SIZE and sizes[-1] == peak.MAX_SIZE
    assert all(b == 2 * a for a, b in zip(sizes, sizes[1:]))


def test_numpy_float32_probe_is_a_finite_rate():
    assert math.isfinite(peak.numpy_float32_gflops()) and peak.numpy_float32_gflops() > 0


RUNNERS = [(framework, precision) for framework in ("torch", "tf") for precision in ("fp32", "bf16", "fp16")]


@pytest.mark.parametrize("framework, precision", [
    pytest.param(*case, marks=skip_tf_bf16_under_a_onednn_cap) if case == ("tf", "bf16") else case
    for case in RUNNERS])
def test_each_runner_probes_its_own_arithmetic(framework, precision):
    package = {"torch": "torch", "tf": "tensorflow"}[framework]
    if importlib.util.find_spec(package) is None:
        pytest.skip(f"{package} not installed")
    from benchmark.registry import create_runner

    runner = create_runner(framework, "vanilla", RunnerOptions(precision=precision))
    rate = runner.matmul_gflops()
    assert math.isfinite(rate) and rate > 0
