"""Tests for benchmark.report: a results directory built here, in the format
the suite writes (result.json, history.csv, samples.npy per run), rendered
into report.md, runs.csv and figures/."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmark.report import render_report
from benchmark.grid import tile
from benchmark.report.plots import GIF_GRAY_LEVELS, ema, evolution_gif
from benchmark.report.render import main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
N_CRITIC = {"dcgan": 1, "wgan": 5}
BATCH = 32
STEPS = 300
COMMAND = "python run_benchmark.py --frameworks torch tf --models dcgan wgan"
XLA_FAILURE = "RuntimeError: XLA compilation failed: resource exhausted"

# (model, framework, mode) -> median, p10, p90 images/s
DCGAN_RATES = {("dcgan", "torch", "eager"): (400, 380, 420), ("dcgan", "tf", "eager"): (200, 190, 210)}
WGAN_RATES = {("wgan", "torch", "eager"): (300, 270, 330), ("wgan", "tf", "xla"): (301, 271, 331)}


def _config(model: str, framework: str, mode: str, precision: str = "fp32") -> dict:
    return {"framework": framework, "model": model, "mode": mode, "device": "cpu", "profile": "quick",
            "epochs": 1, "batch_size": BATCH, "train_size": None, "sample_count": 64, "seed": 0,
            "threads": 2, "data_dir": None, "precision": precision}


def _history(seed: int, d_end: float, g_end: float, step_range: tuple[float, float],
             diverge: bool = False) -> tuple[str, np.ndarray, np.ndarray]:
    """history.csv text with noisy losses decaying towards (d_end, g_end), and
    step times spread evenly (in random order) over `step_range` seconds."""
    rng = np.random.default_rng(seed)
    t = np.arange(STEPS)
    decay = np.exp(-t / 60)
    d_loss = d_end + 1.5 * decay + rng.normal(0, 0.08, STEPS)
    g_loss = g_end - 1.2 * decay + rng.normal(0, 0.15, STEPS)
    if diverge:
        d_loss[-1] = np.nan
    step_s = rng.permutation(np.linspace(*step_range, STEPS))
    rows = ["step,epoch,d_loss,g_loss,step_s,wall_s,warmup"]
    rows += [f"{i},0,{d!r},{g!r},{s:.9f},{w:.6f},0"
             for i, (d, g, s, w) in enumerate(zip(d_loss.tolist(), g_loss.tolist(), step_s, np.cumsum(step_s)))]
    return "\n".join(rows) + "\n", d_loss, g_loss


def write_ok_run(root: Path, key: tuple[str, str, str], rates: tuple[float, float, float],
                 seed: int, status: str = "ok", precision: str = "fp32", repeat: int = 1) -> dict:
    """A finished run's files under root/runs/<name>/; returns its results.json entry."""
    model, framework, mode = key
    name = (f"{model}-{framework}-{mode}" + ("" if precision == "fp32" else f"-{precision}")
            + (f"-r{repeat}" if repeat > 1 else ""))
    run_dir = root / "runs" / name
    run_dir.mkdir(parents=True)
    median, p10, p90 = rates
    per_step = BATCH * N_CRITIC[model]
    # Rates spread evenly from p10 to p90: the median step is per_step / median.
    csv_text, d_loss, g_loss = _history(seed, d_end=0.6 + 0.1 * seed, g_end=2.0 + 0.1 * seed,
                                        step_range=(per_step / p90, per_step / p10),
                                        diverge=status == "diverged")
    (run_dir / "history.csv").write_text(csv_text)
    sample_rng = np.random.default_rng(100 + seed)
    np.save(run_dir / "samples.npy", np.tanh(sample_rng.normal(0, 1, (64, 28, 28, 1))).astype(np.float32))
    (run_dir / "config.json").write_text(json.dumps(_config(model, framework, mode, precision)))

    tail = STEPS // 10
    result = {
        "schema_version": 1, "name": name, "framework": framework, "model": model, "mode": mode,
        "precision": precision,
        "status": status, "reason": "non-finite loss at step 299" if status == "diverged" else None,
        "config": _config(model, framework, mode, precision),
        "environment": {"framework_version": f"{framework} 1.0", "device_name": "x86_64", "threads": "2"},
        "parameter_counts": {"generator": 759681, "discriminator": 138689},
        "build_s": 3.2,
        "timing": {"images_per_step": per_step, "steps": STEPS, "warmup_steps": 2, "warmup_s": 0.9,
                   "steady_steps": STEPS - 2, "step_ms_median": 1e3 * per_step / median,
                   "step_ms_p10": 1e3 * per_step / p90, "step_ms_p90": 1e3 * per_step / p10,
                   "images_per_s": float(median), "images_per_s_p10": float(p10),
                   "images_per_s_p90": float(p90), "epoch_s": [STEPS * per_step / median],
                   "train_s": STEPS * per_step / median},
        "memory": {"peak_rss_bytes": 900 * 2**20, "peak_device_bytes": None},
        "final_losses": {"d_loss": float(np.mean(d_loss[-tail:])), "g_loss": float(np.mean(g_loss[-tail:]))},
        "files": {"history": "history.csv", "samples": "samples.npy", "checkpoint": "checkpoint"},
    }
    (run_dir / "result.json").write_text(json.dumps(result))
    return {"dir": f"runs/{name}", **result}


def write_failed_run(root: Path, key: tuple[str, str, str], reason: str) -> dict:
    model, framework, mode = key
    run_dir = root / "runs" / f"{model}-{framework}-{mode}"
    run_dir.mkdir(parents=True)
    (run_dir / "config.json").write_text(json.dumps(_config(model, framework, mode)))
    result = {"schema_version": 1, "status": "failed", "reason": reason,
              "config": _config(model, framework, mode), "framework": framework, "model": model,
              "mode": mode, "stderr_tail": f"Traceback (most recent call last):\n  ...\n{reason}"}
    (run_dir / "result.json").write_text(json.dumps(result))
    return {"dir": f"runs/{run_dir.name}", **result}


def write_results(root: Path, runs: list[dict], models: list[str]) -> Path:
    summary = {
        "schema_version": 1, "run_id": "20261123-101500-quick-cpu", "created_utc": "2026-11-23T10:15:00Z",
        "command": COMMAND,
        "environment": {"os": "Linux-6.1-x86_64", "cpu": "AMD EPYC 7B13", "cpu_count": 2, "gpu": None,
                        "python": "3.11.7", "git_commit": "abc1234",
                        "packages": {"torch": "2.14.1", "tensorflow": "2.21.0", "numpy": "2.4.6"}},
        "suite": {"frameworks": ["torch", "tf"], "models": models, "profile": "quick", "device": "cpu",
                  "seed": 0},
        "runs": runs,
        "total_s": 612.3,
    }
    (root / "results.json").write_text(json.dumps(summary))
    return root


def build_suite(root: Path) -> Path:
    """dcgan x {torch, tf}, wgan x {torch, tf}, and a failed dcgan tf xla run."""
    rates = {**DCGAN_RATES, **WGAN_RATES}
    runs = [write_ok_run(root, key, value, seed) for seed, (key, value) in enumerate(rates.items())]
    runs.append(write_failed_run(root, ("dcgan", "tf", "xla"), XLA_FAILURE))
    return write_results(root, runs, ["dcgan", "wgan"])


def outputs(root: Path) -> dict[Path, bytes]:
    paths = [root / "report.md", root / "runs.csv", *sorted((root / "figures").glob("*.png"))]
    return {path: path.read_bytes() for path in paths}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[Path, bytes]]:
    """The suite's directory, the path render_report returned, and what it wrote."""
    root = build_suite(tmp_path_factory.mktemp("suite"))
    report_path = render_report(root)
    return root, report_path, outputs(root)


@pytest.fixture(scope="module")
def suite_dir(rendered: tuple[Path, Path, dict[Path, bytes]]) -> Path:
    return rendered[0]


@pytest.fixture(scope="module")
def report(suite_dir: Path) -> str:
    return (suite_dir / "report.md").read_text(encoding="utf-8")


def section(report: str, heading: str) -> str:
    """The text under `heading` up to the next heading of the same level."""
    level = heading.split(" ")[0]
    start = report.index(heading + "\n")
    following = re.search(rf"^{level} ", report[start + len(heading):], flags=re.MULTILINE)
    end = start + len(heading) + following.start() if following else len(report)
    return report[start:end]


def table_rows(text: str) -> list[list[str]]:
    """Body rows of the first Markdown table in `text`, as stripped cells."""
    lines = [line for line in text.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in line.strip("|").split(" | ")] for line in lines[2:]]


def test_render_returns_report_path(rendered: tuple[Path, Path, dict[Path, bytes]]) -> None:
    root, report_path, _ = rendered
    assert report_path == root / "report.md"
    assert report_path.is_file()


def test_report_has_sections_in_order(report: str) -> None:
    headings = ["# ganbench report: 20261123-101500-quick-cpu", "## Summary", "## DCGAN", "## WGAN",
                "## Failed runs", "## Environment", "*Method.*"]
    positions = [report.index(h) for h in headings]
    assert positions == sorted(positions)
    assert "Profile **quick** · device **cpu** · 2026-11-23 10:15 UTC · total wall time 10 min 12 s" in report


def test_summary_has_one_row_per_model(report: str) -> None:
    rows = table_rows(section(report, "## Summary"))
    assert [row[0] for row in rows] == ["DCGAN", "WGAN (weight clipping)"]


def test_summary_names_faster_framework_and_ratio(report: str) -> None:
    dcgan, wgan = table_rows(section(report, "## Summary"))
    # 400 vs 200 img/s, and 301 vs 300; one run of each and no calibration, so
    # nothing measured the machine's drift: a difference is never "clear" then.
    assert dcgan[1].startswith("torch (eager) 2.0") and dcgan[2] == "drift not measured (--repeats 3 measures it)"
    assert wgan[1].startswith("tf (xla) 1.0") and wgan[2] == "within noise"


def test_summary_shows_final_losses_per_framework(suite_dir: Path, report: str) -> None:
    dcgan, _ = table_rows(section(report, "## Summary"))
    losses = json.loads((suite_dir / "runs/dcgan-torch-eager/result.json").read_text())["final_losses"]
    assert dcgan[5] == f"{losses['d_loss']:.3f} / {losses['g_loss']:.3f}"


def test_model_table_has_a_row_per_run(report: str) -> None:
    rows = table_rows(section(report, "## DCGAN"))
    assert [row[:2] for row in rows] == [["torch", "eager"], ["tf", "eager"], ["tf", "xla (failed)"]]
    torch_row = rows[0]
    assert torch_row[2] == "400 (380–420)"
    assert torch_row[3] == "80.0"  # 32 images / 400 per s
    assert torch_row[-1] == "759,681 / 138,689"


def test_image_links_point_to_existing_pngs(suite_dir: Path, report: str) -> None:
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", report)
    assert sorted(links) == ["figures/loss_dcgan.png", "figures/loss_wgan.png",
                             "figures/samples_dcgan.png", "figures/samples_wgan.png",
                             "figures/throughput_dcgan.png", "figures/throughput_wgan.png"]
    for link in links:
        data = (suite_dir / link).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 1000
    assert report.index("figures/loss_dcgan.png") < report.index("## WGAN")


def test_runs_csv_has_one_row_per_run(suite_dir: Path) -> None:
    table = pd.read_csv(suite_dir / "runs.csv").set_index("name")
    assert len(table) == 5
    assert table.loc["dcgan-torch-eager", "images_per_s"] == 400
    assert table.loc["wgan-tf-xla", "images_per_s_p90"] == 331
    assert table.loc["dcgan-torch-eager", "peak_rss_mib"] == pytest.approx(900)
    assert table.loc["dcgan-tf-xla", "status"] == "failed"
    assert np.isnan(table.loc["dcgan-tf-xla", "images_per_s"])
    assert set(table["batch_size"]) == {BATCH}


def test_failed_runs_list_reason_and_stderr(report: str) -> None:
    failed = section(report, "## Failed runs")
    assert "### dcgan-tf-xla" in failed
    assert XLA_FAILURE in failed
    assert "Traceback (most recent call last):" in failed


def test_environment_lists_command_seed_and_configuration(report: str) -> None:
    environment = section(report, "## Environment")
    assert f"```sh\n{COMMAND}\n```" in environment
    assert "- **Seed:** 0" in environment
    assert "- **Git commit:** abc1234" in environment
    assert "torch 2.14.1, tensorflow 2.21.0" in environment
    config_rows = table_rows(section(environment, "### Configuration per run"))
    assert len(config_rows) == 5
    assert config_rows[0] == ["dcgan-torch-eager", "torch", "dcgan", "eager", "fp32", "cpu", "1", "32", "all",
                             "2", "torch 1.0"]


def test_rerender_is_deterministic(rendered: tuple[Path, Path, dict[Path, bytes]]) -> None:
    root, _, first = rendered
    render_report(root)
    assert outputs(root) == first


def test_suite_with_only_failed_runs_renders(tmp_path: Path) -> None:
    runs = [write_failed_run(tmp_path, ("dcgan", "torch", "eager"), "ImportError: no torch"),
            write_failed_run(tmp_path, ("dcgan", "tf", "xla"), "ImportError: no tensorflow")]
    report = render_report(write_results(tmp_path, runs, ["dcgan"])).read_text(encoding="utf-8")
    [row] = table_rows(section(report, "## Summary"))
    assert row == ["DCGAN", "–", "n/a: torch failed, tf failed", "–", "n/a: no quality scores", "failed", "failed"]
    assert "![" not in report
    assert "ImportError: no torch" in section(report, "## Failed runs")
    assert len(pd.read_csv(tmp_path / "runs.csv")) == 2


def test_model_with_one_finished_framework_is_not_compared(tmp_path: Path) -> None:
    runs = [write_ok_run(tmp_path, ("wgan", "torch", "eager"), (300, 270, 330), seed=0),
            write_ok_run(tmp_path, ("wgan", "tf", "xla"), (900, 800, 1000), seed=1, status="diverged")]
    report = render_report(write_results(tmp_path, runs, ["wgan"])).read_text(encoding="utf-8")
    [row] = table_rows(section(report, "## Summary"))
    assert row[1:3] == ["–", "n/a: tf diverged"]
    assert row[6] == "diverged"
    assert "non-finite loss at step 299" in section(report, "## Failed runs")
    assert (tmp_path / "figures/loss_wgan.png").stat().st_size > 0


def test_precisions_of_one_framework_and_mode_are_separate_contenders(tmp_path: Path) -> None:
    runs = [write_ok_run(tmp_path, ("dcgan", "torch", "eager"), (400, 380, 420), seed=0),
            write_ok_run(tmp_path, ("dcgan", "torch", "eager"), (500, 480, 520), seed=1, precision="bf16"),
            write_ok_run(tmp_path, ("dcgan", "tf", "xla"), (300, 280, 320), seed=2),
            write_ok_run(tmp_path, ("dcgan", "tf", "xla"), (250, 230, 270), seed=3, precision="bf16")]
    report = render_report(write_results(tmp_path, runs, ["dcgan"])).read_text(encoding="utf-8")
    [row] = table_rows(section(report, "## Summary"))
    assert row[1].startswith("torch (eager bf16) 1.67x")  # each framework's fastest: 500 vs 300
    rows = table_rows(section(report, "## DCGAN"))
    assert [row[:3] for row in rows] == [["torch", "eager", "400 (380–420)"],
                                         ["torch", "eager bf16", "500 (480–520)"],
                                         ["tf", "xla", "300 (280–320)"], ["tf", "xla bf16", "250 (230–270)"]]
    config_rows = table_rows(section(section(report, "## Environment"), "### Configuration per run"))
    assert [(r[0], r[4]) for r in config_rows] == [
        ("dcgan-torch-eager", "fp32"), ("dcgan-torch-eager-bf16", "bf16"),
        ("dcgan-tf-xla", "fp32"), ("dcgan-tf-xla-bf16", "bf16")]
    table = pd.read_csv(tmp_path / "runs.csv").set_index("name")
    assert table.loc["dcgan-tf-xla-bf16", "compute_precision"] == "bf16"


def test_main_renders_the_given_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_results(tmp_path, [write_failed_run(tmp_path, ("dcgan", "tf", "xla"), XLA_FAILURE)], ["dcgan"])
    assert main([str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "report.md")
    assert (tmp_path / "report.md").is_file()


def test_ema_skips_missing_values() -> None:
    smoothed = ema(np.array([1.0, 1.0, np.nan, 3.0]), span=3)
    assert smoothed[:2].tolist() == [1.0, 1.0]
    assert np.isnan(smoothed[2])
    assert smoothed[3] == pytest.approx(2.0)


def test_identical_repeats_measure_no_drift_and_a_2x_ratio_is_clear(tmp_path: Path) -> None:
    runs = [write_ok_run(tmp_path, key, rates, seed + 2 * repeat, repeat=repeat)
            for repeat in (1, 2) for seed, (key, rates) in enumerate(DCGAN_RATES.items())]
    render_report(write_results(tmp_path, runs, ["dcgan"]))
    (dcgan,) = table_rows(section((tmp_path / "report.md").read_text(), "## Summary"))
    # identical repeats: a drift of 0, which a 2x ratio clears
    assert dcgan[1].startswith("torch (eager) 2.0") and dcgan[2] == "clear (beyond ±0.0% drift)"


def test_evolution_gif_shows_rgb_samples_in_colour() -> None:
    from PIL import Image, ImageSequence

    frames = np.zeros((2, 4, 16, 16, 3), np.uint8)
    frames[:, :, :, :, 0] = 255  # pure red images
    gif = Image.open(io.BytesIO(evolution_gif([0, 9], frames, scale=1)))
    for frame in ImageSequence.Iterator(gif):
        picture = np.asarray(frame.convert("RGB"))
        assert picture.shape == (16 + 2 * 18 + 2, 2 * 18 + 2, 3)
        assert (picture[16 + 2, 2] == [255, 0, 0]).all()  # an image's pixel, below the caption
        assert (picture[16, 0] == 255).all()  # a white gutter


def test_evolution_gif_shows_each_snapshot_in_16_grays_and_lingers_on_the_last() -> None:
    from PIL import Image, ImageSequence

    frames = np.random.default_rng(0).integers(0, 256, (3, 4, 28, 28, 1), dtype=np.uint8)
    gif = Image.open(io.BytesIO(evolution_gif([9, 19, 29], frames, scale=1, frame_ms=500)))
    pictures = [(np.asarray(frame.convert("L")), frame.info["duration"])
                for frame in ImageSequence.Iterator(gif)]
    assert [duration for _, duration in pictures] == [500, 500, 2000]
    for (picture, _), images in zip(pictures, frames):
        grid = tile(images.astype(np.float32) / 127.5 - 1.0)  # what the frame shows, in [0, 1]
        shown = picture[16:] / 255.0  # below the 16-pixel caption
        assert shown.shape == grid.shape
        assert np.abs(shown - grid).max() <= 0.5 / (GIF_GRAY_LEVELS - 1) + 1e-6  # rounded to a level
        assert len(np.unique(picture[16:])) <= GIF_GRAY_LEVELS
        assert (picture[:16] < 128).any()  # the caption


def test_a_report_from_a_dirty_tree_says_so_in_its_first_lines(tmp_path: Path) -> None:
    root = write_results(tmp_path, [write_ok_run(tmp_path, key, rates, seed)
                                    for seed, (key, rates) in enumerate(DCGAN_RATES.items())], ["dcgan"])
    summary = json.loads((root / "results.json").read_text())
    summary["environment"]["git_commit"] = "abc1234-dirty"
    (root / "results.json").write_text(json.dumps(summary))
    head = render_report(root).read_text().split("## Summary")[0]
    assert "**Made from a dirty tree**: commit abc1234 plus uncommitted changes" in head
    clean = write_results(tmp_path / "clean", [write_ok_run(tmp_path / "clean", key, rates, seed)
                                               for seed, (key, rates) in enumerate(DCGAN_RATES.items())], ["dcgan"])
    assert "dirty" not in render_report(clean).read_text()
