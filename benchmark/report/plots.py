"""The report's figures: loss curves and sample grids.

Drawn on `matplotlib.figure.Figure` directly rather than through pyplot, so no
GUI backend is ever chosen and no global figure state outlives a call.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Mapping, Sequence

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from benchmark.grid import tile
from benchmark.io import write_bytes
from benchmark.report.results import History

STYLE = {"font.size": 11, "axes.titlesize": 12, "axes.labelsize": 11, "legend.fontsize": 10,
         "xtick.labelsize": 10, "ytick.labelsize": 10, "figure.titlesize": 13}
DPI = 110


def palette(labels: Sequence[str]) -> dict[str, str]:
    """One colour per label, so a run keeps its colour in every figure."""
    return {label: f"C{i % 10}" for i, label in enumerate(dict.fromkeys(labels))}


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


def loss_figure(title: str, curves: Sequence[tuple[str, History]], colors: Mapping[str, str]) -> Figure:
    """D and G loss against step, every curve smoothed over the faint raw one."""
    span = smoothing_span(max(len(history.step) for _, history in curves))
    with matplotlib.rc_context(STYLE):
        figure = Figure(figsize=(11, 4.2), layout="constrained")
        axes = figure.subplots(1, 2, sharex=True)
        for label, history in curves:
            for ax, values in zip(axes, (history.d_loss, history.g_loss)):
                ax.plot(history.step, values, color=colors[label], alpha=0.2, linewidth=0.8)
                ax.plot(history.step, ema(values, span), color=colors[label], linewidth=2, label=label)
        for ax, name, attr in zip(axes, ("Discriminator", "Generator"), ("d_loss", "g_loss")):
            ax.set_title(f"{name} loss")
            ax.set_xlabel("step")
            ax.set_ylabel("loss")
            ax.grid(alpha=0.3)
            limits = _robust_limits([getattr(history, attr) for _, history in curves])
            if limits:
                ax.set_ylim(*limits)
        axes[0].legend()
        figure.suptitle(f"{title}: loss per step (EMA over {span} steps; raw behind)")
    return figure


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


def samples_figure(title: str, panels: Sequence[tuple[str, np.ndarray]],
                   columns: int | None = None) -> Figure:
    """One sample grid per run, side by side; `columns` as in `tile`."""
    with matplotlib.rc_context(STYLE):
        # Wide enough for the title above a single panel.
        figure = Figure(figsize=(max(3.4 * len(panels), 5.5), 3.9), layout="constrained")
        axes = figure.subplots(1, len(panels), squeeze=False)[0]
        for ax, (label, samples) in zip(axes, panels):
            ax.imshow(tile(samples, columns=columns), cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
            ax.set_title(label)
            ax.set_axis_off()
        by_label = "\ncolumn j asks for digit j" if columns else ""
        figure.suptitle(f"{title}: samples from the same fixed noise{by_label}")
    return figure


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


def quality_figure(title: str, curves: Mapping[str, Sequence[tuple[float, float, float]]],
                   colors: Mapping[str, str]) -> Figure:
    """FID and recall against training wall-clock time, one line per run;
    `curves` maps a label to (train seconds, FID, recall) at each quality probe."""
    with matplotlib.rc_context(STYLE):
        with_recall = any(np.isfinite(recall) for points in curves.values() for _, _, recall in points)
        figure = Figure(figsize=(11 if with_recall else 5.5, 3.8), layout="constrained")
        axes = figure.subplots(1, 2 if with_recall else 1, squeeze=False)[0]
        for label, points in curves.items():
            seconds, fid, recall = (np.asarray(v, dtype=np.float64) for v in zip(*points))
            axes[0].plot(seconds, fid, marker="o", color=colors.get(label), label=label)
            if with_recall:  # the MNIST evaluator's; FID on Inception comes alone
                axes[1].plot(seconds, recall, marker="o", color=colors.get(label), label=label)
        for ax, name in zip(axes, ("FID (lower is better)", "recall (higher is better)")):
            ax.set_xlabel("training wall-clock time (s)")
            ax.set_ylabel(name)
            ax.grid(alpha=0.3)
        axes[0].legend()
        figure.suptitle(f"{title}: sample quality against training time")
    return figure


def divergence_figure(title: str, pairs: Sequence[tuple[str, int, np.ndarray, np.ndarray, np.ndarray | None]]) -> Figure:
    """Two twins parting: the generators' relative weight distance and the
    share of samples read as the same digit, against the step (log axes: the
    trace is log-spaced). `pairs` holds (pair label, seed, steps, G distance,
    same-digit share or None); one colour per label, one line per seed."""
    colors = palette([label for label, *_ in pairs])
    with matplotlib.rc_context(STYLE):
        figure = Figure(figsize=(11, 3.8), layout="constrained")
        axes = figure.subplots(1, 2)
        labelled: set[str] = set()
        for label, _, steps, distance, same in pairs:
            after = steps > 0  # step 0: distance 0, off a log axis
            legend = None if label in labelled else label
            labelled.add(label)
            positive = after & (distance > 0)
            axes[0].plot(steps[positive], distance[positive], color=colors[label], alpha=0.7, label=legend)
            if same is not None:
                axes[1].plot(steps[after], 100 * same[after], color=colors[label], alpha=0.7, label=legend)
        axes[0].set_yscale("log")
        axes[0].set_ylabel("G weights apart, relative")
        axes[1].set_ylabel("samples read as the same digit (%)")
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
