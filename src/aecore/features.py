"""Dense features: a strided patch grid over each image, encoded by a trained model.

Every patch on the grid goes through the model's normaliser (and whitener), then the
encoder up to the chosen layer. The per-image feature vector is either the
concatenation of all patch codes or their sums over the four image quadrants.
Images are processed in batches, so memory stays bounded for any number of images.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from . import _objective
from ._validation import check_choice, check_float_dtype, check_int
from .backend import Backend, get_backend
from .model import check_layer
from .patches import as_image_array, check_patch_size
from .persist import TrainedModel

POOLINGS = ("concat", "quadrant")

# Working memory per batch (patches, normalised copies, activations), in bytes.
DEFAULT_MAX_BATCH_BYTES = 256 * 2**20


def grid_shape(image_shape, patch_size: int, stride: int) -> tuple[int, int]:
    """Return the number of patch rows and columns of the strided grid.

    A patch starts at every multiple of ``stride`` where it still fits, so a
    12 x 16 image with 8 x 8 patches and stride 4 gives a 2 x 3 grid.
    """
    height, width = _image_hw(image_shape)
    patch_size = check_patch_size(patch_size, (height, width))
    stride = check_int("stride", stride)
    return (height - patch_size) // stride + 1, (width - patch_size) // stride + 1


def feature_count(
    image_shape, patch_size: int, stride: int, n_hidden: int, pooling: str = "concat"
) -> int:
    """Return the length of one image's feature vector.

    Parameters
    ----------
    image_shape : tuple
        (H, W) or (H, W, 3).
    patch_size, stride : int
    n_hidden : int
        Units of the encoded layer.
    pooling : {"concat", "quadrant"}, default "concat"
    """
    check_choice("pooling", pooling, POOLINGS)
    n_hidden = check_int("n_hidden", n_hidden)
    rows, cols = grid_shape(image_shape, patch_size, stride)
    if pooling == "concat":
        return rows * cols * n_hidden
    _check_quadrants(rows, cols)
    return 4 * n_hidden


def estimate_feature_bytes(
    n_images: int,
    image_shape,
    patch_size: int,
    stride: int,
    n_hidden: int,
    pooling: str = "concat",
    dtype="float32",
) -> int:
    """Return the size in bytes of the feature matrix for ``n_images`` images."""
    n_images = check_int("n_images", n_images, minimum=0)
    itemsize = check_float_dtype("dtype", dtype).itemsize
    count = feature_count(image_shape, patch_size, stride, n_hidden, pooling)
    return n_images * count * itemsize


def extract_features(
    images,
    model: TrainedModel,
    stride: int,
    pooling: str = "concat",
    layer: int | None = None,
    batch_size: int = 256,
    dtype="float32",
    backend: str | Backend = "numpy",
    progress: Callable[[int, int], None] | None = None,
    *,
    out: np.ndarray | None = None,
    max_batch_bytes: int = DEFAULT_MAX_BATCH_BYTES,
) -> np.ndarray:
    """Encode a strided grid of patches of every image into one feature row.

    Parameters
    ----------
    images : ndarray of shape (N, H, W, 3) or (N, D)
        Raw images (uint8 or float); a ``np.memmap`` is read batch by batch.
    model : TrainedModel
    stride : int
        Step between patch corners, in pixels.
    pooling : {"concat", "quadrant"}, default "concat"
        ``"concat"`` joins the codes of all patches, patch by patch in row-major
        grid order. ``"quadrant"`` sums the codes over the four image quadrants
        (top-left, top-right, bottom-left, bottom-right). With an odd number of
        grid rows or columns, the extra one goes to the top or left half.
    layer : int, optional
        Layer to encode to (1 is the input, 2 the first hidden layer); defaults to
        the middle hidden layer.
    batch_size : int, default 256
        Maximum images per batch; lowered further so that a batch's working memory
        stays under ``max_batch_bytes``.
    dtype : {"float32", "float64"}, default "float32"
        Working precision of normalisation and encoding.
    backend : str or Backend, default "numpy"
    progress : callable, optional
        Called as ``progress(images_done, images_total)`` after each batch.
    out : ndarray of shape (N, n_features), float32, optional
        Preallocated result, for example a ``np.memmap``.
    max_batch_bytes : int, default 256 MiB

    Returns
    -------
    ndarray of shape (N, n_features), float32
    """
    images = as_image_array(images)
    spec = model.spec
    p = check_patch_size(model.patch_size, images.shape[1:])
    stride = check_int("stride", stride)
    check_choice("pooling", pooling, POOLINGS)
    layer = check_layer(layer, spec)
    batch_size = check_int("batch_size", batch_size)
    max_batch_bytes = check_int("max_batch_bytes", max_batch_bytes)
    dtype = check_float_dtype("dtype", dtype)

    n_images = images.shape[0]
    n_units = spec.layer_sizes[layer - 1]
    rows, cols = grid_shape(images.shape[1:3], p, stride)
    n_features = feature_count(images.shape[1:3], p, stride, n_units, pooling)
    out = _check_out(out, (n_images, n_features))

    per_image = (
        rows
        * cols
        * (
            spec.visible_size * (images.dtype.itemsize + 2 * dtype.itemsize)
            + sum(spec.layer_sizes[1:layer]) * dtype.itemsize
        )
    )
    step = max(1, min(batch_size, max_batch_bytes // max(per_image, 1)))
    with get_backend(backend).row_parallel() as be:
        theta = be.asarray(model.theta, dtype)
        for start in range(0, n_images, step):
            stop = min(start + step, n_images)
            batch = np.asarray(images[start:stop])
            codes = _encode_grid(batch, model, theta, be, layer, stride, dtype)
            codes = codes.reshape(stop - start, rows, cols, n_units)
            if pooling == "quadrant":
                codes = _quadrant_sums(codes)
            out[start:stop] = codes.reshape(stop - start, -1)
            if progress is not None:
                progress(stop, n_images)
    return out


def _encode_grid(batch, model, theta, be, layer, stride, dtype) -> np.ndarray:
    """Return the codes of every grid patch of ``batch``, patch-major rows."""
    p = model.patch_size
    # (b, rows, cols, 3, p, p) view of the grid, then rows of p * p * 3 values
    windows = sliding_window_view(batch, (p, p), axis=(1, 2))[:, ::stride, ::stride]
    patches = windows.transpose(0, 1, 2, 4, 5, 3).reshape(-1, p * p * 3)
    X = model.preprocess(patches, dtype=dtype)
    codes = _objective.forward(theta, be.asarray(X, dtype), model.spec, be, layer)
    return be.to_numpy(codes)


def raw_pixel_features(
    images, *, out: np.ndarray | None = None, batch_size: int = 1024
) -> np.ndarray:
    """Return raw pixels as float32 rows scaled to [0, 1].

    Integer images are divided by their dtype's maximum (255 for uint8). Float
    images must already lie in [0, 1] and are copied as float32.

    Parameters
    ----------
    images : ndarray of shape (N, H, W, 3) or (N, D)
    out : ndarray of shape (N, H * W * 3), float32, optional
    batch_size : int, default 1024
        Images converted at once.

    Returns
    -------
    ndarray of shape (N, H * W * 3), float32
    """
    images = as_image_array(images)
    batch_size = check_int("batch_size", batch_size)
    n_images = images.shape[0]
    n_values = int(np.prod(images.shape[1:]))
    out = _check_out(out, (n_images, n_values))
    kind = images.dtype.kind
    if kind not in "uif":
        raise ValueError(f"images must be numeric, got dtype {images.dtype}.")
    for start in range(0, n_images, batch_size):
        stop = min(start + batch_size, n_images)
        batch = np.asarray(images[start:stop]).reshape(stop - start, n_values)
        if kind in "ui":
            scale = np.float32(1.0 / np.iinfo(images.dtype).max)
            np.multiply(batch, scale, out=out[start:stop], casting="unsafe")
        else:
            in_range = batch.min() >= 0 and batch.max() <= 1
            if not (np.all(np.isfinite(batch)) and in_range):
                raise ValueError(
                    "float images must be finite and lie in [0, 1]; scale them "
                    "first or pass uint8 images."
                )
            out[start:stop] = batch
    return out


def _image_hw(image_shape) -> tuple[int, int]:
    shape = tuple(int(s) for s in image_shape)
    if len(shape) not in (2, 3) or (len(shape) == 3 and shape[2] != 3):
        raise ValueError(f"image_shape must be (H, W) or (H, W, 3), got {image_shape}.")
    if min(shape[:2]) < 1:
        raise ValueError(f"image_shape must be positive, got {image_shape}.")
    return shape[0], shape[1]


def _check_quadrants(rows: int, cols: int) -> None:
    if rows < 2 or cols < 2:
        raise ValueError(
            "pooling='quadrant' needs a patch grid of at least 2 x 2, got "
            f"{rows} x {cols}; lower the stride or use pooling='concat'."
        )


def _quadrant_sums(codes: np.ndarray) -> np.ndarray:
    """Sum (b, rows, cols, units) codes over quadrants into (b, 4, units)."""
    rows, cols = codes.shape[1:3]
    mid_r, mid_c = (rows + 1) // 2, (cols + 1) // 2
    return np.stack(
        [
            codes[:, :mid_r, :mid_c].sum(axis=(1, 2)),
            codes[:, :mid_r, mid_c:].sum(axis=(1, 2)),
            codes[:, mid_r:, :mid_c].sum(axis=(1, 2)),
            codes[:, mid_r:, mid_c:].sum(axis=(1, 2)),
        ],
        axis=1,
    )


def _check_out(out, shape: tuple[int, int]) -> np.ndarray:
    if out is None:
        return np.empty(shape, dtype=np.float32)
    if out.shape != shape or out.dtype != np.float32:
        raise ValueError(
            f"out must be a float32 array of shape {shape}, got {out.dtype} "
            f"{out.shape}."
        )
    return out
