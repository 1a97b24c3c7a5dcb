# The PDF report: macros from the collated results, then latexmk.
# The LaTeX sources live in report/ at the repository root.
import glob
import os

from aecore.report.latex import LatexMissingError, check_latex

REPORT_DIR = os.path.normpath(os.path.join(workflow.basedir, "..", "report"))
REPORT_SOURCES = sorted(
    glob.glob(os.path.join(REPORT_DIR, "**", "*.tex"), recursive=True)
)

REPORT_PDF = f"{RESULTS}/report/report.pdf"


def report_targets():
    """The PDF when LaTeX is installed; otherwise nothing, with a warning.

    Naming results/report/report.pdf as a target still builds it, and fails with
    the list of packages to install when LaTeX is missing.
    """
    try:
        check_latex()
    except LatexMissingError as error:
        print(f"Warning: skipping the PDF report. {error}", file=sys.stderr)
        return []
    return [REPORT_PDF]


rule report_macros:
    input:
        tables=expand(f"{RESULTS}/tables/{{name}}.csv", name=TABLES),
        figures=expand(f"{RESULTS}/figures/{{name}}.pdf", name=FIGURES),
        provenance=f"{RESULTS}/provenance.json",
    output:
        macros=f"{RESULTS}/report/macros.tex",
        training=f"{RESULTS}/report/training_table.tex",
        config=f"{RESULTS}/report/config.txt",
    log:
        "logs/report/report_macros.log",
    threads: 1
    resources:
        mem_mb=500,
    params:
        results=RESULTS,
    script:
        "../../scripts/report_macros.py"


rule report_pdf:
    input:
        generated=rules.report_macros.output,
        sources=REPORT_SOURCES,
        tables=expand(f"{RESULTS}/tables/{{name}}.tex", name=TABLES),
        figures=expand(f"{RESULTS}/figures/{{name}}.pdf", name=FIGURES),
    output:
        report(
            REPORT_PDF,
            caption="../../report/snakemake_caption.rst",
            category="Report",
        ),
    log:
        "logs/report/report_pdf.log",
    threads: 1
    resources:
        mem_mb=1000,
    params:
        report_dir=REPORT_DIR,
        results=RESULTS,
    script:
        "../../scripts/report_pdf.py"
