"""Tile grids and image files of filters, patches and whole images."""

import numpy as np
import pytest
from conftest import file_modes
from numpy.testing import assert_allclose
from PIL import Image

from aecore import display_layer as assignment
from aecore.viz import display_layer, tile_grid


def test_grid_is_near_square_with_separators():
    X = np.random.default_rng(0).normal(size=(75, 192))
    grid = tile_grid(X)
    # 9 x 9 cells of 8 pixels, 1-pixel separators around and between them
    assert grid.shape == (9 * 9 + 1, 9 * 9 + 1, 3)
    assert grid.min() >= 0.0
    assert grid.max() <= 1.0
    assert_allclose(grid[0], 1.0)
    assert_allclose(grid[:, 9], 1.0)
    assert_allclose(grid[-9:-1, -9:-1], 1.0)  # cells after the last tile are empty


def test_tiles_are_rows_reshaped_and_contrast_normalised():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(5, 48)) * [[1], [10], [100], [0.01], [3]]
    grid = tile_grid(X, separator=2, background=0.0)
    for index, row in enumerate(X):
        r, c = divmod(index, 3)
        tile = grid[2 + r * 6 : 2 + r * 6 + 4, 2 + c * 6 : 2 + c * 6 + 4]
        expected = row.reshape(4, 4, 3)
        expected = (expected - expected.min()) / (expected.max() - expected.min())
        assert_allclose(tile, expected)


def test_constant_tile_is_mid_grey_and_images_work():
    flat = tile_grid(np.full((1, 12), 7.0), separator=0)
    assert_allclose(flat, 0.5)
    images = np.random.default_rng(2).integers(0, 256, size=(4, 96 * 96 * 3))
    assert tile_grid(images).shape == (2 * 97 + 1, 2 * 97 + 1, 3)
    assert tile_grid(np.zeros((10, 3)), n_cols=5).shape == (2 * 2 + 1, 5 * 2 + 1, 3)


@pytest.mark.parametrize(
    ("X", "kwargs", "message"),
    [
        (np.zeros((4, 100)), {}, "X rows must reshape to d x d x 3"),
        (np.zeros((0, 12)), {}, "X must be a 2-D array with one tile per row"),
        (np.full((2, 12), np.nan), {}, "X contains 24 NaN or infinite"),
        (np.zeros((2, 12)), {"background": 2.0}, r"background must be in \[0, 1\]"),
        (np.zeros((2, 12)), {"separator": -1}, "separator must be an integer >= 0"),
    ],
)
def test_tile_grid_rejects_bad_input(X, kwargs, message):
    with pytest.raises(ValueError, match=message):
        tile_grid(X, **kwargs)


def test_display_layer_writes_png(tmp_path):
    X = np.random.default_rng(3).normal(size=(16, 192))
    path = display_layer(X, tmp_path / "sub" / "filters.png")
    assert path == tmp_path / "sub" / "filters.png"
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.mode == "RGB"
        side = 4 * 9 + 1
        scale = min(8, -(-400 // side))  # at least 400 pixels wide, at most 8x
        assert image.size == (side * scale, side * scale)
    assert [p.name for p in path.parent.iterdir()] == ["filters.png"]
    display_layer(X, path, scale=1)
    with Image.open(path) as image:
        assert image.size == (37, 37)


@pytest.mark.parametrize(
    ("name", "image_format"),
    [
        ("grid.jpg", "JPEG"),
        ("grid.JPEG", "JPEG"),
        ("grid.tif", "TIFF"),
        ("grid.png", "PNG"),
        ("grid", "PNG"),
    ],
)
@pytest.mark.parametrize("writer", [display_layer, assignment.display_layer])
def test_display_layer_format_follows_suffix(tmp_path, writer, name, image_format):
    path = writer(np.random.default_rng(4).normal(size=(4, 12)), tmp_path / name)
    assert path == tmp_path / name
    with Image.open(path) as image:
        assert image.format == image_format
    assert [p.name for p in tmp_path.iterdir()] == [name]


@pytest.mark.parametrize("writer", [display_layer, assignment.display_layer])
def test_display_layer_rejects_unknown_suffix(tmp_path, writer):
    with pytest.raises(
        ValueError,
        match=r"filename must end in an image suffix.*"
        r"grid\.xyz",
    ):
        writer(np.zeros((4, 12)), tmp_path / "grid.xyz")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("writer", [display_layer, assignment.display_layer])
def test_display_layer_rejects_directory(tmp_path, writer):
    folder = tmp_path / "out"
    folder.mkdir()
    with pytest.raises(
        ValueError,
        match=r"filename must name an image file, got "
        r"the directory '.*out'",
    ):
        writer(np.zeros((4, 12)), folder)
    assert list(folder.iterdir()) == []


def test_png_follows_umask(tmp_path, umask_027):
    path = display_layer(np.zeros((4, 12)), tmp_path / "grid.png")
    assert file_modes(path) == {"grid.png": 0o640}
