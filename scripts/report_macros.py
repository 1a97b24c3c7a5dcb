"""Write the report's macros, training table and config dump from the results."""

from _common import start

logger = start(snakemake)  # noqa: F821 (defined by Snakemake)

from aecore.report import write_report_inputs  # noqa: E402

smk = snakemake  # noqa: F821
out_dir = smk.output.macros.rsplit("/", 1)[0]
for path in write_report_inputs(smk.params.results, out_dir):
    logger.info("Wrote %s", path)
