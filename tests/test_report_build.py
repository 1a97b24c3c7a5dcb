"""End-to-end build of the PDF report from small synthetic results (needs LaTeX)."""

import json
import shutil
import subprocess
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest

from aecore import collate
from aecore.report import build_report

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

REPORT_DIR = Path(__file__).resolve().parents[1] / "report"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("latexmk") is None or shutil.which("pdftotext") is None,
        reason="latexmk or pdftotext is not installed",
    ),
]


def _pdf_text(pdf: Path) -> str:
    result = subprocess.run(
        ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
    )
    # Join words that the layout split over lines.
    return " ".join(result.stdout.split())


def _write_figure(results: Path, name: str) -> None:
    figure, axis = plt.subplots(figsize=(3, 2))
    axis.imshow(np.random.default_rng(0).random((16, 16, 3)))
    (results / "figures").mkdir(parents=True, exist_ok=True)
    figure.savefig(results / "figures" / f"{name}.pdf")
    plt.close(figure)


def _write_table(results: Path, name: str, table: pd.DataFrame) -> None:
    (results / "tables").mkdir(parents=True, exist_ok=True)
    table.to_csv(results / "tables" / f"{name}.csv", index=False)
    (results / "tables" / f"{name}.tex").write_text(collate.to_latex(table))


def test_report_without_gpu_or_folds_says_so(tmp_path):
    results = tmp_path / "results"
    speed = collate.speed_table(
        [
            pd.DataFrame(
                {
                    "device": ["cpu"],
                    "backend": ["numpy"],
                    "dtype": ["float64"],
                    "n": [1000],
                    "loss_grad_seconds": [0.01],
                    "matmul_seconds": [0.008],
                }
            )
        ]
    )
    _write_table(results, "speed", speed)
    _write_table(results, "folds", collate.folds_table(pd.DataFrame({"x": [1]})))
    _write_figure(results, "filters_default")
    (results / "provenance.json").write_text(
        json.dumps({"config": {"dataset": {"name": "cifar_10%"}}})
    )

    pdf = build_report(results, tmp_path / "out", report_dir=REPORT_DIR)

    text = _pdf_text(pdf)
    for heading in (
        "Method",
        "Gradient by backpropagation",
        "Gradient check",
        "Filters of the default model",
        "Classification",
        "Speed",
        "Provenance",
    ):
        assert heading in text
    assert "No GPU timing was measured in this run" in text
    assert "This run has no fold results" in text
    assert "cifar_10%" in text
    images = subprocess.run(
        ["pdfimages", "-list", str(pdf)], capture_output=True, text=True, check=True
    )
    # One raster image: the synthetic filter grid.
    assert len(images.stdout.strip().splitlines()) == 3
