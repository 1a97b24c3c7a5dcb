"""The PDF report: macros from a run's results, LaTeX escaping, and the build.

Typical use, from the repository root after the workflow has produced ``results/``::

    from aecore.report import build_report
    build_report("results", "results/report", report_dir="report")

or ``python -m aecore.report`` with the same defaults.
"""

from aecore.report.build import build_report, write_report_inputs
from aecore.report.latex import (
    LatexMissingError,
    ReportBuildError,
    build_pdf,
    check_latex,
    latex_escape,
    render_macros,
)
from aecore.report.values import FIGURE_NAMES, TABLE_NAMES, ReportValues, collect_values

__all__ = [
    "FIGURE_NAMES",
    "TABLE_NAMES",
    "LatexMissingError",
    "ReportBuildError",
    "ReportValues",
    "build_pdf",
    "build_report",
    "check_latex",
    "collect_values",
    "latex_escape",
    "render_macros",
    "write_report_inputs",
]
