"""STL-10 binary release: file readers, and preparation from an archive or folder.

The release ``stl10_binary.tar.gz`` contains a folder ``stl10_binary/`` with:

- ``train_X.bin`` (5000 images), ``test_X.bin`` (8000), ``unlabeled_X.bin``
  (100000): 96x96 colour images, 27648 bytes each, one after another. Each image
  stores its red, green and blue channels in turn, and each channel column by
  column (column-major), so reading a channel as a row-major 96x96 array gives
  it transposed.
- ``train_y.bin``, ``test_y.bin``: one byte per image, classes 1..10.
- ``class_names.txt``: one class name a line, in label order.
- ``fold_indices.txt``: 10 lines of 1000 space-separated 0-based indices into the
  training images, one line per predefined fold.
"""

from __future__ import annotations

import gzip
import logging
import os
import tarfile
import zlib
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

import numpy as np

from .arrays import rows_to_images
from .cache import DatasetBuilder
from .download import download_file, verify_file
from .errors import DatasetError
from .progress import Progress

logger = logging.getLogger(__name__)

STL10_URL = "http://ai.stanford.edu/~acoates/stl10/stl10_binary.tar.gz"
STL10_ARCHIVE_NAME = "stl10_binary.tar.gz"
STL10_FOLDER_NAME = "stl10_binary"
# Size and SHA-256 of the archive at STL10_URL as listed by TensorFlow Datasets in
# tensorflow_datasets/url_checksums/stl10.txt. NOTE: taken from that list and not
# yet verified against a download of the archive.
STL10_ARCHIVE_SIZE = 2640397119
STL10_ARCHIVE_SHA256 = (
    "f31fd99273a1acb8609c8db427cebb1de3f71de77758cdc0e22956e1289b9866"
)
STL10_COUNTS = {"train": 5000, "test": 8000, "unlabeled": 100000}

SIDE = 96
IMAGE_BYTES = 3 * SIDE * SIDE
IMAGE_FILES = {
    "train_X.bin": "train",
    "test_X.bin": "test",
    "unlabeled_X.bin": "unlabeled",
}
LABEL_FILES = {"train_y.bin": "train", "test_y.bin": "test"}
CLASS_NAMES_FILE = "class_names.txt"
FOLD_INDICES_FILE = "fold_indices.txt"
REQUIRED_FILES = (*IMAGE_FILES, *LABEL_FILES, CLASS_NAMES_FILE, FOLD_INDICES_FILE)
COPY_CHUNK_IMAGES = 1000

OPTIONS = {
    "download_dir": None,
    "url": STL10_URL,
    "expected_size": STL10_ARCHIVE_SIZE,
    "expected_sha256": STL10_ARCHIVE_SHA256,
    "timeout": 60.0,
    "retries": 3,
    "expected_counts": STL10_COUNTS,
}
CONTENT_OPTIONS = ()


def decode_stl10_images(data: bytes | np.ndarray) -> np.ndarray:
    """Turn bytes in the STL-10 binary layout into upright images.

    Parameters
    ----------
    data : bytes or ndarray of uint8
        A whole number of images, 27648 bytes each.

    Returns
    -------
    ndarray of uint8, shape (n, 96, 96, 3)
        Upright HWC images; a view of ``data``, not contiguous.
    """
    rows = np.frombuffer(data, dtype=np.uint8) if isinstance(data, bytes) else data
    return rows_to_images(rows.reshape(-1, IMAGE_BYTES), "cwh", SIDE, SIDE)


def read_stl10_images(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an STL-10 image file (``*_X.bin``) without loading it into memory.

    Parameters
    ----------
    path : path-like
        File in the STL-10 binary layout.

    Returns
    -------
    ndarray of uint8, shape (n, 96, 96, 3)
        Upright HWC images: a read-only view of the memory-mapped file.

    Raises
    ------
    DatasetError
        If the file is missing, empty or its size is not a multiple of one image.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"file not found: {path}")
    _count_images(path.stat().st_size, str(path))
    return decode_stl10_images(np.memmap(path, dtype=np.uint8, mode="r"))


def read_stl10_labels(data: bytes, n_classes: int, where: str) -> np.ndarray:
    """Convert the bytes of a ``*_y.bin`` file (classes 1..n) to 0-based labels.

    Returns
    -------
    ndarray of int64, shape (n,)
        Labels 0..n_classes-1.

    Raises
    ------
    DatasetError
        If a byte is outside 1..n_classes.
    """
    labels = np.frombuffer(data, dtype=np.uint8).astype(np.int64)
    if labels.size and (labels.min() < 1 or labels.max() > n_classes):
        raise DatasetError(
            f"{where}: labels span {labels.min()}..{labels.max()}, expected 1.."
            f"{n_classes} (one per line of {CLASS_NAMES_FILE})"
        )
    return labels - 1


def parse_class_names(text: str, where: str) -> list[str]:
    """Parse ``class_names.txt``: one name a line, blank lines at the end ignored."""
    names = text.rstrip("\r\n").splitlines()
    names = [name.strip() for name in names]
    if not names or not all(names):
        raise DatasetError(f"{where}: expected one non-empty class name a line")
    return names


def parse_fold_indices(text: str, n_train: int, where: str) -> list[np.ndarray]:
    """Parse ``fold_indices.txt`` into one int64 index array per line.

    Indices are 0-based and must be below ``n_train``. They are kept as int64
    because they exceed the range of small integer types (up to 4999).
    """
    folds = []
    for number, line in enumerate(text.strip().splitlines(), start=1):
        try:
            fold = np.array(line.split(), dtype=np.int64)
        except ValueError:
            raise DatasetError(
                f"{where}: line {number} is not a list of integers"
            ) from None
        if fold.size == 0:
            raise DatasetError(f"{where}: line {number} is empty")
        if fold.min() < 0 or fold.max() >= n_train:
            raise DatasetError(
                f"{where}: line {number} has indices {fold.min()}..{fold.max()},"
                f" outside 0..{n_train - 1} for {n_train} training images"
            )
        folds.append(fold)
    if not folds:
        raise DatasetError(f"{where}: no folds found")
    return folds


def _count_images(size: int, where: str) -> int:
    count, remainder = divmod(size, IMAGE_BYTES)
    if remainder:
        raise DatasetError(
            f"{where}: size {size} bytes is not a multiple of {IMAGE_BYTES} bytes"
            " (one 96x96x3 image); the file is truncated or not an STL-10 image file"
        )
    if count == 0:
        raise DatasetError(f"{where}: the file is empty")
    return count


class _ReleaseReader:
    """Collect the files of one STL-10 release into a dataset builder."""

    def __init__(self, builder: DatasetBuilder, where: str) -> None:
        self.builder = builder
        self.where = where
        self.seen: dict[str, str] = {}
        self.label_bytes: dict[str, tuple[bytes, str]] = {}
        self.texts: dict[str, tuple[str, str]] = {}

    def add(self, name: str, stream: BinaryIO, size: int, where: str) -> None:
        """Read one release file; ``name`` is its base name."""
        if name in self.seen:
            raise DatasetError(
                f"{self.where}: {name} appears twice ({self.seen[name]} and {where})"
            )
        self.seen[name] = where
        if name in IMAGE_FILES:
            self._copy_images(IMAGE_FILES[name], stream, size, where)
        elif name in LABEL_FILES:
            self.label_bytes[LABEL_FILES[name]] = (stream.read(), where)
        else:
            try:
                text = stream.read().decode("utf-8")
            except UnicodeDecodeError as error:
                raise DatasetError(f"{where}: not UTF-8 text ({error})") from None
            self.texts[name] = (text, where)

    def _copy_images(self, split: str, stream: BinaryIO, size: int, where: str) -> None:
        count = _count_images(size, where)
        self.builder.create_images(split, count, SIDE, SIDE)
        progress = Progress(logger, where, count, unit="images")
        for start in range(0, count, COPY_CHUNK_IMAGES):
            stop = min(start + COPY_CHUNK_IMAGES, count)
            data = stream.read((stop - start) * IMAGE_BYTES)
            if len(data) != (stop - start) * IMAGE_BYTES:
                raise DatasetError(
                    f"{where}: file ended after {start * IMAGE_BYTES + len(data)} of"
                    f" {size} bytes"
                )
            self.builder.write_images(
                split, slice(start, stop), decode_stl10_images(data)
            )
            progress.update(stop - start)
        progress.finish()

    def finish(self, expected_counts: dict[str, int] | None) -> None:
        """Check that the release is complete and consistent, then store labels."""
        missing = [name for name in REQUIRED_FILES if name not in self.seen]
        if missing:
            raise DatasetError(
                f"{self.where}: not a complete STL-10 binary release, missing"
                f" {', '.join(missing)}"
            )
        counts = self.builder.counts
        if expected_counts is not None:
            for split, expected in expected_counts.items():
                if counts[split] != expected:
                    raise DatasetError(
                        f"{self.seen[split + '_X.bin']}: {counts[split]} images,"
                        f" expected {expected} for the official STL-10 {split} split;"
                        " set expected_counts=None (--any-counts for aecore-prepare,"
                        " dataset.options.expected_counts: null in the workflow's"
                        " config) to accept others"
                    )
        names_text, names_where = self.texts[CLASS_NAMES_FILE]
        class_names = parse_class_names(names_text, names_where)
        self.builder.set_class_names(class_names)
        for split, (data, where) in self.label_bytes.items():
            labels = read_stl10_labels(data, len(class_names), where)
            if labels.size != counts[split]:
                raise DatasetError(
                    f"{where}: {labels.size} labels for {counts[split]} images in"
                    f" {self.seen[split + '_X.bin']}; the counts must match"
                )
            self.builder.set_labels(split, labels)
        folds_text, folds_where = self.texts[FOLD_INDICES_FILE]
        self.builder.set_folds(
            parse_fold_indices(folds_text, counts["train"], folds_where)
        )


def _read_folder(builder: DatasetBuilder, folder: Path, expected_counts) -> None:
    reader = _ReleaseReader(builder, str(folder))
    for name in REQUIRED_FILES:
        path = folder / name
        if path.is_file():
            with open(path, "rb") as stream:
                reader.add(name, stream, path.stat().st_size, str(path))
    reader.finish(expected_counts)


def _read_archive(builder: DatasetBuilder, archive: Path, expected_counts) -> None:
    reader = _ReleaseReader(builder, str(archive))
    try:
        # Stream mode reads the archive once, front to back, without extracting it.
        with tarfile.open(archive, mode="r|*") as tar:
            for member in tar:
                name = PurePosixPath(member.name).name
                if not member.isfile() or name not in REQUIRED_FILES:
                    continue
                stream = tar.extractfile(member)
                reader.add(name, stream, member.size, f"{archive}:{member.name}")
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as error:
        raise DatasetError(
            f"{archive}: not a readable .tar.gz archive, or truncated ({error})"
        ) from None
    reader.finish(expected_counts)


def release_folder(folder: Path) -> Path | None:
    """Return ``folder`` or ``folder/stl10_binary`` if it contains ``train_X.bin``."""
    for candidate in (folder, folder / STL10_FOLDER_NAME):
        if (candidate / "train_X.bin").is_file():
            return candidate
    return None


def build_stl10(
    builder: DatasetBuilder, source: Path | None, options: dict[str, Any]
) -> dict[str, Any]:
    """Prepare the STL-10 binary release into ``builder``.

    Parameters
    ----------
    builder : DatasetBuilder
        Destination.
    source : pathlib.Path or None
        A ``stl10_binary.tar.gz`` file, or a data directory. A data directory is
        used when it contains the extracted files (directly or in
        ``stl10_binary/``). Otherwise the archive is downloaded into it, unless a
        verified ``stl10_binary.tar.gz`` is already there. None means the data
        directory ``options["download_dir"]``.
    options : dict
        Validated options, see ``OPTIONS``.

    Returns
    -------
    dict
        Source fields for ``meta.json``.
    """
    expected_counts = options["expected_counts"]
    if source is not None and source.is_file():
        try:
            digest = verify_file(
                source, options["expected_size"], options["expected_sha256"]
            )
        except DatasetError as error:
            raise DatasetError(
                f"{error}. To use this archive anyway, set expected_size and"
                " expected_sha256 to None (--expected-size none --expected-sha256"
                " none for aecore-prepare, dataset.options.expected_size: null and"
                " dataset.options.expected_sha256: null in the workflow's config)"
            ) from None
        _read_archive(builder, source, expected_counts)
        return {"source": str(source), "checksum": _archive_checksum(digest)}

    data_dir = Path(options["download_dir"]) if source is None else source
    archive = data_dir / STL10_ARCHIVE_NAME
    extracted = release_folder(data_dir)
    if extracted is not None and not archive.exists():
        logger.info("using the extracted release in %s", extracted)
        _read_folder(builder, extracted, expected_counts)
        return {"source": str(extracted), "checksum": None}
    hint = (
        f"Without network access, download {STL10_ARCHIVE_NAME} on another machine"
        f" and put it at {archive}, or extract it there so that"
        f" {data_dir / STL10_FOLDER_NAME / 'train_X.bin'} exists, or pass the archive"
        " or the extracted folder as the source (--source PATH for aecore-prepare,"
        " dataset.source in the workflow's config)"
    )
    digest = download_file(
        options["url"],
        archive,
        expected_size=options["expected_size"],
        expected_sha256=options["expected_sha256"],
        timeout=options["timeout"],
        retries=options["retries"],
        offline_hint=hint,
    )
    _read_archive(builder, archive, expected_counts)
    return {
        "source": options["url"],
        "local_copy": str(archive),
        "checksum": _archive_checksum(digest),
    }


def _archive_checksum(digest: str) -> dict[str, str]:
    return {"algorithm": "sha256", "of": "archive", "value": digest}
