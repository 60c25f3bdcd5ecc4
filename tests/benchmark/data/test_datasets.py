"""load_dataset: Fashion-MNIST, CIFAR-10 and image folders on data the tests write,
MNIST through it unchanged. Downloads only ever from a local http.server."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmark.data import (DatasetError, DatasetNotFoundError, UnreadableImagesWarning, cifar10,
                            fashion_mnist, folder, image_shape, load_dataset, load_mnist, load_pixels,
                            parse_dataset)
from benchmark.data.idx import PIXEL_TO_UNIT
from tests.conftest import mnist_dir
from tests.datasets import write_cifar_tarball, write_idx_set, write_image_folder

UNREACHABLE = "http://127.0.0.1:9/"  # discard port: connection refused at once


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the user's cache, env or project data, or reaches the internet."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    for var in ("GANBENCH_FASHION_MNIST_DIR", "GANBENCH_CIFAR10_DIR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setattr(fashion_mnist, "MIRRORS", (UNREACHABLE,))
    monkeypatch.setattr(fashion_mnist, "PROJECT_DATA_DIR", tmp_path / "no-project-data")
    monkeypatch.setattr(cifar10, "URLS", (UNREACHABLE + "cifar-10-python.tar.gz",))
    monkeypatch.setattr(cifar10, "PROJECT_DATA_DIR", tmp_path / "no-project-data")


def cache(name: str) -> Path:
    return Path(os.environ["XDG_CACHE_HOME"]) / "ganbench" / name


# --- names ------------------------------------------------------------------------------


def test_names_parse_and_unknown_names_list_the_valid_ones(tmp_path: Path) -> None:
    assert parse_dataset("mnist").kind == "mnist"
    assert parse_dataset("fashion-mnist").kind == "fashion_mnist"
    ref = parse_dataset(f"folder:{tmp_path}")
    assert (ref.kind, ref.path, ref.num_classes) == ("folder", tmp_path, None)
    with pytest.raises(DatasetError, match="unknown dataset 'svhn'; valid: mnist, fashion_mnist, cifar10, folder:PATH"):
        parse_dataset("svhn")
    with pytest.raises(DatasetError, match="folder: needs a path"):
        parse_dataset("folder:")
    assert image_shape("cifar10") == (32, 32, 3)
    assert image_shape("folder:x") == (64, 64, 3) and image_shape("folder:x", 32) == (32, 32, 3)
    with pytest.raises(DatasetError, match="mnist images are 28x28"):
        image_shape("mnist", 64)


# --- MNIST ------------------------------------------------------------------------------


def test_mnist_is_load_mnist_byte_for_byte() -> None:
    data_dir = mnist_dir()
    if data_dir is None:
        pytest.skip("real MNIST not found: set GANBENCH_DATA_DIR")
    images, labels = load_dataset("mnist", "test", data_dir=data_dir)
    expected_images, expected_labels = load_mnist("test", data_dir=data_dir)
    assert images is expected_images and labels is expected_labels  # the same cached arrays
    pixels, _ = load_pixels("mnist", "test", data_dir=data_dir)
    assert pixels.dtype == np.uint8 and np.array_equal(PIXEL_TO_UNIT[pixels], images)


@pytest.mark.parametrize("dataset", ["mnist", "fashion_mnist", "cifar10", "folder"])
def test_a_worker_trains_on_load_datasets_rows_scaled_from_its_pixels(dataset, tmp_path, monkeypatch) -> None:
    """The worker picks its --train-size rows from the raw pixels and scales
    only those (benchmark.data.scale_pixels): bit for bit the rows of
    load_dataset, for every data set."""
    from benchmark.config import RunConfig
    from benchmark.data import scale_pixels, subset_indices
    from benchmark.worker import training_set
    from tests.datasets import tiny_sources

    if dataset == "mnist":
        if mnist_dir() is None:
            pytest.skip("real MNIST not found: set GANBENCH_DATA_DIR")
        name, data_dir = "mnist", mnist_dir()
    else:
        name, data_dir = tiny_sources(tmp_path, monkeypatch)[dataset]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnreadableImagesWarning)  # the folder's two corrupt files
        expected, labels = load_dataset(name, data_dir=data_dir)
        scaled = scale_pixels(load_pixels(name, data_dir=data_dir)[0])
        assert np.array_equal(scaled, expected) and not scaled.flags.writeable
        config = RunConfig(framework="torch", model="dcgan", mode="eager", device="cpu", profile="smoke", epochs=1,
                           batch_size=1, train_size=3, sample_count=4, seed=3, threads=1,
                           data_dir=None if data_dir is None else str(data_dir), dataset=name)
        images, got_labels, rows = training_set(config)
    assert rows.tolist() == subset_indices(len(expected), 3, 3).tolist()
    assert images.dtype == np.float32 and np.array_equal(images, expected[rows])  # bit for bit
    assert np.array_equal(got_labels, labels[rows] if labels is not None else np.zeros(3, np.int64))


# --- Fashion-MNIST ----------------------------------------------------------------------


def test_fashion_mnist_reads_verified_idx_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    arrays, digests = write_idx_set(tmp_path / "fm", {"train": 12, "test": 5})
    monkeypatch.setattr(fashion_mnist, "GZ_SHA256", digests)
    images, labels = load_dataset("fashion_mnist", "train", data_dir=tmp_path / "fm")
    pixels, expected_labels = arrays["train"]
    assert images.shape == (12, 28, 28, 1) and images.dtype == np.float32 and not images.flags.writeable
    assert np.array_equal(images[..., 0], PIXEL_TO_UNIT[pixels]) and np.array_equal(labels, expected_labels)
    monkeypatch.setenv("GANBENCH_FASHION_MNIST_DIR", str(tmp_path / "fm"))
    assert load_dataset("fashion_mnist", "test")[0].shape == (5, 28, 28, 1)


def test_fashion_mnist_refuses_a_file_that_is_not_the_canonical_gz(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    _, digests = write_idx_set(tmp_path / "fm", {"train": 4, "test": 2})
    monkeypatch.setattr(fashion_mnist, "GZ_SHA256", {**digests, "train-images-idx3-ubyte": "0" * 64})
    with pytest.raises(DatasetError, match=r"checksum mismatch for .*train-images-idx3-ubyte.gz: only the "
                                           r"canonical train-images-idx3-ubyte.gz can be verified"):
        load_dataset("fashion_mnist", data_dir=tmp_path / "fm")


def test_fashion_mnist_offline_lists_places_and_mirrors(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError) as caught:
        load_dataset("fashion_mnist")
    message = str(caught.value)
    for part in ("GANBENCH_FASHION_MNIST_DIR: (not set)", "user cache", UNREACHABLE, "train-images-idx3-ubyte.gz"):
        assert part in message
    assert not cache("fashion_mnist").exists() or not any(cache("fashion_mnist").iterdir())


def test_fashion_mnist_downloads_from_a_mirror_into_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              serve) -> None:
    arrays, digests = write_idx_set(tmp_path / "mirror", {"train": 6, "test": 3})
    monkeypatch.setattr(fashion_mnist, "GZ_SHA256", digests)
    monkeypatch.setattr(fashion_mnist, "MIRRORS", (UNREACHABLE, serve(tmp_path / "mirror")))
    images, _ = load_dataset("fashion_mnist", "test")
    assert np.array_equal(images[..., 0], PIXEL_TO_UNIT[arrays["test"][0]])
    assert sorted(p.name for p in cache("fashion_mnist").iterdir()) == [
        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]


# --- CIFAR-10 ---------------------------------------------------------------------------


@pytest.fixture
def cifar(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    tarball, arrays, sha256, md5s = write_cifar_tarball(tmp_path / "cifar", per_batch=3)
    monkeypatch.setattr(cifar10, "TARBALL_SHA256", sha256)
    monkeypatch.setattr(cifar10, "BATCH_MD5", md5s)
    return tarball, arrays


def test_cifar10_from_the_tarball_in_canonical_order(cifar) -> None:
    tarball, arrays = cifar
    images, labels = load_dataset("cifar10", "train", data_dir=tarball.parent)
    assert images.shape == (15, 32, 32, 3) and labels.dtype == np.int64
    assert np.array_equal(images, PIXEL_TO_UNIT[arrays["train"][0]])  # batches 1..5, planes -> NHWC
    assert np.array_equal(labels, arrays["train"][1])
    test_pixels, test_labels = load_pixels("cifar10", "test", data_dir=tarball.parent)
    assert np.array_equal(test_pixels, arrays["test"][0]) and np.array_equal(test_labels, arrays["test"][1])


def test_cifar10_from_an_unpacked_folder_checks_each_file(cifar, tmp_path: Path) -> None:
    import tarfile

    tarball, arrays = cifar
    unpacked = tmp_path / "torchvision-root"
    with tarfile.open(tarball) as tar:
        tar.extractall(unpacked, filter="data")
    pixels, _ = load_pixels("cifar10", "train", data_dir=unpacked)
    assert np.array_equal(pixels, arrays["train"][0])
    batch = unpacked / "cifar-10-batches-py" / "data_batch_2"
    batch.write_bytes(batch.read_bytes()[:-1] + b"\x00")
    os.utime(batch, ns=(1, 1))  # a new (size, mtime) key: no stale in-process cache
    with pytest.raises(DatasetError, match=r"checksum mismatch for .*data_batch_2: md5"):
        load_pixels("cifar10", "train", data_dir=unpacked)


def test_cifar10_corrupt_tarball_says_what_to_do(cifar, monkeypatch: pytest.MonkeyPatch) -> None:
    tarball, _ = cifar
    monkeypatch.setattr(cifar10, "TARBALL_SHA256", "f" * 64)
    with pytest.raises(DatasetError, match=r"checksum mismatch .* expected f{64}; delete .* download it again"):
        load_dataset("cifar10", data_dir=tarball.parent)


def test_cifar10_download_is_verified_before_it_lands(cifar, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      serve) -> None:
    tarball, arrays = cifar
    base = serve(tarball.parent)
    monkeypatch.setattr(cifar10, "URLS", (base + tarball.name,))
    monkeypatch.setattr(cifar10, "TARBALL_SHA256", "0" * 64)  # the mirror serves bad bytes
    with pytest.raises(DatasetNotFoundError, match="could not be downloaded"):
        load_dataset("cifar10")
    assert list(cache("cifar10").iterdir()) == []  # nothing half-written
    monkeypatch.setattr(cifar10, "TARBALL_SHA256", write_cifar_tarball(tmp_path / "again", per_batch=3)[2])
    images, _ = load_dataset("cifar10", "test")
    assert np.array_equal(images, PIXEL_TO_UNIT[arrays["test"][0]])
    assert [p.name for p in cache("cifar10").iterdir()] == ["cifar-10-python.tar.gz"]


def test_cifar10_pickles_may_hold_numpy_arrays_only(tmp_path: Path) -> None:
    import pickle

    evil = pickle.dumps({"data": np.zeros((1, 3072), np.uint8), "labels": [0], "x": os.system}, protocol=2)
    with pytest.raises(DatasetError, match="posix.system is not allowed|os.system is not allowed"):
        cifar10._decode_batch(evil, "evil")


# --- image folders ----------------------------------------------------------------------


def test_folder_prepares_like_torchvision_resize_then_center_crop(tmp_path: Path) -> None:
    originals = write_image_folder(tmp_path / "faces")
    with pytest.warns(UnreadableImagesWarning) as caught:
        images, labels = load_dataset(f"folder:{tmp_path / 'faces'}")
    assert labels is None and images.shape == (6, 64, 64, 3) and images.dtype == np.float32
    message = str(caught[0].message)
    assert "skipped 2 unreadable image file(s)" in message
    assert "a/truncated.jpg" in message and "a/b/not_really.png" in message
    with pytest.warns(UnreadableImagesWarning):  # on every call, from the cache too
        data = folder.load_folder_uint8(tmp_path / "faces")
    assert data.files == ("a/b/face_002.PNG", "a/b/face_003.jpeg", "a/face_000.png", "a/face_001.jpg",
                          "face_004.png", "face_005.png")  # sorted relative paths; hidden ones left out
    # The definition by hand for a portrait image: 80x96 -> 64x76, rows 6..69.
    resized = Image.fromarray(originals["a/face_000.png"]).resize((64, 76), Image.BILINEAR)
    assert np.array_equal(data.pixels[2], np.asarray(resized)[6:70])
    assert np.array_equal(images, PIXEL_TO_UNIT[data.pixels])


def test_folder_cache_makes_the_second_run_read_one_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_image_folder(tmp_path / "faces", corrupt=False)
    first = folder.load_folder_uint8(tmp_path / "faces", 32)
    cached = sorted(p.name for p in cache("folders").iterdir())
    assert cached == [f"{first.key}.json", f"{first.key}.npy"]
    decode = folder.decode_image
    monkeypatch.setattr(folder, "decode_image", lambda *a: pytest.fail("decoded again despite the cache"))
    second = folder.load_folder_uint8(tmp_path / "faces", 32)
    assert second.key == first.key and np.array_equal(second.pixels, first.pixels)
    monkeypatch.setattr(folder, "decode_image", decode)  # another size is another key
    assert folder.load_folder_uint8(tmp_path / "faces", 16).key != first.key


def test_folder_cache_key_follows_the_files(tmp_path: Path) -> None:
    write_image_folder(tmp_path / "faces", corrupt=False)
    first = folder.load_folder_uint8(tmp_path / "faces", 16)
    path = tmp_path / "faces" / "face_004.png"
    Image.fromarray(np.full((20, 20, 3), 200, np.uint8)).save(path)
    os.utime(path, ns=(5, 5))
    second = folder.load_folder_uint8(tmp_path / "faces", 16)
    assert second.key != first.key and np.all(second.pixels[4] == 200)


def test_folder_cache_index_is_written_last_and_a_damaged_one_is_rebuilt(tmp_path: Path) -> None:
    write_image_folder(tmp_path / "faces", corrupt=False)
    first = folder.load_folder_uint8(tmp_path / "faces", 16)
    index = cache("folders") / f"{first.key}.json"
    index.write_text("{ truncated")
    again = folder.load_folder_uint8(tmp_path / "faces", 16)
    assert np.array_equal(again.pixels, first.pixels)
    assert json.loads(index.read_text())["key"] == first.key


def test_folder_errors_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="does not exist; pass folder:PATH"):
        load_dataset(f"folder:{tmp_path / 'nowhere'}")
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "sub" / "a.txt").write_text("x")
    with pytest.raises(DatasetError, match=r"no JPEG or PNG files under .*empty \(searched recursively"):
        load_dataset(f"folder:{tmp_path / 'empty'}")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "x.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    (tmp_path / "broken" / "y.png").write_bytes(b"")
    with pytest.raises(DatasetError, match=r"(?s)no readable image under .*broken: all 2 JPEG/PNG files failed.*x.jpg"):
        load_dataset(f"folder:{tmp_path / 'broken'}")
    assert not cache("folders").exists() or list(cache("folders").iterdir()) == []
    with pytest.raises(DatasetError, match="one split, 'train'"):
        load_dataset(f"folder:{tmp_path / 'broken'}", split="test")


def test_many_unreadable_files_are_listed_in_the_cache_index(tmp_path: Path) -> None:
    root = tmp_path / "many"
    root.mkdir()
    Image.fromarray(np.zeros((10, 10, 3), np.uint8)).save(root / "good.png")
    for i in range(folder.WARN_NAMES + 3):
        (root / f"bad_{i:02d}.jpg").write_bytes(b"junk")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = folder.load_folder_uint8(root, 8)
    message = str(caught[0].message)
    assert f"skipped {folder.WARN_NAMES + 3}" in message and "... and 3 more, all listed in" in message
    index = json.loads((cache("folders") / f"{data.key}.json").read_text())
    assert len(index["skipped"]) == folder.WARN_NAMES + 3 and index["files"] == ["good.png"]
