"""Build the PDF report with latexmk; report missing LaTeX as a plain message."""

import os
import sys
from pathlib import Path

from _common import start

logger = start(snakemake)  # noqa: F821 (defined by Snakemake)

from aecore.report import LatexMissingError, ReportBuildError, build_pdf  # noqa: E402

smk = snakemake  # noqa: F821
pdf = Path(smk.output[0])
try:
    build_pdf(
        Path(smk.params.report_dir) / "report.tex",
        pdf.parent,
        [smk.params.report_dir, pdf.parent, smk.params.results],
        log=smk.log[0] + ".latexmk",
    )
except (LatexMissingError, ReportBuildError) as error:
    # The message names what to install or the LaTeX error; a traceback adds nothing.
    logger.error("%s", error)
    sys.__stderr__.write(f"Error in rule {smk.rule}: {error}\n")
    sys.exit(1)
# latexmk leaves an up-to-date PDF untouched; mark it current for Snakemake.
os.utime(pdf)
logger.info("Wrote %s", pdf)
