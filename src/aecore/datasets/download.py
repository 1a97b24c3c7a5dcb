"""Resumable HTTP download with integrity checks, and verification of local files."""

from __future__ import annotations

import http.client
import logging
import os
import re
import time
import urllib.error
import urllib.request
from pathlib import Path

from .cache import sha256_of_files
from .errors import DatasetError, DownloadError
from .progress import Progress, format_bytes

logger = logging.getLogger(__name__)

CHUNK_BYTES = 1 << 20
CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")
SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def check_expected(expected_size: int | None, expected_sha256: str | None) -> None:
    """Raise DatasetError unless the expected size and SHA-256 are well formed."""
    if expected_size is not None and (
        isinstance(expected_size, bool)
        or not isinstance(expected_size, int)
        or expected_size < 1
    ):
        raise DatasetError(
            f"expected_size must be a positive number of bytes or None, got"
            f" {expected_size!r}"
        )
    if expected_sha256 is not None and (
        not isinstance(expected_sha256, str)
        or not SHA256_HEX.fullmatch(expected_sha256)
    ):
        raise DatasetError(
            "expected_sha256 must be 64 lowercase hexadecimal digits or None, got"
            f" {expected_sha256!r}"
        )


def verify_file(
    path: str | os.PathLike[str],
    expected_size: int | None = None,
    expected_sha256: str | None = None,
) -> str:
    """Check a file's size and SHA-256 and return its SHA-256.

    Parameters
    ----------
    path : path-like
        File to check.
    expected_size : int or None
        Size in bytes, or None to skip the size check.
    expected_sha256 : str or None
        Lowercase hex digest, or None to skip the comparison. The digest is
        computed in either case.

    Returns
    -------
    str
        SHA-256 hex digest of the file.

    Raises
    ------
    DatasetError
        If the file is missing or its size or digest differs from the expected one.
    """
    path = Path(path)
    check_expected(expected_size, expected_sha256)
    if not path.is_file():
        raise DatasetError(f"file not found: {path}")
    size = path.stat().st_size
    if expected_size is not None and size != expected_size:
        raise DatasetError(
            f"{path}: size is {size} bytes, expected {expected_size}; the file is"
            " incomplete or a different file"
        )
    digest = sha256_of_files([path])
    if expected_sha256 is not None and digest != expected_sha256:
        raise DatasetError(
            f"{path}: SHA-256 is {digest}, expected {expected_sha256}; the file is"
            " corrupt or a different file"
        )
    return digest


def download_file(
    url: str,
    dest: str | os.PathLike[str],
    *,
    expected_size: int | None = None,
    expected_sha256: str | None = None,
    timeout: float = 60.0,
    retries: int = 3,
    retry_wait: float = 5.0,
    offline_hint: str | None = None,
) -> str:
    """Download ``url`` to ``dest``, resuming a partial download, and verify it.

    Bytes are written to ``dest`` with ``.part`` appended. An existing ``.part``
    file is continued with an HTTP Range request; a server that ignores the range
    makes the download start over. When all bytes have arrived, the size and
    SHA-256 are checked and the ``.part`` file is renamed to ``dest``. Progress
    (bytes, rate, time left) is logged at INFO level.

    Parameters
    ----------
    url : str
        HTTP or HTTPS address.
    dest : path-like
        Final file path. An existing file is verified and kept when it matches;
        when it does not match, it is deleted and downloaded again.
    expected_size : int or None
        Size in bytes, or None to accept the size the server reports.
    expected_sha256 : str or None
        Lowercase hex digest, or None to skip the comparison.
    timeout : float, default 60.0
        Seconds to wait for the connection and for each read.
    retries : int, default 3
        Further attempts after a connection error or a cut connection. Each
        attempt resumes where the previous one stopped.
    retry_wait : float, default 5.0
        Seconds to wait before each retry.
    offline_hint : str or None
        Sentence appended to the message when the server cannot be reached, for
        example where to put a manually downloaded file.

    Returns
    -------
    str
        SHA-256 hex digest of the downloaded file.

    Raises
    ------
    DownloadError
        If the server cannot be reached after all retries, responds with an HTTP
        error, or sends a file whose size or SHA-256 differs from the expected one.
        A mismatching file is deleted.
    """
    check_expected(expected_size, expected_sha256)
    if not re.match(r"https?://", url):
        raise DatasetError(f"url must start with http:// or https://, got {url!r}")
    if not isinstance(retries, int) or retries < 0:
        raise DatasetError(f"retries must be a non-negative integer, got {retries!r}")
    dest = Path(dest)
    part = dest.with_name(dest.name + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)

    if dest.exists():
        try:
            digest = verify_file(dest, expected_size, expected_sha256)
        except DatasetError as error:
            logger.warning("%s; deleting it and downloading again", error)
            dest.unlink()
        else:
            logger.info("using %s (already downloaded and verified)", dest)
            return digest

    attempt = 0
    while True:
        try:
            complete = _fetch_into(url, part, expected_size, timeout)
        except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
            if isinstance(error, urllib.error.HTTPError):
                raise DownloadError(
                    f"{url}: server responded with HTTP {error.code} {error.reason}"
                ) from None
            complete = False
            reason = getattr(error, "reason", error)
            if attempt >= retries:
                message = f"cannot download {url} ({reason})"
                if offline_hint:
                    message += f". {offline_hint}"
                raise DownloadError(message) from None
            logger.warning("download of %s interrupted (%s)", url, reason)
        if complete:
            break
        if attempt >= retries:
            raise DownloadError(
                f"{url}: connection closed before the end of the file after"
                f" {retries + 1} attempts; run again to resume from {part}"
            )
        attempt += 1
        logger.info("retrying in %.0f s (retry %d of %d)", retry_wait, attempt, retries)
        time.sleep(retry_wait)

    try:
        digest = verify_file(part, expected_size, expected_sha256)
    except DatasetError as error:
        part.unlink()
        raise DownloadError(
            f"download of {url} failed verification: {error}. Deleted {part}; run"
            " again to download it again"
        ) from None
    os.replace(part, dest)
    logger.info(
        "saved %s (%s, SHA-256 %s)", dest, format_bytes(dest.stat().st_size), digest
    )
    return digest


def _fetch_into(
    url: str, part: Path, expected_size: int | None, timeout: float
) -> bool:
    """Append the missing bytes of ``url`` to ``part``.

    Returns True when the file is complete and False when the connection closed
    early. Raises DownloadError on a size that differs from ``expected_size``.
    """
    have = part.stat().st_size if part.exists() else 0
    if expected_size is not None and have > expected_size:
        logger.warning("%s is larger than the expected size; starting over", part)
        part.unlink()
        have = 0
    if expected_size is not None and have == expected_size:
        return True

    request = urllib.request.Request(url, headers={"User-Agent": "aecore-prepare"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        if error.code != 416 or not have:
            raise
        # 416: the range starts at or past the end, so the partial file is
        # already complete or longer than the file on the server.
        total = _total_from_content_range(error.headers.get("Content-Range"))
        if total == have:
            return True
        logger.warning("%s does not match the file on the server; starting over", part)
        part.unlink()
        return False

    with response:
        if have and response.status == 206:
            content_range = response.headers.get("Content-Range", "")
            match = CONTENT_RANGE.fullmatch(content_range)
            if not match or int(match.group(1)) != have:
                raise DownloadError(
                    f"{url}: server responded to the range request for bytes"
                    f" {have}- with Content-Range {content_range!r}"
                )
            total = None if match.group(3) == "*" else int(match.group(3))
            mode = "ab"
            logger.info("resuming %s at %s", part.name, format_bytes(have))
        else:
            if have:
                logger.info("server ignored the range request; starting over")
            have = 0
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            mode = "wb"
        if expected_size is not None and total is not None and total != expected_size:
            raise DownloadError(
                f"{url}: server reports {total} bytes, expected {expected_size};"
                " check the URL or the expected size"
            )
        total = expected_size if total is None else total
        progress = Progress(logger, part.name, total, unit="bytes", start=have)
        with open(part, mode) as stream:
            while chunk := response.read(CHUNK_BYTES):
                stream.write(chunk)
                progress.update(len(chunk))
        # http.client returns b"" rather than raising when a connection closes
        # before Content-Length bytes have arrived, so compare the sizes here.
        size = part.stat().st_size
        if total is not None and size < total:
            logger.warning(
                "connection closed at %s of %s", format_bytes(size), format_bytes(total)
            )
            return False
        progress.finish()
        return True


def _total_from_content_range(value: str | None) -> int | None:
    match = re.fullmatch(r"bytes \*/(\d+)", value or "")
    return int(match.group(1)) if match else None
