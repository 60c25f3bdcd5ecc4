"""The report's figures: loss and quality curves, sample grids, throughput.

Runs that differ only by seed or repeat are one configuration (`Group`): a
figure draws their median and inter-quartile band as one legend entry, never
one seed picked for it. Runs of several batch sizes are drawn against the
images seen, not the step.

Drawn on `matplotlib.figure.Figure` directly rather than through pyplot, so no
GUI backend is ever chosen and no global figure state outlives a call.
"""

from __future__ import annotations

import io
import math
import textwrap
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Generic, Mapping, Sequence, TypeVar

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from benchmark.grid import GRID_IMAGES, tile
from benchmark.io import write_bytes
from benchmark.report.results import History, Run, finite

STYLE = {"font.size": 11, "axes.titlesize": 12, "axes.labelsize": 11, "legend.fontsize": 10,
         "xtick.labelsize": 10, "ytick.labelsize": 10, "figure.titlesize": 13}
DPI = 110
MAX_WIDTH_PX = 2000  # the widest figure, as saved at DPI: a page shows it without shrinking it unreadably
MIN_SAMPLE_PX = 36  # a sample grid shows fewer samples rather than draw each narrower than this
BAND = "band: 25–75%"  # what the shaded band around a median is, as the figures say it
LINE_STYLES = ("-", "--", ":", "-.")  # one per batch size, in increasing order
LEGEND_INSIDE = 6  # more entries than this go beside the axes, not over the curves

T = TypeVar("T")


@dataclass(frozen=True)
class Group(Generic[T]):
    """The runs of one configuration (framework, mode, batch size, ...) that
    differ only by seed or repeat, each run's data in `items`: a figure draws
    them as one legend entry in one colour."""

    label: str  # the runs' label, "torch (eager)": the key of their colour
    batch_size: int | None  # set when the figure compares batch sizes: named, and x in images seen
    images_per_step: int  # batch size x n_critic, as the runs recorded it
    seeds: tuple[int, ...]  # one per item; repeats of a seed repeat it
    items: tuple[T, ...]  # in (seed, repeat) order

    @property
    def name(self) -> str:
        """The legend's name: the label, with the batch size in a batch sweep."""
        return self.label if self.batch_size is None else f"{self.label}, batch {self.batch_size}"

    @property
    def replicates(self) -> str:
        """"6 seeds", "3 repeats", "6 runs (3 seeds)"; "" for a single run."""
        runs, seeds = len(self.items), len(set(self.seeds))
        if runs == 1:
            return ""
        if seeds == runs:
            return f"{runs} seeds"
        return f"{runs} repeats" if seeds == 1 else f"{runs} runs ({seeds} seeds)"


def group_runs(runs: Sequence[Run], item: Callable[[Run], T | None]) -> list[Group[T]]:
    """`runs` (one model's) as configurations, in report order and then by batch
    size; a run whose `item` is None is left out. The batch size is named only
    when `runs` span several."""
    several_sizes = len({run.group[3] for run in runs}) > 1
    found: dict[tuple[str, int], list[tuple[Run, T]]] = {}
    for run in runs:
        value = item(run)
        if value is not None:
            found.setdefault((run.label, run.group[3]), []).append((run, value))
    labels = list(dict.fromkeys(label for label, _ in found))
    result = []
    for (label, batch), members in sorted(found.items(), key=lambda entry: (labels.index(entry[0][0]), entry[0][1])):
        members.sort(key=lambda member: (_seed(member[0]), int(member[0].config.get("repeat") or 1)))
        recorded = [n for run, _ in members if (n := run.number("timing", "images_per_step"))]
        result.append(Group(label, batch if several_sizes else None, int(recorded[0]) if recorded else max(batch, 1),
                            tuple(_seed(run) for run, _ in members), tuple(value for _, value in members)))
    return result


def _seed(run: Run) -> int:
    return int(run.config.get("seed") or 0)


def loss_groups(runs: Sequence[Run]) -> list[Group[History]]:
    """Every run with a loss history, configuration by configuration."""
    def losses(run: Run) -> History | None:
        history = run.history()
        return history if history is not None and len(history.step) else None
    return group_runs(runs, losses)


# (train seconds, FID, recall) at each quality probe of one run
QualityPoints = Sequence[tuple[float, float, float]]


def quality_groups(runs: Sequence[Run]) -> list[Group[QualityPoints]]:
    """Every finished run with a scored quality probe, configuration by configuration."""
    def points(run: Run) -> QualityPoints | None:
        probes = run.result.get("quality_history") if run.ok else None
        if not probes or all(finite(q.get("fid")) is None for q in probes):
            return None
        return [(q["train_s"], q["fid"], q.get("recall", math.nan)) for q in probes]
    return group_runs(runs, points)


def sample_groups(runs: Sequence[Run]) -> list[Group[np.ndarray]]:
    """Every run's final samples, configuration by configuration."""
    return group_runs(runs, lambda run: samples if (samples := run.samples()) is not None and len(samples) else None)


def palette(labels: Sequence[str]) -> dict[str, str]:
    """One colour per label, so a run keeps its colour in every figure."""
    return {label: f"C{i % 10}" for i, label in enumerate(dict.fromkeys(labels))}


def line_styles(groups: Sequence[Group]) -> dict[int | None, str]:
    """A line style per batch size, solid for the smallest (and for no sweep)."""
    sizes = sorted({group.batch_size for group in groups if group.batch_size is not None})
    return {None: "-", **{size: LINE_STYLES[i % len(LINE_STYLES)] for i, size in enumerate(sizes)}}


def quartiles(xs: Sequence[np.ndarray], ys: Sequence[np.ndarray]) -> tuple[np.ndarray, ...]:
    """(x, 25th, 50th, 75th percentile of the ys at x): every x any curve has,
    each percentile over the curves that have a finite value there."""
    grid = np.unique(np.concatenate([np.asarray(x, dtype=np.float64) for x in xs]))
    table = np.full((len(ys), len(grid)), np.nan)
    for row, x, y in zip(table, xs, ys):
        row[np.searchsorted(grid, x)] = y
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an x where no curve is finite stays NaN
        low, median, high = np.nanpercentile(table, [25, 50, 75], axis=0)
    return grid, low, median, high


def smoothing_span(n_steps: int) -> int:
    """EMA span: about 1/30 of the run, so short runs keep their shape and
    long ones lose their step-to-step noise."""
    return int(np.clip(n_steps // 30, 1, 200))


def ema(values: np.ndarray, span: int) -> np.ndarray:
    """Exponential moving average; a NaN input stays NaN in the output and
    leaves the average untouched."""
    alpha = 2.0 / (span + 1.0)
    smoothed = np.full(len(values), np.nan)
    level = math.nan
    for i, value in enumerate(np.asarray(values, dtype=np.float64)):
        if math.isnan(value):
            continue
        level = value if math.isnan(level) else level + alpha * (value - level)
        smoothed[i] = level
    return smoothed


def loss_figure(title: str, curves: Sequence[Group[History]], colors: Mapping[str, str]) -> Figure:
    """D and G loss, smoothed: a single run over its faint raw losses; several
    seeds as their median over the inter-quartile band, each seed faint. Against
    the step, or against the images seen (step x images per step) when the
    groups differ in batch size."""
    by_images = any(group.batch_size is not None for group in curves)
    styles = line_styles(curves)
    spans = {smoothing_span(max(len(history.step) for history in group.items)) for group in curves}
    with matplotlib.rc_context(STYLE):
        figure = Figure(figsize=(11, 4.2), layout="constrained")
        axes = figure.subplots(1, 2, sharex=True)
        drawn: list[list[np.ndarray]] = [[], []]  # per axis: what the y limits must show
        for group in curves:
            span = smoothing_span(max(len(history.step) for history in group.items))
            # images seen by the end of each step
            xs = [(history.step + 1) * group.images_per_step if by_images else history.step for history in group.items]
            line = {"color": colors[group.label], "linestyle": styles[group.batch_size]}
            for ax, seen, attr in zip(axes, drawn, ("d_loss", "g_loss")):
                smoothed = [ema(getattr(history, attr), span) for history in group.items]
                if len(group.items) == 1:
                    raw = getattr(group.items[0], attr)
                    ax.plot(xs[0], raw, color=line["color"], alpha=0.2, linewidth=0.8)
                    ax.plot(xs[0], smoothed[0], linewidth=2, label=group.name, **line)
                    seen += [raw]
                else:
                    _median_and_band(ax, xs, smoothed, f"{group.name}: median of {group.replicates}", line)
                    seen += smoothed
        for ax, seen, name in zip(axes, drawn, ("Discriminator", "Generator")):
            ax.set_title(f"{name} loss")
            ax.set_xlabel("images seen (step × batch × n_critic)" if by_images else "step")
            ax.set_ylabel("loss")
            ax.grid(alpha=0.3)
            limits = _robust_limits(seen)
            if limits:
                ax.set_ylim(*limits)
        _legend(figure, axes[0], curves)
        span = spans.pop() if len(spans) == 1 else None
        smoothing = (f"EMA over {span} step{'' if span == 1 else 's'}" if span
                     else "EMA over 1/30 of each run")
        notes = [smoothing]
        if any(len(group.items) == 1 for group in curves):
            notes.append("raw behind")
        if any(len(group.items) > 1 for group in curves):
            notes.append(f"median of seeds/repeats, {BAND}, each faint")
        against = "against images seen" if by_images else "per step"
        figure.suptitle(f"{title}: loss {against} ({'; '.join(notes)})")
    return figure


def _median_and_band(ax: Axes, xs: Sequence[np.ndarray], ys: Sequence[np.ndarray], label: str,
                     line: Mapping[str, str]) -> None:
    """Each curve thin and faint (no legend entry); their median bold over the
    25–75% band, the one legend entry."""
    for x, y in zip(xs, ys):
        ax.plot(x, y, alpha=0.3, linewidth=0.7, **line)
    grid, low, median, high = quartiles(xs, ys)
    ax.fill_between(grid, low, high, color=line["color"], alpha=0.25, linewidth=0)
    ax.plot(grid, median, linewidth=2, label=label, **line)


def _legend(figure: Figure, ax: Axes, curves: Sequence[Group]) -> None:
    """Inside the axes when short; else below them, a column per label (its
    batch sizes one under another)."""
    handles, names = ax.get_legend_handles_labels()
    if len(names) > LEGEND_INSIDE:
        # As many columns as the figure's width holds at the longest name
        # (about 0.075 inch a character at 9 points, plus the line's sample).
        fits = int(figure.get_figwidth() // (0.075 * max(map(len, names)) + 0.6))
        columns = max(1, min(len({group.label for group in curves}), 5, fits))
        figure.set_figheight(figure.get_figheight() + 0.2 * math.ceil(len(names) / columns))
        figure.legend(handles, names, loc="outside lower center", ncols=columns, fontsize=9)
    else:
        ax.legend()


def _robust_limits(series: Sequence[np.ndarray]) -> tuple[float, float] | None:
    """Y limits from the 1st to 99th percentile, so the first steps' large
    losses do not flatten the rest of the curve."""
    values = np.concatenate([np.asarray(s, dtype=np.float64) for s in series])
    values = values[np.isfinite(values)]
    if values.size == 0:
        return None
    low, high = np.percentile(values, [1, 99])
    margin = 0.1 * (high - low) or 0.1 * max(abs(high), 1.0)
    return float(low - margin), float(high + margin)


def samples_figure(title: str, panels: Sequence[Group[np.ndarray]], columns: int | None = None) -> Figure:
    """One sample grid per configuration and seed (the first repeat of each):
    frameworks and modes along one side, seeds (and batch sizes) along the
    other, the longer side across; at most MAX_WIDTH_PX wide, each grid showing
    fewer samples rather than shrinking them. `columns` as in `tile`."""
    cells: dict[tuple[str, tuple[int, int]], np.ndarray] = {}
    for group in panels:
        for seed, samples in zip(group.seeds, group.items):
            cells.setdefault((group.label, (group.batch_size or 0, seed)), samples)
    labels = list(dict.fromkeys(label for label, _ in cells))
    replicas = sorted({replica for _, replica in cells})
    seeds = sorted({seed for _, seed in replicas})
    swept = any(group.batch_size is not None for group in panels)

    def replica_name(replica: tuple[int, int]) -> str:
        parts = ([f"batch {replica[0]}"] if swept else []) + ([f"seed {replica[1]}"] if len(seeds) > 1 else [])
        return ", ".join(parts)

    # The longer side across: six seeds of two frameworks are two rows of six.
    across_seeds = len(replicas) > len(labels)
    rows = [(label, None) for label in labels] if across_seeds else [(None, r) for r in replicas]
    cols = [(None, r) for r in replicas] if across_seeds else [(label, None) for label in labels]
    row_names = [label or replica_name(replica) for label, replica in rows]
    margin = 0.4 if any(row_names) else 0.0  # inches for the row names
    cell = min(3.4, (MAX_WIDTH_PX / DPI - margin - 0.2) / len(cols))
    shown = _samples_shown(min(len(s) for s in cells.values()), next(iter(cells.values())).shape[2],
                           0.9 * cell * DPI, columns)
    grids = {key: tile(samples[:shown], columns=columns) for key, samples in cells.items()}
    aspect = max(grid.shape[0] / grid.shape[1] for grid in grids.values())
    with matplotlib.rc_context(STYLE):
        width = max(cell * len(cols) + margin, 5.5)  # wide enough for the title above a single grid
        lines = textwrap.wrap(_samples_title(title, seeds, across_seeds, shown, cells, columns),
                              int(width / 0.11))  # about the width of a title character, in inches
        if columns:
            lines.append("column j asks for digit j")
        figure = Figure(figsize=(width, len(rows) * (cell * aspect + 0.3) + 0.25 * len(lines) + 0.2),
                        layout="constrained")
        axes = figure.subplots(len(rows), len(cols), squeeze=False)
        for i, (row_label, row_replica) in enumerate(rows):
            for j, (col_label, col_replica) in enumerate(cols):
                ax = axes[i, j]
                ax.set_xticks([])
                ax.set_yticks([])
                for spine in ax.spines.values():
                    spine.set_visible(False)
                grid = grids.get((row_label or col_label, row_replica or col_replica))
                if grid is not None:
                    ax.imshow(grid, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
                if i == 0:
                    ax.set_title(col_label or replica_name(col_replica))
                if j == 0 and row_names[i]:
                    ax.set_ylabel(row_names[i])
        figure.suptitle("\n".join(lines))
    return figure


def _samples_title(title: str, seeds: Sequence[int], across_seeds: bool, shown: int,
                   cells: Mapping[object, np.ndarray], columns: int | None) -> str:
    """Says whose noise the grids share: one seed's fixed noise is the same for
    every framework, mode and batch size; another seed's is another."""
    if len(cells) == 1:
        noise = f"samples (seed {seeds[0]})"
    elif len(seeds) == 1:
        noise = f"samples from the same fixed noise (seed {seeds[0]})"
    else:
        side = "column" if across_seeds else "row"
        noise = f"samples; each seed its own fixed noise, the same for every framework in its {side}"
    available = min(len(samples) for samples in cells.values())
    count = f"; {shown} of {available} samples each" if shown < available and not columns else ""
    return f"{title}: {noise}{count}"


def _samples_shown(available: int, width: int, cell_px: float, columns: int | None) -> int:
    """How many samples a grid `cell_px` wide shows: a square of at most
    GRID_IMAGES, each sample at least MIN_SAMPLE_PX wide; a conditional model's
    (`columns`) keeps its full rows of classes."""
    if columns:
        return available
    side = int((cell_px * width / MIN_SAMPLE_PX - 2) // (width + 2))  # tile's 2-pixel gutters
    return int(np.clip(side, 2, math.isqrt(min(available, GRID_IMAGES)))) ** 2


# label -> (median, p10, p90) images/s and the median of each repeat
Throughput = tuple[float, float, float, Sequence[float]]


def throughput_figure(title: str, bars: Mapping[str, Throughput], colors: Mapping[str, str]) -> Figure:
    """Median images/s per run group, p10–p90 as error bars, each repeat a dot."""
    with matplotlib.rc_context(STYLE):
        figure = Figure(figsize=(max(1.6 * len(bars) + 2.5, 5.0), 3.6), layout="constrained")
        ax = figure.subplots()
        for i, (label, (median, low, high, repeats)) in enumerate(bars.items()):
            ax.bar(i, median, color=colors.get(label, f"C{i}"), width=0.6)
            ax.errorbar(i, median, yerr=[[median - low], [high - median]], color="black", capsize=6)
            ax.plot([i] * len(repeats), repeats, "o", color="black", markersize=4, alpha=0.6)
        ax.set_xticks(range(len(bars)), list(bars))
        ax.set_ylabel("images/s (median, p10–p90)")
        ax.grid(axis="y", alpha=0.3)
        figure.suptitle(f"{title}: training throughput")
    return figure


def batch_sweep_figure(title: str, lines: Mapping[str, Sequence[tuple[int, float, float, float]]],
                       colors: Mapping[str, str], against: str = "batch size") -> Figure:
    """Images/s against batch size (or `against`: "devices"), one line per (framework, mode)."""
    with matplotlib.rc_context(STYLE):
        figure = Figure(figsize=(6.5, 4.0), layout="constrained")
        ax = figure.subplots()
        for label, points in lines.items():
            batch, median, low, high = (np.asarray(v, dtype=np.float64) for v in zip(*sorted(points)))
            ax.errorbar(batch, median, yerr=[median - low, high - median], marker="o", capsize=4,
                        color=colors.get(label), label=label)
        ax.set_xscale("log", base=2)
        ax.set_xlabel(against)
        ax.set_ylabel("images/s (median, p10–p90)")
        ax.grid(alpha=0.3)
        ax.legend()
        figure.suptitle(f"{title}: throughput against {against}")
    return figure


def quality_figure(title: str, curves: Sequence[Group[QualityPoints]], colors: Mapping[str, str]) -> Figure:
    """FID and recall against training wall-clock time, one legend entry per
    configuration: a single run's probes, or several seeds' median at each
    probe (at their median time) over the 25–75% band, each seed faint."""
    styles = line_styles(curves)
    with matplotlib.rc_context(STYLE):
        with_recall = any(np.isfinite(recall) for group in curves for points in group.items
                          for _, _, recall in points)
        figure = Figure(figsize=(11 if with_recall else 5.5, 3.8), layout="constrained")
        axes = figure.subplots(1, 2 if with_recall else 1, squeeze=False)[0]
        for group in curves:
            line = {"color": colors.get(group.label), "linestyle": styles[group.batch_size]}
            runs = [np.asarray(points, dtype=np.float64).reshape(-1, 3) for points in group.items]
            # with_recall: the MNIST evaluator's; FID on Inception comes alone
            for ax, column in zip(axes, (1, 2)):
                if len(runs) == 1:
                    ax.plot(runs[0][:, 0], runs[0][:, column], marker="o", label=group.name, **line)
                    continue
                # Seeds' probes pair by their order; each seed's own times stay on its faint line.
                probes = [np.arange(len(points)) for points in runs]
                _, _, seconds, _ = quartiles(probes, [points[:, 0] for points in runs])
                _, low, median, high = quartiles(probes, [points[:, column] for points in runs])
                for points in runs:
                    ax.plot(points[:, 0], points[:, column], alpha=0.3, linewidth=0.7, **line)
                ax.fill_between(seconds, low, high, color=line["color"], alpha=0.25, linewidth=0)
                ax.plot(seconds, median, marker="o", linewidth=2, label=f"{group.name}: median of {group.replicates}",
                        **line)
        for ax, name in zip(axes, ("FID (lower is better)", "recall (higher is better)")):
            ax.set_xlabel("training wall-clock time (s)")
            ax.set_ylabel(name)
            ax.grid(alpha=0.3)
        _legend(figure, axes[0], curves)
        band = f"; median of seeds/repeats at their median time, {BAND}" if any(len(g.items) > 1 for g in curves) else ""
        figure.suptitle(f"{title}: sample quality against training time{band}")
    return figure


def divergence_figure(title: str, pairs: Sequence[tuple[str, int, np.ndarray, np.ndarray, np.ndarray | None,
                                                      np.ndarray | None]]) -> Figure:
    """Two twins parting: the generators' relative weight distance and the
    share of samples read as the same digit, against the step (log axes: the
    trace is log-spaced), that share's chance level dashed beside it. `pairs`
    holds (pair label, seed, steps, G distance, same-digit share or None,
    its chance level or None); one colour per label, one line per seed."""
    colors = palette([label for label, *_ in pairs])
    with matplotlib.rc_context(STYLE):
        figure = Figure(figsize=(11, 3.8), layout="constrained")
        axes = figure.subplots(1, 2)
        labelled: set[str] = set()
        for label, _, steps, distance, same, chance in pairs:
            after = steps > 0  # step 0: distance 0, off a log axis
            legend = None if label in labelled else label
            labelled.add(label)
            positive = after & (distance > 0)
            axes[0].plot(steps[positive], distance[positive], color=colors[label], alpha=0.7, label=legend)
            if same is not None:
                axes[1].plot(steps[after], 100 * same[after], color=colors[label], alpha=0.7, label=legend)
            if chance is not None:  # what two unrelated generators with these digit frequencies would share
                axes[1].plot(steps[after], 100 * chance[after], color=colors[label], alpha=0.7, linestyle="--",
                             linewidth=1)
        axes[0].set_yscale("log")
        axes[0].set_ylabel("G weights apart, relative")
        axes[1].set_ylabel("same digit (%); dashed: chance")
        axes[1].set_ylim(0, 101)
        for ax in axes:
            ax.set_xscale("log")
            ax.set_xlabel("training step")
            ax.grid(alpha=0.3)
        axes[0].legend()
        figure.suptitle(f"{title}: when the twins part")
    return figure


GIF_GRAY_LEVELS = 16  # 0, 17, ..., 255
# RGB grids: an adaptive palette per frame. 256 colours made a 64x64x3 DCGAN's
# 13-frame GIF 4.8 MB, 32 colours 2.7 MB; the samples figure keeps every colour.
GIF_COLORS = 32
GIF_MAX_SIDE = 400  # a grid this wide is not enlarged (8x8 of 64x64 images: 530 px; MNIST cgan: 302)


def evolution_gif(steps: Sequence[int], frames: np.ndarray, scale: int = 2,
                  frame_ms: int = 600, columns: int | None = None) -> bytes:
    """An animated GIF of the sample grid through training, each frame
    captioned with its step; `frames` is uint8 (K, N, H, W, C), grey or RGB;
    `columns` as in `tile`."""
    from PIL import Image, ImageDraw

    pictures = []
    for step, images in zip(steps, frames):
        grid = tile(images.astype(np.float32) / 127.5 - 1.0, columns=columns)  # [0, 1], white gutters
        if grid.ndim == 2:
            # GIF_GRAY_LEVELS grays: LZW then packs a 64-digit grid 2.7x smaller
            # than with 256, and the nearly binary digits look the same.
            levels = np.round(grid * (GIF_GRAY_LEVELS - 1)) * (255 // (GIF_GRAY_LEVELS - 1))
            picture = Image.fromarray(levels.astype(np.uint8), mode="L")
        else:
            picture = Image.fromarray(np.round(grid * 255).astype(np.uint8), mode="RGB")
        factor = scale if max(picture.size) < GIF_MAX_SIDE else 1
        picture = picture.resize((picture.width * factor, picture.height * factor), Image.NEAREST)
        captioned = Image.new(picture.mode, (picture.width, picture.height + 16), "white")
        captioned.paste(picture, (0, 16))
        ImageDraw.Draw(captioned).text((4, 2), f"step {step + 1}", fill="black")
        if captioned.mode == "RGB":
            captioned = captioned.quantize(GIF_COLORS)
        pictures.append(captioned)
    buffer = io.BytesIO()
    # The last frame lingers so the final samples can be read.
    durations = [frame_ms] * (len(pictures) - 1) + [frame_ms * 4]
    pictures[0].save(buffer, format="GIF", save_all=True, append_images=pictures[1:],
                     duration=durations, loop=0)
    return buffer.getvalue()


def save_png(figure: Figure, path: Path) -> None:
    """Atomically (benchmark.io): a temporary file beside `path`, then a rename."""
    buffer = io.BytesIO()
    with matplotlib.rc_context(STYLE):  # ticks and layout are made at draw time
        figure.savefig(buffer, format="png", dpi=DPI)
    write_bytes(path, buffer.getvalue())
