"""The report's figures as a reader sees them: several seeds of a configuration
are one legend entry, their median over an inter-quartile band; runs of several
batch sizes are drawn against the images seen, each named by its batch size;
sample grids name their seed and framework and stay readable in width. Checked
on the matplotlib objects the figure functions return."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from matplotlib.collections import PolyCollection
from PIL import Image

from benchmark.report.plots import (DPI, MAX_WIDTH_PX, Group, ema, group_runs, loss_figure, loss_groups, palette,
                                    quality_figure, quality_groups, sample_groups, samples_figure, save_png,
                                    smoothing_span)
from benchmark.report.results import History, Run

SEEDS = tuple(range(6))
LABELS = ("torch (eager)", "tf (function)")
COLORS = palette(LABELS)


def history(seed: int, steps: int = 120) -> History:
    rng = np.random.default_rng(seed)
    step = np.arange(steps)
    return History(step, 0.7 + rng.normal(0, 0.1, steps), 2.0 + rng.normal(0, 0.2, steps))


def seeded(label: str, items, batch_size: int | None = None, images_per_step: int = 32) -> Group:
    return Group(label, batch_size, images_per_step, SEEDS[:len(items)], tuple(items))


def legend_names(figure) -> list[str]:
    """The entries of the figure's legends, on its axes or beside them."""
    legends = [ax.get_legend() for ax in figure.axes] + list(figure.legends)
    return [text.get_text() for legend in legends if legend is not None for text in legend.get_texts()]


def bands(ax) -> list[PolyCollection]:
    return [c for c in ax.collections if isinstance(c, PolyCollection)]


def width_px(figure) -> int:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return Image.open(buffer).size[0]


def test_six_seeds_of_two_frameworks_are_two_medians_with_bands():
    curves = [seeded(label, [history(10 * i + s) for s in SEEDS]) for i, label in enumerate(LABELS)]
    figure = loss_figure("DCGAN", curves, COLORS)
    assert legend_names(figure) == [f"{label}: median of 6 seeds" for label in LABELS]
    assert "band: 25–75%" in figure._suptitle.get_text()
    d_axes = figure.axes[0]
    assert len(bands(d_axes)) == 2
    # The bold line is the median of the seeds' smoothed curves, not any one seed.
    span = smoothing_span(120)
    expected = np.median([ema(history(s).d_loss, span) for s in SEEDS], axis=0)
    median_line = next(line for line in d_axes.get_lines() if line.get_label() == "torch (eager): median of 6 seeds")
    np.testing.assert_allclose(median_line.get_ydata(), expected)
    # Each seed faint, without a legend entry of its own.
    faint = [line for line in d_axes.get_lines() if line.get_label().startswith("_")]
    assert len(faint) == 12 and all(line.get_alpha() < 0.5 for line in faint)


def test_a_single_seed_keeps_its_plain_curve_over_the_raw_losses():
    figure = loss_figure("DCGAN", [seeded(label, [history(i)]) for i, label in enumerate(LABELS)], COLORS)
    assert legend_names(figure) == list(LABELS)
    assert not bands(figure.axes[0])
    assert "median" not in figure._suptitle.get_text() and "raw behind" in figure._suptitle.get_text()


def test_quality_median_is_over_seeds_at_each_probe_not_the_last_seed():
    # FID at three probes; the last seed is the only one where tf is worse.
    fids = {"torch (eager)": [[300, 240, 200 + s] for s in SEEDS],
            "tf (function)": [[290, 220, 180 + s] for s in SEEDS[:-1]] + [[290, 260, 230]]}
    curves = [seeded(label, [[(100.0 * (k + 1) + s, fid, 0.5) for k, fid in enumerate(run)]
                             for s, run in enumerate(runs)]) for label, runs in fids.items()]
    figure = quality_figure("DCGAN", curves, COLORS)
    fid_axes = figure.axes[0]
    assert legend_names(figure) == [f"{label}: median of 6 seeds" for label in LABELS]
    assert len(bands(fid_axes)) == 2
    tf_median = next(line for line in fid_axes.get_lines() if line.get_label() == "tf (function): median of 6 seeds")
    np.testing.assert_allclose(tf_median.get_ydata(), [290, 220, 182.5])
    np.testing.assert_allclose(tf_median.get_xdata(), [102.5, 202.5, 302.5])  # the seeds' median time


def test_a_batch_sweep_is_drawn_against_images_seen_one_named_line_per_batch_size():
    # The same 3,200 images: 100 steps of 32, 25 of 128.
    curves = [seeded("torch (eager)", [history(0, steps=100)], batch_size=32, images_per_step=32),
              seeded("torch (eager)", [history(1, steps=25)], batch_size=128, images_per_step=128)]
    figure = loss_figure("DCGAN", curves, COLORS)
    ax = figure.axes[0]
    assert ax.get_xlabel().startswith("images seen")
    named = {line.get_label(): line for line in ax.get_lines() if not line.get_label().startswith("_")}
    assert set(named) == {"torch (eager), batch 32", "torch (eager), batch 128"}
    assert named["torch (eager), batch 32"].get_xdata()[-1] == named["torch (eager), batch 128"].get_xdata()[-1] == 3200
    assert named["torch (eager), batch 32"].get_linestyle() != named["torch (eager), batch 128"].get_linestyle()


def samples(seed: int, n: int = 64) -> np.ndarray:
    return np.tanh(np.random.default_rng(seed).normal(0, 1, (n, 28, 28, 1))).astype(np.float32)


def titles(figure) -> tuple[list[str], list[str]]:
    """(column titles of the top row, row names of the first column)."""
    axes = np.asarray(figure.axes).reshape(len(figure.axes) // figure.axes[0].get_gridspec().ncols, -1)
    return [ax.get_title() for ax in axes[0]], [ax.get_ylabel() for ax in axes[:, 0]]


def test_six_seeds_of_samples_name_seed_and_framework_within_the_width_cap():
    panels = [seeded(label, [samples(s) for s in SEEDS]) for label in LABELS]
    figure = samples_figure("DCGAN", panels)
    assert width_px(figure) <= MAX_WIDTH_PX
    columns, rows = titles(figure)
    assert columns == [f"seed {s}" for s in SEEDS] and rows == list(LABELS)
    title = figure._suptitle.get_text()
    assert "same fixed noise" not in title and "each seed its own fixed noise" in title
    assert "49 of 64 samples each" in title  # fewer samples, not smaller ones


@pytest.mark.parametrize("n_seeds", [12, 20])
def test_many_seeds_still_fit_the_width_cap(n_seeds):
    panels = [Group(label, None, 32, tuple(range(n_seeds)), tuple(samples(s) for s in range(n_seeds)))
              for label in LABELS]
    assert width_px(samples_figure("DCGAN", panels)) <= MAX_WIDTH_PX


def test_a_batch_sweeps_samples_share_one_seeds_noise_a_row_per_batch_size():
    modes = ["torch (eager)", "torch (compile)", "tf (eager)", "tf (function)", "tf (xla)"]
    panels = [Group(label, batch, batch, (0,), (samples(batch),)) for label in modes for batch in (32, 128, 512)]
    figure = samples_figure("DCGAN", panels)
    assert width_px(figure) <= MAX_WIDTH_PX
    columns, rows = titles(figure)
    assert columns == modes and rows == ["batch 32", "batch 128", "batch 512"]
    assert "same fixed noise (seed 0)" in figure._suptitle.get_text()


def write_run(root: Path, framework: str, seed: int, batch: int, n_critic: int = 1, fid: float = 200.0) -> Run:
    mode = "eager" if framework == "torch" else "function"
    run_dir = root / f"{framework}-b{batch}-s{seed}"
    run_dir.mkdir()
    losses = history(seed, steps=10)
    rows = ["step,epoch,d_loss,g_loss,step_s,wall_s,warmup"]
    rows += [f"{i},0,{d!r},{g!r},0.1,{0.1 * (i + 1)},0"
             for i, d, g in zip(losses.step.tolist(), losses.d_loss.tolist(), losses.g_loss.tolist())]
    (run_dir / "history.csv").write_text("\n".join(rows) + "\n")
    np.save(run_dir / "samples.npy", samples(seed, 16))
    result = {"framework": framework, "model": "wgan", "mode": mode, "status": "ok",
              "config": {"batch_size": batch, "seed": seed, "repeat": 1},
              "timing": {"images_per_step": batch * n_critic},
              "quality_history": [{"train_s": 10.0, "fid": fid, "recall": 0.4}]}
    (run_dir / "result.json").write_text(json.dumps(result))
    return Run(result, run_dir)


def test_runs_pool_by_configuration_with_the_recorded_images_per_step(tmp_path):
    runs = [write_run(tmp_path, framework, seed, 32, n_critic=5) for seed in (2, 0, 1) for framework in ("torch", "tf")]
    losses = loss_groups(runs)
    assert [(g.label, g.seeds, g.batch_size, g.images_per_step) for g in losses] == [
        ("torch (eager)", (0, 1, 2), None, 160), ("tf (function)", (0, 1, 2), None, 160)]
    assert [g.replicates for g in quality_groups(runs)] == ["3 seeds", "3 seeds"]
    assert [len(g.items) for g in sample_groups(runs)] == [3, 3]


def test_several_batch_sizes_are_separate_configurations_named_by_size(tmp_path):
    runs = [write_run(tmp_path, "torch", 0, batch) for batch in (128, 32)]
    found = group_runs(runs, lambda run: run.history())
    assert [(g.name, g.images_per_step) for g in found] == [("torch (eager), batch 32", 32),
                                                            ("torch (eager), batch 128", 128)]


def test_the_saved_sample_figure_stays_under_the_cap(tmp_path):
    runs = [write_run(tmp_path, framework, seed, 32) for seed in SEEDS for framework in ("torch", "tf")]
    save_png(samples_figure("WGAN", sample_groups(runs)), tmp_path / "samples.png")
    with Image.open(tmp_path / "samples.png") as png:
        assert png.size[0] <= MAX_WIDTH_PX
