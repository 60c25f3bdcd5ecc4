"""The MNIST classifier that every sample-quality metric looks through, in numpy alone.

A LeNet-like CNN trained by ``python -m torch_impl.train_classifier``
(PyTorch, CPU, seeded); its weights live beside this file in
``mnist_classifier.npz``. BatchNorm is folded into the convolutions when the
weights are exported, so inference here is two convolutions (im2col + one
matmul each), two max-pools and two dense layers, float32, in batches:

    image (28, 28, 1) in [-1, 1]
    conv1 5x5 valid, 1 -> 32, ReLU    (24, 24, 32)
    max-pool 2x2                      (12, 12, 32)
    conv2 5x5 valid, 32 -> 64, ReLU   (8, 8, 64)
    max-pool 2x2                      (4, 4, 64)
    flatten (H, W, C) order           (1024,)
    fc1 1024 -> 128, ReLU             (128,)   <- the features of FID, KID, PRDC
    fc2 128 -> 10                     (10,)    <- logits

Weights use the project's canonical layout: conv kernels (kh, kw, in, out),
dense kernels (in, out), images NHWC.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "WEIGHTS_PATH",
    "FEATURE_DIM",
    "NUM_CLASSES",
    "WEIGHT_SHAPES",
    "Classifier",
    "load_classifier",
    "features_and_logits",
]

WEIGHTS_PATH = Path(__file__).resolve().parent / "mnist_classifier.npz"
FEATURE_DIM = 128
NUM_CLASSES = 10
IMAGE_SHAPE = (28, 28, 1)
# The canonical arrays in the weights file, with their shapes.
WEIGHT_SHAPES: dict[str, tuple[int, ...]] = {
    "conv1/kernel": (5, 5, 1, 32),
    "conv1/bias": (32,),
    "conv2/kernel": (5, 5, 32, 64),
    "conv2/bias": (64,),
    "fc1/kernel": (4 * 4 * 64, FEATURE_DIM),
    "fc1/bias": (FEATURE_DIM,),
    "fc2/kernel": (FEATURE_DIM, NUM_CLASSES),
    "fc2/bias": (NUM_CLASSES,),
}
META_KEY = "meta_json"  # a 0-d unicode array: training facts, test accuracy
# Classifiers read so far, by the sha256 of their file: reading again is cheap, parsing is not repeated.
_LOADED: dict[str, Classifier] = {}
# 256 images per batch keep conv2's im2col matrix (256*64 x 800 float32) near 50 MB.
DEFAULT_BATCH_SIZE = 256


@dataclass(frozen=True)
class Classifier:
    """Weights ready for the numpy forward pass, and the file's metadata.

    ``weights`` holds the canonical arrays, read-only, with each conv kernel
    reshaped to its im2col matrix ``conv1/matrix`` (kh*kw*in, out).

    ``digest`` is the sha256 of the weights file: reference statistics are
    cached under it, so retraining the classifier invalidates them.
    """

    weights: dict[str, np.ndarray]
    meta: dict[str, Any]
    digest: str

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], meta: dict[str, Any] | None = None,
                    digest: str = "") -> Classifier:
        """Check canonical arrays against ``WEIGHT_SHAPES`` and make them float32."""
        weights = {}
        for name, shape in WEIGHT_SHAPES.items():
            if name not in arrays:
                raise ValueError(f"classifier weights lack {name!r}; expected {list(WEIGHT_SHAPES)}")
            array = np.array(arrays[name], dtype=np.float32)  # a private copy
            if array.shape != shape:
                raise ValueError(f"classifier weight {name!r} is {array.shape}, expected {shape}")
            weights[name] = array
        # im2col rows are ordered (kh, kw, in), the canonical kernel's leading axes.
        for conv in ("conv1", "conv2"):
            kernel = weights.pop(f"{conv}/kernel")
            weights[f"{conv}/matrix"] = np.ascontiguousarray(kernel.reshape(-1, kernel.shape[-1]))
        for array in weights.values():
            array.flags.writeable = False  # shared by every caller of load_classifier
        return cls(weights=weights, meta=dict(meta or {}), digest=digest)

    def features_and_logits(self, images: np.ndarray, batch_size: int = DEFAULT_BATCH_SIZE
                            ) -> tuple[np.ndarray, np.ndarray]:
        """Penultimate features (N, 128) and logits (N, 10), float32.

        Args:
            images: (N, 28, 28, 1) or (N, 28, 28), values in [-1, 1] as
                ``benchmark.data.load_mnist`` gives them (GAN generators' tanh range).
        """
        images = _as_batch(images)
        features = np.empty((len(images), FEATURE_DIM), dtype=np.float32)
        logits = np.empty((len(images), NUM_CLASSES), dtype=np.float32)
        for start in range(0, len(images), batch_size):
            stop = start + batch_size
            features[start:stop], logits[start:stop] = self._forward(images[start:stop])
        return features, logits

    def _forward(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        w = self.weights
        x = _conv_pool_relu(x, w["conv1/matrix"], w["conv1/bias"], 5)  # (B, 12, 12, 32)
        x = _conv_pool_relu(x, w["conv2/matrix"], w["conv2/bias"], 5)  # (B, 4, 4, 64)
        x = x.reshape(len(x), -1)  # (B, 1024), (H, W, C) order
        features = _relu(x @ w["fc1/kernel"] + w["fc1/bias"])  # (B, 128)
        return features, features @ w["fc2/kernel"] + w["fc2/bias"]  # (B, 10)


def load_classifier(path: str | Path = WEIGHTS_PATH) -> Classifier:
    """Read a weights file written by ``train_classifier`` (parsed once per content)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"classifier weights {path} not found; train them with "
            "`python -m torch_impl.train_classifier`"
        )
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest not in _LOADED:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
        meta = json.loads(str(arrays.pop(META_KEY))) if META_KEY in arrays else {}
        _LOADED[digest] = Classifier.from_arrays(arrays, meta, digest)
    return _LOADED[digest]


def features_and_logits(images: np.ndarray, batch_size: int = DEFAULT_BATCH_SIZE
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Features (N, 128) and logits (N, 10) of ``images`` under the committed classifier."""
    return load_classifier().features_and_logits(images, batch_size)


def _as_batch(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., np.newaxis]
    if images.ndim != 4 or images.shape[1:] != IMAGE_SHAPE:
        raise ValueError(f"images must be (N, 28, 28, 1) or (N, 28, 28), got {images.shape}")
    if not np.issubdtype(images.dtype, np.floating):
        raise ValueError(f"images must be floats in [-1, 1], got dtype {images.dtype}")
    return images.astype(np.float32, copy=False)


def _conv_pool_relu(x: np.ndarray, matrix: np.ndarray, bias: np.ndarray, k: int) -> np.ndarray:
    """relu(max_pool_2x2(conv_valid(x) + bias)), computed as relu(max_pool(conv) + bias).

    A per-channel bias and a ReLU both commute with the max, so they touch a
    quarter of the values. x: (B, H, W, C) -> (B, (H-k+1)/2, (W-k+1)/2, out).
    """
    out = _max_pool2(_conv_valid(x, matrix, k))
    out += bias
    return _relu(out)


def _conv_valid(x: np.ndarray, matrix: np.ndarray, k: int) -> np.ndarray:
    """'valid' stride-1 convolution without bias (cross-correlation, as in torch), via im2col.

    x: (B, H, W, C); matrix: (k*k*C, out) with rows in (kh, kw, C) order.
    Returns (B, H-k+1, W-k+1, out).
    """
    batch, height, width, channels = x.shape
    out_h, out_w = height - k + 1, width - k + 1
    # (B, out_h, out_w, C, kh, kw) view -> (B, out_h, out_w, kh, kw, C) copy -> rows.
    windows = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(1, 2))
    cols = windows.transpose(0, 1, 2, 4, 5, 3).reshape(batch * out_h * out_w, k * k * channels)
    return (cols @ matrix).reshape(batch, out_h, out_w, -1)


def _max_pool2(x: np.ndarray) -> np.ndarray:
    """2x2 max-pool, stride 2: (B, H, W, C) -> (B, H/2, W/2, C), H and W even.

    Four strided views and three maximums: several times faster than a
    max over the axes of a reshaped array.
    """
    top = np.maximum(x[:, 0::2, 0::2], x[:, 0::2, 1::2])
    bottom = np.maximum(x[:, 1::2, 0::2], x[:, 1::2, 1::2])
    return np.maximum(top, bottom, out=top)


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0, out=x)
