"""Write the generated inputs of the report and build its PDF."""

from __future__ import annotations

import os
from pathlib import Path

from aecore.report.latex import build_pdf, render_macros, write_text_atomic
from aecore.report.values import collect_values

__all__ = ["write_report_inputs", "build_report"]


def write_report_inputs(
    results_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str]
) -> list[Path]:
    """Write ``macros.tex`` and the other generated inputs of the report.

    Parameters
    ----------
    results_dir : path
        The workflow's ``results/`` directory.
    out_dir : path
        Build directory of the report, normally ``results/report``.

    Returns
    -------
    list of Path
        The files written, ``macros.tex`` first.
    """
    values = collect_values(results_dir)
    out_dir = Path(out_dir)
    written = [out_dir / "macros.tex"]
    write_text_atomic(
        written[0], render_macros(values.prefixed_macros(), values.prefixed_flags())
    )
    for name, text in sorted(values.files.items()):
        write_text_atomic(out_dir / name, text)
        written.append(out_dir / name)
    return written


def build_report(
    results_dir: str | os.PathLike[str] = "results",
    out_dir: str | os.PathLike[str] = "results/report",
    *,
    report_dir: str | os.PathLike[str] = "report",
    engine: str = "pdflatex",
    log: str | os.PathLike[str] | None = None,
) -> Path:
    """Generate the report's macros from ``results_dir`` and build the PDF.

    Parameters
    ----------
    results_dir : path
        The workflow's ``results/`` directory.
    out_dir : path
        Directory for ``macros.tex``, the other generated inputs and ``report.pdf``.
    report_dir : path
        Directory with ``report.tex``, ``preamble.tex`` and ``sections/``.
    engine : str
        ``"pdflatex"`` or ``"lualatex"``.
    log : path, optional
        File that receives latexmk's output.

    Returns
    -------
    Path
        The PDF.

    Raises
    ------
    LatexMissingError
        If LaTeX tools or style files are missing.
    ReportBuildError
        If latexmk fails.
    """
    write_report_inputs(results_dir, out_dir)
    return build_pdf(
        Path(report_dir) / "report.tex",
        out_dir,
        [report_dir, out_dir, results_dir],
        engine=engine,
        log=log,
    )
