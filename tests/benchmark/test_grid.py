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


def test_rgb_samples_tile_in_colour_and_grey_ones_stay_grey() -> None:
    frame = np.random.default_rng(0).integers(0, 256, (4, 16, 16, 3), dtype=np.uint8)
    grid = tile_uint8(frame)
    assert grid.shape == (2 * 18 + 2, 2 * 18 + 2, 3)
    assert (grid[2:18, 20:36] == frame[1]).all() and (grid[18:20] == 255).all()
    assert tile_uint8(frame[..., :1]).ndim == 2
