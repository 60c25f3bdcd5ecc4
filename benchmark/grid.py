"""The sample grid as one picture, in numpy alone: the report's figures and
GIF, and a worker's TensorBoard images (which must not import matplotlib),
tile the same way."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from benchmark.specs import GANSpec

GRID_IMAGES = 64  # an 8x8 sample grid


def tile(samples: np.ndarray, max_images: int = GRID_IMAGES, gutter: int = 2,
         columns: int | None = None) -> np.ndarray:
    """(N, H, W[, C]) images in [-1, 1] as one image in [0, 1] with white
    gutters: grey (rows, cols) for 1 channel (or none), RGB (rows, cols, 3) for
    3; a square grid (8x8 for 64), or `columns` wide and only full rows
    (a conditional model's samples ask for labels 0..9 in turn: one class per column)."""
    images = np.asarray(samples, dtype=np.float32)[:max_images]
    if columns and len(images) >= columns:
        images = images[: len(images) // columns * columns]
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim == 4 and images.shape[-1] != 3:
        raise ValueError(f"images of {images.shape[-1]} channels: a grid shows 1 (grey) or 3 (RGB)")
    n, height, width = images.shape[:3]
    cols = columns or max(1, math.ceil(math.sqrt(n)))
    rows = max(1, math.ceil(n / cols))
    grid = np.ones((rows * (height + gutter) + gutter, cols * (width + gutter) + gutter, *images.shape[3:]),
                   np.float32)
    for i, image in enumerate(images):
        row, col = divmod(i, cols)
        top, left = gutter + row * (height + gutter), gutter + col * (width + gutter)
        grid[top:top + height, left:left + width] = (np.clip(image, -1.0, 1.0) + 1.0) / 2.0
    return grid


def grid_columns(model: str | GANSpec) -> int | None:
    """Sample-grid width: one column per class for a conditional model, whose
    fixed sample set asks for labels 0..9 in turn; square otherwise. `model`:
    a name (its 28x28 spec) or a spec (`benchmark.specs.spec_for_image`)."""
    from benchmark.specs import SPECS

    spec = SPECS.get(model) if isinstance(model, str) else model
    return spec.num_classes if spec and spec.conditional else None


def frame_samples(model: str | GANSpec) -> int:
    """How many of the fixed samples each frame of frames.npz keeps (the GIF of
    training and TensorBoard's sample grid show them): a 4x4 grid, or two rows
    of one column per class for a conditional model. The final sample grid
    (samples.npy) keeps them all; 13 frames of 64 made a run's frames.npz and
    GIF about 0.6 MB each, which a committed example multiplies by its runs."""
    columns = grid_columns(model)
    return 2 * columns if columns else 16


def tile_uint8(frame: np.ndarray, columns: int | None = None) -> np.ndarray:
    """A frame of frames.npz, uint8 (N, H, W, C), as one uint8 grid, grey
    (rows, cols) or RGB (rows, cols, 3) as `tile`: its pixels unchanged, gutters 255."""
    return np.round(tile(frame.astype(np.float32) / 127.5 - 1.0, columns=columns) * 255.0).astype(np.uint8)
