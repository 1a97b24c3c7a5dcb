"""STL-10 binary reader and preparation, on small files in the release layout."""

import hashlib
import io
import tarfile

import numpy as np
import pytest

from aecore.datasets import DatasetError, open_dataset, prepare_dataset
from aecore.datasets.stl10 import (
    IMAGE_BYTES,
    parse_class_names,
    parse_fold_indices,
    read_stl10_images,
    read_stl10_labels,
)

SIDE = 96
CLASS_NAMES = ["airplane", "bird", "car"]
COUNTS = {"train": 6, "test": 4, "unlabeled": 5}
FOLDS = [[0, 2, 4], [1, 3, 5]]


def encode_stl10(images):
    """Encode HWC images in the documented layout with explicit loops.

    Each image stores channel 0, 1, 2 in turn, and within a channel the pixels
    column by column: byte k of a channel is pixel (row k % 96, column k // 96).
    """
    out = bytearray()
    for image in images:
        for channel in range(3):
            for column in range(SIDE):
                for row in range(SIDE):
                    out.append(int(image[row, column, channel]))
    return bytes(out)


def asymmetric_image():
    """Grey image with a red top row, a green left column and a blue bottom-right."""
    image = np.full((SIDE, SIDE, 3), 128, dtype=np.uint8)
    image[0, :] = (255, 0, 0)
    image[:, 0] = (0, 255, 0)
    image[SIDE - 1, SIDE - 1] = (0, 0, 255)
    return image


def release_files(seed=0, counts=COUNTS):
    """Return {file name: bytes} of a small release and the images per split."""
    rng = np.random.default_rng(seed)
    files, images = {}, {}
    for split, count in counts.items():
        arrays = rng.integers(0, 256, size=(count, SIDE, SIDE, 3), dtype=np.uint8)
        if split == "train":
            arrays[0] = asymmetric_image()
        images[split] = arrays
        files[f"{split}_X.bin"] = encode_stl10(arrays)
    files["train_y.bin"] = bytes([1, 2, 3, 1, 2, 3][: counts["train"]])
    files["test_y.bin"] = bytes([3, 3, 2, 1][: counts["test"]])
    files["class_names.txt"] = ("\n".join(CLASS_NAMES) + "\n").encode()
    files["fold_indices.txt"] = "".join(
        " ".join(map(str, fold)) + " \n" for fold in FOLDS
    ).encode()
    return files, images


@pytest.fixture(scope="module")
def release():
    return release_files()


def write_folder(folder, files):
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


def write_archive(path, files, top="stl10_binary"):
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def prepare_small(source, out_dir, **options):
    options.setdefault("expected_counts", None)
    options.setdefault("expected_size", None)
    options.setdefault("expected_sha256", None)
    return prepare_dataset("stl10", source, out_dir, **options)


def test_reader_returns_upright_images(tmp_path, release):
    files, images = release
    path = tmp_path / "train_X.bin"
    path.write_bytes(files["train_X.bin"])
    read = read_stl10_images(path)
    assert read.shape == (6, SIDE, SIDE, 3)
    assert read.dtype == np.uint8
    first = read[0]
    assert (first[0, 1:] == (255, 0, 0)).all()  # top row red
    assert (first[:, 0] == (0, 255, 0)).all()  # left column green
    assert (first[SIDE - 1, SIDE - 1] == (0, 0, 255)).all()
    assert (first[1:-1, 1:-1] == 128).all()
    np.testing.assert_array_equal(read, images["train"])


def test_row_major_reading_would_transpose(release):
    files, images = release
    naive = np.frombuffer(files["train_X.bin"], dtype=np.uint8)[:IMAGE_BYTES]
    naive = naive.reshape(3, SIDE, SIDE).transpose(1, 2, 0)
    assert not np.array_equal(naive, images["train"][0])
    np.testing.assert_array_equal(naive, images["train"][0].transpose(1, 0, 2))


@pytest.mark.parametrize("layout", ["folder", "parent", "archive"])
def test_prepare_sources(tmp_path, release, layout):
    files, images = release
    if layout == "archive":
        source = write_archive(tmp_path / "stl10_binary.tar.gz", files)
    else:
        folder = write_folder(tmp_path / "data" / "stl10_binary", files)
        source = folder if layout == "folder" else folder.parent
    dataset = prepare_small(source, tmp_path / "out")
    assert dataset.splits == ("train", "test", "unlabeled")
    for split in COUNTS:
        np.testing.assert_array_equal(dataset.images(split), images[split])
    np.testing.assert_array_equal(dataset.labels("train"), [0, 1, 2, 0, 1, 2])
    np.testing.assert_array_equal(dataset.labels("test"), [2, 2, 1, 0])
    assert dataset.labels("train").dtype == np.int64
    assert dataset.labels("unlabeled") is None
    assert dataset.class_names == CLASS_NAMES
    assert [fold.tolist() for fold in dataset.folds] == FOLDS
    assert all(fold.dtype == np.int64 for fold in dataset.folds)
    assert dataset.meta["counts"] == COUNTS
    assert dataset.meta["image_shape"] == [SIDE, SIDE, 3]


def test_archive_checksum_recorded(tmp_path, release):
    archive = write_archive(tmp_path / "stl10_binary.tar.gz", release[0])
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    dataset = prepare_small(
        archive,
        tmp_path / "out",
        expected_size=archive.stat().st_size,
        expected_sha256=digest,
    )
    assert dataset.meta["checksum"] == {
        "algorithm": "sha256",
        "of": "archive",
        "value": digest,
    }
    assert dataset.meta["source"] == str(archive)
    assert dataset.meta["kind"] == "stl10"


def test_archive_size_mismatch(tmp_path, release):
    archive = write_archive(tmp_path / "stl10_binary.tar.gz", release[0])
    with pytest.raises(
        DatasetError,
        match=r"size is \d+ bytes, expected 123.*--expected-size none.*"
        r"dataset.options.expected_size: null",
    ):
        prepare_small(archive, tmp_path / "out", expected_size=123)
    assert archive.exists()


def test_archive_sha256_mismatch(tmp_path, release):
    archive = write_archive(tmp_path / "stl10_binary.tar.gz", release[0])
    with pytest.raises(DatasetError, match="SHA-256 is .*, expected 0000"):
        prepare_small(archive, tmp_path / "out", expected_sha256="0" * 64)
    assert archive.exists()
    assert not (tmp_path / "out").exists()


def test_default_expected_size_checked(tmp_path, release):
    archive = write_archive(tmp_path / "stl10_binary.tar.gz", release[0])
    with pytest.raises(DatasetError, match="expected 2640397119"):
        prepare_dataset("stl10", archive, tmp_path / "out")


def test_official_counts_checked(tmp_path, release):
    folder = write_folder(tmp_path / "stl10_binary", release[0])
    with pytest.raises(
        DatasetError,
        match=r"train_X.bin: 6 images, expected 5000.*--any-counts.*"
        r"dataset.options.expected_counts: null",
    ):
        prepare_dataset("stl10", folder, tmp_path / "out")


def test_truncated_image_file(tmp_path, release):
    files = dict(release[0])
    files["test_X.bin"] = files["test_X.bin"][:-10]
    folder = write_folder(tmp_path / "stl10_binary", files)
    with pytest.raises(
        DatasetError, match=r"test_X.bin: size \d+ bytes is not a multiple of 27648"
    ):
        prepare_small(folder, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert list(tmp_path.iterdir()) == [folder]


def test_empty_image_file(tmp_path, release):
    files = dict(release[0], **{"unlabeled_X.bin": b""})
    folder = write_folder(tmp_path / "stl10_binary", files)
    with pytest.raises(DatasetError, match="unlabeled_X.bin: the file is empty"):
        prepare_small(folder, tmp_path / "out")


def test_label_count_mismatch(tmp_path, release):
    files = dict(release[0], **{"train_y.bin": bytes([1, 2, 3, 1, 2])})
    folder = write_folder(tmp_path / "stl10_binary", files)
    with pytest.raises(
        DatasetError, match="train_y.bin: 5 labels for 6 images in .*train_X.bin"
    ):
        prepare_small(folder, tmp_path / "out")


def test_label_out_of_range(tmp_path, release):
    files = dict(release[0], **{"test_y.bin": bytes([0, 1, 2, 3])})
    folder = write_folder(tmp_path / "stl10_binary", files)
    with pytest.raises(
        DatasetError, match=r"test_y.bin: labels span 0..3, expected 1..3"
    ):
        prepare_small(folder, tmp_path / "out")


def test_missing_release_files(tmp_path, release):
    files = {
        k: v
        for k, v in release[0].items()
        if k not in ("test_y.bin", "fold_indices.txt")
    }
    archive = write_archive(tmp_path / "stl10_binary.tar.gz", files)
    with pytest.raises(DatasetError, match="missing test_y.bin, fold_indices.txt"):
        prepare_small(archive, tmp_path / "out")


def test_duplicate_release_file(tmp_path, release):
    files = release[0]
    archive = tmp_path / "stl10_binary.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for top in ("a", "b"):
            info = tarfile.TarInfo(f"{top}/train_y.bin")
            info.size = len(files["train_y.bin"])
            tar.addfile(info, io.BytesIO(files["train_y.bin"]))
    with pytest.raises(DatasetError, match="train_y.bin appears twice"):
        prepare_small(archive, tmp_path / "out")


def test_truncated_archive(tmp_path, release):
    archive = write_archive(tmp_path / "stl10_binary.tar.gz", release[0])
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) // 2])
    with pytest.raises(
        DatasetError, match="not a readable .tar.gz archive, or truncated"
    ):
        prepare_small(archive, tmp_path / "out")


def test_class_names_not_utf8(tmp_path, release):
    files = dict(release[0], **{"class_names.txt": b"\xff\xfe\n"})
    folder = write_folder(tmp_path / "stl10_binary", files)
    with pytest.raises(DatasetError, match="class_names.txt: not UTF-8 text"):
        prepare_small(folder, tmp_path / "out")


def test_read_images_errors(tmp_path):
    with pytest.raises(DatasetError, match="file not found"):
        read_stl10_images(tmp_path / "missing_X.bin")


def test_read_labels_is_zero_based():
    labels = read_stl10_labels(bytes([1, 10, 5]), 10, "y.bin")
    assert labels.tolist() == [0, 9, 4]
    assert labels.dtype == np.int64


def test_class_names_parsing():
    assert parse_class_names("a\r\nb\n\n", "c.txt") == ["a", "b"]
    with pytest.raises(
        DatasetError, match="c.txt: expected one non-empty class name a line"
    ):
        parse_class_names("a\n\nb\n", "c.txt")


def test_fold_indices_keep_large_values():
    folds = parse_fold_indices("4999 0 300\n1 2\n", 5000, "f.txt")
    assert [fold.tolist() for fold in folds] == [[4999, 0, 300], [1, 2]]
    assert folds[0].dtype == np.int64


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0 1\n2 x\n", "line 2 is not a list of integers"),
        ("0 1\n2 6\n", r"line 2 has indices 2..6, outside 0..5"),
        ("0 1\n-1\n", r"line 2 has indices -1..-1, outside 0..5"),
        ("  \n", "no folds found"),
        ("0 1\n\n2 3\n", "line 2 is empty"),
    ],
)
def test_fold_indices_errors(text, message):
    with pytest.raises(DatasetError, match=message):
        parse_fold_indices(text, 6, "f.txt")


def test_extracted_folder_in_data_dir(tmp_path, release):
    files, images = release
    data_dir = tmp_path / "resources"
    write_folder(data_dir / "stl10_binary", files)
    dataset = prepare_small(None, tmp_path / "out", download_dir=data_dir)
    np.testing.assert_array_equal(dataset.images("test"), images["test"])
    reopened = open_dataset(tmp_path / "out")
    assert reopened.meta["source"] == str(data_dir / "stl10_binary")


def test_missing_archive_path(tmp_path):
    with pytest.raises(DatasetError, match="source not found: .*stl10_binary.tar.gz"):
        prepare_small(tmp_path / "stl10_binary.tar.gz", tmp_path / "out")


def test_image_stream_ending_early(tmp_path):
    from aecore.datasets.cache import DatasetBuilder
    from aecore.datasets.stl10 import _ReleaseReader

    with DatasetBuilder(tmp_path / "out") as builder:
        reader = _ReleaseReader(builder, "release")
        stream = io.BytesIO(bytes(IMAGE_BYTES + 5))
        with pytest.raises(
            DatasetError, match=f"x: file ended after {IMAGE_BYTES + 5} of"
        ):
            reader.add("train_X.bin", stream, 2 * IMAGE_BYTES, "x")
