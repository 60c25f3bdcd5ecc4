"""How the report writes things: number formats, Markdown tables and model titles.

Images/s have no decimals, milliseconds one, losses three; a missing value
is shown as an en dash.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from benchmark.report.results import finite

MISSING = "–"
MIB = 2**20


def fmt_rate(value: float | None) -> str:
    return MISSING if value is None else f"{value:,.0f}"


def fmt_ms(value: float | None) -> str:
    return MISSING if value is None else f"{value:.1f}"


def fmt_loss(value: float | None) -> str:
    return MISSING if value is None else f"{value:.3f}"


def fmt_seconds(value: float | None) -> str:
    if value is None:
        return MISSING
    return f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}"


def fmt_count(value: Any) -> str:
    number = finite(value)
    return MISSING if number is None else f"{number:,.0f}"


def fmt_mib(n_bytes: float | None) -> str:
    return MISSING if n_bytes is None else f"{n_bytes / MIB:,.0f}"


def fmt_duration(seconds: float | None) -> str:
    """Wall time for people: "45.2 s", "10 min 12 s", "2 h 05 min"."""
    if seconds is None:
        return MISSING
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[str]], align: str = "") -> str:
    """A GitHub Markdown table; `align` holds one "l" or "r" per column (default "l")."""
    align = align.ljust(len(headers), "l")
    rule = ["---:" if a == "r" else "---" for a in align]
    lines = [_table_row(headers), _table_row(rule)]
    lines += [_table_row(row) for row in rows]
    return "\n".join(lines)


def _table_row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def model_title(model: str) -> str:
    """The spec's title ("SN-DCGAN (spectral norm)"); a model this version
    does not know (an older results file) shows its name."""
    from benchmark.specs import SPECS

    spec = SPECS.get(model)
    return spec.title if spec else model.upper()
