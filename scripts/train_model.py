"""Sample patches, fit the normaliser and train one autoencoder."""

from _common import check_memory_budget, start, training_remedies

logger = start(snakemake)  # noqa: F821 (defined by Snakemake)

from aecore.datasets import open_dataset  # noqa: E402
from aecore.model import AutoencoderSpec  # noqa: E402
from aecore.patches import PatchNormalizer, ZCAWhitener, sample_patches_raw  # noqa: E402
from aecore.persist import TrainedModel, save_model  # noqa: E402
from aecore.training import estimate_training_bytes, train_autoencoder  # noqa: E402

smk = snakemake  # noqa: F821
model = smk.params.model
training = smk.params.training
patch_size = smk.params.patch_size

dataset = open_dataset(smk.input.data)
split = smk.params.patch_split
if split == "auto":
    split = "unlabeled" if "unlabeled" in dataset.splits else "train"
images = dataset.images(split)
check_memory_budget(
    estimate_training_bytes(
        model["num_patches"],
        3 * patch_size**2,
        model["hidden_sizes"],
        dtype=training["dtype"],
        whiten=model["whiten"],
        raw_itemsize=images.dtype.itemsize,
    ),
    smk.config["memory_budget_mb"],
    f"training of model {smk.wildcards.model} ({model['num_patches']} patches)",
    remedies=training_remedies(smk.config.get("tuned")),
)
logger.info(
    "Sampling %d patches of %dx%d from %d %r images",
    model["num_patches"],
    patch_size,
    patch_size,
    images.shape[0],
    split,
)
raw = sample_patches_raw(images, model["num_patches"], patch_size, seed=model["seed"])
normalizer = PatchNormalizer().fit(raw)
patches = normalizer.transform(raw)
whitener = None
if model["whiten"]:
    whitener = ZCAWhitener().fit(patches)
    patches = whitener.transform(patches)

spec = AutoencoderSpec(
    visible_size=patches.shape[1],
    hidden_sizes=tuple(model["hidden_sizes"]),
    activation=model["activation"],
    linear_decoder=model["linear_decoder"],
    weight_decay=model["weight_decay"],
    sparsity_target=model["sparsity_target"],
    sparsity_weight=model["sparsity_weight"],
)
result = train_autoencoder(
    patches,
    spec,
    maxiter=training["maxiter"],
    seed=model["seed"],
    dtype=training["dtype"],
    backend=training["backend"],
    log_every=smk.config["training"]["log_every"],
)
logger.info("Training stopped: %s", result.stop_reason)
save_model(
    smk.output[0],
    TrainedModel(
        spec,
        result.theta,
        normalizer,
        whitener=whitener,
        patch_size=patch_size,
        result=result,
    ),
)
