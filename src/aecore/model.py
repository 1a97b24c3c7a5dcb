"""Sparse autoencoder: specification, parameter layout, loss, gradient and encoder.

An autoencoder maps ``visible_size`` inputs through the symmetric hidden layers
``hidden_sizes`` back to ``visible_size`` outputs. Layer ``l`` computes
``a_{l+1} = f(a_l @ W_l.T + b_l)`` with ``W_l`` of shape ``(n_out, n_in)``, samples as
rows. Hidden layers use the sigmoid or the ReLU; the output layer uses the sigmoid,
or the identity when ``linear_decoder`` is set.

The parameter vector ``theta`` holds every ``W_l`` flattened in C order, in layer
order, followed by every ``b_l``. That layout is a public contract: saved models and
the assignment functions depend on it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from . import _objective
from ._validation import (
    as_float_matrix,
    as_real_array,
    check_choice,
    check_float_dtype,
    check_int,
    check_real,
)
from .backend import Backend, get_backend

ACTIVATIONS = ("sigmoid", "relu")

# Bounds for the mean activation inside the KL sparsity term; see loss_and_grad.
RHO_HAT_EPS = _objective.RHO_HAT_EPS


@dataclass(frozen=True)
class AutoencoderSpec:
    """Architecture and loss hyperparameters of a sparse autoencoder.

    Parameters
    ----------
    visible_size : int
        Number of inputs and outputs (192 for 8 x 8 RGB patches).
    hidden_sizes : sequence of int
        Sizes of the hidden layers; must read the same backwards, e.g. ``(75,)`` or
        ``(200, 75, 200)``.
    activation : {"sigmoid", "relu"}, default "sigmoid"
        Activation of the hidden layers.
    linear_decoder : bool, default False
        Use the identity instead of the sigmoid on the output layer.
    weight_decay : float, default 1e-4
        Weight-decay coefficient lambda (>= 0); biases are not decayed.
    sparsity_target : float, default 0.01
        Target mean activation rho of every hidden unit, in (0, 1).
    sparsity_weight : float, default 3.0
        Weight beta (>= 0) of the KL sparsity penalty.

    Raises
    ------
    ValueError
        If any argument is out of range; the message names the argument.
    """

    visible_size: int
    hidden_sizes: tuple[int, ...] = (75,)
    activation: str = "sigmoid"
    linear_decoder: bool = False
    weight_decay: float = 1e-4
    sparsity_target: float = 0.01
    sparsity_weight: float = 3.0

    def __post_init__(self) -> None:
        set_field = object.__setattr__
        set_field(self, "visible_size", check_int("visible_size", self.visible_size))
        set_field(self, "hidden_sizes", check_hidden_sizes(self.hidden_sizes))
        check_choice("activation", self.activation, ACTIVATIONS)
        if not isinstance(self.linear_decoder, (bool, np.bool_)):
            raise ValueError(
                f"linear_decoder must be True or False, got {self.linear_decoder!r}."
            )
        set_field(self, "linear_decoder", bool(self.linear_decoder))
        set_field(
            self,
            "weight_decay",
            check_real("weight_decay (lambda)", self.weight_decay, low=0.0),
        )
        set_field(
            self,
            "sparsity_target",
            check_real(
                "sparsity_target (rho)",
                self.sparsity_target,
                low=0.0,
                high=1.0,
                low_open=True,
                high_open=True,
            ),
        )
        set_field(
            self,
            "sparsity_weight",
            check_real("sparsity_weight (beta)", self.sparsity_weight, low=0.0),
        )

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        """Sizes of all layers, input and output included."""
        return (self.visible_size, *self.hidden_sizes, self.visible_size)

    @property
    def weight_shapes(self) -> tuple[tuple[int, int], ...]:
        """Shape ``(n_out, n_in)`` of each weight matrix, in layer order."""
        sizes = self.layer_sizes
        return tuple((sizes[i + 1], sizes[i]) for i in range(len(sizes) - 1))

    @property
    def n_params(self) -> int:
        """Length of the parameter vector ``theta``."""
        return sum(o * i + o for o, i in self.weight_shapes)

    @property
    def middle_layer(self) -> int:
        """Number of the middle hidden layer (layer 1 is the input)."""
        return 2 + len(self.hidden_sizes) // 2

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as JSON-friendly values."""
        fields = asdict(self)
        fields["hidden_sizes"] = list(self.hidden_sizes)
        return fields

    @classmethod
    def from_dict(cls, fields: dict[str, Any]) -> AutoencoderSpec:
        """Build a spec from :meth:`to_dict` output, rejecting unknown keys."""
        unknown = set(fields) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(
                f"unknown AutoencoderSpec field(s) {sorted(unknown)}; expected a "
                f"subset of {sorted(cls.__dataclass_fields__)}."
            )
        return cls(**fields)


def check_hidden_sizes(hidden_sizes, name: str = "hidden_sizes") -> tuple[int, ...]:
    if isinstance(hidden_sizes, (int, np.integer)) and not isinstance(
        hidden_sizes, bool
    ):
        hidden_sizes = (hidden_sizes,)
    sizes = np.asarray(hidden_sizes)
    if sizes.ndim != 1 or sizes.size == 0:
        raise ValueError(
            f"{name} must be a non-empty 1-D sequence of layer sizes, got "
            f"{hidden_sizes!r}."
        )
    values = tuple(check_int(f"{name} entries", v) for v in sizes.tolist())
    if values != values[::-1]:
        raise ValueError(
            f"{name} must be symmetric (read the same backwards), e.g. (75,) "
            f"or (200, 75, 200), got {values}."
        )
    return values


def pack(weights, biases) -> np.ndarray:
    """Flatten weight matrices and bias vectors into one ``theta`` vector.

    Parameters
    ----------
    weights : sequence of ndarray
        ``W_l`` of shape ``(n_out, n_in)``, in layer order.
    biases : sequence of ndarray
        ``b_l`` of shape ``(n_out,)``, in layer order.

    Returns
    -------
    ndarray of shape (n_params,)
        All ``W_l`` in C order, then all ``b_l``.
    """
    parts = [np.ravel(w) for w in weights] + [np.ravel(b) for b in biases]
    return np.concatenate(parts)


def unpack(theta: np.ndarray, spec: AutoencoderSpec):
    """Split ``theta`` into weight matrices and bias vectors (views, no copies).

    Returns
    -------
    weights : list of ndarray
        ``W_l`` of shape ``(n_out, n_in)``.
    biases : list of ndarray
        ``b_l`` of shape ``(n_out,)``.
    """
    theta = check_theta(theta, spec)
    return _objective.unpack(theta, spec.weight_shapes, np)


def check_theta(theta, spec: AutoencoderSpec) -> np.ndarray:
    """Return ``theta`` as a 1-D float array of the right length, or raise."""
    theta = as_real_array("theta", theta)
    if theta.ndim != 1 or theta.shape[0] != spec.n_params:
        raise ValueError(
            f"theta must be a 1-D array of {spec.n_params} values for layer sizes "
            f"{list(spec.layer_sizes)}, got shape {theta.shape}."
        )
    if theta.dtype.kind != "f":
        theta = theta.astype(np.float64)
    if not np.all(np.isfinite(theta)):
        raise ValueError("theta contains NaN or infinite values.")
    return theta


def init_theta(
    spec: AutoencoderSpec, seed: int | np.random.Generator | None = 0, dtype="float64"
) -> np.ndarray:
    """Draw initial parameters: ``b = 0`` and ``W_l ~ U[-r, r]``.

    The bound is ``r = sqrt(6 / (n_in + n_out + 1))`` for each layer.

    Parameters
    ----------
    spec : AutoencoderSpec
        Architecture.
    seed : int, Generator or None, default 0
        Seed or generator for the uniform draws.
    dtype : {"float64", "float32"}, default "float64"
        Floating type of the result.

    Returns
    -------
    ndarray of shape (spec.n_params,)
    """
    dtype = check_float_dtype("dtype", dtype)
    rng = np.random.default_rng(seed)
    weights = []
    for n_out, n_in in spec.weight_shapes:
        r = np.sqrt(6.0 / (n_in + n_out + 1))
        weights.append(rng.uniform(-r, r, size=(n_out, n_in)))
    biases = [np.zeros(n_out) for n_out, _ in spec.weight_shapes]
    return pack(weights, biases).astype(dtype)


def _working_dtype(dtype, data: np.ndarray) -> np.dtype:
    if dtype is not None:
        return check_float_dtype("dtype", dtype)
    if data.dtype in (np.float32, np.float64):
        return data.dtype
    return np.dtype(np.float64)


def loss_and_grad(
    theta,
    X,
    spec: AutoencoderSpec,
    *,
    dtype=None,
    backend: str | Backend = "numpy",
) -> tuple[float, np.ndarray]:
    """Compute the sparse-autoencoder loss and its gradient with respect to theta.

    Parameters
    ----------
    theta : ndarray of shape (spec.n_params,)
        Parameters in the documented layout.
    X : ndarray of shape (n_samples, spec.visible_size)
        Training rows; the targets are the inputs themselves.
    spec : AutoencoderSpec
        Architecture and loss hyperparameters.
    dtype : {"float64", "float32"}, optional
        Working precision; defaults to the dtype of ``X`` when it is floating.
    backend : str or Backend, default "numpy"
        Array backend (see :func:`aecore.backend.get_backend`).

    Returns
    -------
    loss : float
    grad : ndarray of shape (spec.n_params,)
        NumPy array in the working precision.

    Notes
    -----
    With ``N`` rows, outputs ``h(x_i)``, weights ``W_l`` and hidden activations
    ``a_j`` the loss is::

        J = 1/(2N) sum_i ||h(x_i) - x_i||^2 + lambda/2 sum_l ||W_l||_F^2
            + beta sum_{hidden layers} sum_j KL(rho || rho_hat_j)

        KL(rho || q) = rho log(rho / q) + (1 - rho) log((1 - rho) / (1 - q))
        rho_hat_j = clip(mean_i a_ij, eps, 1 - eps),   eps = RHO_HAT_EPS = 1e-8

    The sparsity term covers every hidden layer and both activations. Sigmoid
    activations lie in (0, 1), and the clip only keeps the logarithms finite when a
    unit is saturated or dead in floating point. ReLU activations are unbounded, and
    for them the same clipped KL is the definition: a unit whose mean activation is
    below eps or above 1 - eps sits on a flat part of the clip and receives no
    sparsity gradient, so weight decay alone limits it. Everywhere else the gradient
    is that of the unclipped KL, ``dKL/dq = -rho/q + (1 - rho)/(1 - q)``, spread as
    ``beta * dKL/dq / N`` over the rows before the activation derivative.

    The sigmoid is evaluated without overflow warnings, and the ReLU derivative at
    0 is taken as 0.
    """
    theta = check_theta(theta, spec)
    X = as_float_matrix("X", X, spec.visible_size)
    dtype = _working_dtype(dtype, X)
    be = get_backend(backend)
    loss, grad = _objective.loss_and_grad(
        be.asarray(theta, dtype), be.asarray(X, dtype), spec, be
    )
    return loss, be.to_numpy(grad)


def check_layer(layer, spec: AutoencoderSpec, name: str = "layer") -> int:
    """Return a valid layer number (1 = input), resolving ``None`` to the middle."""
    if layer is None:
        return spec.middle_layer
    n_layers = len(spec.layer_sizes)
    if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)):
        raise ValueError(
            f"{name} must be an integer in [1, {n_layers}] or None, got {layer!r}."
        )
    if not 1 <= layer <= n_layers:
        raise ValueError(
            f"{name} must be in [1, {n_layers}] for layer sizes "
            f"{list(spec.layer_sizes)} (1 is the input, 2 the first hidden layer), "
            f"got {layer}."
        )
    return int(layer)


def encode(
    theta,
    X,
    spec: AutoencoderSpec,
    layer: int | None = None,
    *,
    dtype=None,
    backend: str | Backend = "numpy",
) -> np.ndarray:
    """Return the activations of one layer for the rows of ``X``.

    Parameters
    ----------
    theta : ndarray of shape (spec.n_params,)
    X : ndarray of shape (n_samples, spec.visible_size)
    spec : AutoencoderSpec
    layer : int, optional
        Layer number: 1 is the input, 2 the first hidden layer, and
        ``len(spec.layer_sizes)`` the reconstruction. Defaults to the middle hidden
        layer.
    dtype : {"float64", "float32"}, optional
        Working precision; defaults to the dtype of ``X`` when it is floating.
    backend : str or Backend, default "numpy"

    Returns
    -------
    ndarray of shape (n_samples, spec.layer_sizes[layer - 1])
    """
    theta = check_theta(theta, spec)
    X = as_float_matrix("X", X, spec.visible_size)
    layer = check_layer(layer, spec)
    dtype = _working_dtype(dtype, X)
    be = get_backend(backend)
    out = _objective.forward(
        be.asarray(theta, dtype), be.asarray(X, dtype), spec, be, layer
    )
    return be.to_numpy(out)
