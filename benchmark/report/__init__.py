"""The benchmark report: `render_report(run_dir)` turns a results directory
into report.md, runs.csv and figures/. See `benchmark.report.render`.

Uses numpy, matplotlib and the standard library only; never a framework.
"""

from __future__ import annotations

from typing import Any

__all__ = ["render_report"]


def __getattr__(name: str) -> Any:
    # Imported on first use: an eager import would put benchmark.report.render
    # in sys.modules before `python -m benchmark.report.render` runs it, and
    # runpy warns about that.
    if name == "render_report":
        from benchmark.report.render import render_report
        return render_report
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
