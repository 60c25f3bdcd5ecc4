"""The example image folder: reproducible from MNIST and the packages' photos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from benchmark.data import load_dataset
from benchmark.data.digits_on_photos import make_folder


def test_the_same_seed_writes_the_same_files_and_they_load_as_64x64_rgb(tmp_path: Path, mnist_data_dir: str,
                                                                          monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    first = make_folder(tmp_path / "a", 6, seed=1, data_dir=mnist_data_dir)
    second = make_folder(tmp_path / "b", 6, seed=1, data_dir=mnist_data_dir)
    assert [p.relative_to(tmp_path / "a") for p in first] == [p.relative_to(tmp_path / "b") for p in second]
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(first, second))
    assert {p.parent.name for p in first} <= set("0123456789")  # one folder per digit
    assert Image.open(first[0]).size == (64, 64)
    images, labels = load_dataset(f"folder:{tmp_path / 'a'}")
    assert images.shape == (6, 64, 64, 3) and labels is None
    assert np.ptp(images) > 1  # a digit in colour on a photo, not a blank
