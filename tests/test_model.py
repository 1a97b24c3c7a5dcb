"""Model specification, parameter layout, loss values and numerical safety."""

import math
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose

from aecore.backend import get_backend
from aecore.model import (
    AutoencoderSpec,
    encode,
    init_theta,
    loss_and_grad,
    pack,
    unpack,
)


def reference_loss(theta, X, spec):
    """Plain NumPy loss on all rows at once, independent of the blocked code."""
    sizes = spec.layer_sizes
    offset = 0
    weights, biases = [], []
    for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
        weights.append(theta[offset : offset + n_out * n_in].reshape(n_out, n_in))
        offset += n_out * n_in
    for n_out in sizes[1:]:
        biases.append(theta[offset : offset + n_out])
        offset += n_out

    a = X
    hidden = []
    for k, (W, b) in enumerate(zip(weights, biases, strict=True)):
        z = a @ W.T + b
        is_output = k == len(weights) - 1
        if is_output and spec.linear_decoder:
            a = z
        elif is_output or spec.activation == "sigmoid":
            a = 1 / (1 + np.exp(-z))
        else:
            a = np.maximum(z, 0)
        if not is_output:
            hidden.append(a)

    rho = spec.sparsity_target
    loss = 0.5 * np.sum((a - X) ** 2) / X.shape[0]
    loss += 0.5 * spec.weight_decay * sum(np.sum(W**2) for W in weights)
    for h in hidden:
        q = h.mean(axis=0)
        kl = rho * np.log(rho / q) + (1 - rho) * np.log((1 - rho) / (1 - q))
        loss += spec.sparsity_weight * kl.sum()
    return loss


SPECS = [
    AutoencoderSpec(12, (5,)),
    AutoencoderSpec(12, (6, 4, 6), weight_decay=1e-3, sparsity_target=0.1),
    AutoencoderSpec(12, (5,), activation="relu", sparsity_target=0.2),
    AutoencoderSpec(12, (6, 4, 6), activation="relu", linear_decoder=True),
    AutoencoderSpec(12, (5,), linear_decoder=True, sparsity_weight=0.0),
]


def random_point(spec, seed=0):
    theta = init_theta(spec, seed)
    n_biases = sum(n_out for n_out, _ in spec.weight_shapes)
    theta[-n_biases:] = np.random.default_rng(seed).uniform(0.0, 0.2, n_biases)
    return theta


def test_spec_layer_sizes_and_counts():
    spec = AutoencoderSpec(192, [200, 75, 200])
    assert spec.hidden_sizes == (200, 75, 200)
    assert spec.layer_sizes == (192, 200, 75, 200, 192)
    assert spec.weight_shapes == ((200, 192), (75, 200), (200, 75), (192, 200))
    assert spec.n_params == 2 * (200 * 192 + 75 * 200) + 200 + 75 + 200 + 192
    assert spec.middle_layer == 3


def test_spec_accepts_int_hidden_and_round_trips():
    spec = AutoencoderSpec(192, 75, activation="relu", weight_decay=0)
    assert spec.hidden_sizes == (75,)
    assert AutoencoderSpec.from_dict(spec.to_dict()) == spec


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"hidden_sizes": (200, 75, 100)}, "hidden_sizes must be symmetric"),
        ({"hidden_sizes": ()}, "hidden_sizes must be a non-empty"),
        ({"hidden_sizes": (75, 0, 75)}, "hidden_sizes entries must be an integer"),
        ({"sparsity_target": 0.0}, r"sparsity_target \(rho\) must be in \(0, 1\)"),
        ({"sparsity_target": 1.0}, r"sparsity_target \(rho\) must be in \(0, 1\)"),
        ({"sparsity_target": 1.5}, r"got 1.5"),
        ({"weight_decay": -1e-4}, r"weight_decay \(lambda\) must be in \[0, inf\)"),
        ({"weight_decay": float("nan")}, r"weight_decay \(lambda\) must be a real"),
        ({"sparsity_weight": -3}, r"sparsity_weight \(beta\) must be in \[0, inf\)"),
        ({"activation": "tanh"}, "activation must be one of 'sigmoid', 'relu'"),
        ({"linear_decoder": "yes"}, "linear_decoder must be True or False"),
        ({"visible_size": 0}, "visible_size must be an integer >= 1"),
    ],
)
def test_spec_rejects_bad_arguments(kwargs, message):
    arguments = {"visible_size": 12, "hidden_sizes": (5,), **kwargs}
    with pytest.raises(ValueError, match=message):
        AutoencoderSpec(**arguments)


def test_spec_from_dict_rejects_unknown_keys():
    with pytest.raises(ValueError, match="unknown AutoencoderSpec field"):
        AutoencoderSpec.from_dict({"visible_size": 12, "hidden": [5]})


def test_theta_layout_weights_then_biases():
    spec = AutoencoderSpec(4, (3, 2, 3))
    weights = [
        np.arange(o * i, dtype=float).reshape(o, i) + 100 * k
        for k, (o, i) in enumerate(spec.weight_shapes)
    ]
    biases = [np.full(o, -1.0 - k) for k, (o, _) in enumerate(spec.weight_shapes)]
    theta = pack(weights, biases)
    expected = np.concatenate([w.ravel() for w in weights] + biases)
    assert_allclose(theta, expected)
    got_w, got_b = unpack(theta, spec)
    for w, g in zip(weights, got_w, strict=True):
        assert_allclose(g, w)
    for b, g in zip(biases, got_b, strict=True):
        assert_allclose(g, b)
    assert np.shares_memory(got_w[0], theta)


def test_init_theta_bounds_and_seeding():
    spec = AutoencoderSpec(192, (75,))
    theta = init_theta(spec, seed=3)
    weights, biases = unpack(theta, spec)
    for W in weights:
        r = math.sqrt(6 / (W.shape[0] + W.shape[1] + 1))
        assert np.abs(W).max() <= r
        assert np.abs(W).max() > 0.9 * r
    assert all(np.all(b == 0) for b in biases)
    assert_allclose(init_theta(spec, seed=3), theta)
    assert not np.allclose(init_theta(spec, seed=4), theta)
    assert init_theta(spec, dtype="float32").dtype == np.float32


def test_loss_by_hand_on_two_unit_network():
    # Two rows through visible 2, hidden 1: W1 = [[0.5, -0.25]], b1 = [0.1],
    # W2 = [[1.0], [-2.0]], b2 = [0.0, 0.5].
    theta = np.array([0.5, -0.25, 1.0, -2.0, 0.1, 0.0, 0.5])
    X = np.array([[0.2, 0.6], [0.8, 0.4]])
    lam, rho, beta = 0.1, 0.3, 2.0
    spec = AutoencoderSpec(
        2, (1,), weight_decay=lam, sparsity_target=rho, sparsity_weight=beta
    )

    def sigmoid(z):
        return 1 / (1 + math.exp(-z))

    squared = 0.0
    hidden = []
    for x1, x2 in X:
        h = sigmoid(0.5 * x1 - 0.25 * x2 + 0.1)
        hidden.append(h)
        out1, out2 = sigmoid(1.0 * h + 0.0), sigmoid(-2.0 * h + 0.5)
        squared += (out1 - x1) ** 2 + (out2 - x2) ** 2
    q = sum(hidden) / 2
    kl = rho * math.log(rho / q) + (1 - rho) * math.log((1 - rho) / (1 - q))
    decay = 0.5**2 + 0.25**2 + 1.0**2 + 2.0**2
    expected = squared / 4 + lam / 2 * decay + beta * kl

    loss, grad = loss_and_grad(theta, X, spec)
    assert loss == pytest.approx(expected, rel=1e-14)
    assert grad.shape == (7,)


@pytest.mark.parametrize(
    "spec", SPECS, ids=lambda s: f"{s.activation}-{s.hidden_sizes}"
)
def test_loss_matches_reference_across_blocks(spec):
    rng = np.random.default_rng(5)
    X = rng.uniform(0.1, 0.9, size=(700, spec.visible_size))
    theta = random_point(spec)
    for backend in (
        get_backend("numpy", block_rows=64, n_threads=2),
        get_backend("numpy", block_rows=None, n_threads=1),
    ):
        loss, _ = loss_and_grad(theta, X, spec, backend=backend)
        assert loss == pytest.approx(reference_loss(theta, X, spec), rel=1e-12)


@pytest.mark.parametrize(
    "spec", SPECS, ids=lambda s: f"{s.activation}-{s.hidden_sizes}"
)
def test_gradient_independent_of_blocks_and_threads(spec):
    rng = np.random.default_rng(6)
    X = rng.uniform(0.1, 0.9, size=(1000, spec.visible_size))
    theta = random_point(spec)
    base = get_backend("numpy", block_rows=None, n_threads=1)
    _, expected = loss_and_grad(theta, X, spec, backend=base)
    for block_rows, n_threads in ((37, 1), (64, 2), (256, 3)):
        backend = get_backend("numpy", block_rows=block_rows, n_threads=n_threads)
        _, grad = loss_and_grad(theta, X, spec, backend=backend)
        assert_allclose(grad, expected, rtol=1e-11, atol=1e-14)


def test_float32_close_to_float64():
    spec = AutoencoderSpec(192, (75,))
    X = np.random.default_rng(0).uniform(0.1, 0.9, size=(3000, 192))
    theta = init_theta(spec)
    loss64, grad64 = loss_and_grad(theta, X, spec)
    loss32, grad32 = loss_and_grad(theta, X, spec, dtype="float32")
    assert grad32.dtype == np.float32
    assert loss32 == pytest.approx(loss64, rel=1e-5)
    assert_allclose(grad32, grad64, rtol=1e-3, atol=1e-5 * np.abs(grad64).max())
    loss_x32, _ = loss_and_grad(theta, X.astype(np.float32), spec)
    assert loss_x32 == pytest.approx(loss32, rel=1e-6)


@pytest.mark.parametrize(
    ("activation", "linear_decoder", "scale", "bias"),
    [
        ("sigmoid", False, 1e3, 0.0),  # saturated units, huge inputs
        ("sigmoid", False, 1.0, -1e4),  # every hidden unit dead (rho_hat = 0)
        ("sigmoid", False, 1.0, 1e4),  # every hidden unit saturated at 1
        ("relu", False, 1.0, -1e4),  # dead ReLUs
        ("relu", True, 1e3, 0.0),  # large ReLU activations, mean above 1
    ],
)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_extremes_stay_finite_without_warnings(
    activation, linear_decoder, scale, bias, dtype
):
    spec = AutoencoderSpec(
        12, (5,), activation=activation, linear_decoder=linear_decoder
    )
    X = np.random.default_rng(1).uniform(0.1, 0.9, size=(50, 12)) * scale
    theta = init_theta(spec, 0) * 50
    theta[-(5 + 12) : -12] = bias
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss, grad = loss_and_grad(theta, X, spec, dtype=dtype)
    assert math.isfinite(loss)
    assert np.all(np.isfinite(grad))


def test_loss_rejects_bad_theta_and_data():
    spec = AutoencoderSpec(12, (5,))
    theta = init_theta(spec)
    X = np.full((4, 12), 0.5)
    with pytest.raises(ValueError, match=r"theta must be a 1-D array of 137 values"):
        loss_and_grad(theta[:-1], X, spec)
    with pytest.raises(ValueError, match="theta contains NaN"):
        loss_and_grad(np.full_like(theta, np.nan), X, spec)
    with pytest.raises(ValueError, match=r"X must have 12 columns"):
        loss_and_grad(theta, X[:, :10], spec)
    with pytest.raises(ValueError, match="X must be a 2-D array"):
        loss_and_grad(theta, X[0], spec)
    bad = X.copy()
    bad[2, 3] = np.inf
    with pytest.raises(ValueError, match=r"X contains 1 NaN or infinite"):
        loss_and_grad(theta, bad, spec)
    with pytest.raises(ValueError, match="dtype must be 'float32' or 'float64'"):
        loss_and_grad(theta, X, spec, dtype="float16")


def test_encode_layer_two_is_sigmoid_of_first_layer():
    spec = AutoencoderSpec(12, (6, 4, 6))
    X = np.random.default_rng(2).uniform(0.1, 0.9, size=(30, 12))
    theta = random_point(spec)
    weights, biases = unpack(theta, spec)
    expected = 1 / (1 + np.exp(-(X @ weights[0].T + biases[0])))
    assert_allclose(encode(theta, X, spec, layer=2), expected, rtol=1e-13)
    assert_allclose(encode(theta, X, spec, layer=1), X)
    shapes = [encode(theta, X, spec, layer=k).shape for k in range(1, 6)]
    assert shapes == [(30, 12), (30, 6), (30, 4), (30, 6), (30, 12)]
    assert_allclose(encode(theta, X, spec), encode(theta, X, spec, layer=3))


def test_encode_last_layer_is_reconstruction():
    spec = AutoencoderSpec(12, (5,), linear_decoder=True)
    X = np.random.default_rng(3).uniform(0.1, 0.9, size=(20, 12))
    theta = random_point(spec)
    weights, biases = unpack(theta, spec)
    hidden = 1 / (1 + np.exp(-(X @ weights[0].T + biases[0])))
    assert_allclose(encode(theta, X, spec, layer=3), hidden @ weights[1].T + biases[1])


@pytest.mark.parametrize("layer", [0, 6, 2.0, True])
def test_encode_rejects_bad_layer(layer):
    spec = AutoencoderSpec(12, (6, 4, 6))
    with pytest.raises(ValueError, match="layer must be"):
        encode(init_theta(spec), np.full((2, 12), 0.5), spec, layer=layer)
