"""Assignment interface of the sparse autoencoder (sigmoid hidden layers).

Thin wrappers over :mod:`aecore.model` with the assignment's names and signatures.
``hidden_size`` is an int or a symmetric 1-D array such as ``np.array([200, 75,
200])``. ``theta`` contains all ``W_l`` flattened in C order, in layer order, then all
``b_l``.
"""

from __future__ import annotations

import numpy as np

from ._validation import as_float_matrix, check_int, check_real
from .model import (
    AutoencoderSpec,
    check_hidden_sizes,
    check_layer,
    encode,
    init_theta,
    loss_and_grad,
)


def _spec(visible_size, hidden_size, **loss_params) -> AutoencoderSpec:
    visible_size = check_int("visible_size", visible_size)
    hidden = check_hidden_sizes(hidden_size, "hidden_size")
    return AutoencoderSpec(visible_size, hidden, **loss_params)


def initialize(hidden_size, visible_size) -> np.ndarray:
    """Draw initial parameters for layer sizes ``[visible, *hidden, visible]``.

    Biases start at 0 and each ``W_l`` is uniform on ``[-r, r]`` with
    ``r = sqrt(6 / (n_in + n_out + 1))``. The draw follows NumPy's global random
    state, so ``np.random.seed`` makes it reproducible.

    Parameters
    ----------
    hidden_size : int or 1-D ndarray
        Hidden layer sizes; must be symmetric.
    visible_size : int
        Number of input (and output) units.

    Returns
    -------
    ndarray of shape (n_params,), float64
    """
    spec = _spec(visible_size, hidden_size)
    # The legacy global state is what np.random.seed controls, as the assignment
    # expects; the draw only seeds a Generator.
    seed = int(np.random.randint(0, 2**31 - 1))  # noqa: NPY002
    return init_theta(spec, seed)


def autoencoder_loss(
    theta, visible_size, hidden_size, lambda_, sparsity_param, beta, data
) -> tuple[float, np.ndarray]:
    """Return the sparse-autoencoder loss and its gradient at ``theta``.

    The loss is the mean squared reconstruction error (halved), plus
    ``lambda_ / 2`` times the squared weights, plus ``beta`` times the KL
    divergence between ``sparsity_param`` and each hidden unit's mean activation
    (see :func:`aecore.model.loss_and_grad`).

    Parameters
    ----------
    theta : ndarray of shape (n_params,)
    visible_size : int
    hidden_size : int or 1-D ndarray
    lambda_ : float
        Weight decay, >= 0.
    sparsity_param : float
        Target mean activation rho, in (0, 1).
    beta : float
        Weight of the sparsity penalty, >= 0.
    data : ndarray of shape (N, visible_size)
        Rows of normalised patches. float32 data is processed in float32.

    Returns
    -------
    loss : float
    grad : ndarray of shape (n_params,)
    """
    spec = _spec(
        visible_size,
        hidden_size,
        weight_decay=check_real("lambda_", lambda_, low=0.0),
        sparsity_target=check_real(
            "sparsity_param",
            sparsity_param,
            low=0.0,
            high=1.0,
            low_open=True,
            high_open=True,
        ),
        sparsity_weight=check_real("beta", beta, low=0.0),
    )
    data = as_float_matrix("data", data, spec.visible_size)
    return loss_and_grad(theta, data, spec)


def autoencoder_transform(
    theta, visible_size, hidden_size, layer_number, data
) -> np.ndarray:
    """Return the activations of layer ``layer_number`` for the rows of ``data``.

    Layer 1 is the input, layer 2 the first hidden layer, and so on up to the
    reconstruction.

    Returns
    -------
    ndarray of shape (N, size of layer ``layer_number``)
    """
    spec = _spec(visible_size, hidden_size)
    layer = check_layer(layer_number, spec, name="layer_number")
    data = as_float_matrix("data", data, spec.visible_size)
    return encode(theta, data, spec, layer)
