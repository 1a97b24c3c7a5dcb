"""The shared maths on a strict array-API namespace and on a CuPy stand-in.

No GPU is needed: ``array_api_strict`` rejects anything outside the standard, and
the ``fake_cupy`` fixture (see conftest.py) runs the CuPy code path on arrays that
refuse every implicit conversion to NumPy.
"""

import array_api_strict
import numpy as np
import pytest
from conftest import DeviceArray
from numpy.testing import assert_allclose

from aecore.backend import array_api_backend, get_backend
from aecore.features import extract_features
from aecore.model import AutoencoderSpec, encode, init_theta, loss_and_grad
from aecore.patches import PatchNormalizer
from aecore.persist import TrainedModel
from aecore.training import train_autoencoder

SPECS = [
    AutoencoderSpec(12, (5,)),
    AutoencoderSpec(12, (6, 4, 6), weight_decay=1e-3, sparsity_target=0.1),
    AutoencoderSpec(12, (5,), activation="relu"),
    AutoencoderSpec(12, (6, 4, 6), activation="relu", linear_decoder=True),
]


def spec_id(spec):
    return f"{spec.activation}-{'x'.join(map(str, spec.hidden_sizes))}" + (
        "-linear" if spec.linear_decoder else ""
    )


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return rng.uniform(0.1, 0.9, size=(600, 12))


def strict_on_device():
    return array_api_backend(
        array_api_strict, device=array_api_strict.Device("device1")
    )


@pytest.mark.parametrize("spec", SPECS, ids=spec_id)
@pytest.mark.parametrize(
    "make_backend",
    [lambda: "array_api_strict", strict_on_device],
    ids=["strict-cpu", "strict-device1"],
)
def test_strict_namespace_matches_numpy(spec, make_backend, data):
    theta = init_theta(spec, seed=1)
    loss, grad = loss_and_grad(theta, data, spec)
    strict_loss, strict_grad = loss_and_grad(theta, data, spec, backend=make_backend())
    assert strict_loss == pytest.approx(loss, rel=1e-12)
    assert_allclose(strict_grad, grad, rtol=1e-10, atol=1e-14)
    for layer in range(1, len(spec.layer_sizes) + 1):
        assert_allclose(
            encode(theta, data, spec, layer, backend=make_backend()),
            encode(theta, data, spec, layer),
            rtol=1e-12,
            atol=1e-14,
        )


def test_strict_training_matches_numpy(data):
    spec = SPECS[0]
    numpy_result = train_autoencoder(data, spec, maxiter=5)
    strict_result = train_autoencoder(data, spec, maxiter=5, backend=strict_on_device())
    assert strict_result.backend == "array_api_strict"
    assert_allclose(
        strict_result.history["loss"], numpy_result.history["loss"], rtol=1e-9
    )


@pytest.mark.parametrize(
    "convert",
    [
        np.asarray,
        np.exp,
        np.sum,
        float,
        bool,
        lambda a: a + np.ones(3),
        lambda a: np.ones(3) * a,
    ],
    ids=["asarray", "ufunc", "function", "float", "bool", "mix-right", "mix-left"],
)
def test_device_stand_in_refuses_numpy_conversion(fake_cupy, convert):
    device_array = fake_cupy.asarray(np.arange(3.0))
    assert isinstance(device_array, DeviceArray)
    with pytest.raises(TypeError):
        convert(device_array)


def test_device_stand_in_converts_explicitly(fake_cupy):
    device_array = fake_cupy.asarray(np.arange(3.0))
    assert_allclose(device_array.get(), [0.0, 1.0, 2.0])
    assert_allclose((device_array * 2 + 1).get(), [1.0, 3.0, 5.0])


@pytest.mark.parametrize("spec", SPECS, ids=spec_id)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_cupy_path_matches_numpy(fake_cupy, spec, dtype, data):
    theta = init_theta(spec, seed=2)
    loss, grad = loss_and_grad(theta, data, spec, dtype=dtype)
    cupy_loss, cupy_grad = loss_and_grad(theta, data, spec, dtype=dtype, backend="cupy")
    assert type(cupy_grad) is np.ndarray
    assert cupy_grad.dtype == np.dtype(dtype)
    rtol = 1e-12 if dtype == "float64" else 1e-4
    assert cupy_loss == pytest.approx(loss, rel=rtol)
    assert_allclose(cupy_grad, grad, rtol=rtol, atol=rtol * np.abs(grad).max())
    codes = encode(theta, data, spec, backend="cupy", dtype=dtype)
    assert type(codes) is np.ndarray
    assert_allclose(codes, encode(theta, data, spec, dtype=dtype), rtol=rtol)


def test_cupy_training_moves_data_once(fake_cupy, data):
    spec = SPECS[1]
    fake_cupy.transfers.clear()
    result = train_autoencoder(data, spec, maxiter=15, backend="cupy")
    reference = train_autoencoder(data, spec, maxiter=15)
    data_copies = [shape for shape in fake_cupy.transfers if shape == data.shape]
    assert data_copies == [data.shape]
    theta_copies = [shape for shape in fake_cupy.transfers if shape == (spec.n_params,)]
    assert len(theta_copies) == result.nfev
    assert result.backend == "cupy"
    assert type(result.theta) is np.ndarray
    assert result.theta.dtype == np.float64
    assert_allclose(result.history["loss"], reference.history["loss"], rtol=1e-8)


def test_cupy_features_match_numpy(fake_cupy):
    images = np.random.default_rng(3).integers(
        0, 256, size=(5, 9, 9, 3), dtype=np.uint8
    )
    spec = AutoencoderSpec(27, (4,))
    normalizer = PatchNormalizer().fit(images)
    model = TrainedModel(spec, init_theta(spec), normalizer, patch_size=3)
    expected = extract_features(images, model, stride=2)
    got = extract_features(images, model, stride=2, backend="cupy", batch_size=2)
    assert type(got) is np.ndarray
    assert_allclose(got, expected, rtol=1e-6)
    theta_copies = [s for s in fake_cupy.transfers if s == (spec.n_params,)]
    assert len(theta_copies) == 1


def test_numpy_backend_block_size_is_configurable(data):
    spec = SPECS[0]
    theta = init_theta(spec)
    whole = loss_and_grad(
        theta, data, spec, backend=get_backend("numpy", block_rows=None)
    )
    blocked = loss_and_grad(
        theta, data, spec, backend=get_backend("numpy", block_rows=7)
    )
    assert blocked[0] == pytest.approx(whole[0], rel=1e-13)
