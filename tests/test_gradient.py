"""Central differences, their self-check, and the model's analytic gradient."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from aecore import gradient
from aecore.gradient import (
    check_gradient,
    compute_gradient,
    gradient_check_cases,
    gradient_check_table,
    relative_error,
    relative_gradient_error,
)
from aecore.model import AutoencoderSpec

CASES = gradient_check_cases()


def case_id(case):
    return "-".join(
        [
            case["activation"],
            "x".join(map(str, case["hidden_sizes"])),
            "sparse" if case["sparsity"] else "nosparse",
            "decay" if case["decay"] else "nodecay",
        ]
    )


def test_compute_gradient_exact_on_quadratic():
    A = np.array([[2.0, 1.0], [0.0, 3.0]])
    b = np.array([1.0, -1.0])
    x = np.array([0.3, -0.7])
    grad = compute_gradient(lambda t: t @ A @ t + b @ t, x)
    assert_allclose(grad, (A + A.T) @ x + b, rtol=1e-9)


def test_compute_gradient_accepts_tuples():
    x = np.array([1.0, 2.0, -1.0])
    saved = x.copy()
    grad = compute_gradient(lambda t: (np.sum(t**3), None), x)
    assert_allclose(grad, 3 * x**2, rtol=1e-7)
    assert_allclose(x, saved)


def test_compute_gradient_rejects_bad_input():
    with pytest.raises(ValueError, match="theta must be a 1-D array"):
        compute_gradient(np.sum, np.ones((2, 2)))
    with pytest.raises(ValueError, match="epsilon must be in"):
        compute_gradient(np.sum, np.ones(2), epsilon=0.0)


def test_check_gradient_passes():
    assert check_gradient() < gradient.CHECK_TOLERANCE


def test_check_gradient_raises_on_wrong_differences(monkeypatch):
    monkeypatch.setattr(
        gradient, "compute_gradient", lambda J, theta: 1.01 * np.ones_like(theta)
    )
    with pytest.raises(RuntimeError, match="compute_gradient disagrees"):
        check_gradient()


def test_relative_error_values():
    assert relative_error([1.0, 0.0], [1.0, 0.0]) == 0.0
    assert relative_error([0.0], [0.0]) == 0.0
    assert relative_error([3.0], [1.0]) == pytest.approx(0.5)


def test_standard_cases_cover_every_combination():
    keys = {
        (c["activation"], len(c["hidden_sizes"]), c["sparsity"], c["decay"])
        for c in CASES
    }
    assert len(CASES) == 16
    assert len(keys) == 16
    for case in CASES:
        spec = case["spec"]
        assert (spec.sparsity_weight > 0) == case["sparsity"]
        assert (spec.weight_decay > 0) == case["decay"]


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_analytic_gradient_matches_differences(case):
    X = np.random.default_rng(7).uniform(0.1, 0.9, size=(20, 12))
    assert relative_gradient_error(case["spec"], X, seed=1) < 1e-8


@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
@pytest.mark.parametrize("hidden", [(5,), (6, 4, 6)])
def test_linear_decoder_gradient(activation, hidden):
    spec = AutoencoderSpec(
        12,
        hidden,
        activation=activation,
        linear_decoder=True,
        weight_decay=1e-3,
        sparsity_target=0.05,
    )
    X = np.random.default_rng(8).uniform(0.1, 0.9, size=(15, 12))
    assert relative_gradient_error(spec, X, seed=2) < 1e-8


def test_gradient_check_detects_a_wrong_gradient(monkeypatch):
    spec = AutoencoderSpec(12, (5,))
    X = np.random.default_rng(9).uniform(0.1, 0.9, size=(10, 12))
    real = gradient.loss_and_grad

    def off_by_decay(theta, X, spec, dtype=None):
        loss, grad = real(theta, X, spec, dtype=dtype)
        return loss, grad * 1.001

    monkeypatch.setattr(gradient, "loss_and_grad", off_by_decay)
    assert relative_gradient_error(spec, X) > 1e-4


def test_gradient_check_table_rows():
    rows = gradient_check_table(n_samples=10)
    assert len(rows) == 16
    assert set(rows[0]) == {
        "activation",
        "hidden_sizes",
        "sparsity",
        "decay",
        "relative_error",
    }
    assert max(r["relative_error"] for r in rows) < 1e-8
