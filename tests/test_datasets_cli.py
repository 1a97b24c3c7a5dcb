"""The aecore-prepare command."""

import json
import socket
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from aecore.datasets.cli import main


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "images"
    for split, count in (("train", 2), ("test", 1)):
        for name in ("cat", "dog"):
            (root / split / name).mkdir(parents=True)
            for index in range(count):
                image = np.full((4, 4, 3), index * 40, dtype=np.uint8)
                Image.fromarray(image).save(root / split / name / f"{index}.png")
    return root


def test_prepare_folder(tmp_path, folder, capsys):
    out = tmp_path / "out"
    status = main(["--kind", "folder", "--source", str(folder), "--out", str(out)])
    assert status == 0
    meta = json.loads((out / "meta.json").read_text())
    assert meta["counts"] == {"train": 4, "test": 2}
    err = capsys.readouterr().err
    assert f"prepared {out}: train 4, test 2 images of [4, 4, 3]" in err
    assert "INFO preparing folder from" in err


def test_folder_options_passed(tmp_path, folder):
    out = tmp_path / "out"
    argv = ["--kind", "folder", "--source", str(folder), "--out", str(out)]
    assert main([*argv, "--image-size", "2x3", "--resize", "--workers", "2"]) == 0
    meta = json.loads((out / "meta.json").read_text())
    assert meta["image_shape"] == [2, 3, 3]
    assert meta["request"]["options"] == {
        "image_size": [2, 3],
        "resize": True,
        "convert": False,
    }


def test_missing_source_exit_2(tmp_path, capsys):
    missing = tmp_path / "missing"
    status = main(
        ["--kind", "folder", "--source", str(missing), "--out", str(tmp_path / "o")]
    )
    assert status == 2
    err = capsys.readouterr().err
    assert err.strip() == f"aecore-prepare: error: source not found: {missing}"


def test_bad_input_names_file(tmp_path, folder, capsys):
    (folder / "train" / "cat" / "bad.jpg").write_bytes(b"junk")
    status = main(
        ["--kind", "folder", "--source", str(folder), "--out", str(tmp_path / "o")]
    )
    assert status == 2
    err = capsys.readouterr().err
    assert (
        f"aecore-prepare: error: {folder / 'train' / 'cat' / 'bad.jpg'}: cannot decode"
        in err
    )
    assert "Traceback" not in err


def test_download_failure_exit_1(tmp_path, capsys):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    argv = [
        "--kind",
        "stl10",
        "--out",
        str(tmp_path / "o"),
        "--url",
        f"http://127.0.0.1:{port}/stl10_binary.tar.gz",
        "--retries",
        "0",
        "--download-dir",
        str(tmp_path / "dl"),
        "--expected-size",
        "none",
        "--expected-sha256",
        "none",
        "--any-counts",
    ]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "aecore-prepare: error: cannot download" in err
    assert "Without network access" in err


def test_option_of_other_kind(tmp_path, capsys):
    with pytest.raises(SystemExit) as caught:
        main(["--kind", "pickles", "--source", ".", "--out", "o", "--resize"])
    assert caught.value.code == 2
    assert "--resize: not an option of --kind pickles" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--image-size", "0"], "expected SIZE or HEIGHTxWIDTH in pixels"),
        (["--image-size", "ax3"], "expected SIZE or HEIGHTxWIDTH in pixels"),
        (["--expected-size", "big"], "expected an integer or 'none'"),
        (["--label-base", "2"], "expected auto, 0 or 1"),
    ],
)
def test_invalid_values(argv, message, capsys):
    with pytest.raises(SystemExit) as caught:
        main(["--kind", "folder", "--out", "o", *argv])
    assert caught.value.code == 2
    assert message in capsys.readouterr().err


def test_python_module_entry(tmp_path, folder):
    out = tmp_path / "out"
    argv = [sys.executable, "-m", "aecore.datasets", "--kind", "folder", "--source"]
    result = subprocess.run(
        [*argv, str(folder), "--out", str(out), "--quiet"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "INFO" not in result.stderr
    assert (out / "meta.json").exists()
    bad = subprocess.run(
        [*argv, str(tmp_path / "none"), "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2
    assert "source not found" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_help_names_units(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["--help"])
    assert caught.value.code == 0
    text = capsys.readouterr().out
    assert "in bytes" in text
    assert "in seconds" in text
    assert "in pixels" in text
    assert "(default: 1)" in text


def test_pickle_and_stl10_option_values(tmp_path):
    import pickle

    (tmp_path / "course").mkdir()
    train = {"X": np.zeros((2, 12), np.uint8), "y": [1, 2]}
    (tmp_path / "course" / "train.pk").write_bytes(pickle.dumps(train, protocol=2))
    argv = ["--kind", "pickles", "--source", str(tmp_path / "course")]
    out = tmp_path / "out"
    assert (
        main([*argv, "--out", str(out), "--label-base", "1", "--row-layout", "chw"])
        == 0
    )
    assert json.loads((out / "meta.json").read_text())["label_base"] == 1
    archive = tmp_path / "stl10_binary.tar.gz"
    archive.write_bytes(b"x")
    argv = ["--kind", "stl10", "--source", str(archive), "--out", str(tmp_path / "o")]
    assert main([*argv, "--expected-size", "5"]) == 2
