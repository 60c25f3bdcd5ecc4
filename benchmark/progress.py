"""What a run shows while it trains: a one-line progress bar on a terminal,
plain log lines otherwise, and optionally a TensorBoard event file (scalars,
quality scores and the sample grid)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Callable, TextIO

import numpy as np

from benchmark.metrics.table import IN_PROGRESS

BAR_WIDTH = 24
REDRAW_S = 0.25  # a terminal line redrawn more often only costs time


# The scores a quality probe prints: FID and KID always, precision and recall
# where the evaluator has them (MNIST's classifier; not FID on Inception).


class Progress:
    """Receives every step from the driver.

    On a terminal: one line per run, redrawn in place (epoch, step bar,
    images/s, losses). Elsewhere (CI logs, files): `lines_per_epoch` plain
    lines per epoch. `on_line` also gets each plain line (the worker keeps the
    last one in progress.json); `tensorboard_dir` adds an event file
    (benchmark.tensorboard).
    """

    def __init__(self, name: str, stream: TextIO | None = None, lines_per_epoch: int = 10,
                 on_line: Callable[[str], None] | None = None, tensorboard_dir: Path | None = None):
        self.name = name
        self.stream = stream or sys.stdout
        self.interactive = self.stream.isatty()
        self.lines_per_epoch = lines_per_epoch
        self.on_line = on_line
        self.tensorboard = None
        if tensorboard_dir:  # tensorboardX only with --tensorboard
            from benchmark.tensorboard import RunWriter

            self.tensorboard = RunWriter(tensorboard_dir)
        self._last_draw = 0.0

    def message(self, text: str) -> None:
        self._end_bar()
        self._emit(f"[{self.name}] {text}")

    def step(self, step: int, epoch: int, epochs: int, index: int, steps: int,
             losses: dict[str, float], images_per_s: float) -> None:
        """`step` counts from the start of training; `index` within the epoch."""
        if self.tensorboard:
            self.tensorboard.step(step, losses, images_per_s)
        text = (f"epoch {epoch + 1}/{epochs} step {index + 1}/{steps} d_loss {losses['d_loss']:.4f} "
                f"g_loss {losses['g_loss']:.4f} {images_per_s:.0f} img/s")
        every = max(1, steps // self.lines_per_epoch)
        plain = index % every == 0 or index == steps - 1
        if plain and self.on_line:
            self.on_line(text)
        if self.interactive:
            now = time.monotonic()
            if now - self._last_draw >= REDRAW_S or index == steps - 1:
                self._last_draw = now
                filled = round(BAR_WIDTH * (index + 1) / steps)
                bar = "#" * filled + "." * (BAR_WIDTH - filled)
                self.stream.write(f"\r[{self.name}] epoch {epoch + 1}/{epochs} [{bar}] "
                                  f"{index + 1}/{steps} {images_per_s:5.0f} img/s "
                                  f"d {losses['d_loss']:7.4f} g {losses['g_loss']:7.4f}")
                self.stream.flush()
        elif plain:
            self._emit(f"[{self.name}] {text}")

    def quality(self, step: int, epoch: int, index: int, steps: int, scores: dict[str, float]) -> None:
        """A quality probe's scores after `step` (`index` within the epoch)."""
        if self.tensorboard:
            self.tensorboard.quality(step, scores)
        shown = ", ".join(f"{m.progress} {scores[m.key]:{m.fmt}}" for m in IN_PROGRESS if m.key in scores)
        reason = scores.get("inception_reason")  # on Inception, without its weights: NaN, and why
        self.message(f"epoch {epoch + 1} step {index + 1}/{steps}: {shown}"
                     + (f" (no FID/KID: {reason.split('. ')[0]})" if reason else ""))

    def frame(self, step: int, frame: np.ndarray, columns: int | None = None) -> None:
        """The sample grid after `step`: uint8 (N, H, W, C) as in frames.npz."""
        if self.tensorboard:
            self.tensorboard.samples(step, frame, columns)

    def close(self) -> None:
        self._end_bar()
        if self.tensorboard:
            self.tensorboard.close()

    def _end_bar(self) -> None:
        if self.interactive and self._last_draw:
            self.stream.write("\n")
            self._last_draw = 0.0

    def _emit(self, line: str) -> None:
        print(line, file=self.stream, flush=True)
