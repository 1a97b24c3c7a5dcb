"""CIFAR-10 python release (``cifar-10-python.tar.gz``): reader and preparation.

The archive contains a folder ``cifar-10-batches-py/`` with five training batches
``data_batch_1`` .. ``data_batch_5``, one ``test_batch`` and ``batches.meta``.
Each batch is a pickled dict written by Python 2 with the keys ``data`` and
``labels``. ``data`` is uint8 with one image a row of 3072 values: the red, green
and blue 32x32 planes in turn, each stored row by row. ``labels`` contains classes
0..9, and ``batches.meta`` contains their names as ``label_names``.
"""

from __future__ import annotations

import gzip
import io
import logging
import pickle
import tarfile
import zlib
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from .arrays import integer_labels, rows_to_images
from .cache import DatasetBuilder
from .errors import DatasetError
from .pickles import RestrictedUnpickler, decode_text

logger = logging.getLogger(__name__)

CIFAR_FOLDER_NAME = "cifar-10-batches-py"
SIDE = 32
ROW_LENGTH = 3 * SIDE * SIDE
SPLIT_BATCHES = {
    "train": tuple(f"data_batch_{number}" for number in range(1, 6)),
    "test": ("test_batch",),
}
META_BATCH = "batches.meta"
REQUIRED_FILES = (*SPLIT_BATCHES["train"], *SPLIT_BATCHES["test"], META_BATCH)
OPTIONS: dict[str, Any] = {}
CONTENT_OPTIONS = ()


def _load_dict(data: bytes, where: str) -> dict[str, Any]:
    try:
        value = RestrictedUnpickler(io.BytesIO(data), where).load()
    except DatasetError:
        raise
    except EOFError:
        raise DatasetError(
            f"{where}: pickle ends early; the file is truncated"
        ) from None
    except (ValueError, TypeError, KeyError, pickle.UnpicklingError) as error:
        raise DatasetError(f"{where}: not a valid pickle ({error})") from None
    if not isinstance(value, dict):
        raise DatasetError(
            f"{where}: expected a pickled dict, got {type(value).__name__}"
        )
    return {decode_text(key): item for key, item in value.items()}


def read_cifar_batch(data: bytes, where: str) -> tuple[np.ndarray, np.ndarray]:
    """Decode one CIFAR-10 batch.

    Parameters
    ----------
    data : bytes
        Contents of a batch file.
    where : str
        File name used in error messages.

    Returns
    -------
    images : ndarray of uint8, shape (n, 32, 32, 3)
        Upright HWC images (a view of the batch's rows).
    labels : ndarray of int64, shape (n,)
        Labels as stored, 0..9.

    Raises
    ------
    DatasetError
        If the batch is not a safe pickle, lacks ``data`` or ``labels``, or their
        shapes do not match.
    """
    batch = _load_dict(data, where)
    for key in ("data", "labels"):
        if key not in batch:
            raise DatasetError(f"{where}: no {key!r} entry (keys: {', '.join(batch)})")
    rows = np.asarray(batch["data"])
    if rows.dtype != np.uint8 or rows.ndim != 2 or rows.shape[1] != ROW_LENGTH:
        raise DatasetError(
            f"{where}: 'data' must be uint8 of shape (n, {ROW_LENGTH}), got"
            f" {rows.dtype} {rows.shape}"
        )
    labels = integer_labels(batch["labels"], rows.shape[0], f"{where}: 'labels'")
    return rows_to_images(rows, "chw", SIDE, SIDE), labels


def _label_names(data: bytes, where: str) -> list[str]:
    meta = _load_dict(data, where)
    names = meta.get("label_names")
    if not isinstance(names, (list, tuple)) or not names:
        raise DatasetError(f"{where}: no 'label_names' list")
    return [decode_text(name) for name in names]


def _read_members(source: Path) -> dict[str, tuple[bytes, str]]:
    """Return the contents of the release files, keyed by base name."""
    files: dict[str, tuple[bytes, str]] = {}
    if source.is_dir():
        folder = source
        if not (folder / META_BATCH).exists() and (folder / CIFAR_FOLDER_NAME).is_dir():
            folder = folder / CIFAR_FOLDER_NAME
        for name in REQUIRED_FILES:
            path = folder / name
            if path.is_file():
                files[name] = (path.read_bytes(), str(path))
        return files
    try:
        with tarfile.open(source, mode="r|*") as tar:
            for member in tar:
                name = PurePosixPath(member.name).name
                if not member.isfile() or name not in REQUIRED_FILES:
                    continue
                if name in files:
                    raise DatasetError(
                        f"{source}: {name} appears twice ({files[name][1]} and"
                        f" {member.name})"
                    )
                files[name] = (
                    tar.extractfile(member).read(),
                    f"{source}:{member.name}",
                )
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as error:
        raise DatasetError(
            f"{source}: not a readable .tar.gz archive, or truncated ({error})"
        ) from None
    return files


def build_cifar10_python(
    builder: DatasetBuilder, source: Path, options: dict[str, Any]
) -> dict[str, Any]:
    """Prepare the CIFAR-10 python release into ``builder``.

    Parameters
    ----------
    builder : DatasetBuilder
        Destination.
    source : pathlib.Path
        ``cifar-10-python.tar.gz`` or the extracted ``cifar-10-batches-py/`` folder
        (or its parent).
    options : dict
        No options are defined for this source.

    Returns
    -------
    dict
        Source fields for ``meta.json``.

    Notes
    -----
    The batch files (about 180 MB for CIFAR-10) are held in memory
    while the arrays are written.
    """
    files = _read_members(source)
    missing = [name for name in REQUIRED_FILES if name not in files]
    if missing:
        raise DatasetError(
            f"{source}: not a complete CIFAR-10 python release, missing"
            f" {', '.join(missing)}"
        )
    class_names = _label_names(*files[META_BATCH])
    builder.set_class_names(class_names)
    for split, batch_names in SPLIT_BATCHES.items():
        batches = [read_cifar_batch(*files.pop(name)) for name in batch_names]
        count = sum(images.shape[0] for images, _ in batches)
        target = builder.create_images(split, count, SIDE, SIDE)
        start = 0
        for images, _ in batches:
            target[start : start + images.shape[0]] = images
            start += images.shape[0]
        labels = np.concatenate([labels for _, labels in batches])
        if labels.min() < 0 or labels.max() >= len(class_names):
            raise DatasetError(
                f"{source}: {split} labels span {labels.min()}..{labels.max()},"
                f" outside 0..{len(class_names) - 1} for the classes in {META_BATCH}"
            )
        builder.set_labels(split, labels)
        logger.info("%s: %d %s images", source, count, split)
    return {"source": str(source), "checksum": None}
