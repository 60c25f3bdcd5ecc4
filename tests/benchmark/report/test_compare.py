"""--compare: two result folders, one made twice as fast, read as such."""

import shutil
from pathlib import Path

from benchmark.report.compare import render_comparison

EXAMPLE = Path(__file__).resolve().parents[3] / "reports" / "quick-cpu-example"


def halve_step_times(run_dir: Path) -> None:
    history = run_dir / "history.csv"
    lines = history.read_text().splitlines()
    header = lines[0].split(",")
    column = header.index("step_s")
    rows = []
    for line in lines[1:]:
        cells = line.split(",")
        cells[column] = repr(float(cells[column]) / 2)
        rows.append(",".join(cells))
    history.write_text("\n".join([lines[0], *rows]) + "\n")


def test_a_twice_as_fast_folder_reads_as_b_faster(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    shutil.copytree(EXAMPLE, a)
    shutil.copytree(EXAMPLE, b)
    for run in (b / "runs").iterdir():
        halve_step_times(run)
    text = render_comparison(a, b, tmp_path).read_text()
    rows = [line for line in text.splitlines() if line.startswith("| DCGAN") or line.startswith("| WGAN")]
    assert len(rows) == 4
    for row in rows:
        assert "| 2.00x (" in row and "B faster" in row
    same = render_comparison(a, a, tmp_path / "same").read_text()
    assert same.count("| within noise |") == 4 and "None recorded." in same
