# The PDF report: macros from the collated results, then latexmk.
# The LaTeX sources live in report/ at the repository root. Under conda deployment
# the jobs still take latexmk and pdflatex from the system PATH (Debian packages, or
# conda-forge's texlive-core and latexmk installed beside the study's environment).
import glob
import os

from aecore.report.latex import find_missing_latex

REPORT_DIR = os.path.normpath(os.path.join(workflow.basedir, "..", "report"))
REPORT_SOURCES = sorted(
    glob.glob(os.path.join(REPORT_DIR, "**", "*.tex"), recursive=True)
)
REPORT_PDF = f"{RESULTS}/report/report.pdf"

# The default target includes the PDF only when LaTeX is installed. Naming
# results/report/report.pdf still builds it, and without LaTeX its job fails with
# the packages to install.
MISSING_LATEX = find_missing_latex()
REPORT_TARGETS = [] if MISSING_LATEX else [REPORT_PDF]
if MISSING_LATEX:
    print(
        "Warning: the PDF report is skipped because LaTeX is incomplete (missing "
        f"{', '.join(MISSING_LATEX)}); python -m aecore.report --check lists the "
        "packages to install.",
        file=sys.stderr,
    )


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
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=500,
    params:
        results=lambda wildcards, input: os.path.dirname(input.provenance),
    script:
        "../../scripts/report_macros.py"


rule report_pdf:
    input:
        generated=rules.report_macros.output,
        main=os.path.join(REPORT_DIR, "report.tex"),
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
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=1000,
    params:
        report_dir=lambda wildcards, input: os.path.dirname(input.main),
        results=lambda wildcards, input: os.path.dirname(
            os.path.dirname(input.tables[0])
        ),
    script:
        "../../scripts/report_pdf.py"
