"""Checks of profiles/slurm: it parses, selects the Slurm executor, takes the partition
and account from the environment, and a dry run with it needs no Slurm cluster.

Running jobs through a real Slurm cluster is checked by .ci/slurm/check.
"""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROFILE = ROOT / "profiles" / "slurm"
SNAKEFILE = ROOT / "workflow" / "Snakefile"

profiles = pytest.importorskip(
    "snakemake.profiles", reason="snakemake is not installed (pip install .[workflow])"
)


def parse_profile():
    """Parse the profile as Snakemake does: YTE templating, then CLI arguments."""
    with open(PROFILE / "config.yaml") as stream:
        return profiles.ProfileConfigFileParser().parse(stream)


def resource_names(parsed):
    return {entry.split("=", 1)[0] for entry in parsed["default-resources"]}


def test_profile_selects_slurm_executor():
    parsed = parse_profile()
    assert parsed["executor"] == "slurm"
    assert int(parsed["jobs"]) > 0


def test_profile_options_are_snakemake_options():
    from snakemake.cli import get_argument_parser

    parser = get_argument_parser()
    options = {option for action in parser._actions for option in action.option_strings}
    unknown = [key for key in parse_profile() if f"--{key}" not in options]
    assert unknown == []


def test_profile_sets_runtime_and_memory(monkeypatch):
    monkeypatch.delenv("AECORE_SLURM_PARTITION", raising=False)
    monkeypatch.delenv("AECORE_SLURM_ACCOUNT", raising=False)
    names = resource_names(parse_profile())
    assert {"runtime", "mem_mb"} <= names
    assert "slurm_partition" not in names
    assert "slurm_account" not in names


def test_profile_partition_from_environment(monkeypatch):
    monkeypatch.setenv("AECORE_SLURM_PARTITION", "long")
    monkeypatch.setenv("AECORE_SLURM_ACCOUNT", "project42")
    resources = parse_profile()["default-resources"]
    assert "slurm_partition=long" in resources
    assert "slurm_account=project42" in resources


@pytest.mark.skipif(
    importlib.util.find_spec("snakemake_executor_plugin_slurm") is None,
    reason="snakemake-executor-plugin-slurm is not installed (pip install .[workflow])",
)
def test_dry_run_needs_no_cluster(tmp_path):
    # A configuration path that does not exist: any Slurm command would fail.
    env = {**os.environ, "SLURM_CONF": str(tmp_path / "no-slurm.conf")}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "--snakefile",
            str(SNAKEFILE),
            "--workflow-profile",
            "none",
            "--profile",
            str(PROFILE),
            "--configfile",
            str(ROOT / "config" / "quick.yaml"),
            "--dry-run",
            "results/tables/gradient_check.csv",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=300,
    )

    assert result.returncode == 0, result.stdout
    assert f"Using profile {PROFILE}" in result.stdout

    runtime = next(
        entry.split("=", 1)[1]
        for entry in parse_profile()["default-resources"]
        if entry.startswith("runtime=")
    )
    job_resources = re.search(r"^\s+resources: (.*)$", result.stdout, re.MULTILINE)
    assert job_resources is not None, result.stdout
    resources = job_resources[1].split(", ")
    assert f"runtime={runtime}" in resources
    # The rule's own mem_mb wins over the profile's default.
    assert "mem_mb=1000" in resources
    assert not (tmp_path / "results").exists()


def _verify_jobs_module():
    path = ROOT / ".ci" / "slurm" / "verify_jobs.py"
    spec = importlib.util.spec_from_file_location("verify_jobs", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cluster_check_counts_backfilled_jobs():
    # slurmctld logs a job started by its backfill scheduler differently from one
    # started by the main scheduler; both ran on a node.
    log = (
        "[2026-12-04T19:26:35.341] _slurm_rpc_submit_batch_job: JobId=13 InitPrio=1\n"
        "[2026-12-04T19:26:37.643] sched: Allocate JobId=13 NodeList=vm #CPUs=1\n"
        "[2026-12-04T19:27:00.400] _slurm_rpc_submit_batch_job: JobId=15 InitPrio=1\n"
        "[2026-12-04T19:27:01.627] sched/backfill: _start_job: Started JobId=15 in "
        "main on vm\n"
        "[2026-12-04T19:27:02.000] _slurm_rpc_submit_batch_job: JobId=16 InitPrio=1\n"
    )
    assert _verify_jobs_module().allocated_jobs(log) == {"13", "15"}
