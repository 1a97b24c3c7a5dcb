"""Convert the raw dataset into the cached on-disk form the workflow reads."""

from _common import start

logger = start(snakemake)  # noqa: F821 (defined by Snakemake)

from aecore.datasets import prepare_dataset  # noqa: E402

params = snakemake.params  # noqa: F821
logger.info("Preparing %s dataset from %s", params.kind, params.source)
options = {"url": params.url} if params.kind == "stl10" and params.url else {}
prepare_dataset(params.kind, params.source, snakemake.output[0], **options)  # noqa: F821
logger.info("Dataset written to %s", snakemake.output[0])  # noqa: F821
