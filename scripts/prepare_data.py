"""Convert the raw dataset into the cached on-disk form the workflow reads."""

from _common import start

logger = start(snakemake)  # noqa: F821 (defined by Snakemake)

from aecore.datasets import prepare_dataset  # noqa: E402

smk = snakemake  # noqa: F821
kind = smk.params.kind
# Reader options from dataset.options, except workers, which arrives as the threads.
options = dict(smk.params.options)
if kind == "stl10" and smk.params.url:
    options["url"] = smk.params.url
if kind == "folder":
    options["workers"] = smk.threads

logger.info("Preparing the %s dataset from %s", kind, smk.params.source)
dataset = prepare_dataset(kind, smk.params.source, smk.output[0], **options)
logger.info("Dataset %s has splits %s", smk.output[0], dataset.splits)
