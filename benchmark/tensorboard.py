"""A run's TensorBoard event file, written through tensorboardX.

Both frameworks' workers log through this one writer, so their runs carry the
same tags: every step's `loss/d`, `loss/g` and `speed/images_per_s`; every
quality probe's scores at the probe's step (`QUALITY_TAGS`); and the sample
grid, the same uint8 picture as frames.npz tiled as in the report, at every
frame step (`SAMPLES_TAG`).

tensorboardX's `SummaryWriter` hands events to a background thread through a
multiprocessing queue, which would write them while the next training step is
being timed. Its synchronous `EventsWriter` writes each event where it is
called instead: between steps, and inside the driver's paused clock for
frames and probes, where the file is also flushed (`flush` fsyncs).
Imported only with --tensorboard (benchmark.progress imports it then).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from types import ModuleType

import numpy as np

from benchmark.grid import tile_uint8
from benchmark.metrics.table import TAGGED

STEP_TAGS = {"d_loss": "loss/d", "g_loss": "loss/g"}
SPEED_TAG = "speed/images_per_s"
# quality record key -> tag, from benchmark.metrics.table; label_accuracy only for a conditional model
QUALITY_TAGS = {metric.key: metric.tag for metric in TAGGED}
SAMPLES_TAG = "samples"


def import_tensorboardx() -> ModuleType:
    """tensorboardX, without importing torch into a process that has not.

    Any tensorboardX import (a submodule's too) runs tensorboardX/writer.py,
    which tries `import torch` only to accept torch tensors; it catches the
    ImportError, and we pass numpy. Measured on the 2-core AVX-512 EPYC
    (tensorboardX 2.6.5, torch 2.14.1, tensorflow 2.21.0), torch in the
    TensorFlow worker would take its resident memory after `import
    tensorflow` from 617 MB to 1,083 MB, all of it in the run's reported
    peak RSS, add 1.5 to 2 s of import, and break the rule that torch comes
    before tensorflow in a process with both. With torch hidden, tensorboardX
    adds 5 MB beside numpy (1 MB beside tensorflow, 2 MB beside torch) and
    under 0.1 s. A None entry in sys.modules makes `import torch` fail as for
    a package never installed; it is removed straight after.
    """
    if "torch" in sys.modules:
        import tensorboardX
        return tensorboardX
    sys.modules["torch"] = None  # type: ignore[assignment]
    try:
        import tensorboardX
    finally:
        if sys.modules.get("torch", 0) is None:
            del sys.modules["torch"]
    return tensorboardX


import_tensorboardx()
from tensorboardX import summary  # noqa: E402
from tensorboardX.event_file_writer import EventsWriter  # noqa: E402
from tensorboardX.proto.event_pb2 import Event  # noqa: E402
from tensorboardX.proto.summary_pb2 import Summary  # noqa: E402


class RunWriter:
    """Appends events to `directory/events.out.tfevents.<time>.<host>`."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self._writer = EventsWriter(str(directory / "events"))  # writes the file-version event

    def scalars(self, step: int, values: dict[str, float]) -> None:
        """One event holding every `tag: value` (stored as float32)."""
        self._write(step, Summary(value=[summary.scalar(tag, float(value)).value[0]
                                         for tag, value in values.items()]))

    def step(self, step: int, losses: dict[str, float], images_per_s: float) -> None:
        self.scalars(step, {**{tag: losses[key] for key, tag in STEP_TAGS.items()}, SPEED_TAG: images_per_s})

    def quality(self, step: int, scores: dict[str, float]) -> None:
        self.scalars(step, {tag: scores[key] for key, tag in QUALITY_TAGS.items() if key in scores})
        self.flush()

    def samples(self, step: int, frame: np.ndarray, columns: int | None = None) -> None:
        """`frame`: uint8 (N, H, W, C) as in frames.npz; `columns` as in `grid.tile`.
        Stored as a PNG (RGB; grey repeated in R, G and B, tensorboardX's convention)."""
        grid = tile_uint8(frame, columns)
        self._write(step, summary.image(SAMPLES_TAG, grid, dataformats="HWC" if grid.ndim == 3 else "HW"))
        self.flush()

    def flush(self) -> None:
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()  # flushes first

    def _write(self, step: int, values: Summary) -> None:
        self._writer.write_event(Event(wall_time=time.time(), step=step, summary=values))
