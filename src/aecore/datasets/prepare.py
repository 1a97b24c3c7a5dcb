"""``prepare_dataset``: convert any supported source into a dataset directory once."""

from __future__ import annotations

import logging
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import aecore

from . import cifar, folders, pickles, stl10
from .cache import (
    Dataset,
    DatasetBuilder,
    open_dataset,
    read_meta,
    remove_stale_partials,
)
from .download import check_expected, verify_file
from .errors import DatasetError

logger = logging.getLogger(__name__)

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".gz")
KINDS = {
    "stl10": stl10,
    "pickles": pickles,
    "cifar10-python": cifar,
    "folder": folders,
}
BUILDERS = {
    "stl10": stl10.build_stl10,
    "pickles": pickles.build_pickles,
    "cifar10-python": cifar.build_cifar10_python,
    "folder": folders.build_folder,
}


def _check_options(kind: str, options: dict[str, Any]) -> dict[str, Any]:
    module = KINDS[kind]
    unknown = sorted(set(options) - set(module.OPTIONS))
    if unknown:
        allowed = ", ".join(sorted(module.OPTIONS)) or "none"
        raise DatasetError(
            f"unknown option {', '.join(unknown)} for kind {kind!r}; allowed: {allowed}"
        )
    merged = {**module.OPTIONS, **options}
    if kind == "folder":
        merged = folders.check_options(merged)
    elif kind == "pickles":
        pickles.check_options(merged)
    elif kind == "stl10":
        _check_stl10_options(merged)
    return merged


def _check_stl10_options(options: dict[str, Any]) -> None:
    check_expected(options["expected_size"], options["expected_sha256"])
    timeout = options["timeout"]
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, (int, float))
        or timeout <= 0
    ):
        raise DatasetError(
            f"timeout must be a positive number of seconds, got {timeout!r}"
        )
    retries = options["retries"]
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise DatasetError(f"retries must be a non-negative integer, got {retries!r}")
    counts = options["expected_counts"]
    if counts is not None and (
        not isinstance(counts, dict)
        or set(counts) != set(stl10.STL10_COUNTS)
        or not all(isinstance(n, int) and n > 0 for n in counts.values())
    ):
        raise DatasetError(
            "expected_counts must be None or a dict of positive image counts for"
            f" {', '.join(stl10.STL10_COUNTS)}, got {counts!r}"
        )


def _request(kind: str, source: Path | None, options: dict[str, Any]) -> dict[str, Any]:
    """Return what identifies the prepared content: kind, source and options."""
    content = {}
    for name in KINDS[kind].CONTENT_OPTIONS:
        value = options[name]
        content[name] = list(value) if isinstance(value, tuple) else value
    source_text = options["url"] if source is None else str(source)
    return {"kind": kind, "source": source_text, "options": content}


def prepare_dataset(
    kind: str,
    source: str | os.PathLike[str] | None,
    out_dir: str | os.PathLike[str],
    *,
    force: bool = False,
    **options: Any,
) -> Dataset:
    """Convert a dataset source into a prepared dataset directory, once.

    A complete ``out_dir`` (one with ``meta.json``) prepared from the same kind,
    source and content options is reused as it is. Otherwise the dataset is built
    in a hidden temporary sibling of ``out_dir``, ``meta.json`` is written last and
    the directory is renamed to ``out_dir``, so an interrupted preparation never
    leaves a directory that looks complete.

    Parameters
    ----------
    kind : {"stl10", "pickles", "cifar10-python", "folder"}
        Source format.
    source : str, path-like or None
        stl10: ``stl10_binary.tar.gz``, or a data directory (it need not exist).
        A data directory that contains the extracted files (directly or in
        ``stl10_binary/``) is read. Otherwise the archive is downloaded into it,
        unless a verified ``stl10_binary.tar.gz`` is there already. None means
        the data directory ``download_dir``.
        pickles: a folder of ``<split>.pk`` files, or one such file.
        cifar10-python: ``cifar-10-python.tar.gz`` or ``cifar-10-batches-py/``.
        folder: a directory ``root/<split>/<class>/<image>``, or a tar archive of
        one.
    out_dir : str or path-like
        Dataset directory to create, for example ``results/data/stl10``. An empty
        existing directory is replaced.
    force : bool, default False
        Rebuild even when ``out_dir`` contains a prepared dataset, and replace it.
    **options
        Per kind:

        stl10
            ``download_dir`` (default: ``downloads`` beside ``out_dir``), ``url``
            (default: the official address), ``expected_size`` (bytes) and
            ``expected_sha256`` (the published values by default; None skips a
            check), ``timeout`` (seconds, default 60), ``retries`` (default 3),
            ``expected_counts`` (images per split; the official counts by
            default, None accepts any).
        pickles
            ``row_layout`` (``"hwc"`` default, ``"chw"`` or ``"cwh"``: axis order of
            an ``X`` row) and ``label_base`` (``"auto"`` default, 0 or 1: the
            number of the first class in ``y``).
        folder
            ``image_size`` (int or (height, width); default: size of the first
            image), ``resize`` and ``convert`` (default False: images of another
            size or mode are errors), ``workers`` (decoding processes, default 1).

    Returns
    -------
    Dataset
        The prepared dataset, opened.

    Raises
    ------
    DatasetError
        If an argument is invalid, the source is missing or malformed (the message
        names the file and the problem), or ``out_dir`` contains another dataset or
        unrelated files. :class:`DownloadError`, a subclass, if a download fails.
    """
    if kind not in KINDS:
        raise DatasetError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    out_dir = Path(out_dir)
    options = _check_options(kind, options)
    if kind == "stl10" and options["download_dir"] is None:
        options["download_dir"] = str(out_dir.parent / "downloads")
    if source is None and kind != "stl10":
        raise DatasetError(f"source is required for kind {kind!r}")
    source_path = None if source is None else Path(source).absolute()
    if source_path is not None and not source_path.exists():
        # An STL-10 data directory that does not exist yet receives the download.
        if kind != "stl10" or source_path.name.endswith(ARCHIVE_SUFFIXES):
            raise DatasetError(f"source not found: {source_path}")
    request = _request(kind, source_path, options)

    if out_dir.exists() and not out_dir.is_dir():
        raise DatasetError(f"{out_dir}: exists and is not a directory")
    existing = read_meta(out_dir) if out_dir.is_dir() else None
    if existing is not None and not force:
        if existing.get("request") == request:
            logger.info(
                "%s is already prepared from %s; reusing it", out_dir, request["source"]
            )
            return open_dataset(out_dir)
        raise DatasetError(
            f"{out_dir}: already contains a dataset prepared from"
            f" {existing.get('request')}, not {request}; pass force=True (--force) to"
            " replace it, or choose another output directory"
        )
    if existing is None and out_dir.is_dir() and any(out_dir.iterdir()):
        raise DatasetError(
            f"{out_dir}: exists, is not empty and is not a prepared dataset (no"
            " meta.json); remove it or choose another output directory"
        )

    remove_stale_partials(out_dir)
    logger.info("preparing %s from %s into %s", kind, request["source"], out_dir)
    with DatasetBuilder(out_dir) as builder:
        fields = BUILDERS[kind](builder, source_path, options)
        if (
            fields.get("checksum") is None
            and source_path is not None
            and source_path.is_file()
        ):
            fields["checksum"] = {
                "algorithm": "sha256",
                "of": "archive",
                "value": verify_file(source_path),
            }
        meta = {
            "kind": kind,
            **fields,
            "request": request,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "aecore_version": aecore.__version__,
        }
        try:
            builder.commit(meta, replace=force)
        except DatasetError:
            # Another process may have prepared the same dataset meanwhile.
            current = read_meta(out_dir) if out_dir.is_dir() else None
            if current is None or current.get("request") != request:
                raise
            logger.info("%s was prepared by another process; reusing it", out_dir)
    return open_dataset(out_dir)
