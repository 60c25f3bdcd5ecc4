"""The architecture's rules (.importlinter, drawn in docs/architecture.md) hold,
checked by import-linter: the twins independent of each other, benchmark/
importing no framework, the layers in their order. And the check can fail:
a framework import added to the core breaks it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("benchmark", "torch_impl", "tf_impl", "jax_impl")


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    """import-linter on the packages under `root`, with `root`'s .importlinter;
    no cache (it would be written into the checkout)."""
    command = [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; "
               "sys.exit(lint_imports_command())", "--no-cache", "--no-logo", ".importlinter"]
    return subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=300,
                          env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"})


def test_the_contracts_hold():
    result = lint_imports(REPO_ROOT)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "3 kept, 0 broken" in result.stdout


def test_a_framework_import_in_the_metrics_breaks_them(tmp_path):
    """The mutation the contracts exist for: `import torch` in benchmark/metrics/."""
    for package in PACKAGES:  # the source alone: import-linter reads, never imports
        shutil.copytree(REPO_ROOT / package, tmp_path / package,
                        ignore=lambda folder, names: [n for n in names if not (n.endswith(".py") or
                                                                              (Path(folder) / n).is_dir())])
    shutil.copy(REPO_ROOT / ".importlinter", tmp_path)
    (tmp_path / "benchmark" / "metrics" / "probe.py").write_text("import torch\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert "benchmark/ imports no framework" in result.stdout and "BROKEN" in result.stdout
    assert "benchmark.metrics.probe -> torch" in result.stdout
