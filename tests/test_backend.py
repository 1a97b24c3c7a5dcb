"""Backend selection, clear errors without CuPy or a GPU, and the CPU primitives."""

import sys
import warnings

import array_api_strict
import numpy as np
import pytest
from conftest import make_fake_cupy
from numpy.testing import assert_allclose
from scipy.special import expit

from aecore.backend import (
    Backend,
    BackendUnavailableError,
    UfuncBackend,
    get_backend,
    get_namespace,
    to_numpy,
)
from aecore.model import AutoencoderSpec, init_theta
from aecore.training import train_autoencoder


def test_backend_names():
    assert get_backend("numpy").name == "numpy"
    assert get_namespace("numpy") is np
    assert get_namespace("array_api_strict") is array_api_strict
    backend = get_backend("array_api_strict")
    assert get_backend(backend) is backend


def test_unknown_backend_is_rejected():
    with pytest.raises(
        ValueError,
        match=r"backend must be one of 'numpy', 'cupy'.*"
        r"got 'torch'",
    ):
        get_backend("torch")


def test_cupy_missing_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)  # import cupy raises ImportError
    with pytest.raises(
        BackendUnavailableError,
        match=r"needs CuPy, which is not "
        r"installed.*aecore\[gpu\]",
    ):
        get_backend("cupy")
    X = np.full((4, 12), 0.5)
    with pytest.raises(BackendUnavailableError, match="needs CuPy"):
        train_autoencoder(X, AutoencoderSpec(12, (3,)), maxiter=1, backend="cupy")


def test_cupy_without_gpu_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", make_fake_cupy(device_count=0))
    with pytest.raises(
        BackendUnavailableError, match="needs a CUDA GPU, but CuPy found none"
    ):
        get_backend("cupy")


def test_cupy_driver_failure_is_a_clear_error(monkeypatch):
    failure = RuntimeError("cudaErrorInsufficientDriver")
    monkeypatch.setitem(sys.modules, "cupy", make_fake_cupy(device_count=failure))
    with pytest.raises(
        BackendUnavailableError,
        match="could not query the CUDA devices.*InsufficientDriver",
    ):
        get_backend("cupy")


def test_cupy_with_a_device_gives_a_cupy_backend(fake_cupy):
    backend = get_backend("cupy")
    assert isinstance(backend, UfuncBackend)
    assert backend.xp is fake_cupy
    assert backend.block_rows is None


def test_to_numpy_from_each_backend(fake_cupy):
    host = np.arange(6.0).reshape(2, 3)
    assert to_numpy(host) is host
    assert_allclose(to_numpy(array_api_strict.asarray(host)), host)
    device = array_api_strict.Device("device1")
    assert_allclose(to_numpy(array_api_strict.asarray(host, device=device)), host)
    assert_allclose(to_numpy(fake_cupy.asarray(host)), host)


def test_row_blocks_cover_rows_once():
    backend = get_backend("numpy", block_rows=64)
    blocks = backend.row_blocks(300)
    assert [(b.start, b.stop) for b in blocks] == [
        (0, 64),
        (64, 128),
        (128, 192),
        (192, 256),
        (256, 300),
    ]
    assert get_backend("numpy", block_rows=None).row_blocks(300) == [slice(0, 300)]
    assert get_backend("numpy").row_blocks(0) == [slice(0, 0)]


@pytest.mark.parametrize("n_threads", [1, 2, 3])
def test_row_chunks_are_contiguous_and_disjoint(n_threads):
    backend = get_backend("numpy", block_rows=10, n_threads=n_threads)
    chunks = backend.map_row_chunks(lambda blocks: blocks, 95)
    assert len(chunks) == n_threads
    flat = [block for chunk in chunks for block in chunk]
    assert flat == backend.row_blocks(95)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("backend", [get_backend("numpy"), Backend("generic", np)])
def test_sigmoid_matches_expit_without_warnings(backend, dtype):
    z = np.array(
        [-1e4, -800.0, -100.0, -30.0, -1.0, 0.0, 1e-3, 2.0, 40.0, 1e4], dtype=dtype
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = backend.sigmoid_(z.copy())
    assert result.dtype == dtype
    eps = np.finfo(dtype).eps
    # The generic tanh form is accurate to eps in absolute terms only, so its tiny
    # tail values have large relative errors. The in-place exp form has none.
    atol = eps if backend.name == "generic" else 1e-30
    assert_allclose(result, expit(z), rtol=8 * eps, atol=atol)


def test_activation_derivatives():
    backend = get_backend("numpy")
    a = np.array([[0.0, 0.25, 0.5, 2.0]])
    g = np.ones_like(a)
    assert_allclose(backend.sigmoid_grad_mul_(g.copy(), a), a * (1 - a))
    assert_allclose(backend.relu_grad_mul_(g.copy(), a), [[0, 1, 1, 1]])
    generic = Backend("generic", np)
    assert_allclose(generic.relu_(np.array([-1.0, 0.0, 2.0])), [0, 0, 2])
    assert_allclose(generic.relu_grad_mul_(g, a), [[0, 1, 1, 1]])


def test_training_same_on_one_or_two_threads():
    X = np.random.default_rng(0).uniform(0.1, 0.9, size=(2000, 12))
    spec = AutoencoderSpec(12, (5,))
    one = train_autoencoder(
        X, spec, maxiter=5, backend=get_backend("numpy", n_threads=1)
    )
    two = train_autoencoder(
        X, spec, maxiter=5, backend=get_backend("numpy", n_threads=2)
    )
    assert_allclose(two.history["loss"], one.history["loss"], rtol=1e-10)
    assert init_theta(spec).shape == one.theta.shape
