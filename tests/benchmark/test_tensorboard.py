"""--tensorboard as users meet it: the event files a run writes, read back by
the real `tensorboard` package (its EventAccumulator, which TensorBoard's
event loader is built on): every step's losses and speed, every quality
probe's scores at the probe's step, and the sample grid of frames.npz as an
image, for both frameworks; and a writer that brings neither framework into
a worker."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from benchmark.grid import tile_uint8
from benchmark.tensorboard import QUALITY_TAGS, SAMPLES_TAG, SPEED_TAG, STEP_TAGS
from tests.benchmark.harness.test_cli import REPO_ROOT

SCORES = {"num_samples": 50.0, "fid": 123.456789, "kid_mean": 0.0123456, "kid_std": 0.001, "precision": 0.5,
          "recall": 0.25, "density": 0.75, "coverage": 0.125, "classifier_score": 3.3, "classes_covered": 7.0,
          "class_tv_distance": 0.4, "label_accuracy": 0.9}
# Writes a run's worth of events in a fresh interpreter, then says which frameworks it loaded.
WRITE = """
import json
import sys
from pathlib import Path
import numpy as np
from benchmark.tensorboard import RunWriter
writer = RunWriter(Path(sys.argv[1]))
frame = np.load(sys.argv[2])
for step in range(3):
    writer.step(step, {"d_loss": 0.5 + step, "g_loss": 2.25 * step}, 100.0 * (step + 1))
writer.quality(2, json.loads(sys.argv[3]))
writer.samples(2, frame, columns=10)
writer.close()
print(sorted({"torch", "tensorflow", "keras"} & set(sys.modules)))
"""


def read_events(directory: Path) -> EventAccumulator:
    events = EventAccumulator(str(directory), size_guidance={"scalars": 0, "images": 0})  # 0: keep all
    events.Reload()
    return events


def scalars(events: EventAccumulator, tag: str) -> list[tuple[int, float]]:
    return [(event.step, event.value) for event in events.Scalars(tag)]


def f32(value: float) -> float:
    """What an event stores: a scalar's value as float32."""
    return float(np.float32(value))


def decoded(image_event) -> np.ndarray:
    """The PNG as (H, W) uint8: tensorboardX repeats grey in R, G and B."""
    pixels = np.asarray(Image.open(io.BytesIO(image_event.encoded_image_string)))
    assert pixels.shape == (image_event.height, image_event.width, 3)
    assert (pixels == pixels[..., :1]).all()
    return pixels[..., 0]


def test_the_writer_reads_back_and_loads_neither_framework(tmp_path):
    # A conditional model's 16 samples: one column per digit, one full row kept (as in the report).
    frame = np.random.default_rng(0).integers(0, 256, (16, 28, 28, 1), dtype=np.uint8)
    np.save(tmp_path / "frame.npy", frame)
    result = subprocess.run([sys.executable, "-c", WRITE, str(tmp_path / "tb"), str(tmp_path / "frame.npy"),
                             json.dumps(SCORES)], cwd=REPO_ROOT, capture_output=True, text=True,
                            timeout=120, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"  # torch hidden from tensorboardX's optional import

    (path,) = (tmp_path / "tb").glob("events.out.tfevents.*")
    events = read_events(path.parent)
    assert scalars(events, "loss/d") == [(0, 0.5), (1, 1.5), (2, 2.5)]
    assert scalars(events, "loss/g") == [(0, 0.0), (1, 2.25), (2, 4.5)]
    assert scalars(events, SPEED_TAG) == [(0, 100.0), (1, 200.0), (2, 300.0)]
    assert set(events.Tags()["scalars"]) == {*STEP_TAGS.values(), SPEED_TAG, *QUALITY_TAGS.values()}
    for key, tag in QUALITY_TAGS.items():
        assert scalars(events, tag) == [(2, f32(SCORES[key]))], tag
    (image,) = events.Images(SAMPLES_TAG)
    assert image.step == 2
    grid = decoded(image)
    assert grid.shape == (1 * 30 + 2, 10 * 30 + 2)  # 10 columns, 1 full row, 2-pixel gutters
    assert (grid == tile_uint8(frame, columns=10)).all()
    assert (grid[2:30, 2:30] == frame[0, ..., 0]).all()  # the pixels themselves, not resampled


def test_rgb_samples_are_stored_in_colour(tmp_path):
    from benchmark.tensorboard import RunWriter

    frame = np.random.default_rng(1).integers(0, 256, (4, 16, 16, 3), dtype=np.uint8)
    writer = RunWriter(tmp_path)
    writer.samples(5, frame)
    writer.close()
    (image,) = read_events(tmp_path).Images(SAMPLES_TAG)
    pixels = np.asarray(Image.open(io.BytesIO(image.encoded_image_string)))
    assert image.step == 5 and (pixels == tile_uint8(frame)).all()
    assert (pixels[2:18, 2:18] == frame[0]).all()


def test_both_frameworks_write_losses_scores_and_sample_grids_tensorboard_reads(tiny_suite):
    assert tiny_suite.returncode == 0, tiny_suite.stdout[-2000:] + tiny_suite.stderr[-2000:]
    runs = [r for r in tiny_suite.results["runs"] if r["model"] == "dcgan"]
    assert [r["framework"] for r in runs] == ["torch", "tf"]
    tags = {}
    for run in runs:
        run_dir = tiny_suite.run_dir / run["dir"]
        assert len(list((run_dir / "tensorboard").glob("events.out.tfevents.*"))) == 1
        events = read_events(run_dir / "tensorboard")
        tags[run["framework"]] = events.Tags()

        # 160 / 16 = 10 steps: every step's losses as history.csv has them, and a speed
        history = np.genfromtxt(run_dir / "history.csv", delimiter=",", names=True)
        assert scalars(events, "loss/d") == [(i, f32(v)) for i, v in enumerate(history["d_loss"])]
        assert scalars(events, "loss/g") == [(i, f32(v)) for i, v in enumerate(history["g_loss"])]
        speeds = scalars(events, SPEED_TAG)
        assert [step for step, _ in speeds] == list(range(10)) and all(v > 0 for _, v in speeds)

        # Two probes, after steps 5 and 10: result.json's scores at their steps
        probes = json.loads((run_dir / "result.json").read_text())["quality_history"]
        assert [p["step"] for p in probes] == [4, 9]
        for key, tag in QUALITY_TAGS.items():
            if key == "label_accuracy":  # a conditional model's only
                assert tag not in events.Tags()["scalars"]
                continue
            assert scalars(events, tag) == [(p["step"], f32(p[key])) for p in probes], (run["name"], tag)

        # The sample grid at every frame step, the pixels of frames.npz tiled as in the report
        with np.load(run_dir / "frames.npz") as frames:
            steps, images = frames["steps"].tolist(), frames["images"]
        shown = events.Images(SAMPLES_TAG)
        assert [image.step for image in shown] == steps and steps[-1] == 9
        for image, frame in zip(shown, images):
            assert frame.shape == (16, 28, 28, 1)
            assert (decoded(image) == tile_uint8(frame)).all()
            assert decoded(image).shape == (4 * 30 + 2, 4 * 30 + 2)  # 16 samples: 4x4
    assert tags["torch"] == tags["tf"]
