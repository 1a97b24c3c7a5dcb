"""Command line: ``python -m aecore.report`` builds the PDF report from ``results/``."""

from __future__ import annotations

import argparse
import sys

from aecore.report.build import build_report, write_report_inputs
from aecore.report.latex import LatexMissingError, ReportBuildError, check_latex


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m aecore.report",
        description="Build the PDF report from the workflow's results.",
    )
    parser.add_argument("--results", default="results", help="results directory")
    parser.add_argument(
        "--out", default="results/report", help="directory for macros.tex and the PDF"
    )
    parser.add_argument(
        "--report-dir", default="report", help="directory with report.tex"
    )
    parser.add_argument(
        "--engine", choices=("pdflatex", "lualatex"), default="pdflatex"
    )

    action = parser.add_mutually_exclusive_group()
    action.add_argument(
        "--check", action="store_true", help="only check that LaTeX is installed"
    )
    action.add_argument(
        "--macros-only",
        action="store_true",
        help="only write macros.tex and the other generated inputs",
    )
    args = parser.parse_args(argv)

    try:
        if args.check:
            check_latex(args.engine)
            print("LaTeX tools and style files of the report are installed.")
        elif args.macros_only:
            for path in write_report_inputs(args.results, args.out):
                print(path)
        else:
            pdf = build_report(
                args.results, args.out, report_dir=args.report_dir, engine=args.engine
            )
            print(pdf)
    except (LatexMissingError, ReportBuildError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
