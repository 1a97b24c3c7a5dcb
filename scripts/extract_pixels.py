"""Write raw-pixel features of the labelled images, scaled to [0, 1]."""

from _common import (
    check_memory_budget,
    labelled_subsets,
    select_images,
    start,
    write_feature_set,
)

logger = start(snakemake)  # noqa: F821 (defined by Snakemake)

import numpy as np  # noqa: E402

from aecore.classify import pixel_features  # noqa: E402
from aecore.datasets import open_dataset  # noqa: E402

params = snakemake.params  # noqa: F821
dataset = open_dataset(snakemake.input.data)  # noqa: F821
subsets = labelled_subsets(dataset, params.dataset, params.seed)

n_images = sum(rows.size for _, rows in subsets.values())
image_shape = dataset.images(subsets["train"][0]).shape[1:]
check_memory_budget(
    n_images * int(np.prod(image_shape)) * 4,
    snakemake.config["memory_budget_mb"],  # noqa: F821
    f"raw-pixel feature set ({n_images} images of shape {image_shape})",
    dense_features=False,
)

features = {}
for role, (split, rows) in subsets.items():
    logger.info("Reading %d %s images from split %r", rows.size, role, split)
    features[role] = pixel_features(select_images(dataset, split, rows))
write_feature_set(
    snakemake.output,  # noqa: F821
    features["train"],
    features["test"],
    dataset,
    subsets,
)
logger.info(
    "Wrote features of shape %s and %s", features["train"].shape, features["test"].shape
)
