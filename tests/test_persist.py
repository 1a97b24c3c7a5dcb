"""Saving and loading models: round trip, atomic writes and validation on load."""

import json

import numpy as np
import pytest
from conftest import file_modes
from numpy.testing import assert_allclose

from aecore.model import AutoencoderSpec, init_theta
from aecore.patches import PatchNormalizer, ZCAWhitener
from aecore.persist import TrainedModel, load_model, save_model
from aecore.training import train_autoencoder

SPEC = AutoencoderSpec(12, (5,), activation="relu", weight_decay=2e-4)


@pytest.fixture(scope="module")
def trained():
    rng = np.random.default_rng(0)
    raw = rng.integers(0, 256, size=(300, 12))
    normalizer = PatchNormalizer().fit(raw)
    X = normalizer.transform(raw)
    whitener = ZCAWhitener().fit(X)
    result = train_autoencoder(X, SPEC, maxiter=8, dtype="float32")
    return TrainedModel(
        SPEC, result.theta, normalizer, whitener, patch_size=2, result=result
    )


def test_round_trip(tmp_path, trained):
    path = save_model(tmp_path / "model", trained)
    assert sorted(p.name for p in path.iterdir()) == [
        "history.csv",
        "meta.json",
        "norm.npz",
        "theta.npy",
    ]
    loaded = load_model(path)
    assert loaded.spec == SPEC
    assert loaded.patch_size == 2
    assert_allclose(loaded.theta, trained.theta, rtol=0, atol=0)
    assert_allclose(loaded.normalizer.mean_, trained.normalizer.mean_)
    assert_allclose(loaded.normalizer.std_, trained.normalizer.std_)
    assert_allclose(loaded.whitener.matrix_, trained.whitener.matrix_)
    result, original = loaded.result, trained.result
    assert result.info() == original.info()
    for name in ("iteration", "loss", "grad_norm", "seconds"):
        assert_allclose(result.history[name], original.history[name], rtol=0, atol=0)
    assert loaded.dtype == "float32"


def test_meta_records_training_information(tmp_path, trained):
    meta = json.loads((save_model(tmp_path / "m", trained) / "meta.json").read_text())
    assert meta["format"] == "aecore.model"
    assert meta["spec"]["hidden_sizes"] == [5]
    assert meta["patch_size"] == 2
    assert meta["dtype"] == "float32"
    assert meta["whitening"] is True
    assert meta["training"]["stop_reason"] == "iteration limit"
    assert meta["training"]["nit"] == 8


def test_model_without_result_or_whitener(tmp_path):
    normalizer = PatchNormalizer().fit(np.arange(24.0).reshape(2, 12))
    model = TrainedModel(SPEC, init_theta(SPEC), normalizer, patch_size=2)
    loaded = load_model(save_model(tmp_path / "bare", model))
    assert loaded.result is None
    assert loaded.whitener is None
    assert (tmp_path / "bare" / "history.csv").read_text().strip() == (
        "iteration,loss,grad_norm,seconds"
    )


def test_overwrite_rules(tmp_path, trained):
    target = tmp_path / "model"
    target.mkdir()
    save_model(target, trained)  # an empty directory is replaced
    save_model(target, trained)  # so is an earlier model
    with pytest.raises(FileExistsError, match="already contains a model"):
        save_model(target, trained, overwrite=False)
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="is not a model directory"):
        save_model(other, trained)
    assert (other / "notes.txt").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model", "other"]


def test_failed_write_leaves_nothing(tmp_path, trained):
    broken = TrainedModel(
        SPEC, trained.theta, trained.normalizer, patch_size=2, result=trained.result
    )
    broken.result = type(trained.result)(
        **{**vars(trained.result), "history": {"iteration": [0]}}
    )
    with pytest.raises(KeyError):
        save_model(tmp_path / "model", broken)
    assert list(tmp_path.iterdir()) == []


def corrupt(path, name, content):
    if isinstance(content, str):
        (path / name).write_text(content)
    else:
        np.save(path / name, content)


@pytest.mark.parametrize(
    ("name", "content", "error", "message"),
    [
        ("meta.json", "{not json", ValueError, "is not valid JSON"),
        ("meta.json", '{"format": "other"}', ValueError, "must have format"),
        (
            "theta.npy",
            np.zeros(3),
            ValueError,
            "contains an invalid model: theta must be a 1-D array of 137",
        ),
        ("history.csv", "step,loss\n", ValueError, "must start with the header"),
        (
            "history.csv",
            "iteration,loss,grad_norm,seconds\n1,2\n",
            ValueError,
            "rows without exactly 4 fields",
        ),
    ],
)
def test_load_rejects_corrupt_files(tmp_path, trained, name, content, error, message):
    path = save_model(tmp_path / "model", trained)
    corrupt(path, name, content)
    with pytest.raises(error, match=message):
        load_model(path)


def test_load_rejects_missing_files(tmp_path, trained):
    path = save_model(tmp_path / "model", trained)
    (path / "norm.npz").unlink()
    with pytest.raises(FileNotFoundError, match="norm.npz is missing"):
        load_model(path)
    with pytest.raises(FileNotFoundError, match="nowhere does not exist"):
        load_model(tmp_path / "nowhere")


def test_load_rejects_bad_normaliser(tmp_path, trained):
    path = save_model(tmp_path / "model", trained)
    np.savez(path / "norm.npz", zca_mean=np.zeros(12))
    with pytest.raises(ValueError, match="has no norm_"):
        load_model(path)


def test_trained_model_validation(trained):
    normalizer = trained.normalizer
    with pytest.raises(ValueError, match="patch_size 3 gives 27 values"):
        TrainedModel(SPEC, trained.theta, normalizer, patch_size=3)
    with pytest.raises(ValueError, match="fitted PatchNormalizer"):
        TrainedModel(SPEC, trained.theta, PatchNormalizer(), patch_size=2)
    with pytest.raises(ValueError, match="ZCAWhitener fitted on rows of 12"):
        whitener = ZCAWhitener().fit(np.random.default_rng(0).random((5, 3)))
        TrainedModel(SPEC, trained.theta, normalizer, whitener, patch_size=2)
    with pytest.raises(ValueError, match="spec must be an AutoencoderSpec"):
        TrainedModel({"visible_size": 12}, trained.theta, normalizer, patch_size=2)
    with pytest.raises(ValueError, match="model must be a TrainedModel"):
        save_model("unused", {"theta": trained.theta})


def test_saved_model_follows_umask(tmp_path, trained, umask_027):
    # Files and the directory get the modes open() and mkdir() give under the
    # umask, not the owner-only modes of a temporary directory.
    path = save_model(tmp_path / "model", trained)
    modes = file_modes(path)
    assert modes.pop("model") == 0o750
    assert modes == {
        "model/history.csv": 0o640,
        "model/meta.json": 0o640,
        "model/norm.npz": 0o640,
        "model/theta.npy": 0o640,
    }
