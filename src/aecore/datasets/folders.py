"""Image folders ``root/<split>/<class>/<image>``, as a directory or a .tar.gz.

Layout rules:

- Visible subfolders of the root are splits; visible subfolders of a split are
  classes, and the class names are their sorted names. A split that contains
  images directly instead of class folders is unlabelled.
- Names starting with a dot (``.ipynb_checkpoints``, ``.DS_Store``) are ignored at
  every level, and so are other files at the root (such as a README).
- Images are ``.jpg``, ``.jpeg`` or ``.png`` files (any case). Any other visible file
  inside a split, a nested folder inside a class folder, an empty class folder and
  a class missing from one labelled split are errors.
- In a .tar.gz whose members all sit in one top-level folder, that folder is the
  root; otherwise the archive's top level is.

Images are ordered by split, then class name, then file name, and are decoded in
that order or in archive order straight into preallocated memory-mapped arrays.
"""

from __future__ import annotations

import io
import logging
import multiprocessing
import os
import tarfile
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from .cache import DatasetBuilder, check_split_name, order_splits
from .errors import DatasetError
from .progress import Progress

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
OPTIONS = {"image_size": None, "resize": False, "convert": False, "workers": 1}
CONTENT_OPTIONS = ("image_size", "resize", "convert")
# Images sent to a worker process at a time. A few such batches of encoded bytes
# in flight stay small, and each batch amortises the inter-process traffic.
BATCH_IMAGES = 512


@dataclass
class SplitPlan:
    """Images of one split: paths relative to the root, in order, and labels."""

    name: str
    paths: list[str]
    labels: np.ndarray | None


@dataclass
class FolderPlan:
    """All splits of an image folder and its class names."""

    class_names: list[str]
    splits: list[SplitPlan]

    @property
    def count(self) -> int:
        """Number of images over all splits."""
        return sum(len(split.paths) for split in self.splits)


def _is_hidden(path: str) -> bool:
    return any(part.startswith(".") for part in path.split("/"))


def _is_image(path: str) -> bool:
    return path.lower().endswith(IMAGE_SUFFIXES)


def _join(root: str, path: str) -> str:
    return f"{root}/{path}" if path else root


def plan_folder(
    files: list[str], dirs: list[str], where: str | Callable[[str], str]
) -> FolderPlan:
    """Work out splits, classes and image order from relative paths.

    Parameters
    ----------
    files, dirs : list of str
        Paths of the regular files and of the folders under the root, relative to
        it, with ``/`` as separator.
    where : str or callable
        Root named in error messages, or a function that returns the name shown
        for a relative path (the root for ``""``).

    Returns
    -------
    FolderPlan
        Splits in standard order (train, test, unlabeled, then others by name).

    Raises
    ------
    DatasetError
        If the tree does not follow the layout rules of this module.
    """
    name_of = partial(_join, where) if isinstance(where, str) else where
    tree: dict[str, dict[str, Any]] = {}

    def split_entry(split: str) -> dict[str, Any]:
        return tree.setdefault(split, {"classes": {}, "direct": []})

    for path in dirs:
        if _is_hidden(path):
            continue
        parts = path.split("/")
        if len(parts) == 1:
            split_entry(parts[0])
        elif len(parts) == 2:
            split_entry(parts[0])["classes"].setdefault(parts[1], [])
    for path in files:
        if _is_hidden(path):
            continue
        parts = path.split("/")
        if len(parts) == 1:
            if _is_image(path):
                raise DatasetError(
                    f"{name_of(path)}: image at the top level; expected"
                    " <split>/<class>/<image> or <split>/<image>"
                )
            continue
        if len(parts) > 3:
            raise DatasetError(
                f"{name_of(path)}: image in a nested folder; images must sit directly"
                " in <split>/<class>/ (or in <split>/ for unlabelled images)"
            )
        if not _is_image(path):
            raise DatasetError(
                f"{name_of(path)}: not a JPEG or PNG file (expected a .jpg, .jpeg or"
                " .png name); remove it, or hide it with a name starting with a dot"
            )
        entry = split_entry(parts[0])
        if len(parts) == 2:
            entry["direct"].append(path)
        else:
            entry["classes"].setdefault(parts[1], []).append(path)

    if not tree:
        raise DatasetError(
            f"{name_of('')}: no split folders found; expected <split>/<class>/<image>"
        )
    class_sets: dict[str, set[str]] = {}
    for split, entry in tree.items():
        check_split_name(split, name_of(split))
        if entry["classes"] and entry["direct"]:
            raise DatasetError(
                f"{name_of(split)}: contains both images and class folders; put"
                " every image in a class folder, or remove the class folders for an"
                " unlabelled split"
            )
        if not entry["classes"] and not entry["direct"]:
            raise DatasetError(f"{name_of(split)}: empty split folder")
        for name, paths in entry["classes"].items():
            if not paths:
                raise DatasetError(f"{name_of(split + '/' + name)}: empty class folder")
        if entry["classes"]:
            class_sets[split] = set(entry["classes"])

    class_names = sorted(set().union(*class_sets.values())) if class_sets else []
    for split in order_splits(class_sets):
        missing = sorted(set(class_names) - class_sets[split])
        if missing:
            raise DatasetError(
                f"{name_of(split)}: missing class folders {', '.join(missing)}, which"
                " other splits have; every labelled split needs the same classes"
            )

    splits = []
    for split in order_splits(tree):
        entry = tree[split]
        if entry["direct"]:
            splits.append(SplitPlan(split, sorted(entry["direct"]), None))
            continue
        paths: list[str] = []
        labels: list[int] = []
        for label, name in enumerate(class_names):
            members = sorted(entry["classes"][name])
            paths.extend(members)
            labels.extend([label] * len(members))
        splits.append(SplitPlan(split, paths, np.array(labels, dtype=np.int64)))
    return FolderPlan(class_names, splits)


def decode_image(
    data: bytes,
    where: str,
    size: tuple[int, int] | None,
    resize: bool = False,
    convert: bool = False,
) -> np.ndarray:
    """Decode a JPEG or PNG image into an RGB array.

    Parameters
    ----------
    data : bytes
        Encoded image.
    where : str
        File named in error messages.
    size : (int, int) or None
        Expected (height, width) in pixels, or None to accept any size.
    resize : bool, default False
        Resize an image of another size to ``size`` (bicubic) instead of raising.
    convert : bool, default False
        Convert an image in another mode (greyscale, palette, RGBA, CMYK) to RGB
        instead of raising. Conversion from RGBA drops the alpha channel.

    Returns
    -------
    ndarray of uint8, shape (height, width, 3)

    Raises
    ------
    DatasetError
        If the data cannot be decoded, or the mode or size differs and the
        matching switch is off.
    """
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (OSError, SyntaxError, Image.DecompressionBombError) as error:
        raise DatasetError(f"{where}: cannot decode image ({error})") from None
    if image.mode != "RGB":
        if not convert:
            raise DatasetError(
                f"{where}: image mode is {image.mode}, expected RGB; set convert=True"
                " (--convert for aecore-prepare, dataset.options.convert: true in the"
                " workflow's config) to convert such images"
            )
        image = image.convert("RGB")
    if size is not None and image.size != (size[1], size[0]):
        if not resize:
            raise DatasetError(
                f"{where}: image is {image.height}x{image.width} pixels (height x"
                f" width), expected {size[0]}x{size[1]}; set resize=True (--resize for"
                " aecore-prepare, dataset.options.resize: true in the workflow's"
                " config) to resize such images"
            )
        image = image.resize((size[1], size[0]), Image.Resampling.BICUBIC)
    return np.asarray(image, dtype=np.uint8)


def _decode_batch(
    items: list[tuple[int, str, bytes]],
    size: tuple[int, int],
    resize: bool,
    convert: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Decode (position, name, bytes) items; return positions and images."""
    images = np.empty((len(items), size[0], size[1], 3), dtype=np.uint8)
    for row, (_, where, data) in enumerate(items):
        images[row] = decode_image(data, where, size, resize, convert)
    positions = np.array([position for position, _, _ in items], dtype=np.int64)
    return positions, images


def _batched(
    items: Iterator[tuple[int, str, bytes]],
) -> Iterator[list[tuple[int, str, bytes]]]:
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == BATCH_IMAGES:
            yield batch
            batch = []
    if batch:
        yield batch


def _decode_all(
    items: Iterator[tuple[int, str, bytes]],
    write: Callable[[np.ndarray, np.ndarray], None],
    size: tuple[int, int],
    resize: bool,
    convert: bool,
    workers: int,
) -> None:
    """Decode every item and pass each batch of results to ``write``."""
    if workers == 1:
        for batch in _batched(items):
            write(*_decode_batch(batch, size, resize, convert))
        return
    # fork starts workers without re-running the caller's main module. spawn
    # would re-run it, and a Snakemake rule script has no __main__ guard.
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
    try:
        pending = set()
        for batch in _batched(items):
            pending.add(pool.submit(_decode_batch, batch, size, resize, convert))
            # Bound the encoded bytes in flight to two batches per worker.
            while len(pending) >= 2 * workers:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    write(*future.result())
        for future in pending:
            write(*future.result())
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


class _DirectorySource:
    """Image folder on disk."""

    def __init__(self, root: Path) -> None:
        self.root = root
        files, dirs = [], []
        for current, subdirs, names in os.walk(root):
            subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
            relative = Path(current).relative_to(root).as_posix()
            prefix = "" if relative == "." else relative + "/"
            dirs.extend(prefix + d for d in subdirs)
            files.extend(prefix + name for name in names if not name.startswith("."))
        self.plan = plan_folder(files, dirs, self.name)

    def name(self, path: str) -> str:
        """Return the full path of a file or folder given relative to the root."""
        return str(self.root / path)

    def read(self, path: str) -> bytes:
        return (self.root / path).read_bytes()

    def iter_encoded(
        self, positions: dict[str, int]
    ) -> Iterator[tuple[int, str, bytes]]:
        for path, position in positions.items():
            yield position, self.name(path), self.read(path)

    def close(self) -> None:
        pass


class _ArchiveSource:
    """Image folder packed in a (compressed) tar archive, read without extracting."""

    def __init__(self, archive: Path) -> None:
        self.archive = archive
        try:
            self.tar = tarfile.open(archive, mode="r:*")
            members = self.tar.getmembers()
        except (tarfile.TarError, EOFError, zlib.error, OSError) as error:
            raise DatasetError(
                f"{archive}: not a readable .tar.gz archive, or truncated ({error})"
            ) from None
        names = {}
        for member in members:
            name = member.name.lstrip("/")
            while name.startswith("./"):
                name = name[2:]
            name = name.rstrip("/")
            if ".." in name.split("/"):
                raise DatasetError(
                    f"{archive}: member name {member.name!r} contains '..'"
                )
            if not name or name == "." or _is_hidden(name):
                continue
            if not (member.isfile() or member.isdir()):
                raise DatasetError(
                    f"{archive}:{member.name}: links and special files are not"
                    " supported; store images as regular files"
                )
            names[name] = member
        tops = {name.split("/")[0] for name in names}
        self.prefix = ""
        if len(tops) == 1 and any("/" in name for name in names):
            self.prefix = tops.pop() + "/"
        self.members = {}
        files, dirs = [], []
        for name, member in names.items():
            if not name.startswith(self.prefix) or name == self.prefix.rstrip("/"):
                continue
            relative = name[len(self.prefix) :]
            (files if member.isfile() else dirs).append(relative)
            self.members[relative] = member
        self.plan = plan_folder(files, dirs, self.name)

    def name(self, path: str) -> str:
        """Return ``archive:member`` for a path relative to the root."""
        if not path and not self.prefix:
            return str(self.archive)
        return f"{self.archive}:{self.prefix}{path}".rstrip("/")

    def read(self, path: str) -> bytes:
        return self.tar.extractfile(self.members[path]).read()

    def iter_encoded(
        self, positions: dict[str, int]
    ) -> Iterator[tuple[int, str, bytes]]:
        # Archive order keeps the decompression sequential.
        ordered = sorted(positions, key=lambda path: self.members[path].offset)
        for path in ordered:
            yield positions[path], self.name(path), self.read(path)

    def close(self) -> None:
        self.tar.close()


def _image_size(source: _DirectorySource | _ArchiveSource, plan: FolderPlan) -> tuple:
    """Return the (height, width) of the first image, without decoding its pixels."""
    first = plan.splits[0].paths[0]
    try:
        with Image.open(io.BytesIO(source.read(first))) as image:
            return image.height, image.width
    except (OSError, SyntaxError, Image.DecompressionBombError) as error:
        raise DatasetError(
            f"{source.name(first)}: cannot decode image ({error})"
        ) from None


def build_folder(
    builder: DatasetBuilder, source: Path, options: dict[str, Any]
) -> dict[str, Any]:
    """Prepare an image folder (directory or .tar.gz) into ``builder``.

    Parameters
    ----------
    builder : DatasetBuilder
        Destination.
    source : pathlib.Path
        Root directory, or a tar archive (gzip, bzip2, xz or none) of one.
    options : dict
        ``image_size`` ((height, width) in pixels, or None for the size of the
        first image), ``resize`` and ``convert`` (see :func:`decode_image`) and
        ``workers`` (number of decoding processes; 1 decodes in this process).

    Returns
    -------
    dict
        Source fields for ``meta.json``.
    """
    reader = _DirectorySource(source) if source.is_dir() else _ArchiveSource(source)
    try:
        plan = reader.plan
        size = options["image_size"] or _image_size(reader, plan)
        positions, offsets = {}, []
        for split in plan.splits:
            offsets.append(len(positions))
            builder.create_images(split.name, len(split.paths), *size)
            for path in split.paths:
                positions[path] = len(positions)
            if split.labels is not None:
                builder.set_labels(split.name, split.labels)
        if plan.class_names:
            builder.set_class_names(plan.class_names)
        bounds = np.array(offsets[1:], dtype=np.int64)
        progress = Progress(logger, str(source), plan.count, unit="images")

        def write(done: np.ndarray, images: np.ndarray) -> None:
            split_ids = np.searchsorted(bounds, done, side="right")
            for split_id in np.unique(split_ids):
                rows = split_ids == split_id
                rows_in_split = done[rows] - offsets[split_id]
                builder.write_images(
                    plan.splits[split_id].name, rows_in_split, images[rows]
                )
            progress.update(len(done))

        _decode_all(
            reader.iter_encoded(positions),
            write,
            size,
            options["resize"],
            options["convert"],
            options["workers"],
        )
        progress.finish()
    finally:
        reader.close()
    return {"source": str(source), "checksum": None, "image_size": list(size)}


def check_options(options: dict[str, Any]) -> dict[str, Any]:
    """Validate folder options; return a copy with ``image_size`` as a pair."""
    options = dict(options)
    size = options["image_size"]
    if size is not None:
        if isinstance(size, int) and not isinstance(size, bool):
            size = (size, size)
        if (
            not isinstance(size, (tuple, list))
            or len(size) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in size)
            or min(size) < 1
        ):
            raise DatasetError(
                "image_size must be a positive integer or a (height, width) pair of"
                f" positive integers, got {options['image_size']!r}"
            )
        options["image_size"] = (int(size[0]), int(size[1]))
    for name in ("resize", "convert"):
        if not isinstance(options[name], bool):
            raise DatasetError(f"{name} must be True or False, got {options[name]!r}")
    workers = options["workers"]
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise DatasetError(f"workers must be a positive integer, got {workers!r}")
    return options
