"""What machine and software produced a result, read without importing the
training frameworks (their versions come from package metadata)."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from benchmark.peak import numpy_float32_gflops

PACKAGES = ("torch", "tensorflow", "tensorflow-cpu", "keras", "jax", "jaxlib", "numpy", "matplotlib")
REPO_ROOT = Path(__file__).resolve().parents[1]


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# /proc/cpuinfo flags that decide which kernels oneDNN, Eigen and XLA run, in
# the order of the ISA ladder, with the names users know them by.
SPEED_FEATURES = {"avx2": "AVX2", "fma": "FMA", "avx512f": "AVX-512", "avx512_vnni": "AVX512-VNNI",
                  "avx512_bf16": "AVX512-BF16", "avx512_fp16": "AVX512-FP16", "amx_tile": "AMX",
                  "amx_bf16": "AMX-BF16", "amx_fp16": "AMX-FP16", "asimd": "NEON", "sve": "SVE"}


def cpu_features() -> list[str]:
    """The speed-deciding ISA extensions this CPU reports (SPEED_FEATURES);
    ONEDNN_MAX_CPU_ISA, when set, caps what oneDNN uses and is listed too."""
    flags: set[str] = set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                flags = set(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    found = [name for flag, name in SPEED_FEATURES.items() if flag in flags]
    if os.environ.get("ONEDNN_MAX_CPU_ISA"):
        found.append(f"oneDNN capped at {os.environ['ONEDNN_MAX_CPU_ISA']}")
    return found


def first_gpu(*fields: str) -> list[str] | None:
    """`nvidia-smi --query-gpu` of the first GPU, one string per field
    (e.g. name, driver_version, compute_cap), or None without one."""
    if shutil.which("nvidia-smi") is None:
        return None
    try:
        out = subprocess.run(
            ["nvidia-smi", f"--query-gpu={','.join(fields)}", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    if not out:
        return None
    return [value.strip() for value in out.splitlines()[0].split(",")]


def gpu_compute_capability() -> str | None:
    """The first GPU's CUDA compute capability ("9.0" on an H100/H200), or None."""
    found = first_gpu("compute_cap")
    return found[0] if found else None


def gpu_description() -> str | None:
    """`nvidia-smi`'s name and driver of the first GPU, or None without one."""
    found = first_gpu("name", "driver_version")
    return f"{found[0]} (driver {found[1]})" if found else None


def gpu_count() -> int:
    """GPUs `nvidia-smi` lists (0 without it): the most --devices can use."""
    if shutil.which("nvidia-smi") is None:
        return 0
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10,
                             check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return 0
    return sum(1 for line in out.splitlines() if line.startswith("GPU "))


def usable_cores() -> int:
    """The cores this process may run on (its affinity), else every core."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def package_versions() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT,
                             capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=REPO_ROOT, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def describe() -> dict:
    return {
        "os": platform.platform(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpu_features": cpu_features(),
        "gpu": gpu_description(),
        "gpu_compute_capability": gpu_compute_capability(),
        "python": platform.python_version(),
        "python_executable": sys.executable,
        "packages": package_versions(),
        "cpu_peak_gflops": round(numpy_float32_gflops(), 1),  # float32; runs add their own (benchmark.peak)
        "git_commit": git_commit(),
    }
