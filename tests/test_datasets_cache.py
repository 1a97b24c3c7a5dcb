"""The prepared-dataset directory: atomic build, reuse, and reading back."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import file_modes

import aecore
from aecore.datasets import DatasetError, open_dataset, prepare_dataset
from aecore.datasets.cache import DatasetBuilder, read_meta, remove_stale_partials


def write_folder_source(root, count=3, value=10):
    """An unlabelled image folder of ``count`` 2x2 PNG images."""
    from PIL import Image

    (root / "unlabeled").mkdir(parents=True)
    for index in range(count):
        image = np.full((2, 2, 3), value + index, dtype=np.uint8)
        Image.fromarray(image).save(root / "unlabeled" / f"{index}.png")
    return root


@pytest.fixture
def source(tmp_path):
    return write_folder_source(tmp_path / "src")


def test_meta_contents(tmp_path, source):
    dataset = prepare_dataset("folder", source, tmp_path / "out")
    meta = json.loads((tmp_path / "out" / "meta.json").read_text())
    assert meta == dataset.meta
    assert meta["kind"] == "folder"
    assert meta["source"] == str(source)
    assert meta["counts"] == {"unlabeled": 3}
    assert meta["image_shape"] == [2, 2, 3]
    assert meta["aecore_version"] == aecore.__version__
    assert meta["created"].endswith("+00:00")
    assert meta["checksum"]["algorithm"] == "sha256"
    assert meta["checksum"]["value"] == meta["arrays_sha256"]
    assert len(meta["arrays_sha256"]) == 64
    assert sorted(os.listdir(tmp_path / "out")) == ["meta.json", "unlabeled_images.npy"]


def test_images_are_memory_mapped_read_only(tmp_path, source):
    dataset = prepare_dataset("folder", source, tmp_path / "out")
    images = dataset.images("unlabeled")
    assert isinstance(images, np.memmap)
    assert images.mode == "r"
    assert not images.flags.writeable
    assert images[2, 0, 0].tolist() == [12, 12, 12]


def test_same_request_reuses(tmp_path, source):
    prepare_dataset("folder", source, tmp_path / "out")
    meta_path = tmp_path / "out" / "meta.json"
    before = meta_path.stat().st_mtime_ns
    (source / "unlabeled" / "0.png").unlink()  # a rebuild would now see 2 images
    dataset = prepare_dataset("folder", source, tmp_path / "out")
    assert meta_path.stat().st_mtime_ns == before
    assert dataset.meta["counts"] == {"unlabeled": 3}


def test_different_request_rejected(tmp_path, source):
    prepare_dataset("folder", source, tmp_path / "out")
    with pytest.raises(
        DatasetError, match="already contains a dataset prepared from .*--force"
    ):
        prepare_dataset("folder", source, tmp_path / "out", image_size=4, resize=True)


def test_force_replaces(tmp_path, source):
    prepare_dataset("folder", source, tmp_path / "out")
    dataset = prepare_dataset(
        "folder", source, tmp_path / "out", image_size=4, resize=True, force=True
    )
    assert dataset.images("unlabeled").shape == (3, 4, 4, 3)
    assert open_dataset(tmp_path / "out").meta["image_size"] == [4, 4]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "src"]


def test_empty_out_dir_is_used(tmp_path, source):
    (tmp_path / "out").mkdir()
    dataset = prepare_dataset("folder", source, tmp_path / "out")
    assert dataset.meta["counts"] == {"unlabeled": 3}


def test_foreign_out_dir_rejected(tmp_path, source):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.txt").write_text("mine")
    with pytest.raises(
        DatasetError, match="exists, is not empty and is not a prepared dataset"
    ):
        prepare_dataset("folder", source, tmp_path / "out")
    assert (tmp_path / "out" / "notes.txt").read_text() == "mine"


def test_out_dir_is_a_file(tmp_path, source):
    (tmp_path / "out").write_text("")
    with pytest.raises(DatasetError, match="exists and is not a directory"):
        prepare_dataset("folder", source, tmp_path / "out")


def test_failed_build_leaves_nothing(tmp_path, source):
    (source / "unlabeled" / "2.png").write_bytes(b"broken")
    with pytest.raises(DatasetError, match="cannot decode image"):
        prepare_dataset("folder", source, tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]


def test_killed_build_leaves_no_complete_dir(tmp_path, source):
    script = (
        "import os, aecore.datasets.folders as f\n"
        "def die(*args, **kwargs): os._exit(9)\n"
        "f._decode_all = die\n"
        "from aecore.datasets import prepare_dataset\n"
        f"prepare_dataset('folder', {str(source)!r}, {str(tmp_path / 'out')!r})\n"
    )
    result = subprocess.run([sys.executable, "-c", script], check=False)
    assert result.returncode == 9
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "src"]
    assert len(leftovers) == 1
    assert leftovers[0].startswith(".out.partial-")
    assert not (tmp_path / "out").exists()
    with pytest.raises(DatasetError, match="dataset directory not found"):
        open_dataset(tmp_path / "out")
    prepare_dataset("folder", source, tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "src"]


def test_partial_of_live_process_kept(tmp_path):
    live = tmp_path / f".out.partial-{os.getpid()}-abc"
    dead = tmp_path / ".out.partial-999999999-abc"
    other = tmp_path / ".other.partial-999999999-abc"
    for path in (live, dead, other):
        path.mkdir()
    remove_stale_partials(tmp_path / "out")
    assert live.exists()
    assert not dead.exists()
    assert other.exists()


def test_open_dataset_errors(tmp_path):
    with pytest.raises(DatasetError, match="dataset directory not found"):
        open_dataset(tmp_path / "none")
    (tmp_path / "empty").mkdir()
    with pytest.raises(
        DatasetError, match=r"not a prepared dataset \(meta.json is missing\)"
    ):
        open_dataset(tmp_path / "empty")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "invalid JSON"),
        ("[]", "not an aecore dataset description"),
        (
            '{"format": "aecore-dataset", "format_version": 99}',
            "format version 99 is not supported",
        ),
    ],
)
def test_bad_meta(tmp_path, text, message):
    (tmp_path / "meta.json").write_text(text)
    with pytest.raises(DatasetError, match=message):
        read_meta(tmp_path)


def test_damaged_arrays_detected(tmp_path, source):
    prepare_dataset("folder", source, tmp_path / "out")
    dataset = open_dataset(tmp_path / "out")
    with pytest.raises(
        DatasetError, match="unknown split 'train'; this dataset has unlabeled"
    ):
        dataset.images("train")
    with pytest.raises(DatasetError, match="unknown split 'test'"):
        dataset.labels("test")
    np.save(tmp_path / "out" / "unlabeled_images.npy", np.zeros((2, 2, 2, 3), np.uint8))
    with pytest.raises(
        DatasetError, match=r"expected uint8 images of shape \(3, 2, 2, 3\)"
    ):
        dataset.images("unlabeled")
    (tmp_path / "out" / "unlabeled_images.npy").write_bytes(b"garbage")
    with pytest.raises(DatasetError, match="not a valid .npy file"):
        dataset.images("unlabeled")
    (tmp_path / "out" / "unlabeled_images.npy").unlink()
    with pytest.raises(DatasetError, match="file missing from a prepared dataset"):
        dataset.images("unlabeled")


def build_labelled(tmp_path, labels, folds=None, names=("a", "b")):
    with DatasetBuilder(tmp_path / "ds") as builder:
        builder.create_images("train", 3, 2, 2)[...] = 7
        builder.set_labels("train", np.array(labels))
        builder.set_class_names(list(names))
        if folds is not None:
            builder.set_folds(folds)
        builder.commit({"kind": "test", "source": "memory", "checksum": None})
    return open_dataset(tmp_path / "ds")


def test_builder_round_trip(tmp_path):
    dataset = build_labelled(
        tmp_path, [0, 1, 1], folds=[np.array([0, 2]), np.array([1])]
    )
    assert dataset.labels("train").tolist() == [0, 1, 1]
    assert [fold.tolist() for fold in dataset.folds] == [[0, 2], [1]]
    assert dataset.meta["fold_sizes"] == [2, 1]
    assert (dataset.images("train") == 7).all()
    assert repr(dataset).endswith("train=3)")


def test_damaged_labels_and_folds_detected(tmp_path):
    dataset = build_labelled(tmp_path, [0, 1, 1], folds=[np.array([0, 2])])
    np.save(tmp_path / "ds" / "train_labels.npy", np.zeros(2, np.int64))
    with pytest.raises(DatasetError, match=r"expected int64 labels of shape \(3,\)"):
        dataset.labels("train")
    np.save(tmp_path / "ds" / "folds.npy", np.zeros(5, np.int64))
    with pytest.raises(DatasetError, match="expected 2 int64 fold indices"):
        open_dataset(tmp_path / "ds")


@pytest.mark.parametrize(
    ("labels", "folds", "names", "message"),
    [
        (
            [0, 1, 2],
            None,
            ("a", "b"),
            r"labels of split 'train' span 0..2, outside 0..1",
        ),
        (
            [0, 1, 1],
            [np.array([0, 3])],
            ("a", "b"),
            r"fold indices span 0..3, outside 0..2",
        ),
        (
            [0, 1, 1],
            [np.array([0.5])],
            ("a", "b"),
            "folds must be a non-empty list of 1-D",
        ),
        ([0, 1, 1], None, ("a", "a"), "duplicate class names"),
        ([0, 1, 1], None, ("a", ""), "class names must be non-empty strings"),
        (
            [0, 1],
            None,
            ("a", "b"),
            r"labels of split 'train' must be integers of shape \(3,\)",
        ),
    ],
)
def test_builder_checks(tmp_path, labels, folds, names, message):
    with pytest.raises(DatasetError, match=message):
        build_labelled(tmp_path, labels, folds, names)
    assert not (tmp_path / "ds").exists()
    assert list(tmp_path.iterdir()) == []


def test_builder_split_checks(tmp_path):
    with DatasetBuilder(tmp_path / "ds") as builder:
        builder.create_images("train", 1, 2, 2)
        with pytest.raises(DatasetError, match="split 'train' was written twice"):
            builder.create_images("train", 1, 2, 2)
        with pytest.raises(DatasetError, match=r"has images of shape \(3, 3, 3\), but"):
            builder.create_images("test", 1, 3, 3)
        with pytest.raises(DatasetError, match="split 'test' has no images"):
            builder.create_images("test", 0, 2, 2)
        with pytest.raises(DatasetError, match="labels for unknown split 'test'"):
            builder.set_labels("test", np.zeros(1, int))
        with pytest.raises(DatasetError, match="invalid split name 'a/b'"):
            builder.create_images("a/b", 1, 2, 2)
    with DatasetBuilder(tmp_path / "ds") as builder:
        with pytest.raises(DatasetError, match="the source contains no images"):
            builder.commit({})
        builder.create_images("test", 1, 2, 2)
        builder.set_folds([np.array([0])])
        with pytest.raises(DatasetError, match="folds given without a train split"):
            builder.commit({})
    assert list(tmp_path.iterdir()) == []


def test_concurrent_commit(tmp_path):
    with (
        DatasetBuilder(tmp_path / "ds") as first,
        DatasetBuilder(tmp_path / "ds") as second,
    ):
        for builder in (first, second):
            builder.create_images("train", 1, 2, 2)
        first.commit({"kind": "x"})
        with pytest.raises(DatasetError, match="a prepared dataset appeared here"):
            second.commit({"kind": "x"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]


def test_prepare_arguments(tmp_path, source):
    with pytest.raises(
        DatasetError,
        match="kind must be one of stl10, pickles, cifar10-python, folder, got 'mnist'",
    ):
        prepare_dataset("mnist", source, tmp_path / "out")
    with pytest.raises(DatasetError, match="source is required for kind 'folder'"):
        prepare_dataset("folder", None, tmp_path / "out")
    with pytest.raises(
        DatasetError,
        match="unknown option workers for kind 'cifar10-python'; allowed: none",
    ):
        prepare_dataset("cifar10-python", source, tmp_path / "out", workers=2)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"timeout": 0}, "timeout must be a positive number of seconds"),
        ({"retries": 1.5}, "retries must be a non-negative integer"),
        ({"expected_counts": {"train": 1}}, "expected_counts must be None or a dict"),
        ({"expected_sha256": "xyz"}, "expected_sha256 must be 64 lowercase"),
    ],
)
def test_invalid_stl10_options(tmp_path, options, message):
    with pytest.raises(DatasetError, match=message):
        prepare_dataset("stl10", tmp_path, tmp_path / "out", **options)


def test_commit_onto_foreign_directory(tmp_path):
    with DatasetBuilder(tmp_path / "ds") as builder:
        builder.create_images("train", 1, 2, 2)
        (tmp_path / "ds").mkdir()
        (tmp_path / "ds" / "other.txt").write_text("")
        with pytest.raises(
            DatasetError, match="cannot move the prepared dataset into place"
        ):
            builder.commit({"kind": "x"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]
    assert os.listdir(tmp_path / "ds") == ["other.txt"]


def test_prepared_meanwhile_is_reused(tmp_path, source, monkeypatch):
    """Another preparation of the same request finishing first is reused."""
    from aecore.datasets import prepare

    build = prepare.BUILDERS["folder"]

    def build_after_another(builder, source_path, options):
        fields = build(builder, source_path, options)
        prepare.BUILDERS["folder"] = build
        prepare_dataset("folder", source_path, tmp_path / "out")
        return fields

    monkeypatch.setitem(prepare.BUILDERS, "folder", build_after_another)
    dataset = prepare_dataset("folder", source, tmp_path / "out")
    assert dataset.meta["counts"] == {"unlabeled": 3}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "src"]


def test_write_images_across_remaps(tmp_path, monkeypatch):
    from aecore.datasets import cache

    monkeypatch.setattr(cache, "REMAP_BYTES", 30)
    expected = np.arange(5 * 2 * 2 * 3, dtype=np.uint8).reshape(5, 2, 2, 3)
    with DatasetBuilder(tmp_path / "ds") as builder:
        first = builder.create_images("train", 5, 2, 2)
        builder.create_images("test", 2, 2, 2)
        builder.write_images("train", slice(0, 3), expected[:3])
        builder.write_images("test", np.array([1, 0]), expected[:2])
        builder.write_images("train", np.array([4, 3]), expected[[4, 3]])
        assert builder._memmaps["train"] is not first
        builder.commit({"kind": "x"})
    dataset = open_dataset(tmp_path / "ds")
    np.testing.assert_array_equal(dataset.images("train"), expected)
    np.testing.assert_array_equal(dataset.images("test"), expected[[1, 0]])


def test_prepared_dataset_follows_umask(tmp_path, source, umask_027):
    prepare_dataset("folder", source, tmp_path / "out")
    assert file_modes(tmp_path / "out") == {
        "out": 0o750,
        "out/meta.json": 0o640,
        "out/unlabeled_images.npy": 0o640,
    }
