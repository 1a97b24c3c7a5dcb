"""Encode dense patches of the labelled images with one trained model."""

from _common import (
    check_memory_budget,
    labelled_subsets,
    select_images,
    start,
    write_feature_set,
)

logger = start(snakemake)  # noqa: F821 (defined by Snakemake)

from aecore.datasets import open_dataset  # noqa: E402
from aecore.features import estimate_feature_bytes, extract_features  # noqa: E402
from aecore.persist import load_model  # noqa: E402

smk = snakemake  # noqa: F821
params = smk.params
stride = params.feature_set["stride"]
pooling = params.feature_set["pooling"]

dataset = open_dataset(smk.input.data)
model = load_model(smk.input.model)
subsets = labelled_subsets(dataset, params.dataset, params.seed)
image_shape = dataset.images(subsets["train"][0]).shape[1:]
n_images = sum(rows.size for _, rows in subsets.values())
hidden = model.spec.hidden_sizes
n_bytes = estimate_feature_bytes(
    n_images, image_shape, model.patch_size, stride, hidden[len(hidden) // 2], pooling
)
check_memory_budget(
    n_bytes,
    smk.config["memory_budget_mb"],
    f"feature set {smk.wildcards.model}/{smk.wildcards.fset} ({n_images} images)",
    tuned=smk.config.get("tuned"),
)


reported_tenths = {}


def log_progress(done, total):
    """Log one line each time another tenth of the images is encoded."""
    tenth = done * 10 // total
    if reported_tenths.get(total, -1) < tenth:
        reported_tenths[total] = tenth
        logger.info("Encoded %d of %d images", done, total)


features = {}
for role, (split, rows) in subsets.items():
    logger.info("Encoding %d %s images from split %r", rows.size, role, split)
    features[role] = extract_features(
        select_images(dataset, split, rows),
        model,
        stride=stride,
        pooling=pooling,
        layer=None,
        batch_size=smk.config["features"]["batch_size"],
        progress=log_progress,
    )
write_feature_set(smk.output, features["train"], features["test"], dataset, subsets)
logger.info(
    "Wrote features of shape %s and %s", features["train"].shape, features["test"].shape
)
