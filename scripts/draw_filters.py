"""Draw the first-layer filters of one model as a tile grid (PNG)."""

from _common import atomic_path, start

logger = start(snakemake)  # noqa: F821 (defined by Snakemake)

from aecore.model import unpack  # noqa: E402
from aecore.persist import load_model  # noqa: E402
from aecore.viz import display_layer  # noqa: E402

smk = snakemake  # noqa: F821
model = load_model(smk.input[0])
weights, _ = unpack(model.theta, model.spec)
with atomic_path(smk.output[0]) as temporary:
    display_layer(weights[0], temporary)
logger.info("Drew %d filters into %s", weights[0].shape[0], smk.output[0])
