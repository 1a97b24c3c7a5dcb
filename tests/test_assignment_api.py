"""The assignment's modules: exact names, signatures and behaviour."""

import inspect

import numpy as np
import pytest
from numpy.testing import assert_allclose
from PIL import Image

from aecore.autoencoder import autoencoder_loss, autoencoder_transform, initialize
from aecore.display_layer import display_layer
from aecore.gradient import check_gradient, compute_gradient, relative_error
from aecore.model import AutoencoderSpec, loss_and_grad
from aecore.sample_patches import normalize_data, sample_patches, sample_patches_raw


@pytest.mark.parametrize(
    ("function", "parameters"),
    [
        (normalize_data, "images"),
        (sample_patches_raw, "images, num_patches=10000, patch_size=8"),
        (sample_patches, "images, num_patches=10000, patch_size=8"),
        (compute_gradient, "J, theta, epsilon=0.0001"),
        (check_gradient, ""),
        (initialize, "hidden_size, visible_size"),
        (
            autoencoder_loss,
            "theta, visible_size, hidden_size, lambda_, sparsity_param, beta, data",
        ),
        (
            autoencoder_transform,
            "theta, visible_size, hidden_size, layer_number, data",
        ),
        (display_layer, "X, filename='layer.png'"),
    ],
)
def test_signatures(function, parameters):
    expected = [p.split("=")[0] for p in parameters.split(", ") if p]
    defaults = {
        p.split("=")[0]: p.split("=")[1] for p in parameters.split(", ") if "=" in p
    }
    signature = inspect.signature(function).parameters
    assert list(signature) == expected
    for name, value in signature.items():
        default = value.default
        if name in defaults:
            assert repr(default) == defaults[name]
        else:
            assert default is inspect.Parameter.empty


def test_initialize_layout_and_global_seed():
    theta = initialize(75, 192)
    assert theta.shape == (2 * 75 * 192 + 75 + 192,)
    assert np.all(theta[2 * 75 * 192 :] == 0)
    np.random.seed(0)  # noqa: NPY002 (the assignment API follows it)
    first = initialize(np.array([20, 10, 20]), 48)
    np.random.seed(0)  # noqa: NPY002 (the assignment API follows it)
    assert_allclose(initialize(np.array([20, 10, 20]), 48), first)
    assert first.size == 20 * 48 + 10 * 20 + 20 * 10 + 48 * 20 + 20 + 10 + 20 + 48


def test_initialize_rejects_asymmetric_hidden_size():
    with pytest.raises(ValueError, match="hidden_size must be symmetric"):
        initialize(np.array([20, 10, 30]), 48)
    with pytest.raises(ValueError, match="visible_size must be an integer"):
        initialize(5, 0)


def test_loss_matches_core_and_gradient_check():
    rng = np.random.default_rng(0)
    data = rng.uniform(0.1, 0.9, size=(10, 12))
    np.random.seed(1)  # noqa: NPY002 (the assignment API follows it)
    theta = initialize(np.array([4]), 12)
    loss, grad = autoencoder_loss(theta, 12, np.array([4]), 1e-4, 0.01, 3.0, data)
    assert isinstance(loss, float)
    assert isinstance(grad, np.ndarray)
    assert grad.shape == theta.shape
    spec = AutoencoderSpec(
        12, (4,), weight_decay=1e-4, sparsity_target=0.01, sparsity_weight=3.0
    )
    core_loss, core_grad = loss_and_grad(theta, data, spec)
    assert loss == core_loss
    assert_allclose(grad, core_grad)

    def J(t):
        return autoencoder_loss(t, 12, 4, 1e-4, 0.01, 3.0, data)

    numeric = compute_gradient(J, theta, epsilon=1e-6)
    assert relative_error(numeric, grad) < 1e-8


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"lambda_": -1.0}, r"lambda_ must be in \[0, inf\)"),
        ({"sparsity_param": 0.0}, r"sparsity_param must be in \(0, 1\)"),
        ({"sparsity_param": 2.0}, r"sparsity_param must be in \(0, 1\)"),
        ({"beta": -0.5}, r"beta must be in \[0, inf\)"),
        ({"hidden_size": np.array([4, 5])}, "hidden_size must be symmetric"),
        ({"theta": np.zeros(10)}, "theta must be a 1-D array of 112 values"),
        ({"data": np.zeros((3, 11))}, "data must have 12 columns"),
    ],
)
def test_loss_rejects_bad_arguments(arguments, message):
    values = {
        "theta": np.zeros(12 * 4 * 2 + 4 + 12),
        "visible_size": 12,
        "hidden_size": 4,
        "lambda_": 1e-4,
        "sparsity_param": 0.01,
        "beta": 3.0,
        "data": np.full((3, 12), 0.5),
        **arguments,
    }
    with pytest.raises(ValueError, match=message):
        autoencoder_loss(**values)


def test_transform_layer_numbering():
    rng = np.random.default_rng(2)
    data = rng.uniform(0.1, 0.9, size=(6, 12))
    hidden = np.array([8, 3, 8])
    theta = initialize(hidden, 12)
    W1 = theta[: 8 * 12].reshape(8, 12)
    n_weights = 8 * 12 + 3 * 8 + 8 * 3 + 12 * 8
    b1 = theta[n_weights : n_weights + 8]
    assert_allclose(autoencoder_transform(theta, 12, hidden, 1, data), data)
    assert_allclose(
        autoencoder_transform(theta, 12, hidden, 2, data),
        1 / (1 + np.exp(-(data @ W1.T + b1))),
    )
    assert autoencoder_transform(theta, 12, hidden, 3, data).shape == (6, 3)
    assert autoencoder_transform(theta, 12, hidden, 5, data).shape == (6, 12)
    with pytest.raises(ValueError, match=r"layer_number must be in \[1, 5\]"):
        autoencoder_transform(theta, 12, hidden, 6, data)


def test_sampling_and_normalisation():
    images = np.random.default_rng(3).integers(0, 256, size=(20, 16 * 16 * 3))
    np.random.seed(4)  # noqa: NPY002 (the assignment API follows it)
    raw = sample_patches_raw(images, num_patches=300, patch_size=5)
    assert raw.shape == (300, 75)
    np.random.seed(4)  # noqa: NPY002 (the assignment API follows it)
    assert_allclose(sample_patches_raw(images, num_patches=300, patch_size=5), raw)
    normalised = sample_patches(images, num_patches=300, patch_size=5)
    assert normalised.shape == (300, 75)
    assert normalised.min() >= 0.1
    assert normalised.max() <= 0.9
    whole = normalize_data(images)
    assert whole.shape == images.shape
    channels = whole.reshape(20, -1, 3)
    assert_allclose(channels.mean(axis=(0, 1)), 0.5, atol=0.02)
    with pytest.raises(ValueError, match="images rows must reshape to d x d x 3"):
        normalize_data(np.zeros((2, 10)))


@pytest.mark.parametrize(
    "images",
    [np.zeros(192), np.zeros((0, 192)), np.full((2, 192), np.nan), np.zeros((2, 8, 8))],
)
def test_normalize_data_errors_name_images(images):
    with pytest.raises(ValueError, match="^images "):
        normalize_data(images)


def test_display_layer_default_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    display_layer(np.random.default_rng(5).normal(size=(10, 192)))
    with Image.open(tmp_path / "layer.png") as image:
        assert image.format == "PNG"


THETA_12_4 = np.zeros(12 * 4 * 2 + 4 + 12)
DATA_12 = np.full((3, 12), 0.5)
IMAGES_8X8 = np.full((2, 8 * 8 * 3), 0.5)
NON_REAL_ARRAYS = {
    "complex": lambda good: good.astype(complex),
    "text": lambda good: good.astype(str),
    "object": lambda good: good.astype(object),
    "ragged": lambda good: [good.tolist(), good[:-1].tolist()],
}
ARRAY_ARGUMENTS = {
    "loss theta": (
        "theta",
        THETA_12_4,
        lambda v: autoencoder_loss(v, 12, 4, 1e-4, 0.01, 3.0, DATA_12),
    ),
    "loss data": (
        "data",
        DATA_12,
        lambda v: autoencoder_loss(THETA_12_4, 12, 4, 1e-4, 0.01, 3.0, v),
    ),
    "transform theta": (
        "theta",
        THETA_12_4,
        lambda v: autoencoder_transform(v, 12, 4, 2, DATA_12),
    ),
    "transform data": (
        "data",
        DATA_12,
        lambda v: autoencoder_transform(THETA_12_4, 12, 4, 2, v),
    ),
    "sample images": ("images", IMAGES_8X8, lambda v: sample_patches(v, 5, 4)),
    "normalize images": ("images", IMAGES_8X8, normalize_data),
    "display X": ("X", IMAGES_8X8, display_layer),
}


@pytest.mark.parametrize("kind", NON_REAL_ARRAYS)
@pytest.mark.parametrize("argument", ARRAY_ARGUMENTS)
def test_non_real_arrays_rejected_by_name(argument, kind, tmp_path, monkeypatch):
    # Complex values must not lose their imaginary part in silence, and text,
    # objects and ragged rows must fail with a message naming the argument.
    monkeypatch.chdir(tmp_path)
    name, good, call = ARRAY_ARGUMENTS[argument]
    with pytest.raises(ValueError, match=rf"^{name} must "):
        call(NON_REAL_ARRAYS[kind](good))
    assert not (tmp_path / "layer.png").exists()
