"""Execute the study notebook headless against a finished run of the workflow."""

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "study.ipynb"


def _results_dir() -> Path:
    return Path(os.environ.get("AECORE_RESULTS", ROOT / "results"))


def test_notebook_has_no_outputs():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code_cells
    for cell in code_cells:
        assert cell.outputs == []
        assert cell.execution_count is None


@pytest.mark.slow
def test_notebook_runs_against_results(tmp_path):
    results = _results_dir()
    if not (results / "provenance.json").exists():
        pytest.skip(f"no finished run at {results}; run the workflow first")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    os.environ["AECORE_RESULTS"] = str(results.resolve())
    client.execute()
    errors = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "error"
    ]
    assert errors == []
