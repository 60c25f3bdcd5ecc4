"""The sample grid as one picture (benchmark.grid), shared by the report's
figures and GIF and by TensorBoard's images."""

from __future__ import annotations

import numpy as np

from benchmark.grid import grid_columns, tile, tile_uint8


def test_tile_makes_square_grid_in_unit_range() -> None:
    samples = np.linspace(-1, 1, 64 * 28 * 28, dtype=np.float32).reshape(64, 28, 28, 1)
    grid = tile(samples, gutter=2)
    assert grid.shape == (8 * 30 + 2, 8 * 30 + 2)
    assert grid.min() == 0.0 and grid.max() == 1.0


def test_a_conditional_models_grid_has_one_column_per_digit() -> None:
    assert grid_columns("cgan") == 10 and grid_columns("dcgan") is None
    from benchmark.specs import spec_for_image

    assert grid_columns(spec_for_image("cgan", (32, 32, 3), num_classes=5)) == 5
    # 64 samples asking for labels 0..9 in turn: 6 full rows of 10, so that
    # column j holds only images asked to be digit j.
    samples = np.repeat(np.arange(64) % 10, 28 * 28).reshape(64, 28, 28, 1) / 9 * 2 - 1
    grid = tile(samples, gutter=2, columns=10)
    assert grid.shape == (6 * 30 + 2, 10 * 30 + 2)
    for column in range(10):
        cells = grid[2:, 2 + column * 30: 2 + column * 30 + 28]
        values = np.unique(cells[cells < 1.0]) if column < 9 else np.array([1.0])
        assert np.allclose(values, column / 9), column


def test_a_uint8_frame_tiles_to_its_own_pixels_with_white_gutters() -> None:
    frame = np.arange(4 * 28 * 28, dtype=np.int64).reshape(4, 28, 28, 1) % 256
    grid = tile_uint8(frame.astype(np.uint8))
    assert grid.dtype == np.uint8 and grid.shape == (2 * 30 + 2, 2 * 30 + 2)
    assert (grid[2:30, 32:60] == frame[1, ..., 0]).all() and (grid[30:32] == 255).all()


def test_rgb_images_tile_in_colour_with_white_gutters() -> None:
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (5, 16, 16, 3), dtype=np.uint8)
    grid = tile_uint8(frame)
    assert grid.shape == (2 * 18 + 2, 3 * 18 + 2, 3)  # 5 images: 3 columns, 2 rows
    assert (grid[2:18, 20:36] == frame[1]).all() and (grid[:2] == 255).all()
    assert (grid[20:36, 38:54] == 255).all()  # the empty sixth cell
    samples = frame.astype(np.float32) / 127.5 - 1.0
    assert tile(samples).shape == grid.shape and tile(samples[..., :1]).shape == grid.shape[:2]


def test_a_grid_refuses_channel_counts_it_cannot_show() -> None:
    import pytest

    with pytest.raises(ValueError, match="1 \\(grey\\) or 3 \\(RGB\\)"):
        tile(np.zeros((4, 8, 8, 2), np.float32))
