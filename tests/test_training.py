"""L-BFGS-B training: history, stop reasons, logging, errors, and real patches."""

import logging
import tracemalloc

import numpy as np
import pytest
from numpy.testing import assert_allclose

from aecore.model import AutoencoderSpec, init_theta, unpack
from aecore.patches import PatchNormalizer, ZCAWhitener, sample_patches_raw
from aecore.training import (
    TrainResult,
    estimate_training_bytes,
    stop_reason,
    train_autoencoder,
)

SPEC = AutoencoderSpec(12, (5,))


@pytest.fixture
def X():
    return np.random.default_rng(0).uniform(0.1, 0.9, size=(200, 12))


def test_training_lowers_loss_and_records_history(X):
    result = train_autoencoder(X, SPEC, maxiter=30)
    assert isinstance(result, TrainResult)
    history = result.history
    assert list(history) == ["iteration", "loss", "grad_norm", "seconds"]
    assert_allclose(history["iteration"], np.arange(result.nit + 1))
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    assert result.final_loss == pytest.approx(history["loss"][-1])
    assert np.all(np.diff(history["seconds"]) >= 0)
    assert np.all(np.isfinite(history["grad_norm"]))
    assert result.seconds >= history["seconds"][-1]
    assert result.theta.dtype == np.float64
    assert result.theta.shape == (SPEC.n_params,)


def test_iteration_limit_is_reported(X):
    result = train_autoencoder(X, SPEC, maxiter=5)
    assert result.nit == 5
    assert result.status == 1
    assert not result.success
    assert result.stop_reason == "iteration limit"
    assert "ITERATIONS REACHED LIMIT" in result.message
    assert result.nfev >= 5


def test_convergence_is_reported(X):
    result = train_autoencoder(X, SPEC, maxiter=500, options={"gtol": 1e-2})
    assert result.stop_reason == "converged"
    assert result.success
    assert result.status == 0


@pytest.mark.parametrize(
    ("status", "message", "reason"),
    [
        (0, "CONVERGENCE: NORM OF PROJECTED GRADIENT <= PGTOL", "converged"),
        (0, "CONVERGENCE: RELATIVE REDUCTION OF F <= FACTR*EPSMCH", "converged"),
        (1, "STOP: TOTAL NO. OF ITERATIONS REACHED LIMIT", "iteration limit"),
        (1, "STOP: TOTAL NO. OF F,G EVALUATIONS EXCEEDS LIMIT", "evaluation limit"),
        (2, "ABNORMAL: ", "line search failed"),
        (2, "ABNORMAL_TERMINATION_IN_LNSRCH", "line search failed"),
        (2, "WARNING: ROUNDING ERRORS PREVENT PROGRESS", "rounding errors"),
        (2, "STOP: CALLBACK REQUESTED HALT", "stopped by callback"),
        (2, "ERROR: INVALID NBD", "error"),
    ],
)
def test_stop_reason_mapping(status, message, reason):
    assert stop_reason(status, message) == reason


def test_same_seed_same_result(X):
    first = train_autoencoder(X, SPEC, maxiter=10, seed=3)
    second = train_autoencoder(X, SPEC, maxiter=10, seed=3)
    other = train_autoencoder(X, SPEC, maxiter=10, seed=4)
    assert_allclose(first.theta, second.theta, rtol=0, atol=0)
    assert not np.allclose(first.theta, other.theta)


def test_theta0_replaces_initialisation(X):
    theta0 = init_theta(SPEC, seed=9)
    result = train_autoencoder(X, SPEC, maxiter=3, seed=0, theta0=theta0)
    seeded = train_autoencoder(X, SPEC, maxiter=3, seed=9)
    assert_allclose(result.theta, seeded.theta)


def test_float32_training(X):
    result = train_autoencoder(X, SPEC, maxiter=20, dtype="float32")
    assert result.dtype == "float32"
    assert result.theta.dtype == np.float64
    assert result.history["loss"][-1] < result.history["loss"][0]


def test_logging_every_k_iterations(X, caplog):
    with caplog.at_level(logging.INFO, logger="aecore.training"):
        train_autoencoder(X, SPEC, maxiter=12, log_every=5)
    lines = [r.getMessage() for r in caplog.records if "|grad|" in r.getMessage()]
    assert [line.split()[1] for line in lines] == ["5", "10"]
    assert all("loss" in line and line.endswith(" s") for line in lines)
    assert any("iteration limit" in r.getMessage() for r in caplog.records)


def test_warns_when_data_outside_sigmoid_range(X, caplog):
    with caplog.at_level(logging.WARNING, logger="aecore.training"):
        train_autoencoder(X * 3, SPEC, maxiter=1)
    assert any("sigmoid decoder" in r.getMessage() for r in caplog.records)


def test_info_is_json_friendly(X):
    info = train_autoencoder(X, SPEC, maxiter=2).info()
    assert info["stop_reason"] == "iteration limit"
    assert {type(v) for v in info.values()} <= {int, float, str, bool}


# Inputs of 1e200 overflow the squared error on purpose.
@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_non_finite_training_raises():
    spec = AutoencoderSpec(12, (5,), linear_decoder=True)
    X = np.full((20, 12), 1e200)
    with pytest.raises(ValueError, match="non-finite parameters or loss"):
        train_autoencoder(X, spec, maxiter=5)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"maxiter": 0}, "maxiter must be an integer >= 1"),
        ({"log_every": 0}, "log_every must be an integer >= 1"),
        ({"dtype": "int32"}, "dtype must be 'float32' or 'float64'"),
        ({"backend": "jax"}, "backend must be one of"),
    ],
)
def test_bad_arguments(X, kwargs, message):
    with pytest.raises(ValueError, match=message):
        train_autoencoder(X, SPEC, **kwargs)


def test_bad_data_shape():
    with pytest.raises(ValueError, match="X must have 12 columns"):
        train_autoencoder(np.zeros((5, 11)), SPEC, maxiter=1)


def energy_concentration(weights, patch_size=8, fraction=0.25):
    """Share of each filter's energy in its strongest ``fraction`` of pixels.

    Each filter's per-channel mean is removed first, so the measure ignores flat
    colour and scores spatial structure: a localised filter puts most of its
    energy into few pixels, white noise spreads it evenly.
    """
    filters = weights.reshape(len(weights), patch_size, patch_size, 3)
    filters = filters - filters.mean(axis=(1, 2), keepdims=True)
    energy = (filters**2).sum(axis=3).reshape(len(weights), -1)
    energy = np.sort(energy, axis=1)[:, ::-1]
    top = int(fraction * energy.shape[1])
    return energy[:, :top].sum(axis=1) / energy.sum(axis=1)


def test_energy_concentration_measure():
    point = np.zeros((1, 192))
    point[0, :3] = 1.0  # one bright pixel
    noise = np.random.default_rng(0).normal(size=(200, 192))
    assert energy_concentration(point)[0] > 0.9
    assert 0.3 < np.median(energy_concentration(noise)) < 0.55


@pytest.mark.slow
def test_training_on_real_patches(cifar_images):
    raw = sample_patches_raw(cifar_images, 4000, 8, seed=0)
    X = PatchNormalizer().fit(raw).transform(raw)
    spec = AutoencoderSpec(192, (49,))
    result = train_autoencoder(X, spec, maxiter=150, seed=0)
    history = result.history["loss"]
    assert history[-1] < 0.05 * history[0]

    learned = unpack(result.theta, spec)[0][0]
    random = unpack(init_theta(spec, seed=0), spec)[0][0]
    learned_score = energy_concentration(learned)
    random_score = energy_concentration(random)
    assert np.median(learned_score) > np.median(random_score) + 0.1
    assert np.mean(learned_score > np.median(random_score)) > 0.9


@pytest.mark.parametrize(
    ("hidden", "dtype", "whiten"),
    [
        ([75], "float64", False),
        ([200, 75, 200], "float32", False),
        ([75], "float64", True),
    ],
)
def test_training_memory_estimate_matches_tracemalloc(hidden, dtype, whiten):
    # NumPy reports its array buffers to tracemalloc, so the traced peak of the
    # training job's steps is the memory that the estimate stands for.
    images = np.random.default_rng(0).integers(0, 256, (300, 32, 32, 3), np.uint8)
    n = 20000
    tracemalloc.start()
    try:
        raw = sample_patches_raw(images, n, 8, seed=0)
        patches = PatchNormalizer().fit(raw).transform(raw)
        if whiten:
            patches = ZCAWhitener().fit(patches).transform(patches)
            spec = AutoencoderSpec(192, tuple(hidden), linear_decoder=True)
        else:
            spec = AutoencoderSpec(192, tuple(hidden))
        train_autoencoder(patches, spec, maxiter=2, dtype=dtype)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    estimate = estimate_training_bytes(n, 192, hidden, dtype=dtype, whiten=whiten)
    assert 0.75 < peak / estimate < 1.15


def test_training_memory_estimate_by_hand():
    # 10 patches of 12 values and 4 hidden units. Kept: uint8 patches and their
    # float64 copy, 10 * (12 + 96). Largest brief need: one more float64 copy,
    # 10 * 96, beats float32 patches plus two sets of hidden values, 10 * (48 + 32).
    assert estimate_training_bytes(10, 12, [4], dtype="float32") == 10 * (108 + 96)
    assert estimate_training_bytes(10, 12, [40], dtype="float32") == 10 * (108 + 368)
    assert estimate_training_bytes(10, 12, [4], whiten=True) == 10 * (108 + 192)


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((0, 192, [75]), {}, "num_patches must be an integer >= 1"),
        ((10, 192, []), {}, "hidden_sizes must contain at least one size"),
        ((10, 192, [75]), {"dtype": "int8"}, "dtype must be"),
    ],
)
def test_training_memory_estimate_bad_arguments(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        estimate_training_bytes(*args, **kwargs)
