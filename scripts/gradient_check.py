"""Measure the analytic gradient against central differences for each setting."""

from _common import start, write_table

logger = start(snakemake)  # noqa: F821 (defined by Snakemake)

from aecore.collate import gradient_table  # noqa: E402
from aecore.gradient import gradient_check_table  # noqa: E402

smk = snakemake  # noqa: F821
table = gradient_table(gradient_check_table(seed=smk.params.seed))
logger.info("Largest relative error %.3g", table["relative_error"].max())
write_table(table, smk.output.csv, smk.output.tex)
