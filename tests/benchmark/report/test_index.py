"""Tests for benchmark.report.index: the committed reports/README.md is what
the examples give today, and an index of copied examples quotes their reports."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from benchmark.report.index import COMMAND, INDEX_NAME, main, render_index

REPO_ROOT = Path(__file__).resolve().parents[3]
REPORTS = REPO_ROOT / "reports"
# Two real examples, the newer first (results.json's created_utc).
NEWER, OLDER = "quick-cpu-example", "converge-cpu-dcgan"


def _summary_first_row(report: Path) -> list[str]:
    """The cells of the first data row of report.md's Summary table, read here
    independently of the index module."""
    lines = report.read_text(encoding="utf-8").split("## Summary", 1)[1].splitlines()
    rows = [line for line in lines if line.startswith("| ")]
    return [cell.strip() for cell in rows[2].strip("|").split(" | ")]


def _index_rows(index: str) -> list[str]:
    return [line for line in index.splitlines() if line.startswith("| [")]


def _copy_examples(tmp_path: Path) -> Path:
    for name in (OLDER, NEWER):
        (tmp_path / name).mkdir()
        for file in ("results.json", "report.md"):
            shutil.copy(REPORTS / name / file, tmp_path / name / file)
    return tmp_path


def test_committed_index_is_current():
    committed = (REPORTS / INDEX_NAME).read_text(encoding="utf-8")
    assert committed == render_index(REPORTS), (
        f"reports/{INDEX_NAME} is stale (an example was added or regenerated): run `{COMMAND}` and commit it")


def test_index_rows_quote_each_report_newest_first(tmp_path):
    index = render_index(_copy_examples(tmp_path))
    rows = _index_rows(index)
    assert [row.split("]", 1)[0] for row in rows] == [f"| [{NEWER}", f"| [{OLDER}"]
    for row, name in zip(rows, (NEWER, OLDER)):
        model, *verdicts = _summary_first_row(tmp_path / name / "report.md")
        headline = row.rstrip(" |").rsplit(" | ", 1)[1]
        assert headline.startswith(model)
        for cell in verdicts[:4]:  # the speed and quality verdicts; the losses are left out
            if cell != "–":
                assert cell in headline, (cell, headline)
        assert f"({name}/report.md)" in row


def test_headline_is_read_from_report_not_recomputed(tmp_path):
    examples = _copy_examples(tmp_path)
    report = examples / OLDER / "report.md"
    faster = _summary_first_row(report)[1]
    report.write_text(report.read_text(encoding="utf-8").replace(faster, "torch (eager) 9.99x (9.00–9.99)", 1),
                      encoding="utf-8")
    row = next(row for row in _index_rows(render_index(examples)) if row.startswith(f"| [{OLDER}]"))
    assert "torch (eager) 9.99x (9.00–9.99)" in row
    assert faster not in row


def test_loops_headline_is_a_sentence_of_its_readme():
    row = next(row for row in _index_rows(render_index(REPORTS)) if "loops-cpu-example" in row)
    headline = row.rstrip(" |").rsplit(" | ", 1)[1]
    assert headline and headline in (REPORTS / "loops-cpu-example" / "README.md").read_text(encoding="utf-8")


def test_main_writes_the_index(tmp_path, capsys):
    examples = _copy_examples(tmp_path)
    assert main([str(examples)]) == 0
    assert (examples / INDEX_NAME).read_text(encoding="utf-8") == render_index(examples)
    assert not list(examples.glob(f".{INDEX_NAME}.*"))  # the atomic write left no temporary file
    with pytest.raises(SystemExit):
        main([str(examples / "missing")])


def test_the_readmes_results_at_a_glance_are_current():
    """README.md's table between its markers is what `render_glance` gives the
    committed examples today: a regenerated example changes it."""
    from benchmark.report.index import GLANCE_END, GLANCE_START, render_glance, with_glance

    readme = (REPORTS.parent / "README.md").read_text(encoding="utf-8")
    assert GLANCE_START in readme and GLANCE_END in readme
    assert readme == with_glance(readme, render_glance(REPORTS)), (
        "README.md's results at a glance are stale: run `python -m benchmark.report.index` and commit")


def test_the_glance_quotes_each_reports_own_verdicts(tmp_path):
    from benchmark.report.index import render_glance

    for name in ("quick-cpu-example", "three-frameworks-cpu-example"):
        folder = tmp_path / name
        shutil.copytree(REPORTS / name, folder, ignore=shutil.ignore_patterns("figures", "*.gif", "*.png"))
    report = tmp_path / "three-frameworks-cpu-example" / "report.md"
    text = report.read_text(encoding="utf-8")
    row = next(line for line in text.splitlines() if line.startswith("| DCGAN |"))
    cells = row.split(" | ")
    cells[2] = "a verdict only this report says"
    report.write_text(text.replace(row, " | ".join(cells)), encoding="utf-8")
    dcgan = next(line for line in render_glance(tmp_path).splitlines() if line.startswith("| DCGAN |"))
    assert "a verdict only this report says" in dcgan  # quoted, never recomputed
    # quick-cpu-example is newer, but three-frameworks compares more frameworks on DCGAN
    assert "three-frameworks-cpu-example/report.md" in dcgan and "[1.00 " in dcgan
