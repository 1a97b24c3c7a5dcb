"""Conversions shared by the readers: pixel rows to upright images, and labels."""

from __future__ import annotations

import math

import numpy as np

from .errors import DatasetError

# Axis order of one image row in C order. "hwc" is row-major height x width x
# channel. "chw" stores one channel plane after another, each row by row, as the
# CIFAR-10 batches do. "cwh" stores the planes column by column, as the STL-10
# binary files do and as a MATLAB d x d x 3 array flattened in Fortran order is.
ROW_LAYOUTS = ("hwc", "chw", "cwh")

# Rows converted at a time when checking or casting non-uint8 pixel arrays.
PIXEL_CHUNK_ROWS = 1024


def rows_to_images(
    rows: np.ndarray, layout: str, height: int, width: int
) -> np.ndarray:
    """Reshape pixel rows into upright images in HWC order.

    Parameters
    ----------
    rows : ndarray of shape (n, 3 * height * width)
        One image a row.
    layout : {"hwc", "chw", "cwh"}
        Axis order of a row in C order, see ``ROW_LAYOUTS``.
    height, width : int
        Image size in pixels.

    Returns
    -------
    ndarray of shape (n, height, width, 3)
        A view of ``rows`` (not necessarily contiguous).
    """
    n = rows.shape[0]
    if layout == "hwc":
        return rows.reshape(n, height, width, 3)
    if layout == "chw":
        return rows.reshape(n, 3, height, width).transpose(0, 2, 3, 1)
    if layout == "cwh":
        return rows.reshape(n, 3, width, height).transpose(0, 3, 2, 1)
    raise ValueError(f"layout must be one of {ROW_LAYOUTS}, got {layout!r}")


def square_side(row_length: int, where: str) -> int:
    """Return d such that ``row_length == d * d * 3``.

    Raises
    ------
    DatasetError
        If no such integer d exists.
    """
    side = math.isqrt(row_length // 3) if row_length > 0 else 0
    if side < 1 or side * side * 3 != row_length:
        raise DatasetError(
            f"{where}: rows of {row_length} values are not square colour images"
            " (expected d * d * 3 values a row)"
        )
    return side


def copy_pixels(source: np.ndarray, target: np.ndarray, where: str) -> None:
    """Copy pixel values into a uint8 array, checking that they fit.

    Parameters
    ----------
    source : ndarray
        Integer or floating-point pixel values with the shape of ``target``.
    target : ndarray of uint8
        Destination, for example a memory-mapped array. Copied in chunks of
        ``PIXEL_CHUNK_ROWS`` rows so that a conversion needs little extra memory.
    where : str
        File and field named in error messages.

    Raises
    ------
    DatasetError
        If a value is not an integer in 0..255.
    """
    if source.dtype == np.uint8:
        target[...] = source
        return
    if source.dtype.kind not in "iuf":
        raise DatasetError(
            f"{where}: expected numeric pixel values, got {source.dtype}"
        )
    for start in range(0, source.shape[0], PIXEL_CHUNK_ROWS):
        chunk = source[start : start + PIXEL_CHUNK_ROWS]
        if chunk.min() < 0 or chunk.max() > 255:
            raise DatasetError(
                f"{where}: pixel values must lie in 0..255, found"
                f" {chunk.min()}..{chunk.max()} in rows {start}.."
                f"{start + chunk.shape[0] - 1}"
            )
        if source.dtype.kind == "f" and not np.array_equal(chunk, np.round(chunk)):
            raise DatasetError(
                f"{where}: pixel values must be whole numbers 0..255, found"
                f" fractional values in rows {start}..{start + chunk.shape[0] - 1}"
                " (values scaled to [0, 1] are not supported)"
            )
        target[start : start + PIXEL_CHUNK_ROWS] = chunk.astype(np.uint8)


def integer_labels(values: object, count: int, where: str) -> np.ndarray:
    """Convert labels to a 1-D int64 array of length ``count``.

    A column or row vector of shape (count, 1) or (1, count) is flattened.

    Raises
    ------
    DatasetError
        If the values are not whole numbers or their number is not ``count``.
    """
    try:
        labels = np.asarray(values)
    except (TypeError, ValueError) as error:
        raise DatasetError(f"{where}: labels are not an array ({error})") from None
    if labels.ndim == 2 and 1 in labels.shape:
        labels = labels.ravel()
    if labels.ndim != 1:
        raise DatasetError(f"{where}: expected 1-D labels, got shape {labels.shape}")
    if labels.dtype.kind == "f" and np.array_equal(labels, np.round(labels)):
        labels = labels.astype(np.int64)
    if labels.dtype.kind not in "iu":
        raise DatasetError(f"{where}: expected integer labels, got {labels.dtype}")
    if labels.size != count:
        raise DatasetError(
            f"{where}: {labels.size} labels for {count} images; the counts must match"
        )
    return labels.astype(np.int64)
