"""Assignment interface for patch sampling and normalisation.

Images are rows of an (N, D) array that reshape to d x d x 3 (height, width,
channel); (N, H, W, 3) arrays work as well. Random draws follow NumPy's global
random state, so ``np.random.seed`` makes them reproducible.
"""

from __future__ import annotations

import numpy as np

from . import patches as _patches
from ._validation import as_real_array, check_finite


def normalize_data(images) -> np.ndarray:
    """Clip each colour channel at mean +- 3 std and map it linearly onto [0.1, 0.9].

    The statistics come from ``images`` itself. To apply training statistics to new
    data, use :class:`aecore.patches.PatchNormalizer`.

    Parameters
    ----------
    images : ndarray of shape (N, D)
        Images, patches or filters as rows that reshape to d x d x 3.

    Returns
    -------
    ndarray of shape (N, D), float64
    """
    images = as_real_array("images", images)
    # Only the checks of shape and row count are needed, so the (N, H, W, 3) view it
    # returns is dropped and the result keeps the layout of ``images``.
    _patches.as_image_array(images, "images")
    check_finite("images", images)
    return _patches.PatchNormalizer().fit_transform(images)


def sample_patches_raw(images, num_patches=10000, patch_size=8) -> np.ndarray:
    """Cut ``num_patches`` random ``patch_size`` x ``patch_size`` patches.

    Each patch comes from a random image at a random corner; images are read in one
    pass, never once per patch.

    Returns
    -------
    ndarray of shape (num_patches, 3 * patch_size**2), the dtype of ``images``
    """
    # np.random.seed controls the legacy global state; it only seeds a Generator.
    seed = int(np.random.randint(0, 2**31 - 1))  # noqa: NPY002
    return _patches.sample_patches_raw(images, num_patches, patch_size, seed=seed)


def sample_patches(images, num_patches=10000, patch_size=8) -> np.ndarray:
    """Cut random patches as :func:`sample_patches_raw` and normalise them.

    Returns
    -------
    ndarray of shape (num_patches, 3 * patch_size**2), float64, values in [0.1, 0.9]
    """
    return normalize_data(sample_patches_raw(images, num_patches, patch_size))
