"""Resumable download against a local HTTP server on 127.0.0.1."""

import hashlib
import io
import logging
import socket
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from aecore.datasets import (
    DatasetError,
    DownloadError,
    download_file,
    prepare_dataset,
    verify_file,
)
from aecore.datasets.progress import Progress, format_bytes, format_duration

PAYLOAD = np.random.default_rng(0).integers(0, 256, 300_000, dtype=np.uint8).tobytes()
DIGEST = hashlib.sha256(PAYLOAD).hexdigest()


class RangeHandler(BaseHTTPRequestHandler):
    """Serve ``server.payload`` with Range support; cut early while ``cuts`` > 0."""

    def do_GET(self):  # noqa: N802 (name fixed by BaseHTTPRequestHandler)
        server = self.server
        header = self.headers.get("Range")
        server.ranges.append(header)
        if self.path != "/file":
            self.send_error(404)
            return
        data = server.payload
        start = 0
        if header and server.honor_range:
            start = int(header.removeprefix("bytes=").split("-")[0])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header(
                "Content-Range",
                f"bytes {start + server.range_shift}-{len(data) - 1}/{len(data)}",
            )
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if server.cuts > 0:
            server.cuts -= 1
            self.wfile.write(body[: server.cut_at])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), RangeHandler)
    httpd.payload = PAYLOAD
    httpd.ranges = []
    httpd.cuts = 0
    httpd.cut_at = 100_000
    httpd.honor_range = True
    httpd.range_shift = 0
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}/file"
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join()


@pytest.fixture
def closed_port():
    """A port on 127.0.0.1 with nothing listening: connections are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_full_download(server, tmp_path, caplog):
    dest = tmp_path / "dl" / "file.bin"
    with caplog.at_level(logging.INFO, logger="aecore.datasets"):
        digest = download_file(
            server.url, dest, expected_size=len(PAYLOAD), expected_sha256=DIGEST
        )
    assert digest == DIGEST
    assert dest.read_bytes() == PAYLOAD
    assert not dest.with_name("file.bin.part").exists()
    assert server.ranges == [None]
    assert "file.bin.part: 293.0 KiB done in" in caplog.text
    assert f"saved {dest} (293.0 KiB, SHA-256 {DIGEST})" in caplog.text


def test_progress_line_shows_rate_and_time_left():
    progress = Progress(logging.getLogger("test"), "f.part", 4 << 20, unit="bytes")
    progress.update(1 << 20)
    line = progress.describe(now=progress.started_at + 2.0)
    assert line == "f.part: 1.0 MiB of 4.0 MiB (25.0%), 512.0 KiB/s, 6s left"


def test_resume_after_cut_connection(server, tmp_path):
    server.cuts = 1
    dest = tmp_path / "file.bin"
    digest = download_file(
        server.url,
        dest,
        expected_size=len(PAYLOAD),
        expected_sha256=DIGEST,
        retry_wait=0,
    )
    assert digest == DIGEST
    assert dest.read_bytes() == PAYLOAD
    assert server.ranges == [None, "bytes=100000-"]


def test_resume_from_part_of_earlier_run(server, tmp_path):
    server.cuts = 1
    dest = tmp_path / "file.bin"
    with pytest.raises(
        DownloadError, match="connection closed before the end of the file"
    ):
        download_file(server.url, dest, expected_size=len(PAYLOAD), retries=0)
    part = tmp_path / "file.bin.part"
    assert part.stat().st_size == 100_000
    assert not dest.exists()
    download_file(server.url, dest, expected_size=len(PAYLOAD), expected_sha256=DIGEST)
    assert dest.read_bytes() == PAYLOAD
    assert server.ranges == [None, "bytes=100000-"]


def test_cut_without_known_size(server, tmp_path):
    server.cuts = 1
    dest = tmp_path / "file.bin"
    download_file(server.url, dest, retry_wait=0)
    assert dest.read_bytes() == PAYLOAD


def test_server_ignoring_range_restarts(server, tmp_path):
    server.honor_range = False
    (tmp_path / "file.bin.part").write_bytes(b"stale bytes")
    dest = tmp_path / "file.bin"
    download_file(server.url, dest, expected_sha256=DIGEST)
    assert dest.read_bytes() == PAYLOAD
    assert server.ranges == ["bytes=11-"]


def test_complete_part_gets_416(server, tmp_path):
    (tmp_path / "file.bin.part").write_bytes(PAYLOAD)
    dest = tmp_path / "file.bin"
    download_file(server.url, dest, expected_sha256=DIGEST)
    assert dest.read_bytes() == PAYLOAD
    assert server.ranges == [f"bytes={len(PAYLOAD)}-"]


def test_oversized_part_restarts(server, tmp_path):
    (tmp_path / "file.bin.part").write_bytes(PAYLOAD + b"extra")
    dest = tmp_path / "file.bin"
    download_file(server.url, dest, expected_size=len(PAYLOAD))
    assert dest.read_bytes() == PAYLOAD
    assert server.ranges == [None]


def test_checksum_mismatch_deletes_file(server, tmp_path):
    dest = tmp_path / "file.bin"
    with pytest.raises(
        DownloadError,
        match=r"failed verification: .*SHA-256 is \w{64}, expected f{64}.*Deleted",
    ):
        download_file(server.url, dest, expected_sha256="f" * 64)
    assert not dest.exists()
    assert not (tmp_path / "file.bin.part").exists()


def test_size_reported_by_server_mismatch(server, tmp_path):
    with pytest.raises(
        DownloadError, match=f"server reports {len(PAYLOAD)} bytes, expected 5"
    ):
        download_file(server.url, tmp_path / "file.bin", expected_size=5)


def test_http_error(server, tmp_path):
    with pytest.raises(DownloadError, match="server responded with HTTP 404"):
        download_file(server.url.replace("/file", "/missing"), tmp_path / "f")


def test_existing_valid_file_kept(server, tmp_path):
    dest = tmp_path / "file.bin"
    dest.write_bytes(PAYLOAD)
    assert download_file(server.url, dest, expected_sha256=DIGEST) == DIGEST
    assert server.ranges == []


def test_existing_corrupt_file_refetched(server, tmp_path, caplog):
    dest = tmp_path / "file.bin"
    dest.write_bytes(b"x" * len(PAYLOAD))
    with caplog.at_level(logging.WARNING, logger="aecore.datasets"):
        download_file(server.url, dest, expected_sha256=DIGEST)
    assert dest.read_bytes() == PAYLOAD
    assert "deleting it and downloading again" in caplog.text


def test_unreachable_server(closed_port, tmp_path):
    url = f"http://127.0.0.1:{closed_port}/file"
    with pytest.raises(
        DownloadError, match=r"cannot download .*Connection refused.*\. Put it"
    ):
        download_file(
            url, tmp_path / "f", retries=1, retry_wait=0, offline_hint="Put it there"
        )
    assert not (tmp_path / "f").exists()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"expected_size": 0}, "expected_size must be a positive number of bytes"),
        ({"expected_size": True}, "expected_size must be a positive number of bytes"),
        ({"expected_sha256": "ABC"}, "expected_sha256 must be 64 lowercase"),
        ({"retries": -1}, "retries must be a non-negative integer"),
    ],
)
def test_invalid_arguments(tmp_path, kwargs, message):
    with pytest.raises(DatasetError, match=message):
        download_file("http://127.0.0.1:9/file", tmp_path / "f", **kwargs)


def test_invalid_url(tmp_path):
    with pytest.raises(DatasetError, match="url must start with http:// or https://"):
        download_file("ftp://127.0.0.1/file", tmp_path / "f")


def stl10_archive_bytes():
    """A minimal STL-10 release archive: 2 train, 1 test, 1 unlabeled image."""
    rng = np.random.default_rng(1)
    files = {
        "train_X.bin": rng.integers(0, 256, 2 * 27648, dtype=np.uint8).tobytes(),
        "train_y.bin": bytes([1, 2]),
        "test_X.bin": rng.integers(0, 256, 27648, dtype=np.uint8).tobytes(),
        "test_y.bin": bytes([2]),
        "unlabeled_X.bin": rng.integers(0, 256, 27648, dtype=np.uint8).tobytes(),
        "class_names.txt": b"cat\ndog\n",
        "fold_indices.txt": b"0\n1\n",
    }
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"stl10_binary/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_prepare_stl10_downloads(server, tmp_path):
    server.payload = stl10_archive_bytes()
    digest = hashlib.sha256(server.payload).hexdigest()
    dataset = prepare_dataset(
        "stl10",
        None,
        tmp_path / "data" / "stl10",
        url=server.url,
        expected_size=len(server.payload),
        expected_sha256=digest,
        expected_counts=None,
    )
    archive = tmp_path / "data" / "downloads" / "stl10_binary.tar.gz"
    assert archive.read_bytes() == server.payload
    assert dataset.meta["source"] == server.url
    assert dataset.meta["local_copy"] == str(archive)
    assert dataset.meta["checksum"]["value"] == digest
    assert dataset.meta["counts"] == {"train": 2, "test": 1, "unlabeled": 1}


def test_prepare_stl10_into_new_data_dir(server, tmp_path):
    server.payload = stl10_archive_bytes()
    data_dir = tmp_path / "resources" / "stl10"
    dataset = prepare_dataset(
        "stl10",
        data_dir,
        tmp_path / "out",
        url=server.url,
        expected_size=None,
        expected_sha256=None,
        expected_counts=None,
    )
    assert (data_dir / "stl10_binary.tar.gz").exists()
    assert dataset.labels("train").tolist() == [0, 1]


def test_prepare_stl10_offline_message(closed_port, tmp_path):
    download_dir = tmp_path / "downloads"
    url = f"http://127.0.0.1:{closed_port}/stl10_binary.tar.gz"
    with pytest.raises(DownloadError) as caught:
        prepare_dataset(
            "stl10",
            None,
            tmp_path / "out",
            url=url,
            download_dir=download_dir,
            retries=0,
        )
    message = str(caught.value)
    assert "Without network access" in message
    assert str(download_dir / "stl10_binary.tar.gz") in message
    assert str(download_dir / "stl10_binary" / "train_X.bin") in message
    assert "--source PATH" in message
    # The workflow has no command-line flag for the source; its config key is named.
    assert "dataset.source" in message
    assert not (tmp_path / "out").exists()


def test_complete_part_needs_no_request(server, tmp_path):
    (tmp_path / "file.bin.part").write_bytes(PAYLOAD)
    dest = tmp_path / "file.bin"
    download_file(server.url, dest, expected_size=len(PAYLOAD), expected_sha256=DIGEST)
    assert dest.read_bytes() == PAYLOAD
    assert server.ranges == []


def test_part_longer_than_server_file(server, tmp_path):
    (tmp_path / "file.bin.part").write_bytes(PAYLOAD + b"extra")
    dest = tmp_path / "file.bin"
    download_file(server.url, dest, expected_sha256=DIGEST, retry_wait=0)
    assert dest.read_bytes() == PAYLOAD
    assert server.ranges == [f"bytes={len(PAYLOAD) + 5}-", None]


def test_wrong_content_range(server, tmp_path):
    server.range_shift = 7
    (tmp_path / "file.bin.part").write_bytes(PAYLOAD[:1000])
    with pytest.raises(
        DownloadError,
        match="range request for bytes 1000- with Content-Range 'bytes 1007-",
    ):
        download_file(server.url, tmp_path / "file.bin")


def test_verify_missing_file(tmp_path):
    with pytest.raises(DatasetError, match="file not found: .*absent.bin"):
        verify_file(tmp_path / "absent.bin")


@pytest.mark.parametrize(
    ("count", "text"),
    [(512, "512 B"), (1536, "1.5 KiB"), (5 << 20, "5.0 MiB"), (3 << 30, "3.0 GiB")],
)
def test_format_bytes(count, text):
    assert format_bytes(count) == text


@pytest.mark.parametrize(
    ("seconds", "text"), [(41.6, "42s"), (185, "3m 05s"), (3720, "1h 02m"), (-3, "0s")]
)
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


def test_progress_without_total(caplog):
    progress = Progress(logging.getLogger("test"), "x", None, unit="images")
    progress.update(10)
    assert progress.describe(now=progress.started_at + 5) == "x: 10 images, 2 images/s"
