"""Time loss+gradient on this machine's CPU with the core's benchmark."""

from _common import start

logger = start(snakemake)  # noqa: F821 (defined by Snakemake)
