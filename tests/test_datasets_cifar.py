"""CIFAR-10 python release, on small batches in the release layout."""

import io
import pickle
import tarfile

import numpy as np
import pytest

from aecore.datasets import DatasetError, prepare_dataset
from aecore.datasets.cifar import read_cifar_batch

NAMES = [b"airplane", b"automobile", b"bird"]
BATCH_SIZE = 3


def make_batch(images, labels):
    """Pickle a batch as the release stores it: bytes keys, channel-major rows."""
    rows = images.transpose(0, 3, 1, 2).reshape(len(images), -1)
    batch = {b"batch_label": b"batch", b"labels": list(labels), b"data": rows}
    return pickle.dumps(batch, protocol=2)


@pytest.fixture(scope="module")
def release():
    rng = np.random.default_rng(7)
    files, images, labels = {}, {"train": [], "test": []}, {"train": [], "test": []}
    names = [f"data_batch_{n}" for n in range(1, 6)] + ["test_batch"]
    for name in names:
        split = "test" if name == "test_batch" else "train"
        batch_images = rng.integers(0, 256, (BATCH_SIZE, 32, 32, 3), dtype=np.uint8)
        batch_labels = rng.integers(0, 3, BATCH_SIZE).tolist()
        files[name] = make_batch(batch_images, batch_labels)
        images[split].append(batch_images)
        labels[split].extend(batch_labels)
    files["batches.meta"] = pickle.dumps({b"label_names": NAMES}, protocol=2)
    files["readme.html"] = b"<html></html>"
    images = {split: np.concatenate(parts) for split, parts in images.items()}
    return files, images, labels


def write_release(folder, files):
    folder.mkdir(parents=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


def write_archive(path, files):
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_batch_rows_become_upright_images():
    image = np.zeros((1, 32, 32, 3), dtype=np.uint8)
    image[0, 0, :, 0] = 255  # red top row
    image[0, :, 0, 1] = 200  # green left column
    images, labels = read_cifar_batch(make_batch(image, [2]), "batch")
    np.testing.assert_array_equal(images, image)
    assert labels.tolist() == [2]
    assert labels.dtype == np.int64


@pytest.mark.parametrize("layout", ["archive", "folder", "parent"])
def test_prepare_release(tmp_path, release, layout):
    files, images, labels = release
    if layout == "archive":
        source = write_archive(tmp_path / "cifar-10-python.tar.gz", files)
    else:
        source = write_release(tmp_path / "data" / "cifar-10-batches-py", files)
        source = source if layout == "folder" else source.parent
    dataset = prepare_dataset("cifar10-python", source, tmp_path / "out")
    assert dataset.splits == ("train", "test")
    assert dataset.class_names == ["airplane", "automobile", "bird"]
    np.testing.assert_array_equal(dataset.images("train"), images["train"])
    np.testing.assert_array_equal(dataset.images("test"), images["test"])
    assert dataset.labels("train").tolist() == labels["train"]
    assert dataset.labels("test").tolist() == labels["test"]
    assert dataset.folds is None
    assert dataset.meta["checksum"]["of"] == (
        "archive" if layout == "archive" else "arrays"
    )


def test_missing_batch(tmp_path, release):
    files = {k: v for k, v in release[0].items() if k != "data_batch_3"}
    archive = write_archive(tmp_path / "c.tar.gz", files)
    with pytest.raises(
        DatasetError,
        match="not a complete CIFAR-10 python release, missing data_batch_3",
    ):
        prepare_dataset("cifar10-python", archive, tmp_path / "out")


def test_hostile_batch_rejected(tmp_path, release):
    marker = tmp_path / "ran"
    hostile = b"\x80\x02cos\nsystem\nU" + bytes([len(f"touch {marker}")])
    hostile += f"touch {marker}".encode() + b"\x85R."
    files = dict(release[0], data_batch_2=hostile)
    folder = write_release(tmp_path / "cifar-10-batches-py", files)
    with pytest.raises(
        DatasetError,
        match="data_batch_2: rejected unsafe pickle: it references os.system",
    ):
        prepare_dataset("cifar10-python", folder, tmp_path / "out")
    assert not marker.exists()


@pytest.mark.parametrize(
    ("batch", "message"),
    [
        ({b"data": np.zeros((2, 3072), np.uint8)}, "no 'labels' entry"),
        (
            {b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]},
            r"'data' must be uint8 of shape \(n, 3072\)",
        ),
        (
            {b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]},
            "'labels': 1 labels for 2 images",
        ),
        (
            {b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 7]},
            r"train labels span 0..7, outside 0..2",
        ),
        ([1, 2], "expected a pickled dict, got list"),
    ],
)
def test_bad_batches(tmp_path, release, batch, message):
    files = dict(release[0], data_batch_1=pickle.dumps(batch, protocol=2))
    folder = write_release(tmp_path / "cifar-10-batches-py", files)
    with pytest.raises(DatasetError, match=message):
        prepare_dataset("cifar10-python", folder, tmp_path / "out")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x80\x02}", "test_batch: pickle ends early"),
        (b"\x80\x02\xfe", "test_batch: not a valid pickle"),
    ],
)
def test_broken_batch_files(tmp_path, release, content, message):
    files = dict(release[0], test_batch=content)
    folder = write_release(tmp_path / "cifar-10-batches-py", files)
    with pytest.raises(DatasetError, match=message):
        prepare_dataset("cifar10-python", folder, tmp_path / "out")


def test_meta_without_label_names(tmp_path, release):
    files = dict(
        release[0], **{"batches.meta": pickle.dumps({b"num_vis": 3072}, protocol=2)}
    )
    folder = write_release(tmp_path / "cifar-10-batches-py", files)
    with pytest.raises(DatasetError, match="batches.meta: no 'label_names' list"):
        prepare_dataset("cifar10-python", folder, tmp_path / "out")


def test_duplicate_member(tmp_path, release):
    archive = tmp_path / "c.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for top in ("a", "b"):
            data = release[0]["test_batch"]
            info = tarfile.TarInfo(f"{top}/test_batch")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    with pytest.raises(DatasetError, match="test_batch appears twice"):
        prepare_dataset("cifar10-python", archive, tmp_path / "out")


def test_not_an_archive(tmp_path):
    path = tmp_path / "cifar-10-python.tar.gz"
    path.write_bytes(b"plain text")
    with pytest.raises(DatasetError, match="not a readable .tar.gz archive"):
        prepare_dataset("cifar10-python", path, tmp_path / "out")
