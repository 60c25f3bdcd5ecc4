"""What a cap on the CPU's instruction set (ONEDNN_MAX_CPU_ISA, as `make
test-isa` and tests/parity/test_kernel_sets.py set it) breaks in the tests.

TensorFlow 2.21 picks oneDNN for bfloat16 from the CPU's flags, not from
oneDNN's cap: on a CPU with AVX512-BF16 (or AMX-BF16) and oneDNN capped below
AVX-512, where oneDNN has no bfloat16 kernels, its first bf16 matrix product
segfaults the process. Measured on an AVX512-BF16 EPYC (TF's bf16 matmul
probe, benchmark.peak): SSE41, AVX2, AVX2_VNNI and AVX2_VNNI_2 crash;
AVX512_CORE, AVX512_CORE_VNNI and AVX512_CORE_BF16 run, as do the bf16 tests
under AVX512_CORE. float32, float16 and PyTorch's bf16 run under every cap.
Without bfloat16 instructions TensorFlow takes its Eigen kernels, which a cap
does not touch.
"""

from __future__ import annotations

import os

import pytest

from benchmark.environment import cpu_features

# ONEDNN_MAX_CPU_ISA values (prefixes of oneDNN's names) under which oneDNN has
# bfloat16 kernels: AVX-512 and later (measured above)
ONEDNN_BF16_ISAS = ("AVX512", "AVX10", "ALL", "DEFAULT")
CPU_BF16 = ("AVX512-BF16", "AMX-BF16")  # benchmark.environment.SPEED_FEATURES names


def tf_bf16_crash_reason() -> str | None:
    """Why TensorFlow's bf16 would crash this process, or None."""
    cap = os.environ.get("ONEDNN_MAX_CPU_ISA", "").strip()
    if not cap or cap.upper().startswith(ONEDNN_BF16_ISAS):
        return None
    has = [name for name in CPU_BF16 if name in cpu_features()]
    if not has:
        return None
    return (f"ONEDNN_MAX_CPU_ISA={cap} caps oneDNN below AVX-512 on a CPU with {', '.join(has)}: "
            "TensorFlow's bf16 still picks oneDNN by the CPU flags and segfaults (tests/isa.py)")


_REASON = tf_bf16_crash_reason()
skip_tf_bf16_under_a_onednn_cap = pytest.mark.skipif(_REASON is not None, reason=_REASON or "")
