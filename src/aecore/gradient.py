"""Numerical gradients by central differences, and the gradient check of the model.

``compute_gradient`` and ``check_gradient`` keep the assignment's names and
signatures. ``relative_gradient_error`` and ``gradient_check_table`` compare the
analytic gradient of the sparse-autoencoder loss against ``compute_gradient``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ._validation import as_float_matrix, check_real
from .model import AutoencoderSpec, check_theta, init_theta, loss_and_grad

# Step h of the central differences used by the model's gradient check. The O(h^2)
# truncation error grows with the third derivative, and the KL term makes that large
# when a unit's mean activation is tiny. Rounding error grows as about 1e-16 / h.
# On the tiny networks of gradient_check_cases, h = 1e-5 gave relative errors above
# 1e-8 at some random points. With h = 1e-6 the error stayed near 2e-9 at all 8
# points tried.
CHECK_EPSILON = 1e-6

# Largest relative error accepted by check_gradient on its cubic test functions,
# whose truncation error is about epsilon**2 times the third derivative.
CHECK_TOLERANCE = 1e-6


def compute_gradient(J: Callable, theta, epsilon: float = 1e-4) -> np.ndarray:
    """Approximate the gradient of ``J`` at ``theta`` by central differences.

    ``dJ/dtheta_i ~ (J(theta + eps e_i) - J(theta - eps e_i)) / (2 eps)``.

    Parameters
    ----------
    J : callable
        Objective of a 1-D float array. It may return a float or a tuple whose
        first element is the float (as ``autoencoder_loss`` does).
    theta : ndarray of shape (n,)
        Point at which to differentiate.
    epsilon : float, default 1e-4
        Step of the differences.

    Returns
    -------
    ndarray of shape (n,), float64
    """
    epsilon = check_real("epsilon", epsilon, low=0.0, low_open=True)
    theta = np.array(theta, dtype=np.float64)
    if theta.ndim != 1:
        raise ValueError(f"theta must be a 1-D array, got shape {theta.shape}.")
    grad = np.empty_like(theta)
    for i in range(theta.size):
        saved = theta[i]
        theta[i] = saved + epsilon
        upper = _value(J(theta))
        theta[i] = saved - epsilon
        lower = _value(J(theta))
        theta[i] = saved
        grad[i] = (upper - lower) / (2 * epsilon)
    return grad


def _value(result: Any) -> float:
    if isinstance(result, tuple):
        result = result[0]
    return float(result)


def relative_error(numeric, analytic) -> float:
    """Return ``||numeric - analytic|| / ||numeric + analytic||`` (0 if both are 0)."""
    numeric = np.asarray(numeric, dtype=np.float64)
    analytic = np.asarray(analytic, dtype=np.float64)
    denominator = np.linalg.norm(numeric + analytic)
    if denominator == 0:
        return float(np.linalg.norm(numeric - analytic))
    return float(np.linalg.norm(numeric - analytic) / denominator)


def check_gradient() -> float:
    """Check :func:`compute_gradient` on polynomials with known gradients.

    The test functions are a quadratic form, a cubic with mixed terms, and a
    separable quartic, each at a fixed random point.

    Returns
    -------
    float
        Largest relative error found.

    Raises
    ------
    RuntimeError
        If any relative error exceeds ``CHECK_TOLERANCE``.
    """
    rng = np.random.default_rng(12345)
    n = 6
    A = rng.normal(size=(n, n))
    b = rng.normal(size=n)
    c = rng.normal(size=n)
    x = rng.normal(size=n)
    cases = {
        "quadratic x^T A x + b^T x": (
            lambda t: t @ A @ t + b @ t,
            lambda t: (A + A.T) @ t + b,
        ),
        "cubic sum(c * x^3) + x0 * x1 * x2": (
            lambda t: np.sum(c * t**3) + t[0] * t[1] * t[2],
            lambda t: (
                3 * c * t**2
                + np.array([t[1] * t[2], t[0] * t[2], t[0] * t[1], 0.0, 0.0, 0.0])
            ),
        ),
        "quartic sum(x^4 - 2 x^2)": (
            lambda t: np.sum(t**4 - 2 * t**2),
            lambda t: 4 * t**3 - 4 * t,
        ),
    }
    worst = 0.0
    for name, (f, grad_f) in cases.items():
        error = relative_error(compute_gradient(f, x), grad_f(x))
        if error > CHECK_TOLERANCE:
            raise RuntimeError(
                f"compute_gradient disagrees with the exact gradient of {name}: "
                f"relative error {error:.3g} > {CHECK_TOLERANCE:g}."
            )
        worst = max(worst, error)
    return worst


def relative_gradient_error(
    spec: AutoencoderSpec,
    X,
    theta=None,
    seed: int = 0,
    epsilon: float = CHECK_EPSILON,
) -> float:
    """Compare the analytic loss gradient with central differences, in float64.

    Parameters
    ----------
    spec : AutoencoderSpec
    X : ndarray of shape (n_samples, spec.visible_size)
    theta : ndarray of shape (spec.n_params,), optional
        Point of the check. By default :func:`init_theta` with ``seed``, with the
        biases drawn from U[-0.1, 0.1] so that they too are checked away from 0.
    seed : int, default 0
    epsilon : float, default CHECK_EPSILON

    Returns
    -------
    float
        ``||g_numeric - g_analytic|| / ||g_numeric + g_analytic||``.
    """
    X = as_float_matrix("X", X, spec.visible_size).astype(np.float64)
    if theta is None:
        theta = init_theta(spec, seed)
        n_biases = sum(n_out for n_out, _ in spec.weight_shapes)
        rng = np.random.default_rng(seed + 1)
        theta[-n_biases:] = rng.uniform(-0.1, 0.1, size=n_biases)
    theta = check_theta(theta, spec).astype(np.float64)

    def J(t):
        return loss_and_grad(t, X, spec, dtype="float64")[0]

    analytic = loss_and_grad(theta, X, spec, dtype="float64")[1]
    numeric = compute_gradient(J, theta, epsilon)
    return relative_error(numeric, analytic)


def gradient_check_cases(
    visible_size: int = 12, n_hidden: int = 5, deep: tuple[int, int, int] = (6, 4, 6)
) -> list[dict[str, Any]]:
    """List the standard gradient-check configurations on a tiny network.

    Every combination of sigmoid or ReLU, one hidden layer ``(n_hidden,)`` or
    three ``deep``, sparsity on (beta = 3, rho = 0.01) or off (beta = 0), and
    weight decay on (lambda = 1e-4) or off: 16 cases.

    Returns
    -------
    list of dict
        Keys ``activation``, ``hidden_sizes``, ``sparsity``, ``decay`` and ``spec``.
    """
    cases = []
    for activation in ("sigmoid", "relu"):
        for hidden in ((n_hidden,), tuple(deep)):
            for sparsity in (True, False):
                for decay in (True, False):
                    spec = AutoencoderSpec(
                        visible_size,
                        hidden,
                        activation=activation,
                        weight_decay=1e-4 if decay else 0.0,
                        sparsity_target=0.01,
                        sparsity_weight=3.0 if sparsity else 0.0,
                    )
                    cases.append(
                        {
                            "activation": activation,
                            "hidden_sizes": hidden,
                            "sparsity": sparsity,
                            "decay": decay,
                            "spec": spec,
                        }
                    )
    return cases


def gradient_check_table(n_samples: int = 20, seed: int = 0) -> list[dict[str, Any]]:
    """Run :func:`relative_gradient_error` on every standard case.

    The data are ``n_samples`` rows drawn from U[0.1, 0.9], like normalised patches.

    Returns
    -------
    list of dict
        One row per case of :func:`gradient_check_cases`, ``spec`` replaced by
        ``relative_error``; ``pandas.DataFrame(rows)`` gives the table.
    """
    rows = []
    rng = np.random.default_rng(seed)
    for case in gradient_check_cases():
        spec = case.pop("spec")
        X = rng.uniform(0.1, 0.9, size=(n_samples, spec.visible_size))
        case["hidden_sizes"] = list(case["hidden_sizes"])
        case["relative_error"] = relative_gradient_error(spec, X, seed=seed)
        rows.append(case)
    return rows
