"""Patch sampling, per-channel normalisation and ZCA whitening."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from aecore import patches as patches_module
from aecore.patches import PatchNormalizer, ZCAWhitener, sample_patches_raw


@pytest.fixture
def images():
    return np.random.default_rng(0).integers(
        0, 256, size=(40, 12, 10, 3), dtype=np.uint8
    )


class CountingImages:
    """Array-like that records every read, to prove images are read in one pass."""

    def __init__(self, data):
        self._data = data
        self.shape = data.shape
        self.dtype = data.dtype
        self.reads = []

    def __getitem__(self, key):
        self.reads.append(np.atleast_1d(np.arange(len(self._data))[key]))
        return self._data[key]


def test_every_patch_is_the_crop_at_its_position(images):
    patches, where = sample_patches_raw(images, 500, 4, seed=1, return_positions=True)
    assert patches.shape == (500, 48)
    assert patches.dtype == np.uint8
    assert where.shape == (500, 3)
    for patch, (image, top, left) in zip(patches, where, strict=True):
        crop = images[image, top : top + 4, left : left + 4]
        assert np.array_equal(patch.reshape(4, 4, 3), crop)


def test_corners_cover_the_valid_range(images):
    _, where = sample_patches_raw(images, 5000, 4, seed=2, return_positions=True)
    assert set(where[:, 0]) == set(range(40))
    assert set(where[:, 1]) == set(range(12 - 4 + 1))
    assert set(where[:, 2]) == set(range(10 - 4 + 1))


def test_images_are_read_once_in_one_pass(images, monkeypatch):
    monkeypatch.setattr(patches_module, "CHUNK_IMAGES", 16)
    counting = CountingImages(images)
    patches, where = sample_patches_raw(
        counting, 3000, 5, seed=3, return_positions=True
    )
    read = np.concatenate(counting.reads)
    assert len(counting.reads) == 3  # ceil(40 / 16) chunks, not one read per patch
    assert np.array_equal(read, np.unique(where[:, 0]))
    plain = sample_patches_raw(images, 3000, 5, seed=3)
    assert np.array_equal(patches, plain)


def test_rows_and_memmap_inputs_match(images, tmp_path):
    square = images[:, :10, :10]
    expected = sample_patches_raw(square, 200, 3, seed=4)
    rows = np.ascontiguousarray(square).reshape(40, -1)
    assert np.array_equal(sample_patches_raw(rows, 200, 3, seed=4), expected)
    np.save(tmp_path / "images.npy", square)
    mapped = np.load(tmp_path / "images.npy", mmap_mode="r")
    assert np.array_equal(sample_patches_raw(mapped, 200, 3, seed=4), expected)


def test_seed_controls_the_draw(images):
    first = sample_patches_raw(images, 50, 4, seed=5)
    assert np.array_equal(first, sample_patches_raw(images, 50, 4, seed=5))
    assert not np.array_equal(first, sample_patches_raw(images, 50, 4, seed=6))


@pytest.mark.parametrize(
    ("shape", "kwargs", "message"),
    [
        ((5, 8, 8, 3), {"patch_size": 9}, "patch_size must not exceed the image size"),
        ((5, 8, 8, 3), {"patch_size": 0}, "patch_size must be an integer >= 1"),
        ((5, 8, 8, 3), {"num_patches": 0}, "num_patches must be an integer >= 1"),
        ((5, 100), {}, r"images rows must reshape to d x d x 3"),
        ((5, 8, 8), {}, r"images must have shape \(N, H, W, 3\)"),
        ((0, 8, 8, 3), {}, "images must contain at least one image"),
    ],
)
def test_sampling_rejects_bad_input(shape, kwargs, message):
    with pytest.raises(ValueError, match=message):
        sample_patches_raw(
            np.zeros(shape), **{"num_patches": 3, "patch_size": 2, **kwargs}
        )


def test_sampling_rejects_nan_images():
    data = np.zeros((2, 4, 4, 3))
    data[:] = np.nan
    with pytest.raises(ValueError, match="images contains .* NaN or infinite"):
        sample_patches_raw(data, 5, 2)


def test_normaliser_statistics_and_range():
    rng = np.random.default_rng(7)
    train = rng.normal([100, 50, 200], [10, 5, 1], size=(2000, 16, 3)).reshape(2000, 48)
    norm = PatchNormalizer().fit(train)
    values = train.reshape(-1, 3)
    assert_allclose(norm.mean_, values.mean(axis=0))
    assert_allclose(norm.std_, values.std(axis=0))
    out = norm.transform(train)
    assert out.shape == train.shape
    assert out.min() >= 0.1
    assert out.max() <= 0.9
    per_channel = out.reshape(-1, 3)
    assert_allclose(per_channel.min(axis=0), 0.1, atol=0.05)
    assert_allclose(per_channel.max(axis=0), 0.9, atol=0.05)


def test_normaliser_reuses_training_statistics():
    train = np.random.default_rng(8).normal(0.0, 1.0, size=(500, 12))
    norm = PatchNormalizer().fit(train)
    mean, std = norm.mean_.copy(), norm.std_.copy()
    new = np.array([[0.0] * 12, [100.0] * 12, [-100.0] * 12])
    out = norm.transform(new).reshape(3, 4, 3)
    assert_allclose(norm.mean_, mean)
    lower = mean - 3 * std
    expected_zero = 0.1 + 0.8 * (0.0 - lower) / (6 * std)
    assert_allclose(out[0, 0], expected_zero)
    assert_allclose(out[1], 0.9)  # clipped at mean + 3 std
    assert_allclose(out[2], 0.1)  # clipped at mean - 3 std


def test_normaliser_clip_at_three_std():
    base = np.tile([0.0, 10.0, 20.0], 3000).reshape(1000, 9)
    base[:, 0::3] = np.random.default_rng(9).normal(0, 1, size=(1000, 3))
    norm = PatchNormalizer().fit(base)
    mean, std = norm.mean_[0], norm.std_[0]
    probe = np.zeros((1, 3))
    for value, expected in [
        (mean + 3 * std, 0.9),
        (mean + 5 * std, 0.9),
        (mean - 3 * std, 0.1),
        (mean, 0.5),
        (mean + 1.5 * std, 0.7),
    ]:
        probe[0, 0] = value
        assert norm.transform(probe)[0, 0] == pytest.approx(expected)
    # channels 1 and 2 have zero variance and map to the middle of the range
    assert_allclose(norm.transform(base[:2])[:, 1::3], 0.5)


def test_normaliser_uint8_and_float32_output(images):
    norm = PatchNormalizer().fit(images)
    out32 = norm.transform(images[:5], dtype="float32")
    out64 = norm.transform(images[:5].astype(float))
    assert out32.dtype == np.float32
    assert out32.shape == (5, 12, 10, 3)
    assert_allclose(out32, out64, rtol=1e-6)


def test_normaliser_round_trip_arrays():
    norm = PatchNormalizer(clip_std=2.5, out_low=0.0, out_high=1.0).fit(
        np.random.default_rng(1).random((50, 12))
    )
    copy = PatchNormalizer.from_arrays(norm.to_arrays())
    assert copy.clip_std == 2.5
    assert (copy.out_low, copy.out_high) == (0.0, 1.0)
    assert_allclose(copy.mean_, norm.mean_)
    assert_allclose(copy.std_, norm.std_)


def test_normaliser_errors():
    with pytest.raises(ValueError, match="not fitted; call fit"):
        PatchNormalizer().transform(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="out_low must be less than out_high"):
        PatchNormalizer(out_low=0.9, out_high=0.1)
    with pytest.raises(ValueError, match="clip_std must be in"):
        PatchNormalizer(clip_std=0)
    with pytest.raises(ValueError, match="multiple of 3"):
        PatchNormalizer().fit(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="patches contains 1 NaN"):
        PatchNormalizer().fit(np.array([[1.0, np.nan, 2.0]]))
    norm = PatchNormalizer().fit(np.random.default_rng(0).random((5, 6)))
    with pytest.raises(ValueError, match="out must have shape"):
        norm.transform(np.zeros((5, 6)), out=np.zeros((5, 6), dtype=np.float32))
    with pytest.raises(ValueError, match="std must be >= 0"):
        PatchNormalizer.from_arrays({**norm.to_arrays(), "std": -np.ones(3)})


def test_zca_whitens_training_rows():
    rng = np.random.default_rng(10)
    mixing = rng.normal(size=(6, 6))
    X = rng.normal(size=(5000, 6)) @ mixing
    whitener = ZCAWhitener(epsilon=1e-9).fit(X)
    Y = whitener.transform(X)
    assert_allclose(Y.mean(axis=0), 0, atol=1e-10)
    assert_allclose(np.cov(Y.T, bias=True), np.eye(6), atol=1e-6)
    assert_allclose(whitener.matrix_, whitener.matrix_.T, atol=1e-10)
    copy = ZCAWhitener.from_arrays(whitener.to_arrays())
    assert_allclose(copy.transform(X[:5]), Y[:5])
    assert whitener.transform(X[:5], dtype="float32").dtype == np.float32


def test_zca_epsilon_damps_small_directions():
    X = np.random.default_rng(11).normal(size=(2000, 3)) * [1.0, 1.0, 1e-3]
    Y = ZCAWhitener(epsilon=0.1).fit(X).transform(X)
    assert Y[:, 2].std() < 0.01
    assert Y[:, 0].std() == pytest.approx(1 / np.sqrt(1.1), rel=0.05)


def test_zca_errors():
    with pytest.raises(ValueError, match="ZCAWhitener is not fitted"):
        ZCAWhitener().transform(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="at least 2 rows"):
        ZCAWhitener().fit(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="epsilon must be in"):
        ZCAWhitener(epsilon=0)
    whitener = ZCAWhitener().fit(np.random.default_rng(0).random((10, 3)))
    with pytest.raises(ValueError, match=r"X must have shape \(n, 3\)"):
        whitener.transform(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="matrix square"):
        ZCAWhitener.from_arrays({**whitener.to_arrays(), "matrix": np.zeros((3, 2))})
