"""Draw the first-layer filters of one model as a tile grid (PNG)."""

from _common import atomic_path, start

logger = start(snakemake)  # noqa: F821 (defined by Snakemake)

from aecore.persist import load_model  # noqa: E402
from aecore.viz import save_filter_grid  # noqa: E402

model = load_model(snakemake.input[0])  # noqa: F821
with atomic_path(snakemake.output[0]) as temporary:  # noqa: F821
    save_filter_grid(model, temporary)
