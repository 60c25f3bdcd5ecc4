"""The quality probe on data other than MNIST: FID/KID on Inception through
the scorer's own process, and NaN with the reason when its weights are missing."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from benchmark.metrics import inception
from benchmark.metrics.table import INCEPTION
from benchmark.quality import InceptionProbe
from benchmark.specs import SPECS


class Generator:
    """A runner's generate(): grey images, counting the samples asked for."""

    def __init__(self) -> None:
        self.asked = 0

    def generate(self, noise: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
        self.asked += len(noise)
        return np.zeros((len(noise), 8, 8, 3), np.float32)


@pytest.fixture
def real() -> np.ndarray:
    return np.random.default_rng(0).uniform(-1, 1, (40, 8, 8, 3)).astype(np.float32)


def test_without_weights_every_probe_is_nan_with_the_reason(tmp_path: Path, monkeypatch, real) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv(inception.WEIGHTS_ENV, str(tmp_path / "absent.pth"))
    probe = InceptionProbe(SPECS["dcgan"], 12, np.random.default_rng(0), real)
    runner = Generator()
    scores = probe(runner)
    assert scores["features"] == INCEPTION and scores["num_samples"] == 12
    assert all(math.isnan(scores[key]) for key in ("fid", "kid_mean", "kid_std"))
    assert "absent.pth is not a file" in scores["inception_reason"]
    assert runner.asked == 0  # nothing to score: no samples generated
    assert not list(tmp_path.rglob("*.npy"))


def test_with_weights_the_samples_are_scored_against_a_saved_real_subset(tmp_path: Path, monkeypatch, real) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(inception, "find_weights", lambda path=None, download=True: tmp_path / "w.pth")
    calls = []

    def score(fake, real_path, weights, **options):
        calls.append((fake, np.load(real_path), weights, options))
        return {"fid": 1.5, "kid_mean": 0.1, "kid_std": 0.01, "inception_reason": None}

    monkeypatch.setattr(inception, "score_in_subprocess", score)
    probe = InceptionProbe(SPECS["dcgan"], 12, np.random.default_rng(0), real, threads=2)
    assert probe(Generator())["fid"] == 1.5 and probe(Generator())["num_samples"] == 12
    fake, saved, weights, options = calls[0]
    assert fake.shape == (12, 8, 8, 3) and weights == tmp_path / "w.pth"
    assert options == {"download": False, "threads": 2, "device": "cpu"}
    assert saved.shape == (12, 8, 8, 3) and all(any(np.array_equal(s, r) for r in real) for s in saved)
    again = InceptionProbe(SPECS["dcgan"], 12, np.random.default_rng(0), real)
    assert again.real_path == probe.real_path  # the same subset, written once
