"""Preparation of the real CIFAR-10 JPEG archive (all 60,000 images)."""

import io
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from aecore.datasets import prepare_dataset

ARCHIVE = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10-jpg.tar.gz"
CLASSES = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
]


@pytest.mark.slow
@pytest.mark.skipif(not ARCHIVE.exists(), reason=f"{ARCHIVE} is not available")
def test_cifar10_jpeg_archive(tmp_path):
    dataset = prepare_dataset("folder", ARCHIVE, tmp_path / "cifar10")

    assert dataset.splits == ("train", "test")
    assert dataset.class_names == CLASSES
    assert dataset.meta["counts"] == {"train": 50000, "test": 10000}
    assert dataset.folds is None
    for split, per_class in (("train", 5000), ("test", 1000)):
        images = dataset.images(split)
        assert images.dtype == np.uint8
        assert images.shape == (10 * per_class, 32, 32, 3)
        labels = dataset.labels(split)
        assert labels.dtype == np.int64
        assert np.bincount(labels).tolist() == [per_class] * 10
        assert (np.diff(labels) >= 0).all()

    # Expected order: by class name, then file name; compare with direct decoding.
    with tarfile.open(ARCHIVE) as tar:
        members = {m.name: m for m in tar.getmembers() if m.isfile()}
        for split, index in (
            ("train", 0),
            ("train", 23456),
            ("train", 49999),
            ("test", 0),
            ("test", 5123),
            ("test", 9999),
        ):
            count = len(dataset.images(split)) // 10
            class_name = CLASSES[index // count]
            prefix = f"cifar10/{split}/{class_name}/"
            names = sorted(name for name in members if name.startswith(prefix))
            data = tar.extractfile(members[names[index % count]]).read()
            direct = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
            np.testing.assert_array_equal(dataset.images(split)[index], direct)
            assert dataset.labels(split)[index] == CLASSES.index(class_name)
