import json
import subprocess

import numpy as np
import pytest

from aecore.provenance import (
    collect_provenance,
    git_commit,
    machine_info,
    package_versions,
)


def test_collect_provenance_fields(tmp_path):
    config = {"seed": np.int64(3), "grid": (1, 2), "nested": {"rate": np.float64(0.5)}}
    meta = {"name": "cifar10", "checksum": "sha256:abc"}
    record = collect_provenance(config, meta, repository=tmp_path)
    assert set(record) == {"dataset", "config", "packages", "git", "date", "machine"}
    assert record["dataset"]["checksum"] == "sha256:abc"
    assert record["config"] == {"seed": 3, "grid": [1, 2], "nested": {"rate": 0.5}}
    assert record["packages"]["numpy"] == np.__version__
    json.dumps(record)  # every value is JSON-serialisable


def test_package_versions_missing():
    versions = package_versions(["numpy", "no-such-distribution-aecore"])
    assert versions["numpy"] == np.__version__
    assert versions["no-such-distribution-aecore"] is None


def test_git_commit_outside_repository(tmp_path):
    assert git_commit(tmp_path) == {"commit": "unknown", "dirty": None}


def test_git_commit_in_repository(tmp_path):
    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "a.txt").write_text("one\n")
    git("add", "a.txt")
    git("-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", "x")
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True
    ).stdout.strip()
    assert git_commit(tmp_path) == {"commit": head, "dirty": False}
    (tmp_path / "a.txt").write_text("two\n")
    assert git_commit(tmp_path)["dirty"] is True


def test_machine_info():
    info = machine_info()
    assert info["cores"] >= 1
    assert info["memory_gib"] > 0
    assert info["cpu"]
    assert info["os"]


def test_collect_provenance_rejects_non_mapping():
    with pytest.raises(TypeError, match="config must be a mapping, got list"):
        collect_provenance([], {})
    with pytest.raises(TypeError, match="dataset_meta must be a mapping, got str"):
        collect_provenance({}, "meta")
