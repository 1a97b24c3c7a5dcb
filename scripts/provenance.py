"""Record the dataset, config, package versions, commit and machine of this run."""

from _common import start, write_json

logger = start(snakemake)  # noqa: F821 (defined by Snakemake)

from aecore.datasets import open_dataset  # noqa: E402
from aecore.provenance import collect_provenance  # noqa: E402

smk = snakemake  # noqa: F821
dataset = open_dataset(smk.input.data)
write_json(collect_provenance(smk.config, dataset.meta), smk.output[0])
