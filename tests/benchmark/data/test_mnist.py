"""Tests for benchmark.data.mnist against the real MNIST files.

The real files come from GANBENCH_DATA_DIR, else <repo root>/../shared/mnist.
Downloads are only ever served by a local http.server on 127.0.0.1.
"""

from __future__ import annotations

import gzip
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from benchmark.data import MNISTError, MNISTNotFoundError, load_mnist, seeded_subset
from benchmark.data import mnist

REPO_ROOT = Path(__file__).resolve().parents[3]
UNREACHABLE_MIRROR = "http://127.0.0.1:9/"  # discard port: connection refused at once
TEST_STEMS = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def _real_data_dir() -> Path | None:
    candidates = [os.environ.get("GANBENCH_DATA_DIR"), REPO_ROOT.parent / "shared" / "mnist"]
    for candidate in candidates:
        if candidate and mnist.find_mnist_dir(candidate) is not None:
            return Path(candidate)
    return None


# Read once at import, before any test changes the environment.
REAL_DATA_DIR = _real_data_dir()


@pytest.fixture
def real_dir() -> Path:
    if REAL_DATA_DIR is None:
        pytest.skip("real MNIST not found: set GANBENCH_DATA_DIR or put the files in ../shared/mnist")
    return REAL_DATA_DIR


@pytest.fixture(autouse=True)
def isolated_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the user's cache or env, or can reach the internet."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.delenv("GANBENCH_DATA_DIR", raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setattr(mnist, "MIRRORS", (UNREACHABLE_MIRROR,))
    # A developer's data/mnist/ must not hide the "nothing found" paths.
    monkeypatch.setattr(mnist, "PROJECT_DATA_DIR", tmp_path / "no-project-data")


def cache_dir() -> Path:
    return mnist.user_cache_dir()


def decompressed_bytes(path: Path | None) -> bytes:
    assert path is not None
    data = path.read_bytes()
    return gzip.decompress(data) if path.suffix == ".gz" else data


def copy_files(source: Path, destination: Path, stems=tuple(mnist.SHA256), raw: bool = False) -> Path:
    """Copy MNIST files from ``source`` into ``destination``, decompressed if ``raw``."""
    destination.mkdir(parents=True, exist_ok=True)
    for stem in stems:
        path = mnist._existing_file(source, stem)
        assert path is not None
        if raw:
            (destination / stem).write_bytes(decompressed_bytes(path))
        else:
            shutil.copyfile(path, destination / path.name)
    return destination


def gzip_copy(source: Path, destination: Path, stems=tuple(mnist.SHA256)) -> Path:
    """Copy MNIST files as ``.gz`` whatever form ``source`` holds them in."""
    destination.mkdir(parents=True, exist_ok=True)
    for stem in stems:
        path = mnist._existing_file(source, stem)
        assert path is not None
        if path.suffix == ".gz":
            shutil.copyfile(path, destination / path.name)
        else:
            (destination / f"{stem}.gz").write_bytes(gzip.compress(path.read_bytes(), 1))
    return destination


# --- loading the real data --------------------------------------------------------------


def test_train_split_shape_dtype_and_range(real_dir: Path) -> None:
    images, labels = load_mnist("train", data_dir=real_dir)
    assert images.shape == (60000, 28, 28, 1)
    assert images.dtype == np.float32
    assert images.min() == -1.0 and images.max() == 1.0
    assert labels.shape == (60000,)
    assert labels.dtype == np.int64
    assert set(np.unique(labels)) == set(range(10))


def test_test_split_shape(real_dir: Path) -> None:
    images, labels = load_mnist("test", data_dir=real_dir)
    assert images.shape == (10000, 28, 28, 1)
    assert labels.shape == (10000,)
    assert set(np.unique(labels)) == set(range(10))


def test_pixels_are_scaled_from_bytes(real_dir: Path) -> None:
    images, _ = load_mnist("test", data_dir=real_dir)
    raw = decompressed_bytes(mnist._existing_file(real_dir, "t10k-images-idx3-ubyte"))
    pixels = np.frombuffer(raw, np.uint8, offset=16).reshape(10000, 28, 28, 1)
    np.testing.assert_allclose(images, pixels / 127.5 - 1, rtol=0, atol=1e-7)


def test_returned_arrays_are_read_only_and_cached(real_dir: Path) -> None:
    images, labels = load_mnist("test", data_dir=real_dir)
    with pytest.raises(ValueError):
        images[0, 0, 0, 0] = 0.5
    with pytest.raises(ValueError):
        labels[0] = 3
    again_images, _ = load_mnist("test", data_dir=real_dir)
    assert again_images is images


def test_raw_and_gzip_files_give_identical_arrays(real_dir: Path, tmp_path: Path) -> None:
    gz_dir = gzip_copy(real_dir, tmp_path / "gz")
    raw_dir = copy_files(real_dir, tmp_path / "raw", raw=True)
    assert not list(raw_dir.glob("*.gz"))
    for split in ("train", "test"):
        gz_images, gz_labels = load_mnist(split, data_dir=gz_dir)
        raw_images, raw_labels = load_mnist(split, data_dir=raw_dir)
        np.testing.assert_array_equal(gz_images, raw_images)
        np.testing.assert_array_equal(gz_labels, raw_labels)


def test_invalid_split_lists_valid_splits() -> None:
    with pytest.raises(ValueError, match="train.*test"):
        load_mnist("validation")


# --- where files are looked for ---------------------------------------------------------


def test_data_dir_argument_beats_environment(
    real_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GANBENCH_DATA_DIR", str(tmp_path / "empty"))
    images, _ = load_mnist("test", data_dir=real_dir, download=False)
    assert images.shape[0] == 10000


def test_bad_data_dir_argument_is_an_error_even_with_good_environment(
    real_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GANBENCH_DATA_DIR", str(real_dir))
    with pytest.raises(MNISTNotFoundError, match="does not exist"):
        load_mnist("test", data_dir=tmp_path / "nowhere")


def test_environment_alone_is_used(real_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GANBENCH_DATA_DIR", str(real_dir))
    assert mnist.find_mnist_dir() == real_dir
    images, _ = load_mnist("test", download=False)
    assert images.shape[0] == 10000


def test_user_cache_is_a_source(real_dir: Path) -> None:
    copy_files(real_dir, cache_dir(), stems=TEST_STEMS)
    images, _ = load_mnist("test", download=False)
    assert images.shape[0] == 10000


def test_explicit_data_dir_missing_a_file_names_it(real_dir: Path, tmp_path: Path) -> None:
    partial = copy_files(real_dir, tmp_path / "partial", stems=("t10k-images-idx3-ubyte",))
    with pytest.raises(MNISTError, match="t10k-labels-idx1-ubyte") as excinfo:
        load_mnist("test", data_dir=partial)
    assert str(partial) in str(excinfo.value)
    assert "--data-dir" in str(excinfo.value)
    assert mnist.find_mnist_dir(partial) is None


def test_download_disabled_reports_places_looked(tmp_path: Path) -> None:
    with pytest.raises(MNISTNotFoundError, match="download is disabled") as excinfo:
        load_mnist("test", download=False)
    assert str(cache_dir()) in str(excinfo.value)


# --- corrupt files -----------------------------------------------------------------------


def test_truncated_gzip_is_reported_with_its_path(real_dir: Path, tmp_path: Path) -> None:
    data_dir = gzip_copy(real_dir, tmp_path / "data", stems=TEST_STEMS)
    broken = data_dir / "t10k-images-idx3-ubyte.gz"
    broken.write_bytes(broken.read_bytes()[: broken.stat().st_size // 2])
    with pytest.raises(MNISTError, match="corrupt gzip") as excinfo:
        load_mnist("test", data_dir=data_dir)
    assert str(broken) in str(excinfo.value)
    assert "delete" in str(excinfo.value)


def test_flipped_bytes_in_raw_file_fail_the_checksum(real_dir: Path, tmp_path: Path) -> None:
    data_dir = copy_files(real_dir, tmp_path / "data", stems=TEST_STEMS, raw=True)
    broken = data_dir / "t10k-labels-idx1-ubyte"
    data = bytearray(broken.read_bytes())
    data[100] ^= 0xFF
    broken.write_bytes(bytes(data))
    with pytest.raises(MNISTError, match="checksum mismatch") as excinfo:
        load_mnist("test", data_dir=data_dir)
    assert str(broken) in str(excinfo.value)


def test_malformed_idx_header_is_reported() -> None:
    bad_magic = (2049).to_bytes(4, "big") + (1).to_bytes(4, "big") * 3 + bytes(1)
    with pytest.raises(MNISTError, match="magic number 2049, expected 2051"):
        mnist._decode_images(bad_magic, Path("x"))
    short = (2049).to_bytes(4, "big") + (5).to_bytes(4, "big") + bytes(3)
    with pytest.raises(MNISTError, match="need 13 bytes"):
        mnist._decode_labels(short, Path("x"))


# --- downloading -------------------------------------------------------------------------


def test_offline_fails_fast_and_lists_everything(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("GANBENCH_DATA_DIR", str(empty))
    start = time.monotonic()
    with pytest.raises(MNISTNotFoundError) as excinfo:
        load_mnist("train", mirrors=[UNREACHABLE_MIRROR])
    assert time.monotonic() - start < 10
    message = str(excinfo.value)
    for place in (empty, mnist.PROJECT_DATA_DIR, cache_dir()):
        assert str(place) in message
    assert UNREACHABLE_MIRROR in message
    assert "GANBENCH_DATA_DIR=DIR" in message
    assert not cache_dir().exists() or not any(cache_dir().iterdir())


def test_download_from_local_mirror_fills_the_cache(real_dir: Path, tmp_path: Path, serve) -> None:
    mirror = serve(gzip_copy(real_dir, tmp_path / "mirror"))
    expected_train = load_mnist("train", data_dir=real_dir)
    # The unreachable mirror comes first: a failed mirror must fall through to the next.
    mirrors = [UNREACHABLE_MIRROR, mirror]
    images, labels = load_mnist("train", mirrors=mirrors)
    load_mnist("test", mirrors=mirrors)
    np.testing.assert_array_equal(images, expected_train[0])
    np.testing.assert_array_equal(labels, expected_train[1])
    assert sorted(p.name for p in cache_dir().iterdir()) == sorted(f"{s}.gz" for s in mnist.SHA256)
    assert mnist.find_mnist_dir() == cache_dir()


def test_corrupt_download_leaves_nothing_in_the_cache(real_dir: Path, tmp_path: Path, serve) -> None:
    mirror_dir = gzip_copy(real_dir, tmp_path / "mirror", stems=TEST_STEMS)
    # Valid gzip, wrong content: only the checksum can catch it.
    bad = mirror_dir / "t10k-labels-idx1-ubyte.gz"
    good_bytes = bytearray(gzip.decompress(bad.read_bytes()))
    good_bytes[-1] ^= 0xFF
    bad.write_bytes(gzip.compress(bytes(good_bytes)))
    mirror = serve(mirror_dir)

    with pytest.raises(MNISTNotFoundError, match="checksum mismatch") as excinfo:
        load_mnist("test", mirrors=[mirror])
    assert f"{mirror}t10k-labels-idx1-ubyte.gz" in str(excinfo.value)
    # The good file stays (verified); nothing at all remains for the bad one.
    assert [p.name for p in cache_dir().iterdir()] == ["t10k-images-idx3-ubyte.gz"]


# --- seeded_subset -----------------------------------------------------------------------


@pytest.fixture
def toy() -> tuple[np.ndarray, np.ndarray]:
    images = np.arange(100, dtype=np.float32).reshape(100, 1, 1, 1)
    labels = np.arange(100, dtype=np.int64)
    return images, labels


def test_seeded_subset_is_deterministic_distinct_and_sized(toy) -> None:
    images, labels = toy
    first = seeded_subset(images, labels, 30, seed=1)
    again = seeded_subset(images, labels, 30, seed=1)
    other = seeded_subset(images, labels, 30, seed=2)
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.array_equal(first[1], other[1])
    assert first[0].shape == (30, 1, 1, 1) and first[1].shape == (30,)
    assert len(np.unique(first[1])) == 30
    # Images and labels stay paired.
    np.testing.assert_array_equal(first[0].reshape(-1), first[1].astype(np.float32))


def test_seeded_subset_of_everything_keeps_order(toy) -> None:
    images, labels = toy
    for n in (100, 1000):
        sub_images, sub_labels = seeded_subset(images, labels, n, seed=0)
        np.testing.assert_array_equal(sub_images, images)
        np.testing.assert_array_equal(sub_labels, labels)


@pytest.mark.parametrize("n", [0, -5])
def test_seeded_subset_rejects_non_positive_n(toy, n: int) -> None:
    with pytest.raises(ValueError, match="positive"):
        seeded_subset(*toy, n, seed=0)


def test_seeded_subset_of_real_data(real_dir: Path) -> None:
    images, labels = load_mnist("test", data_dir=real_dir)
    sub_images, sub_labels = seeded_subset(images, labels, 500, seed=0)
    assert sub_images.shape == (500, 28, 28, 1) and sub_labels.dtype == np.int64
