"""Safe loading of NumPy pickles written by Python 2, and the course pickle files.

The course distributes STL-10 as ``train.pk``, ``test.pk`` and ``unlabeled.pk``:
pickled dicts with some of the keys ``X`` (one image a row), ``y`` (labels),
``class_names`` and ``fold_indices`` (index lists into ``train``). They were
written by Python 2, so strings arrive as bytes and array data as Python-2 ``str``.

Unpickling can run arbitrary code, because a pickle may name any importable
callable. :class:`RestrictedUnpickler` resolves only the NumPy array
reconstruction helpers and plain builtin containers, and rejects every other name
before anything is called.
"""

from __future__ import annotations

import logging
import pickle
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from .arrays import (
    ROW_LAYOUTS,
    copy_pixels,
    integer_labels,
    rows_to_images,
    square_side,
)
from .cache import DatasetBuilder, check_split_name
from .errors import DatasetError

try:
    from numpy._core.multiarray import _reconstruct, scalar
    from numpy._core.numeric import _frombuffer
except ImportError:  # NumPy 1.x
    from numpy.core.multiarray import _reconstruct, scalar
    from numpy.core.numeric import _frombuffer

logger = logging.getLogger(__name__)

PICKLE_SUFFIX = ".pk"
OPTIONS = {"row_layout": "hwc", "label_base": "auto"}
CONTENT_OPTIONS = ("row_layout", "label_base")

# (module, name) pairs a pickle may reference, mapped to the objects returned.
# Pickles written by NumPy 1.x name numpy.core, NumPy 2.x name numpy._core, and
# Python 2 names the builtins module __builtin__. _frombuffer rebuilds arrays in
# protocol 5. _codecs.encode appears in protocol-2 pickles written by Python 3,
# which store bytes as an encoded str.
_ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy.core.multiarray", "scalar"): scalar,
    ("numpy._core.multiarray", "scalar"): scalar,
    ("numpy.core.numeric", "_frombuffer"): _frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _frombuffer,
}
for _module in ("builtins", "__builtin__"):
    for _name, _object in (
        ("list", list),
        ("dict", dict),
        ("tuple", tuple),
        ("set", set),
        ("frozenset", frozenset),
        ("bytearray", bytearray),
        ("complex", complex),
    ):
        _ALLOWED_GLOBALS[(_module, _name)] = _object


def _encode_text(text: str, encoding: str = "utf-8") -> bytes:
    """Stand-in for ``_codecs.encode`` that accepts only text encodings."""
    if encoding not in ("latin1", "latin-1", "utf-8", "utf8", "ascii"):
        raise pickle.UnpicklingError(f"encoding {encoding!r} is not allowed")
    return text.encode(encoding)


_ALLOWED_GLOBALS[("_codecs", "encode")] = _encode_text


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only NumPy array helpers and builtin containers.

    Any other global (for example ``os.system``) raises :class:`DatasetError`
    when the pickle refers to it, before it could be called.

    Parameters
    ----------
    file : binary file object
        Open pickle stream.
    where : str
        File name used in error messages.
    """

    def __init__(self, file: BinaryIO, where: str) -> None:
        # encoding="bytes" turns Python-2 str into bytes, which NumPy accepts as
        # array data without re-encoding; dict keys and names are decoded later.
        super().__init__(file, encoding="bytes")
        self.where = where

    def find_class(self, module: str, name: str) -> Any:
        """Return the allowed object for ``module.name``, or raise DatasetError."""
        allowed = _ALLOWED_GLOBALS.get((module, name))
        if allowed is None:
            raise DatasetError(
                f"{self.where}: rejected unsafe pickle: it references {module}.{name},"
                " and only NumPy arrays and builtin containers are allowed"
            )
        return allowed


def load_pickle(path: str | Path) -> Any:
    """Load a pickle file with :class:`RestrictedUnpickler`.

    Parameters
    ----------
    path : path-like
        Pickle file, from Python 2 or 3, any protocol.

    Returns
    -------
    object
        The unpickled object. Python-2 ``str`` values come back as ``bytes``.

    Raises
    ------
    DatasetError
        If the file is missing, truncated, not a pickle, or references a
        disallowed global.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"file not found: {path}")
    with open(path, "rb") as stream:
        try:
            return RestrictedUnpickler(stream, str(path)).load()
        except DatasetError:
            raise
        except EOFError:
            raise DatasetError(
                f"{path}: pickle ends early; the file is truncated"
            ) from None
        except (pickle.UnpicklingError, ValueError, TypeError, KeyError) as error:
            raise DatasetError(f"{path}: not a valid pickle ({error})") from None


def decode_text(value: Any) -> Any:
    """Decode bytes as UTF-8, falling back to Latin-1; return other values unchanged."""
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return value.decode("latin-1")
    return value


def load_course_pickle(path: str | Path) -> dict[str, Any]:
    """Load one course pickle: a dict whose keys are decoded to str.

    Returns
    -------
    dict
        Keys among ``X``, ``y``, ``class_names`` and ``fold_indices``.

    Raises
    ------
    DatasetError
        If the pickle cannot be loaded safely, is not a dict, or has no ``X``.
    """
    path = Path(path)
    data = load_pickle(path)
    if not isinstance(data, dict):
        raise DatasetError(
            f"{path}: expected a pickled dict, got {type(data).__name__}"
        )
    data = {decode_text(key): value for key, value in data.items()}
    if "X" not in data:
        keys = ", ".join(sorted(map(str, data))) or "none"
        raise DatasetError(f"{path}: no 'X' entry with the images (keys: {keys})")
    return data


def _pixel_rows(x: Any, row_layout: str, where: str) -> tuple[np.ndarray, int, int]:
    """Return ``x`` as an image view (n, h, w, 3) in HWC order, and h and w."""
    if not isinstance(x, np.ndarray):
        try:
            x = np.asarray(x)
        except (TypeError, ValueError) as error:
            raise DatasetError(f"{where}: 'X' is not an array ({error})") from None
    if x.ndim == 4 and x.shape[3] == 3:
        return x, x.shape[1], x.shape[2]
    if x.ndim != 2:
        raise DatasetError(
            f"{where}: 'X' must have one image a row (2-D) or shape (n, h, w, 3),"
            f" got shape {x.shape}"
        )
    side = square_side(x.shape[1], where)
    return rows_to_images(x, row_layout, side, side), side, side


def _class_names(values: Any, where: str) -> list[str]:
    if isinstance(values, np.ndarray):
        values = values.tolist()
    if not isinstance(values, (list, tuple)):
        raise DatasetError(
            f"{where}: 'class_names' must be a list of names, got"
            f" {type(values).__name__}"
        )
    names = [decode_text(value) for value in values]
    if not all(isinstance(name, str) and name.strip() for name in names):
        raise DatasetError(f"{where}: 'class_names' must contain non-empty strings")
    return [name.strip() for name in names]


def _folds(values: Any, where: str) -> list[np.ndarray]:
    if isinstance(values, np.ndarray) and values.ndim == 2:
        values = list(values)
    if not isinstance(values, (list, tuple)) or not values:
        raise DatasetError(
            f"{where}: 'fold_indices' must be a 2-D array or a non-empty list of"
            " index lists"
        )
    folds = []
    for number, fold in enumerate(values):
        fold = np.asarray(fold)
        if fold.ndim != 1 or fold.dtype.kind not in "iu" or fold.size == 0:
            raise DatasetError(
                f"{where}: fold {number} of 'fold_indices' is not a non-empty list of"
                f" integers (got {fold.dtype} {fold.shape})"
            )
        folds.append(fold.astype(np.int64))
    return folds


def _find_pickles(source: Path) -> list[Path]:
    if source.is_file():
        return [source]
    files = sorted(
        path
        for path in source.iterdir()
        if path.suffix == PICKLE_SUFFIX and not path.name.startswith(".")
    )
    if not files:
        raise DatasetError(
            f"{source}: no {PICKLE_SUFFIX} files found (expected train.pk, test.pk,"
            " unlabeled.pk)"
        )
    return files


def build_pickles(
    builder: DatasetBuilder, source: Path, options: dict[str, Any]
) -> dict[str, Any]:
    """Prepare course pickles into ``builder``, one split per ``<split>.pk`` file.

    Parameters
    ----------
    builder : DatasetBuilder
        Destination.
    source : pathlib.Path
        Folder with ``<split>.pk`` files, or one such file.
    options : dict
        ``row_layout`` is the axis order of an ``X`` row (see
        :data:`aecore.datasets.arrays.ROW_LAYOUTS`). ``label_base`` is the value of
        the first class in ``y``: 0, 1, or ``"auto"``, which takes 0 when some file
        has a label 0 and 1 otherwise.

    Returns
    -------
    dict
        Source fields for ``meta.json``.

    Notes
    -----
    Unpickling loads a whole file into memory, so preparing ``unlabeled.pk`` with
    100,000 images of 96x96x3 needs about 2.8 GB for its array.
    """
    raw_labels: dict[str, tuple[np.ndarray, str]] = {}
    class_names: tuple[list[str], str] | None = None
    folds: tuple[list[np.ndarray], str] | None = None
    for path in _find_pickles(source):
        split = path.stem
        check_split_name(split, str(path))
        data = load_course_pickle(path)
        images, height, width = _pixel_rows(data["X"], options["row_layout"], f"{path}")
        target = builder.create_images(split, images.shape[0], height, width)
        logger.info(
            "%s: copying %d images of %dx%d", path, images.shape[0], height, width
        )
        copy_pixels(images, target, f"{path}: 'X'")
        del data["X"], images
        if data.get("y") is not None:
            where = f"{path}: 'y'"
            raw_labels[split] = (
                integer_labels(data["y"], target.shape[0], where),
                where,
            )
        if data.get("class_names") is not None:
            names = _class_names(data["class_names"], str(path))
            if class_names is not None and names != class_names[0]:
                raise DatasetError(
                    f"{path}: 'class_names' {names} differ from {class_names[0]} in"
                    f" {class_names[1]}"
                )
            class_names = (names, str(path))
        if data.get("fold_indices") is not None:
            if folds is not None:
                raise DatasetError(f"{path}: 'fold_indices' also given in {folds[1]}")
            folds = (_folds(data["fold_indices"], str(path)), str(path))

    base = _label_base(raw_labels, options["label_base"])
    if raw_labels:
        names = class_names[0] if class_names else None
        n_classes = (
            len(names)
            if names
            else max(int(y.max()) for y, _ in raw_labels.values()) + 1 - base
        )
        for split, (labels, where) in raw_labels.items():
            labels = labels - base
            if labels.min() < 0 or labels.max() >= n_classes:
                raise DatasetError(
                    f"{where}: labels span"
                    f" {labels.min() + base}..{labels.max() + base}, expected"
                    f" {base}..{n_classes - 1 + base} for {n_classes} classes"
                    f" numbered from {base}"
                )
            builder.set_labels(split, labels)
        builder.set_class_names(names or [str(index) for index in range(n_classes)])
    if folds is not None:
        if "train" not in builder.counts:
            raise DatasetError(f"{folds[1]}: 'fold_indices' given but no train.pk")
        n_train = builder.counts["train"]
        for number, fold in enumerate(folds[0]):
            if fold.min() < 0 or fold.max() >= n_train:
                raise DatasetError(
                    f"{folds[1]}: fold {number} of 'fold_indices' has indices"
                    f" {fold.min()}..{fold.max()}, outside 0..{n_train - 1} for"
                    f" {n_train} training images"
                )
        builder.set_folds(folds[0])
    return {
        "source": str(source),
        "checksum": None,
        "label_base": base if raw_labels else None,
        "row_layout": options["row_layout"],
    }


def _label_base(raw_labels: dict[str, tuple[np.ndarray, str]], requested: Any) -> int:
    if requested != "auto":
        return int(requested)
    if any((labels == 0).any() for labels, _ in raw_labels.values()):
        return 0
    return 1


def check_options(options: dict[str, Any]) -> None:
    """Raise DatasetError for an unknown row layout or label base."""
    if options["row_layout"] not in ROW_LAYOUTS:
        raise DatasetError(
            f"row_layout must be one of {', '.join(ROW_LAYOUTS)}, got"
            f" {options['row_layout']!r}"
        )
    if options["label_base"] not in ("auto", 0, 1):
        raise DatasetError(
            f"label_base must be 'auto', 0 or 1, got {options['label_base']!r}"
        )
