"""The CI check of a finished run: expected files follow the run's config."""

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from aecore.results import FIGURE_NAMES, TABLE_NAMES

ROOT = Path(__file__).resolve().parents[1]
CHECK = ROOT / ".ci" / "check_results.py"


def write_run(results, config, tables=TABLE_NAMES):
    """Write the files of a finished run: small tables and placeholder figures."""
    (results / "tables").mkdir(parents=True)
    (results / "figures").mkdir()
    provenance = {
        "dataset": {"class_names": [str(n) for n in range(10)]},
        "config": config,
        "packages": {},
        "git": {},
        "date": "2026-01-01",
        "machine": {},
    }
    (results / "provenance.json").write_text(json.dumps(provenance))
    for name in tables:
        (results / "tables" / f"{name}.csv").write_text("a\n1\n")
        (results / "tables" / f"{name}.tex").write_text("table\n")
    for name in FIGURE_NAMES:
        for suffix in ("png", "pdf"):
            (results / "figures" / f"{name}.{suffix}").write_bytes(b"figure")
    pd.DataFrame(
        {"features": ["raw pixels", "autoencoder 75"], "n_features": [10, 20]}
        | {"logreg": [0.3, 0.5]}
    ).to_csv(results / "tables" / "classification.csv", index=False)
    pd.DataFrame(
        {"model": ["m"], "final_loss": [1.0], "iterations": [3], "stop_reason": ["x"]}
    ).to_csv(results / "tables" / "training.csv", index=False)


def run_check(results):
    return subprocess.run(
        [sys.executable, str(CHECK), "--results", str(results)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("tuned", [None, {"model": {"hidden_sizes": [400]}}])
def test_check_passes_with_config_tables(tmp_path, tuned):
    tables = (*TABLE_NAMES, "tuned") if tuned else TABLE_NAMES
    write_run(tmp_path, {"tuned": tuned}, tables)
    result = run_check(tmp_path)
    assert result.returncode == 0, result.stdout
    assert "All expected tables and figures exist." in result.stdout


def test_check_requires_tuned_table(tmp_path):
    write_run(tmp_path, {"tuned": {"model": {"hidden_sizes": [400]}}})
    result = run_check(tmp_path)
    assert result.returncode == 1
    assert f"missing or empty: {tmp_path / 'tables' / 'tuned.csv'}" in result.stdout
