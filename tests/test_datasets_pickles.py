"""Restricted unpickler and course pickles, with hand-built Python 2 streams."""

import pickle
import struct

import numpy as np
import pytest

from aecore.datasets import DatasetError, load_pickle, prepare_dataset
from aecore.datasets.arrays import rows_to_images
from aecore.datasets.pickles import load_course_pickle

# Pickle opcodes used to build streams the way Python 2's cPickle writes them.
PROTO_2 = b"\x80\x02"
EMPTY_DICT, EMPTY_LIST, MARK, SETITEMS, APPENDS = b"}", b"]", b"(", b"u", b"e"
TUPLE, TUPLE1, TUPLE3, REDUCE, BUILD, STOP = b"t", b"\x85", b"\x87", b"R", b"b", b"."
NONE, NEWFALSE = b"N", b"\x89"


def py2_str(data: bytes) -> bytes:
    """SHORT_BINSTRING or BINSTRING: a Python 2 ``str``."""
    if len(data) < 256:
        return b"U" + bytes([len(data)]) + data
    return b"T" + struct.pack("<I", len(data)) + data


def py2_int(value: int) -> bytes:
    if 0 <= value < 256:
        return b"K" + bytes([value])
    return b"J" + struct.pack("<i", value)


def py2_global(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def py2_dtype(code: bytes, byteorder: bytes) -> bytes:
    """numpy.dtype(code, 0, 1) with the version-3 state tuple of NumPy 1.x."""
    state = MARK + py2_int(3) + py2_str(byteorder) + NONE * 3
    state += b"J\xff\xff\xff\xff" * 2 + py2_int(0) + TUPLE
    head = py2_global("numpy", "dtype") + py2_str(code) + py2_int(0) + py2_int(1)
    return head + TUPLE3 + REDUCE + state + BUILD


def py2_ndarray(array: np.ndarray) -> bytes:
    """An array as NumPy 1.x under Python 2 pickles it: data as a ``str``."""
    code = {np.dtype(np.uint8): b"u1", np.dtype("<i8"): b"i8", np.dtype("<f8"): b"f8"}
    byteorder = b"|" if array.dtype.itemsize == 1 else b"<"
    out = py2_global("numpy.core.multiarray", "_reconstruct")
    out += py2_global("numpy", "ndarray") + py2_int(0) + TUPLE1 + py2_str(b"b")
    out += TUPLE3 + REDUCE
    shape = MARK + b"".join(py2_int(n) for n in array.shape) + TUPLE
    state = MARK + py2_int(1) + shape + py2_dtype(code[array.dtype], byteorder)
    state += NEWFALSE + py2_str(array.tobytes()) + TUPLE
    return out + state + BUILD


def py2_list(items: list[bytes]) -> bytes:
    return EMPTY_LIST + MARK + b"".join(items) + APPENDS


def py2_dict(entries: dict[bytes, bytes]) -> bytes:
    """A protocol-2 stream of a dict with Python 2 ``str`` keys."""
    body = b"".join(py2_str(key) + value for key, value in entries.items())
    return PROTO_2 + EMPTY_DICT + MARK + body + SETITEMS + STOP


def hwc_rows(images: np.ndarray) -> np.ndarray:
    return images.reshape(images.shape[0], -1)


@pytest.fixture
def images():
    rng = np.random.default_rng(3)
    return rng.integers(0, 256, size=(6, 4, 4, 3), dtype=np.uint8)


def test_python2_stream_loads(tmp_path, images):
    labels = np.array([1, 2, 3, 1, 2, 3], dtype="<i8")
    stream = py2_dict(
        {
            b"X": py2_ndarray(hwc_rows(images)),
            b"y": py2_ndarray(labels),
            b"class_names": py2_list(
                [py2_str(b"cat"), py2_str(b"dog"), py2_str(b"ship")]
            ),
        }
    )
    path = tmp_path / "train.pk"
    path.write_bytes(stream)
    data = load_course_pickle(path)
    assert set(data) == {"X", "y", "class_names"}
    np.testing.assert_array_equal(data["X"], hwc_rows(images))
    assert data["X"].dtype == np.uint8
    np.testing.assert_array_equal(data["y"], labels)
    assert data["class_names"] == [b"cat", b"dog", b"ship"]


def test_python2_stream_prepares(tmp_path, images):
    folder = tmp_path / "course"
    folder.mkdir()
    names = py2_list([py2_str(b"cat"), py2_str(b"dog"), py2_str(b"ship")])
    train = py2_dict(
        {
            b"X": py2_ndarray(hwc_rows(images)),
            b"y": py2_list([py2_int(v) for v in (1, 2, 3, 3, 2, 1)]),
            b"class_names": names,
            b"fold_indices": py2_list(
                [py2_ndarray(np.array([0, 1, 2], "<i8")), py2_list([py2_int(5)])]
            ),
        }
    )
    test = py2_dict(
        {
            b"X": py2_ndarray(hwc_rows(images[:2])),
            b"y": py2_list([py2_int(3), py2_int(1)]),
        }
    )
    unlabeled = py2_dict({b"X": py2_ndarray(hwc_rows(images[2:5]))})
    (folder / "train.pk").write_bytes(train)
    (folder / "test.pk").write_bytes(test)
    (folder / "unlabeled.pk").write_bytes(unlabeled)
    (folder / ".hidden.pk").write_bytes(b"not read")

    dataset = prepare_dataset("pickles", folder, tmp_path / "out")
    assert dataset.splits == ("train", "test", "unlabeled")
    np.testing.assert_array_equal(dataset.images("train"), images)
    np.testing.assert_array_equal(dataset.images("unlabeled"), images[2:5])
    assert dataset.labels("train").tolist() == [0, 1, 2, 2, 1, 0]
    assert dataset.labels("test").tolist() == [2, 0]
    assert dataset.labels("unlabeled") is None
    assert dataset.class_names == ["cat", "dog", "ship"]
    assert [fold.tolist() for fold in dataset.folds] == [[0, 1, 2], [5]]
    assert dataset.meta["label_base"] == 1


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("os", "system"),
        ("posix", "system"),
        ("subprocess", "call"),
        ("builtins", "eval"),
        ("__builtin__", "getattr"),
        ("numpy", "load"),
    ],
)
def test_hostile_pickle_rejected(tmp_path, module, name):
    marker = tmp_path / "ran"
    command = f"touch {marker}".encode()
    stream = (
        PROTO_2 + py2_global(module, name) + py2_str(command) + TUPLE1 + REDUCE + STOP
    )
    path = tmp_path / "evil.pk"
    path.write_bytes(stream)
    with pytest.raises(
        DatasetError, match=f"rejected unsafe pickle: it references {module}.{name}"
    ):
        load_pickle(path)
    assert not marker.exists()


def test_hostile_pickle_nothing_runs_via_prepare(tmp_path):
    marker = tmp_path / "ran"
    folder = tmp_path / "course"
    folder.mkdir()
    payload = (
        py2_global("os", "system")
        + py2_str(f"touch {marker}".encode())
        + TUPLE1
        + REDUCE
    )
    (folder / "train.pk").write_bytes(
        PROTO_2 + EMPTY_DICT + py2_str(b"X") + payload + b"s" + STOP
    )
    with pytest.raises(
        DatasetError, match=r"train.pk: rejected unsafe pickle: it references os.system"
    ):
        prepare_dataset("pickles", folder, tmp_path / "out")
    assert not marker.exists()
    assert not (tmp_path / "out").exists()


def test_python3_pickle_loads(tmp_path, images):
    path = tmp_path / "x.pk"
    value = {
        "X": hwc_rows(images),
        b"bytes": b"\x00\xff",
        "set": {1, 2},
        "t": (1.5, None),
    }
    path.write_bytes(pickle.dumps(value, protocol=2))
    loaded = load_pickle(path)
    np.testing.assert_array_equal(loaded["X"], hwc_rows(images))
    assert loaded[b"bytes"] == b"\x00\xff"
    assert loaded["set"] == {1, 2}
    assert loaded["t"] == (1.5, None)
    path.write_bytes(pickle.dumps(value, protocol=5))
    np.testing.assert_array_equal(load_pickle(path)["X"], hwc_rows(images))


def test_codecs_encode_limited_to_text(tmp_path):
    stream = PROTO_2 + py2_global("_codecs", "encode") + b"X\x01\x00\x00\x00a"
    stream += b"X\x04\x00\x00\x00zlib" + b"\x86" + REDUCE + STOP
    path = tmp_path / "x.pk"
    path.write_bytes(stream)
    with pytest.raises(
        DatasetError, match="not a valid pickle .*encoding 'zlib' is not allowed"
    ):
        load_pickle(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "pickle ends early; the file is truncated"),
        (PROTO_2 + EMPTY_DICT, "pickle ends early; the file is truncated"),
        (b"\x80\x02\xfe", "not a valid pickle"),
    ],
)
def test_broken_pickles(tmp_path, content, message):
    path = tmp_path / "train.pk"
    path.write_bytes(content)
    with pytest.raises(DatasetError, match=f"train.pk: {message}"):
        load_pickle(path)


def test_missing_pickle_file(tmp_path):
    with pytest.raises(DatasetError, match="file not found: .*train.pk"):
        load_pickle(tmp_path / "train.pk")


def test_pickle_without_x(tmp_path):
    path = tmp_path / "train.pk"
    path.write_bytes(py2_dict({b"y": py2_list([py2_int(1)])}))
    with pytest.raises(
        DatasetError, match=r"train.pk: no 'X' entry with the images \(keys: y\)"
    ):
        load_course_pickle(path)


def test_pickle_not_a_dict(tmp_path):
    path = tmp_path / "train.pk"
    path.write_bytes(pickle.dumps([1, 2], protocol=2))
    with pytest.raises(
        DatasetError, match="train.pk: expected a pickled dict, got list"
    ):
        load_course_pickle(path)


def write_pickles(folder, **splits):
    folder.mkdir(exist_ok=True)
    for split, value in splits.items():
        (folder / f"{split}.pk").write_bytes(pickle.dumps(value, protocol=2))
    return folder


@pytest.mark.parametrize(
    ("layout", "to_rows"),
    [
        ("hwc", lambda im: im.reshape(len(im), -1)),
        ("chw", lambda im: im.transpose(0, 3, 1, 2).reshape(len(im), -1)),
        ("cwh", lambda im: im.transpose(0, 3, 2, 1).reshape(len(im), -1)),
    ],
)
def test_row_layouts(tmp_path, images, layout, to_rows):
    folder = write_pickles(tmp_path / "course", train={"X": to_rows(images)})
    dataset = prepare_dataset("pickles", folder, tmp_path / "out", row_layout=layout)
    np.testing.assert_array_equal(dataset.images("train"), images)


def test_four_dimensional_x_and_float_pixels(tmp_path, images):
    folder = write_pickles(
        tmp_path / "course",
        train={"X": images.astype(np.float64), "y": np.array([0, 1, 0, 1, 0, 1.0])},
    )
    dataset = prepare_dataset("pickles", folder, tmp_path / "out")
    np.testing.assert_array_equal(dataset.images("train"), images)
    assert dataset.labels("train").tolist() == [0, 1, 0, 1, 0, 1]
    assert dataset.class_names == ["0", "1"]
    assert dataset.meta["label_base"] == 0


def test_single_pickle_file_source(tmp_path, images):
    folder = write_pickles(tmp_path / "course", unlabeled={b"X": hwc_rows(images)})
    dataset = prepare_dataset("pickles", folder / "unlabeled.pk", tmp_path / "out")
    assert dataset.splits == ("unlabeled",)
    assert dataset.class_names == []


def test_explicit_label_base(tmp_path, images):
    rows = hwc_rows(images)
    folder = write_pickles(tmp_path / "a", train={"X": rows, "y": [1, 2, 1, 2, 1, 2]})
    dataset = prepare_dataset("pickles", folder, tmp_path / "out", label_base=1)
    assert dataset.labels("train").tolist() == [0, 1, 0, 1, 0, 1]


def test_label_base_zero_rejects_top_label(tmp_path, images):
    train = {"X": hwc_rows(images), "y": [1, 2, 1, 2, 1, 2], "class_names": ["a", "b"]}
    folder = write_pickles(tmp_path / "a", train=train)
    with pytest.raises(DatasetError, match=r"'y': labels span 1..2, expected 0..1"):
        prepare_dataset("pickles", folder, tmp_path / "out", label_base=0)


@pytest.mark.parametrize(
    ("train", "message"),
    [
        (
            {"X": np.zeros((2, 10), np.uint8)},
            "rows of 10 values are not square colour images",
        ),
        (
            {"X": np.zeros((2, 3, 3), np.uint8)},
            r"'X' must have one image a row .* got shape \(2, 3, 3\)",
        ),
        (
            {"X": np.full((2, 12), 256)},
            r"pixel values must lie in 0..255, found 256..256",
        ),
        ({"X": np.full((2, 12), 0.5)}, "pixel values must be whole numbers"),
        ({"X": np.array([["a"] * 12] * 2)}, "expected numeric pixel values"),
        ({"X": np.zeros((2, 12), np.uint8), "y": [0]}, "'y': 1 labels for 2 images"),
        (
            {"X": np.zeros((2, 12), np.uint8), "y": [0.5, 1]},
            "'y': expected integer labels",
        ),
        (
            {"X": np.zeros((2, 12), np.uint8), "y": [[0, 1], [1, 0]]},
            r"expected 1-D labels, got shape \(2, 2\)",
        ),
        (
            {"X": np.zeros((2, 12), np.uint8), "y": [0, 1], "class_names": "ab"},
            "'class_names' must be a list of names, got str",
        ),
        (
            {"X": np.zeros((2, 12), np.uint8), "y": [0, 1], "class_names": ["a", ""]},
            "'class_names' must contain non-empty strings",
        ),
        (
            {"X": np.zeros((2, 12), np.uint8), "y": [0, 3], "class_names": ["a", "b"]},
            r"labels span 0..3, expected 0..1 for 2 classes",
        ),
        (
            {"X": np.zeros((2, 12), np.uint8), "fold_indices": 5},
            "'fold_indices' must be a 2-D array or a non-empty list",
        ),
        (
            {"X": np.zeros((2, 12), np.uint8), "fold_indices": [[0], []]},
            "fold 1 of 'fold_indices' is not a non-empty list of integers",
        ),
        (
            {"X": np.zeros((2, 12), np.uint8), "fold_indices": [[0, 2]]},
            r"fold 0 of 'fold_indices' has indices 0..2, outside 0..1",
        ),
    ],
)
def test_bad_course_pickles(tmp_path, train, message):
    folder = write_pickles(tmp_path / "course", train=train)
    with pytest.raises(DatasetError, match=message):
        prepare_dataset("pickles", folder, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_x_not_an_array(tmp_path):
    folder = write_pickles(tmp_path / "course", train={"X": [[1, 2], [3]]})
    with pytest.raises(DatasetError, match="train.pk: 'X' is not an array"):
        prepare_dataset("pickles", folder, tmp_path / "out")


def test_class_names_disagree(tmp_path, images):
    rows = hwc_rows(images)
    folder = write_pickles(
        tmp_path / "course",
        train={"X": rows, "y": [0] * 6, "class_names": ["a", "b"]},
        test={"X": rows, "y": [0] * 6, "class_names": ["a", "c"]},
    )
    with pytest.raises(
        DatasetError, match=r"'class_names' \['a', 'b'\] differ from \['a', 'c'\]"
    ):
        prepare_dataset("pickles", folder, tmp_path / "out")


def test_folds_twice_or_without_train(tmp_path, images):
    rows = hwc_rows(images)
    folder = write_pickles(
        tmp_path / "a",
        train={"X": rows, "fold_indices": [[0]]},
        test={"X": rows, "fold_indices": [[0]]},
    )
    with pytest.raises(DatasetError, match="'fold_indices' also given in"):
        prepare_dataset("pickles", folder, tmp_path / "out")
    folder = write_pickles(tmp_path / "b", test={"X": rows, "fold_indices": [[0]]})
    with pytest.raises(DatasetError, match="'fold_indices' given but no train.pk"):
        prepare_dataset("pickles", folder, tmp_path / "out")


def test_no_pickles_in_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no .pk files found"):
        prepare_dataset("pickles", tmp_path / "empty", tmp_path / "out")


def test_invalid_split_file_name(tmp_path, images):
    folder = write_pickles(
        tmp_path / "course", **{"train set": {"X": hwc_rows(images)}}
    )
    with pytest.raises(DatasetError, match="invalid split name 'train set'"):
        prepare_dataset("pickles", folder, tmp_path / "out")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"row_layout": "whc"}, "row_layout must be one of hwc, chw, cwh, got 'whc'"),
        ({"label_base": 2}, "label_base must be 'auto', 0 or 1, got 2"),
    ],
)
def test_invalid_pickle_options(tmp_path, images, options, message):
    folder = write_pickles(tmp_path / "course", train={"X": hwc_rows(images)})
    with pytest.raises(DatasetError, match=message):
        prepare_dataset("pickles", folder, tmp_path / "out", **options)


def test_labels_not_an_array(tmp_path, images):
    folder = write_pickles(
        tmp_path / "c", train={"X": hwc_rows(images[:2]), "y": [[0, 1], [2]]}
    )
    with pytest.raises(DatasetError, match="train.pk: 'y': labels are not an array"):
        prepare_dataset("pickles", folder, tmp_path / "out")


def test_class_names_as_array_and_latin1(tmp_path, images):
    names = np.array([b"caf\xe9", b"dog"], dtype=object)
    folder = write_pickles(
        tmp_path / "c",
        train={"X": hwc_rows(images), "y": [0, 1] * 3, "class_names": names},
    )
    dataset = prepare_dataset("pickles", folder, tmp_path / "out")
    assert dataset.class_names == ["café", "dog"]


def test_rows_to_images_rejects_unknown_layout():
    with pytest.raises(ValueError, match="layout must be one of .*, got 'whc'"):
        rows_to_images(np.zeros((1, 12), np.uint8), "whc", 2, 2)
