"""Assignment interface for visualising filters, patches and images."""

from __future__ import annotations

from . import viz


def display_layer(X, filename="layer.png"):
    """Save the rows of ``X`` as an image grid of contrast-normalised RGB tiles.

    Parameters
    ----------
    X : ndarray of shape (N, D)
        One filter, patch or image per row; each row reshapes to d x d x 3, e.g.
        100 x 192 for 8 x 8 filters or 16 x 27648 for 96 x 96 images.
    filename : str or Path, default "layer.png"
        Output file; its suffix selects the format (``.png``, ``.jpg``, ...), and a
        name without a suffix gets PNG data.

    Returns
    -------
    Path of the written file.

    Raises
    ------
    ValueError
        If ``filename`` is an existing directory or has a suffix that names no
        image format Pillow writes.
    """
    return viz.display_layer(X, filename)
