"""Assignment interface for visualising filters, patches and images."""

from __future__ import annotations

from . import viz


def display_layer(X, filename="layer.png"):
    """Save the rows of ``X`` as a PNG grid of contrast-normalised RGB tiles.

    Parameters
    ----------
    X : ndarray of shape (N, D)
        One filter, patch or image per row; each row reshapes to d x d x 3, e.g.
        100 x 192 for 8 x 8 filters or 16 x 27648 for 96 x 96 images.
    filename : str or Path, default "layer.png"

    Returns
    -------
    Path of the written PNG.
    """
    return viz.display_layer(X, filename)
