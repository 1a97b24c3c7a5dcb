"""The prepared-dataset directory: building it atomically and reading it back.

A prepared dataset is a directory that contains, for every split ``<split>``:

- ``<split>_images.npy``: uint8 array of shape (N, H, W, 3), upright HWC order;
- ``<split>_labels.npy``: int64 array of shape (N,), classes 0..K-1, present only
  for labelled splits;

and, when the source defines training folds, ``folds.npy``: the int64 indices of all
folds concatenated, with the fold sizes stored in ``meta.json``.

``meta.json`` is written last. Preparation builds the directory under a hidden
temporary sibling name and renames it at the end, so a directory with ``meta.json``
is always complete and an interrupted preparation leaves only the hidden sibling,
which the next preparation removes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._files import apply_default_mode
from .errors import DatasetError

logger = logging.getLogger(__name__)

META_FILE = "meta.json"
FOLDS_FILE = "folds.npy"
FORMAT_NAME = "aecore-dataset"
FORMAT_VERSION = 1
STANDARD_SPLITS = ("train", "test", "unlabeled")
SPLIT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
PARTIAL_MARKER = ".partial-"
HASH_CHUNK_BYTES = 16 << 20
# Pages written through a memory map stay in the writing process's resident set
# until the map is closed, so DatasetBuilder.write_images maps the arrays again
# after this many bytes.
REMAP_BYTES = 64 << 20


def images_file(split: str) -> str:
    """Return the file name of a split's image array."""
    return f"{split}_images.npy"


def labels_file(split: str) -> str:
    """Return the file name of a split's label array."""
    return f"{split}_labels.npy"


def order_splits(names: Iterable[str]) -> list[str]:
    """Sort split names: train, test and unlabeled first, then the others by name."""
    names = set(names)
    standard = [name for name in STANDARD_SPLITS if name in names]
    return standard + sorted(names - set(standard))


def check_split_name(split: str, where: str) -> None:
    """Raise DatasetError unless ``split`` can be used in a file name."""
    if not isinstance(split, str) or not SPLIT_NAME.fullmatch(split):
        raise DatasetError(
            f"{where}: invalid split name {split!r}; expected letters, digits, '_' or"
            " '-', starting with a letter or digit"
        )


class Dataset:
    """A prepared dataset directory, opened for reading.

    Use :func:`open_dataset` to create one.

    Attributes
    ----------
    path : pathlib.Path
        The dataset directory.
    meta : dict
        Contents of ``meta.json``: source kind and path or URL, checksum, counts per
        split, image shape, creation time and aecore version.
    splits : tuple of str
        Split names, for example ``("train", "test", "unlabeled")``.
    class_names : list of str
        Class names, indexed by label. Empty when no split is labelled.
    folds : list of ndarray of int64, or None
        Index arrays into the ``train`` split, one per predefined fold, or None when
        the source defines no folds.
    """

    def __init__(self, path: Path, meta: dict[str, Any]) -> None:
        self.path = path
        self.meta = meta
        self.splits = tuple(meta["splits"])
        self.class_names = list(meta["class_names"])
        self.folds = self._load_folds()

    def __repr__(self) -> str:
        counts = ", ".join(f"{s}={self.meta['counts'][s]}" for s in self.splits)
        return f"Dataset({str(self.path)!r}, {counts})"

    def images(self, split: str) -> np.ndarray:
        """Return the images of one split, memory-mapped read-only.

        Parameters
        ----------
        split : str
            One of :attr:`splits`.

        Returns
        -------
        numpy.memmap of uint8, shape (N, H, W, 3)
            Upright images in HWC order. Pages are read from disk on access, so
            even 100,000 STL-10 images need no more memory than the slices used.

        Raises
        ------
        DatasetError
            If ``split`` is unknown or the array file does not match ``meta.json``.
        """
        self._check_split(split)
        path = self.path / images_file(split)
        images = self._load_array(path, mmap=True)
        expected = (self.meta["counts"][split], *self.meta["image_shape"])
        if images.dtype != np.uint8 or images.shape != expected:
            raise DatasetError(
                f"{path}: expected uint8 images of shape {expected} as recorded in"
                f" {META_FILE}, found {images.dtype} {images.shape}; prepare the"
                " dataset again"
            )
        return images

    def labels(self, split: str) -> np.ndarray | None:
        """Return the labels of one split.

        Parameters
        ----------
        split : str
            One of :attr:`splits`.

        Returns
        -------
        ndarray of int64, shape (N,), or None
            Class indices 0..K-1 into :attr:`class_names`, or None for an
            unlabelled split.

        Raises
        ------
        DatasetError
            If ``split`` is unknown or the label file does not match ``meta.json``.
        """
        self._check_split(split)
        if not self.meta["labeled"][split]:
            return None
        path = self.path / labels_file(split)
        labels = self._load_array(path, mmap=False)
        expected = (self.meta["counts"][split],)
        if labels.dtype != np.int64 or labels.shape != expected:
            raise DatasetError(
                f"{path}: expected int64 labels of shape {expected} as recorded in"
                f" {META_FILE}, found {labels.dtype} {labels.shape}; prepare the"
                " dataset again"
            )
        return labels

    def _check_split(self, split: str) -> None:
        if split not in self.splits:
            raise DatasetError(
                f"{self.path}: unknown split {split!r}; this dataset has"
                f" {', '.join(self.splits)}"
            )

    def _load_array(self, path: Path, mmap: bool) -> np.ndarray:
        try:
            return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
        except FileNotFoundError:
            raise DatasetError(
                f"{path}: file missing from a prepared dataset; prepare it again"
            ) from None
        except ValueError as error:
            raise DatasetError(f"{path}: not a valid .npy file ({error})") from None

    def _load_folds(self) -> list[np.ndarray] | None:
        sizes = self.meta.get("fold_sizes")
        if sizes is None:
            return None
        path = self.path / FOLDS_FILE
        indices = self._load_array(path, mmap=False)
        if indices.dtype != np.int64 or indices.shape != (sum(sizes),):
            raise DatasetError(
                f"{path}: expected {sum(sizes)} int64 fold indices as recorded in"
                f" {META_FILE}, found {indices.dtype} {indices.shape}"
            )
        return np.split(indices, np.cumsum(sizes)[:-1])


def read_meta(out_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    """Read ``meta.json`` of a dataset directory, or return None if it is missing.

    Raises
    ------
    DatasetError
        If ``meta.json`` exists but is not a dataset description of this format.
    """
    path = Path(out_dir) / META_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        meta = json.loads(text)
    except json.JSONDecodeError as error:
        raise DatasetError(f"{path}: invalid JSON ({error})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        raise DatasetError(
            f"{path}: not an aecore dataset description (missing"
            f' "format": "{FORMAT_NAME}")'
        )
    if meta.get("format_version") != FORMAT_VERSION:
        raise DatasetError(
            f"{path}: dataset format version {meta.get('format_version')!r} is not"
            f" supported (this aecore reads version {FORMAT_VERSION}); prepare the"
            " dataset again"
        )
    return meta


def open_dataset(out_dir: str | os.PathLike[str]) -> Dataset:
    """Open a prepared dataset directory.

    Parameters
    ----------
    out_dir : str or path-like
        Directory written by :func:`aecore.datasets.prepare_dataset`.

    Returns
    -------
    Dataset
        Reader whose images are memory-mapped.

    Raises
    ------
    DatasetError
        If the directory does not exist, has no ``meta.json`` (it was never
        prepared, or preparation did not finish), or ``meta.json`` is invalid.
    """
    path = Path(out_dir)
    if not path.is_dir():
        raise DatasetError(f"dataset directory not found: {path}")
    meta = read_meta(path)
    if meta is None:
        raise DatasetError(
            f"{path}: not a prepared dataset ({META_FILE} is missing); run"
            " aecore-prepare with --out pointing to this directory"
        )
    return Dataset(path, meta)


def sha256_of_files(paths: Sequence[Path]) -> str:
    """Return the SHA-256 hex digest of the concatenated bytes of ``paths``."""
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as stream:
            while chunk := stream.read(HASH_CHUNK_BYTES):
                digest.update(chunk)
    return digest.hexdigest()


def remove_stale_partials(out_dir: Path) -> None:
    """Delete temporary siblings of ``out_dir`` left by killed preparations.

    A temporary directory's name contains the id of the process that builds it.
    Only directories whose process no longer exists on this machine are removed.
    """
    prefix = f".{out_dir.name}{PARTIAL_MARKER}"
    if not out_dir.parent.is_dir():
        return
    for candidate in out_dir.parent.iterdir():
        if not candidate.name.startswith(prefix) or not candidate.is_dir():
            continue
        pid_text = candidate.name[len(prefix) :].split("-", 1)[0]
        if not pid_text.isdigit() or _process_exists(int(pid_text)):
            continue
        logger.info("removing %s, left by an interrupted preparation", candidate)
        shutil.rmtree(candidate, ignore_errors=True)


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class DatasetBuilder:
    """Write a dataset directory under a temporary name and rename it when complete.

    Use it as a context manager: leaving the block with an exception deletes the
    temporary directory, and :meth:`commit` must be called inside the block.

    Parameters
    ----------
    out_dir : path-like
        Final dataset directory. It must not exist, or must be empty, or
        ``replace`` must be set in :meth:`commit`.
    """

    def __init__(self, out_dir: str | os.PathLike[str]) -> None:
        self.out_dir = Path(out_dir)
        self.out_dir.parent.mkdir(parents=True, exist_ok=True)
        prefix = f".{self.out_dir.name}{PARTIAL_MARKER}{os.getpid()}-"
        self.tmp_dir = Path(tempfile.mkdtemp(prefix=prefix, dir=self.out_dir.parent))
        apply_default_mode(self.tmp_dir)
        self.counts: dict[str, int] = {}
        self.labeled: dict[str, bool] = {}
        self.image_shape: tuple[int, int, int] | None = None
        self.class_names: list[str] | None = None
        self.fold_sizes: list[int] | None = None
        self._memmaps: dict[str, np.memmap] = {}
        self._written_since_remap = 0

    def __enter__(self) -> DatasetBuilder:
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        if self.tmp_dir.exists():
            self._memmaps.clear()
            shutil.rmtree(self.tmp_dir, ignore_errors=True)

    def create_images(
        self, split: str, count: int, height: int, width: int
    ) -> np.memmap:
        """Create the writable image array of a split, preallocated on disk.

        Parameters
        ----------
        split : str
            Split name, used in the file name.
        count, height, width : int
            Number of images and their size in pixels. Every split of a dataset
            has the same height and width.

        Returns
        -------
        numpy.memmap of uint8, shape (count, height, width, 3)
            Array to fill. Its contents are written to disk by :meth:`commit`.
        """
        check_split_name(split, str(self.out_dir))
        if split in self.counts:
            raise DatasetError(f"{self.out_dir}: split {split!r} was written twice")
        shape = (height, width, 3)
        if self.image_shape is not None and shape != self.image_shape:
            raise DatasetError(
                f"{self.out_dir}: split {split!r} has images of shape {shape}, but"
                f" the splits before it have {self.image_shape}; all splits of a"
                " dataset must share one image shape"
            )
        if count < 1:
            raise DatasetError(f"{self.out_dir}: split {split!r} has no images")
        self.image_shape = shape
        self.counts[split] = count
        self.labeled[split] = False
        images = np.lib.format.open_memmap(
            self.tmp_dir / images_file(split),
            mode="w+",
            dtype=np.uint8,
            shape=(count, *shape),
        )
        self._memmaps[split] = images
        return images

    def write_images(
        self, split: str, rows: slice | np.ndarray, images: np.ndarray
    ) -> None:
        """Write images into rows of a split created with :meth:`create_images`.

        Unlike writing into the array that :meth:`create_images` returns, this
        flushes and maps the arrays again every ``REMAP_BYTES``, which keeps the
        resident memory of long conversions small. A caller that keeps the array
        returned by :meth:`create_images` keeps its pages resident.

        Parameters
        ----------
        split : str
            Split name.
        rows : slice or ndarray of int
            Destination rows.
        images : ndarray of uint8, shape (n, height, width, 3)
            Images for those rows.
        """
        self._memmaps[split][rows] = images
        self._written_since_remap += images.nbytes
        if self._written_since_remap >= REMAP_BYTES:
            self._written_since_remap = 0
            for name, array in list(self._memmaps.items()):
                array.flush()
                path = self.tmp_dir / images_file(name)
                self._memmaps[name] = np.load(path, mmap_mode="r+")

    def set_labels(self, split: str, labels: np.ndarray) -> None:
        """Store the labels of a split whose images were created.

        Parameters
        ----------
        split : str
            A split created with :meth:`create_images`.
        labels : array-like of int, shape (count,)
            Class indices 0..K-1. They are checked against the class names in
            :meth:`commit`.
        """
        if split not in self.counts:
            raise DatasetError(f"{self.out_dir}: labels for unknown split {split!r}")
        labels = np.asarray(labels)
        if labels.shape != (self.counts[split],) or labels.dtype.kind not in "iu":
            raise DatasetError(
                f"{self.out_dir}: labels of split {split!r} must be integers of shape"
                f" ({self.counts[split]},), got {labels.dtype} {labels.shape}"
            )
        np.save(self.tmp_dir / labels_file(split), labels.astype(np.int64))
        self.labeled[split] = True

    def set_class_names(self, names: Sequence[str]) -> None:
        """Store the class names, indexed by label."""
        names = list(names)
        if not all(isinstance(name, str) and name for name in names):
            raise DatasetError(
                f"{self.out_dir}: class names must be non-empty strings, got {names!r}"
            )
        if len(set(names)) != len(names):
            raise DatasetError(f"{self.out_dir}: duplicate class names in {names!r}")
        self.class_names = names

    def set_folds(self, folds: Sequence[np.ndarray]) -> None:
        """Store the predefined folds as index arrays into the ``train`` split."""
        folds = [np.asarray(fold) for fold in folds]
        if not folds or any(f.ndim != 1 or f.dtype.kind not in "iu" for f in folds):
            raise DatasetError(
                f"{self.out_dir}: folds must be a non-empty list of 1-D integer arrays"
            )
        np.save(self.tmp_dir / FOLDS_FILE, np.concatenate(folds).astype(np.int64))
        self.fold_sizes = [int(fold.size) for fold in folds]

    def commit(self, meta: dict[str, Any], replace: bool = False) -> Path:
        """Check the arrays, write ``meta.json`` and rename the directory into place.

        Parameters
        ----------
        meta : dict
            Fields describing the source (at least ``kind`` and ``source``). The
            builder adds the format, splits, counts, image shape, class names,
            folds and the SHA-256 of the array files.
        replace : bool, default False
            Replace an existing prepared dataset at the final path.

        Returns
        -------
        pathlib.Path
            The final dataset directory.
        """
        self._check_contents()
        self._memmaps_flush()
        array_files = sorted(p for p in self.tmp_dir.iterdir() if p.suffix == ".npy")
        for path in array_files:
            _fsync_path(path)
        splits = order_splits(self.counts)
        full_meta = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            **meta,
            "splits": splits,
            "counts": {split: self.counts[split] for split in splits},
            "labeled": {split: self.labeled[split] for split in splits},
            "image_shape": list(self.image_shape),
            "class_names": self.class_names or [],
            "fold_sizes": self.fold_sizes,
            "arrays_sha256": sha256_of_files(array_files),
        }
        if full_meta.get("checksum") is None:
            full_meta["checksum"] = {
                "algorithm": "sha256",
                "of": "arrays",
                "value": full_meta["arrays_sha256"],
            }
        meta_path = self.tmp_dir / META_FILE
        meta_path.write_text(json.dumps(full_meta, indent=2) + "\n", encoding="utf-8")
        _fsync_path(meta_path)
        self._move_into_place(replace)
        return self.out_dir

    def _check_contents(self) -> None:
        if not self.counts:
            raise DatasetError(f"{self.out_dir}: the source contains no images")
        n_classes = len(self.class_names or [])
        for split, labeled in self.labeled.items():
            if not labeled:
                continue
            labels = np.load(self.tmp_dir / labels_file(split))
            if labels.min() < 0 or labels.max() >= n_classes:
                raise DatasetError(
                    f"{self.out_dir}: labels of split {split!r} span"
                    f" {labels.min()}..{labels.max()}, outside 0..{n_classes - 1}"
                    f" for {n_classes} class names"
                )
        if self.fold_sizes is not None:
            if "train" not in self.counts:
                raise DatasetError(f"{self.out_dir}: folds given without a train split")
            indices = np.load(self.tmp_dir / FOLDS_FILE)
            if indices.size and (
                indices.min() < 0 or indices.max() >= self.counts["train"]
            ):
                raise DatasetError(
                    f"{self.out_dir}: fold indices span"
                    f" {indices.min()}..{indices.max()}, outside"
                    f" 0..{self.counts['train'] - 1} for the train split"
                )

    def _memmaps_flush(self) -> None:
        for images in self._memmaps.values():
            images.flush()
        self._memmaps.clear()

    def _move_into_place(self, replace: bool) -> None:
        target = self.out_dir
        old = None
        if target.exists() and read_meta(target) is not None:
            if not replace:
                raise DatasetError(
                    f"{target}: a prepared dataset appeared here while this one was"
                    " being built; pass replace=True to overwrite it"
                )
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            os.rename(target, old)
        try:
            # os.rename replaces an empty directory, such as one that a workflow
            # manager created for its outputs, and fails on a non-empty one.
            os.rename(self.tmp_dir, target)
        except OSError as error:
            if old is not None:
                os.rename(old, target)
            raise DatasetError(
                f"{target}: cannot move the prepared dataset into place ({error});"
                " the directory exists and is not a prepared dataset. Remove it or"
                " choose another output directory"
            ) from None
        _fsync_path(target.parent)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
