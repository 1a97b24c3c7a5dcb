"""Dense strided features against a plain loop, pooling, batching and sizes."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from aecore.features import (
    estimate_feature_bytes,
    extract_features,
    feature_count,
    grid_shape,
    raw_pixel_features,
)
from aecore.model import AutoencoderSpec, init_theta, unpack
from aecore.patches import PatchNormalizer, ZCAWhitener
from aecore.persist import TrainedModel

P = 4  # patch side of the test model


@pytest.fixture
def images():
    return np.random.default_rng(0).integers(
        0, 256, size=(7, 12, 16, 3), dtype=np.uint8
    )


def make_model(images, hidden=(5,), whiten=False):
    spec = AutoencoderSpec(3 * P * P, hidden)
    theta = init_theta(spec, seed=1)
    theta[-sum(spec.layer_sizes[1:]) :] = 0.05
    sample = images[:, :P, :P].reshape(len(images), -1)
    normalizer = PatchNormalizer().fit(sample)
    whitener = None
    if whiten:
        whitener = ZCAWhitener().fit(normalizer.transform(sample))
    return TrainedModel(spec, theta, normalizer, whitener, patch_size=P)


def loop_features(images, model, stride, layer=2):
    """Encode every grid patch of every image one at a time, as a reference."""
    weights, biases = unpack(model.theta, model.spec)
    rows = []
    for image in images:
        codes = []
        for top in range(0, image.shape[0] - P + 1, stride):
            for left in range(0, image.shape[1] - P + 1, stride):
                a = model.normalizer.transform(
                    image[top : top + P, left : left + P].reshape(1, -1)
                )
                if model.whitener is not None:
                    a = model.whitener.transform(a)
                for k in range(layer - 1):
                    a = 1 / (1 + np.exp(-(a @ weights[k].T + biases[k])))
                codes.append(a[0])
        rows.append(np.stack(codes))
    return np.stack(rows)  # (N, n_patches, units)


def test_grid_shape_example():
    assert grid_shape((12, 16), 8, 4) == (2, 3)
    assert feature_count((12, 16, 3), 8, 4, 75) == 6 * 75
    assert feature_count((12, 16), 8, 4, 75, "quadrant") == 4 * 75
    assert grid_shape((96, 96), 8, 4) == (23, 23)


def test_concat_matches_plain_loop(images):
    model = make_model(images)
    features = extract_features(images, model, stride=4, dtype="float64")
    expected = loop_features(images, model, stride=4)
    assert features.dtype == np.float32
    assert features.shape == (7, grid_shape((12, 16), P, 4)[0] * 4 * 5)
    assert_allclose(features, expected.reshape(7, -1), rtol=1e-6)


def test_quadrant_pooling_sums_quadrants(images):
    model = make_model(images)
    pooled = extract_features(images, model, stride=2, pooling="quadrant")
    rows, cols = grid_shape((12, 16), P, 2)  # 5 x 7
    codes = loop_features(images, model, stride=2).reshape(7, rows, cols, 5)
    top, left = 3, 4  # the extra row and column go to the top and left halves
    expected = np.stack(
        [
            codes[:, :top, :left].sum(axis=(1, 2)),
            codes[:, :top, left:].sum(axis=(1, 2)),
            codes[:, top:, :left].sum(axis=(1, 2)),
            codes[:, top:, left:].sum(axis=(1, 2)),
        ],
        axis=1,
    ).reshape(7, -1)
    assert_allclose(pooled, expected, rtol=1e-5)


def test_whitened_model_and_deeper_layers(images):
    model = make_model(images, hidden=(6, 3, 6), whiten=True)
    for layer in (1, 2, 3):
        features = extract_features(
            images, model, stride=4, layer=layer, dtype="float64"
        )
        expected = loop_features(images, model, stride=4, layer=layer)
        assert_allclose(features, expected.reshape(7, -1), rtol=1e-5, atol=1e-6)
    default = extract_features(images, model, stride=4)
    assert default.shape[1] == 12 * 3  # middle layer (3 units) at 3 x 4 patches


def test_batches_and_inputs_do_not_change_results(images, tmp_path):
    model = make_model(images)
    expected = extract_features(images, model, stride=3)
    calls = []
    # Float32 products of different shapes may round the last bit differently.
    small = extract_features(
        images,
        model,
        stride=3,
        batch_size=2,
        progress=lambda done, total: calls.append((done, total)),
    )
    assert_allclose(small, expected, rtol=1e-6)
    assert calls == [(2, 7), (4, 7), (6, 7), (7, 7)]
    tiny_budget = extract_features(images, model, stride=3, max_batch_bytes=1)
    assert_allclose(tiny_budget, expected, rtol=1e-6)
    np.save(tmp_path / "images.npy", images)
    mapped = np.load(tmp_path / "images.npy", mmap_mode="r")
    assert_allclose(extract_features(mapped, model, stride=3), expected, rtol=1e-6)
    out = np.zeros_like(expected)
    assert extract_features(images, model, stride=3, out=out) is out
    assert_allclose(out, expected, rtol=1e-6)


def test_row_images_match_square_images():
    rng = np.random.default_rng(3)
    square = rng.integers(0, 256, size=(4, 8, 8, 3), dtype=np.uint8)
    model = make_model(square)
    assert_allclose(
        extract_features(square.reshape(4, -1), model, stride=2),
        extract_features(square, model, stride=2),
    )


def test_estimate_feature_bytes():
    assert estimate_feature_bytes(5000, (96, 96, 3), 8, 4, 75) == 5000 * 529 * 75 * 4
    assert estimate_feature_bytes(10, (96, 96), 8, 4, 75, "quadrant", "float64") == (
        10 * 4 * 75 * 8
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"stride": 0}, "stride must be an integer >= 1"),
        (
            {"stride": 4, "pooling": "max"},
            "pooling must be one of 'concat', 'quadrant'",
        ),
        ({"stride": 20, "pooling": "quadrant"}, "needs a patch grid of at least 2 x 2"),
        ({"stride": 4, "layer": 9}, r"layer must be in \[1, 3\]"),
        ({"stride": 4, "batch_size": 0}, "batch_size must be an integer >= 1"),
        ({"stride": 4, "dtype": "int8"}, "dtype must be 'float32' or 'float64'"),
        ({"stride": 4, "out": np.zeros((7, 3), np.float32)}, "out must be a float32"),
    ],
)
def test_extract_rejects_bad_arguments(images, kwargs, message):
    model = make_model(images)
    with pytest.raises(ValueError, match=message):
        extract_features(images, model, **kwargs)


def test_patch_larger_than_images(images):
    model = make_model(images)
    with pytest.raises(ValueError, match="patch_size must not exceed"):
        extract_features(images[:, :3, :3], model, stride=1)


def test_feature_count_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"image_shape must be \(H, W\)"):
        feature_count((12, 16, 4), 8, 4, 75)
    with pytest.raises(ValueError, match="n_hidden must be an integer"):
        feature_count((12, 16), 8, 4, 0)


def test_raw_pixel_features(images):
    pixels = raw_pixel_features(images, batch_size=3)
    assert pixels.dtype == np.float32
    assert pixels.shape == (7, 12 * 16 * 3)
    assert_allclose(pixels, images.reshape(7, -1) / 255.0, rtol=1e-6)
    scaled = images.astype(np.float64) / 255
    assert_allclose(raw_pixel_features(scaled), pixels, rtol=1e-6)
    with pytest.raises(ValueError, match=r"float images must be finite and lie in"):
        raw_pixel_features(scaled * 2)
