"""FID and KID on Inception-v3 pool3 features (2048-d), the standard of papers, for any data.

The network is pytorch-fid's port of the TensorFlow FID Inception
(``pt_inception-2015-12-05-6726825d.pth``), so scoring needs torch. A
TensorFlow worker must not import torch; this module therefore imports it only
inside ``InceptionFeatures``, and every framework scores through a process of
its own, on saved samples:

    python -m benchmark.metrics.inception FAKE.npy --real REAL.npy [--out scores.json]

(``score_in_subprocess`` does that from Python). Both sets are NHWC floats in
[-1, 1], 1 or 3 channels, any size.

Before the network, in numpy and PIL and so identically for every framework
(clean-fid's "clean" preparation): each image is quantised to uint8,
``round((clip(x, -1, 1) + 1) * 127.5)`` as the sample grids are, a grey image
repeated to RGB, each channel resized to 299x299 with PIL's bicubic filter in
float32 ("F" mode) and clipped to [0, 255]. The network gets that divided by
255 (pytorch-fid then maps [0, 1] to [-1, 1]); it does not resize again.

Weights are looked for in: an explicit path, ``$GANBENCH_FID_WEIGHTS``, torch
hub's checkpoint folder (``$TORCH_HOME/hub/checkpoints``, where pytorch-fid and
torch-fidelity keep theirs, under either's file name), and are downloaded there
where the network allows. A file is accepted when its sha256 starts with
``6726825d``, the prefix torch hub checks. With no weights the scores are NaN
and ``inception_reason`` says why and what to do; nothing else fails.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from benchmark.io import user_cache, write_json, write_npz
from benchmark.metrics.distances import frechet_distance, gaussian_stats, kid
from benchmark.metrics.table import INCEPTION, keys_of

__all__ = [
    "WEIGHTS_ENV", "WEIGHTS_FILES", "WEIGHTS_URLS", "WEIGHTS_SHA256_PREFIX", "INPUT_SIZE", "FEATURE_DIM",
    "InceptionWeightsError", "find_weights", "inception_input", "InceptionFeatures", "real_statistics",
    "inception_scores", "score_in_subprocess", "main",
]

WEIGHTS_ENV = "GANBENCH_FID_WEIGHTS"
# pytorch-fid's name, then torch-fidelity's for the same file.
WEIGHTS_FILES = ("pt_inception-2015-12-05-6726825d.pth", "weights-inception-2015-12-05-6726825d.pth")
WEIGHTS_URLS = (
    "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth",
    "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/weights-inception-2015-12-05-6726825d.pth",
)
WEIGHTS_SHA256_PREFIX = "6726825d"
DOWNLOAD_TIMEOUT_S = 10.0
INPUT_SIZE = 299
FEATURE_DIM = 2048
BATCH_SIZE = 50  # pytorch-fid's default; 50 x 299 x 299 x 3 float32 is 54 MB
# Bump when the preparation or the statistics change: cached real statistics are then recomputed.
REAL_STATS_VERSION = 1
SCORE_KEYS = keys_of(INCEPTION)  # fid, kid_mean, kid_std


class InceptionWeightsError(RuntimeError):
    """The Inception weights are missing, or not the standard FID weights."""


# --- weights --------------------------------------------------------------------------


def torch_hub_checkpoints() -> Path:
    """torch hub's checkpoint folder, as ``torch.hub.get_dir()`` puts it (without importing torch)."""
    torch_home = os.environ.get("TORCH_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "torch")
    return Path(torch_home).expanduser() / "hub" / "checkpoints"


def _sha256(path: Path) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 22):
            hasher.update(chunk)
    return hasher.hexdigest()


def find_weights(path: str | os.PathLike[str] | None = None, download: bool = True) -> Path:
    """The standard FID weights file; raises InceptionWeightsError saying where it looked.

    An explicit ``path`` (or ``$GANBENCH_FID_WEIGHTS``) is the only place
    considered when given, and must hold the standard weights.
    """
    explicit = path if path is not None else os.environ.get(WEIGHTS_ENV) or None
    how = (f"Download {WEIGHTS_URLS[0]} and set {WEIGHTS_ENV}=FILE, or put it in {torch_hub_checkpoints()} "
           "(where pytorch-fid and torch-fidelity look)")
    if explicit is not None:
        candidate = Path(explicit).expanduser()
        label = "path argument" if path is not None else WEIGHTS_ENV
        if not candidate.is_file():
            raise InceptionWeightsError(f"Inception weights not found: {label} {candidate} is not a file. {how}.")
        _check_standard(candidate)
        return candidate
    folder = torch_hub_checkpoints()
    for name in WEIGHTS_FILES:
        if (folder / name).is_file():
            _check_standard(folder / name)
            return folder / name
    looked = f"{WEIGHTS_ENV} (not set); {', '.join(str(folder / name) for name in WEIGHTS_FILES)}"
    if not download:
        raise InceptionWeightsError(f"Inception weights not found and download is disabled. Looked in: {looked}. {how}.")
    failures = []
    for url in WEIGHTS_URLS:
        destination = folder / url.rsplit("/", 1)[1]
        try:
            _download(url, destination)
            return destination
        except (OSError, http.client.HTTPException, ValueError, InceptionWeightsError) as error:
            failures.append(f"{url}: {error}")
    raise InceptionWeightsError(f"Inception weights not found and could not be downloaded. Looked in: {looked}. "
                                f"Tried: {'; '.join(failures)}. {how}.")


def _check_standard(path: Path) -> None:
    digest = _sha256(path)
    if not digest.startswith(WEIGHTS_SHA256_PREFIX):
        raise InceptionWeightsError(
            f"{path} is not the standard FID Inception weights: its sha256 is {digest}, the standard file's "
            f"starts with {WEIGHTS_SHA256_PREFIX}. FID on other weights is not comparable with papers'.")


def _download(url: str, destination: Path) -> None:
    """To a temp file beside ``destination``, checked, then renamed into place."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=f".{destination.name}.", suffix=".part", dir=destination.parent)
    temp_path = Path(temp_name)
    try:
        with os.fdopen(fd, "wb") as handle, urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
            while chunk := response.read(1 << 20):
                handle.write(chunk)
        _check_standard(temp_path)
        os.replace(temp_path, destination)
    finally:
        temp_path.unlink(missing_ok=True)


# --- the preparation every framework shares ---------------------------------------------


def quantise(images: np.ndarray) -> np.ndarray:
    """NHWC floats in [-1, 1] -> uint8, as the sample grids are: round((clip(x) + 1) * 127.5)."""
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(f"images must be (N, H, W, 1 or 3), got {images.shape}")
    if not np.isfinite(images).all():
        raise ValueError("images contain NaN or infinity")
    return np.round((np.clip(images, -1, 1) + 1) * 127.5).astype(np.uint8)


def inception_input(images: np.ndarray) -> np.ndarray:
    """NHWC floats in [-1, 1] -> float32 (N, 299, 299, 3) in [0, 255], the network's input x 255.

    uint8 quantisation, grey repeated to RGB, PIL bicubic per channel in float32, clipped.
    """
    pixels = quantise(images)
    if pixels.shape[-1] == 1:
        pixels = np.repeat(pixels, 3, axis=-1)
    out = np.empty((len(pixels), INPUT_SIZE, INPUT_SIZE, 3), dtype=np.float32)
    for i, image in enumerate(pixels):
        for c in range(3):
            channel = Image.fromarray(image[:, :, c].astype(np.float32))  # mode "F"
            out[i, :, :, c] = np.asarray(channel.resize((INPUT_SIZE, INPUT_SIZE), Image.BICUBIC))
    return np.clip(out, 0, 255, out=out)


# --- the network (torch, imported here only) ----------------------------------------------


class InceptionFeatures:
    """pytorch-fid's FID Inception-v3 on given weights: images -> pool3 features.

    Args:
        weights: a state dict file of ``pt_inception-2015-12-05-6726825d.pth``'s layout.
        require_standard: refuse a file whose sha256 is not the standard one's
            (tests pass False with weights they generate).
        dims: 2048 (pool3, the standard), or 64 / 192 / 768 for pytorch-fid's
            earlier blocks (spatially averaged), for tests.
        threads: torch's intra-op threads; 0 leaves torch's default.
    """

    def __init__(self, weights: str | os.PathLike[str], require_standard: bool = True, dims: int = FEATURE_DIM,
                 device: str = "cpu", threads: int = 0) -> None:
        from unittest import mock

        import torch
        from pytorch_fid import inception as fid_inception

        self.weights = Path(weights)
        if require_standard:
            _check_standard(self.weights)
        if threads:
            torch.set_num_threads(threads)
        state = torch.load(self.weights, map_location="cpu", weights_only=True)
        if dims not in fid_inception.InceptionV3.BLOCK_INDEX_BY_DIM:
            raise ValueError(f"dims must be one of {sorted(fid_inception.InceptionV3.BLOCK_INDEX_BY_DIM)}, got {dims}")
        # pytorch-fid builds its network and loads the weights from its URL in one call
        # (fid_inception_v3); the architecture is its, the state dict ours, loaded strictly.
        try:
            with mock.patch.object(fid_inception, "load_state_dict_from_url", lambda *a, **k: state):
                model = fid_inception.InceptionV3([fid_inception.InceptionV3.BLOCK_INDEX_BY_DIM[dims]],
                                                  resize_input=False, normalize_input=True)
        except RuntimeError as error:  # load_state_dict's missing/unexpected keys
            raise InceptionWeightsError(f"{self.weights} does not fit the FID Inception network: {error}") from error
        self.model = model.eval().to(device)
        self.device, self.dims, self._torch = device, dims, torch

    def __call__(self, images: np.ndarray, batch_size: int = BATCH_SIZE) -> np.ndarray:
        """NHWC floats in [-1, 1] -> float64 (N, dims) features."""
        torch = self._torch
        features = np.empty((len(images), self.dims), dtype=np.float64)
        with torch.no_grad():
            for start in range(0, len(images), batch_size):
                batch = inception_input(images[start:start + batch_size]) / np.float32(255)  # [0, 1]
                x = torch.from_numpy(np.ascontiguousarray(batch.transpose(0, 3, 1, 2))).to(self.device)
                pooled = self.model(x)[0]
                if pooled.shape[2:] != (1, 1):  # earlier blocks: average over space, as pytorch-fid does
                    pooled = torch.nn.functional.adaptive_avg_pool2d(pooled, (1, 1))
                features[start:start + len(batch)] = pooled[:, :, 0, 0].double().cpu().numpy()
        return features


# --- statistics and scores ----------------------------------------------------------------


def real_statistics(real_images: np.ndarray, network: InceptionFeatures, cache_dir: Path | None = None
                    ) -> dict[str, np.ndarray]:
    """mu, sigma and features of the real images, cached on disk under a key of the
    weights file, the images' bytes and the preparation's version."""
    images = np.ascontiguousarray(real_images)
    identity = {"version": REAL_STATS_VERSION, "weights_sha256": _sha256(network.weights), "dims": network.dims,
                "images_sha256": hashlib.sha256(images.tobytes()).hexdigest(), "shape": list(images.shape),
                "dtype": str(images.dtype)}
    key = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]
    path = (cache_dir or user_cache("metrics")) / f"inception-real-{key}.npz"
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {name: npz[name] for name in ("mu", "sigma", "features")}
    except (OSError, ValueError, KeyError, EOFError):
        pass  # missing or damaged: compute
    features = network(images)
    mu, sigma = gaussian_stats(features)
    write_npz(path, mu=mu, sigma=sigma, features=features.astype(np.float32))
    return {"mu": mu, "sigma": sigma, "features": features.astype(np.float32)}


def inception_scores(fake_images: np.ndarray, real_images: np.ndarray, weights: str | os.PathLike[str] | None = None,
                     *, download: bool = True, seed: int = 0, network: InceptionFeatures | None = None,
                     cache_dir: Path | None = None) -> dict[str, Any]:
    """FID and KID (mean, std) of ``fake_images`` against ``real_images`` on Inception pool3 features.

    Without weights the scores are NaN and ``inception_reason`` says why; the
    caller reports everything else as usual. ``network`` overrides the weights
    lookup (tests give one on weights they generate).
    """
    if network is None:
        try:
            network = InceptionFeatures(find_weights(weights, download))
        except InceptionWeightsError as error:
            return {**{key: float("nan") for key in SCORE_KEYS}, "inception_reason": str(error)}
    real = real_statistics(real_images, network, cache_dir)
    fake = network(np.asarray(fake_images))
    mu, sigma = gaussian_stats(fake)
    kid_mean, kid_std = kid(real["features"], fake, seed=seed)
    return {"fid": frechet_distance(mu, sigma, real["mu"], real["sigma"]), "kid_mean": kid_mean,
            "kid_std": kid_std, "inception_weights": str(network.weights), "inception_reason": None}


def score_in_subprocess(fake_images: np.ndarray, real_path: str | os.PathLike[str],
                        weights: str | os.PathLike[str] | None = None, *, download: bool = True,
                        threads: int = 0, timeout_s: float | None = None, dims: int = FEATURE_DIM,
                        allow_nonstandard: bool = False, device: str = "cpu") -> dict[str, Any]:
    """``inception_scores`` in a fresh Python process (torch stays out of the caller).

    ``real_path``: an .npy of the real images (written once; its statistics are
    cached). A process that fails reports NaN scores with its stderr's tail.
    """
    with tempfile.TemporaryDirectory(prefix="ganbench-inception-") as scratch:
        fake_path, out_path = Path(scratch) / "fake.npy", Path(scratch) / "scores.json"
        np.save(fake_path, np.asarray(fake_images, np.float32))
        command = [sys.executable, "-m", "benchmark.metrics.inception", str(fake_path), "--real", str(real_path),
                   "--out", str(out_path), "--threads", str(threads), "--device", device]
        if weights is not None:
            command += ["--weights", str(weights)]
        if not download:
            command.append("--no-download")
        if dims != FEATURE_DIM or allow_nonstandard:  # tests' generated weights
            command += ["--dims", str(dims), "--allow-nonstandard-weights"]
        root = Path(__file__).resolve().parents[2]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, env=env)
        if done.returncode != 0 or not out_path.exists():
            reason = f"the Inception scorer exited {done.returncode}: {done.stderr.strip()[-2000:]}"
            return {**{key: float("nan") for key in SCORE_KEYS}, "inception_reason": reason}
        return json.loads(out_path.read_text())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmark.metrics.inception", description=__doc__.split("\n")[0])
    parser.add_argument("fake", type=Path, help=".npy of generated images, NHWC in [-1, 1]")
    parser.add_argument("--real", type=Path, required=True, help=".npy of real images, NHWC in [-1, 1]")
    parser.add_argument("--weights", type=Path, help=f"the FID weights file (default: ${WEIGHTS_ENV}, torch hub's cache)")
    parser.add_argument("--no-download", action="store_true", help="never download the weights")
    parser.add_argument("--out", type=Path, help="write the scores here as JSON (default: print them)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--device", default="cpu", help="torch device: cpu or cuda")
    parser.add_argument("--seed", type=int, default=0, help="KID's subset draws")
    parser.add_argument("--dims", type=int, default=FEATURE_DIM, help=argparse.SUPPRESS)  # tests only
    parser.add_argument("--allow-nonstandard-weights", action="store_true", help=argparse.SUPPRESS)  # tests only
    args = parser.parse_args(argv)
    try:
        if args.allow_nonstandard_weights and args.weights is not None:
            weights = args.weights
        else:
            weights = find_weights(args.weights, not args.no_download)
        network = InceptionFeatures(weights, require_standard=not args.allow_nonstandard_weights,
                                    dims=args.dims, device=args.device, threads=args.threads)
    except InceptionWeightsError as error:
        scores: dict[str, Any] = {**{key: float("nan") for key in SCORE_KEYS}, "inception_reason": str(error)}
        print(f"warning: no FID/KID: {error}", file=sys.stderr)
    else:
        scores = inception_scores(np.load(args.fake), np.load(args.real, mmap_mode="r"), network=network,
                                  seed=args.seed)
    if args.out is not None:
        write_json(args.out, scores)
    else:
        print(json.dumps(scores, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
