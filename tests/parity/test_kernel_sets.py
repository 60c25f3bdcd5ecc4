"""The parity bounds hold whichever kernels the CPU's instruction set selects.

oneDNN (under both PyTorch and TensorFlow), ATen's vectorised kernels and MKL
pick their kernels when they start, from the CPU's instruction set, and each
set sums in its own order: float32 training differs between an AVX2, an
AVX-512 and an AMX machine (see tests/parity/test_parity.py). The caps below
make an AVX-512 machine run the kernels an AVX2 machine would. `make test-isa`
runs all of tests/parity once per kernel set this CPU has; this test runs the
bounds that are most sensitive to kernels (the trajectory comparisons and the
single-pass ones) for three models, with AVX2 kernels, in a subprocess, so
that `make test` alone sees two kernel sets. wgan and cgan, with lsgan, are the
models whose float32 trajectories moved most between kernel sets. About 30 s
on 2 cores.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
# Each library's own switch; TensorFlow's Eigen kernels are compiled for one
# instruction set and do not change.
AVX2_KERNELS = {"ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"}
TESTS = ("test_outputs_agree_from_the_same_weights", "test_first_losses_agree_before_any_update",
         "test_float64_training_agrees", "test_float32_training_gap_is_float32_rounding")
MODELS = ("wgan", "lsgan", "cgan")
# The kernels a process got: oneDNN names its instruction set on its first
# primitive when ONEDNN_VERBOSE is set, ATen reports its capability.
PROBE = """
import torch
torch.nn.functional.conv2d(torch.ones(1, 1, 4, 4), torch.ones(1, 1, 2, 2))
print("aten:" + torch.backends.cpu.get_cpu_capability())
"""


def cpu_has_avx512() -> bool:
    try:
        return "avx512f" in Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False


def run(args: list[str], extra_env: dict[str, str], timeout: int) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=REPO_ROOT, env={**os.environ, **extra_env}, capture_output=True,
                          text=True, timeout=timeout)


@pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64") or not cpu_has_avx512(),
                    reason="no AVX-512 here: this CPU's own kernels are the AVX2 ones (or not x86)")
def test_parity_holds_with_avx2_kernels(mnist_data_dir):
    pytest.importorskip("torch")
    pytest.importorskip("tensorflow")
    probe = run([sys.executable, "-c", PROBE], {**AVX2_KERNELS, "ONEDNN_VERBOSE": "1"}, timeout=120)
    assert probe.returncode == 0, probe.stderr[-2000:]
    isa = [line for line in probe.stdout.splitlines() if ",isa:" in line or line.startswith("aten:")]
    assert "aten:AVX2" in isa and any("AVX2" in line and "512" not in line for line in isa), \
        f"the AVX2 cap did not take: {isa}"

    node_ids = [f"tests/parity/test_parity.py::{test}[{model}]" for test in TESTS for model in MODELS]
    result = run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *node_ids],
                 {**AVX2_KERNELS, "GANBENCH_DATA_DIR": mnist_data_dir}, timeout=600)
    report = (result.stdout + result.stderr)[-6000:]
    assert result.returncode == 0, report
    assert f"{len(node_ids)} passed" in result.stdout, report
