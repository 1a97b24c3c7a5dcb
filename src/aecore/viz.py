"""Tile grids of filters, patches and whole images, saved as image files."""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

import numpy as np

from ._files import apply_default_mode
from ._validation import (
    as_real_array,
    check_finite,
    check_int,
    check_real,
    patch_side,
)


def tile_grid(
    X, *, separator: int = 1, background: float = 1.0, n_cols: int | None = None
) -> np.ndarray:
    """Arrange the rows of ``X`` as contrast-normalised RGB tiles in a grid.

    Parameters
    ----------
    X : ndarray of shape (n_tiles, 3 * d * d)
        One tile per row; each row reshapes to d x d x 3 (height, width, channel),
        e.g. rows of ``W1`` (192 values), patches, or whole 96 x 96 images
        (27648 values).
    separator : int, default 1
        Width in pixels of the lines between tiles and around the grid.
    background : float, default 1.0
        Grey level of separators and empty cells, in [0, 1].
    n_cols : int, optional
        Tiles per grid row; defaults to ``ceil(sqrt(n_tiles))``, a near-square grid.

    Returns
    -------
    ndarray of shape (H, W, 3), float64, values in [0, 1]

    Notes
    -----
    Each tile is rescaled on its own so that its minimum maps to 0 and its maximum
    to 1 across all three channels (a constant tile becomes mid-grey). Filters thus
    show their pattern whatever their scale.
    """
    X = as_real_array("X", X)
    if X.ndim == 1:
        X = X[np.newaxis, :]
    if X.ndim != 2 or X.shape[0] < 1:
        raise ValueError(
            f"X must be a 2-D array with one tile per row, got shape {X.shape}."
        )
    side = patch_side("X", X.shape[1])
    check_finite("X", X)
    separator = check_int("separator", separator, minimum=0)
    background = check_real("background", background, low=0.0, high=1.0)
    n_tiles = X.shape[0]
    if n_cols is None:
        n_cols = math.ceil(math.sqrt(n_tiles))
    n_cols = check_int("n_cols", n_cols)
    n_rows = math.ceil(n_tiles / n_cols)

    tiles = X.astype(np.float64).reshape(n_tiles, side, side, 3)
    low = tiles.min(axis=(1, 2, 3), keepdims=True)
    span = tiles.max(axis=(1, 2, 3), keepdims=True) - low
    flat = span == 0
    tiles = np.where(flat, 0.5, (tiles - low) / np.where(flat, 1.0, span))

    cell = separator + side
    padded = np.full((n_rows * n_cols, side, side, 3), background)
    padded[:n_tiles] = tiles
    # Each cell is a separator band above and left of its tile.
    cells = np.full((n_rows, cell, n_cols, cell, 3), background)
    cells[:, separator:, :, separator:] = padded.reshape(
        n_rows, n_cols, side, side, 3
    ).transpose(0, 2, 1, 3, 4)
    grid = cells.reshape(n_rows * cell, n_cols * cell, 3)
    # Close the grid with a separator band at the bottom and right.
    grid = np.pad(
        grid, ((0, separator), (0, separator), (0, 0)), constant_values=background
    )
    return grid


def display_layer(
    X,
    filename="layer.png",
    *,
    scale: int | None = None,
    separator: int = 1,
    background: float = 1.0,
) -> Path:
    """Save the rows of ``X`` as an image grid of contrast-normalised RGB tiles.

    Parameters
    ----------
    X : ndarray of shape (n_tiles, 3 * d * d)
        Filters, patches or images, one per row (see :func:`tile_grid`).
    filename : str or Path, default "layer.png"
        Output file. Its suffix selects the format among those Pillow writes
        (``.png``, ``.jpg``, ``.tif``, ...); a name without a suffix gets PNG data.
    scale : int, optional
        Integer upscaling by pixel repetition; by default the smallest factor that
        makes the image at least 400 pixels wide (at most 8).
    separator, background
        As in :func:`tile_grid`.

    Returns
    -------
    Path of the written file. The image is written to a temporary file in the same
    directory and renamed into place.

    Raises
    ------
    ValueError
        If ``filename`` is an existing directory or its suffix names no image format
        that Pillow writes.
    """
    from PIL import Image

    path = Path(filename)
    image_format = _image_format(path, filename)
    grid = tile_grid(X, separator=separator, background=background)
    if scale is None:
        scale = min(8, max(1, math.ceil(400 / grid.shape[1])))
    scale = check_int("scale", scale)
    pixels = np.round(grid * 255).astype(np.uint8)
    pixels = pixels.repeat(scale, axis=0).repeat(scale, axis=1)

    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=path.suffix or ".png", dir=path.parent
    )
    try:
        with os.fdopen(handle, "wb") as stream:
            apply_default_mode(temporary)
            Image.fromarray(pixels).save(stream, format=image_format)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def _image_format(path: Path, filename: object) -> str:
    """Return the Pillow format that the suffix of ``path`` names, PNG without one."""
    from PIL import Image

    if path.is_dir():
        raise ValueError(
            f"filename must name an image file, got the directory {str(filename)!r}."
        )
    if not path.suffix:
        return "PNG"
    Image.init()
    writable = {
        suffix: name
        for suffix, name in Image.registered_extensions().items()
        if name in Image.SAVE
    }
    image_format = writable.get(path.suffix.lower())
    if image_format is None:
        raise ValueError(
            f"filename must end in an image suffix that Pillow writes (.png, .jpg, "
            f".tif, ...) or have no suffix for PNG, got {str(filename)!r}."
        )
    return image_format
