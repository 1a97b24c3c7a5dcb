"""Set-up shared by the rule scripts: logging, thread limits, atomic writes.

Import this module before numpy: :func:`start` sets the BLAS and OpenMP thread
variables, which those libraries read once when they load.
"""

import contextlib
import json
import logging
import os
import sys
import tempfile
from pathlib import Path

# Import aecore from this checkout, also in environments where it is not installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from aecore._files import apply_default_mode  # noqa: E402 (loads no numpy)

THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


def start(snakemake):
    """Route stderr and logging to the job's log, and limit threads to the job's.

    Returns the logger of the calling rule.
    """
    threads = max(1, int(snakemake.threads))
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)

    log_file = open(snakemake.log[0], "w", buffering=1)  # noqa: SIM115 (whole job)
    sys.stderr = log_file
    logging.basicConfig(
        stream=log_file,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    logging.captureWarnings(True)

    # Libraries already loaded (the script preamble may import some) ignore the
    # variables above, so limit their pools too.
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads)
    logger = logging.getLogger(f"rule.{snakemake.rule}")
    logger.info("Started with %d thread(s)", threads)
    return logger


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``, renamed to ``path`` on success.

    Raises ValueError if ``path`` is an existing directory, which the rename
    could not replace.
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"path must name a file, got the directory {str(path)!r}.")
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix
    )
    os.close(handle)
    try:
        apply_default_mode(temporary)
        yield temporary
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def write_json(data, path):
    """Write ``data`` as indented JSON, atomically."""
    with atomic_path(path) as temporary:
        with open(temporary, "w") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.write("\n")


def check_memory_budget(
    n_bytes,
    budget_mb,
    description,
    remedy=None,
    *,
    dense_features=True,
    remedies=None,
    tuned=None,
):
    """Raise if ``n_bytes`` exceeds the config's memory budget.

    ``remedy`` names one more config key that lowers the need, besides the keys
    that shrink every feature set. ``dense_features`` is False for raw pixels,
    whose size stride and pooling do not change. ``remedies``, when given,
    replaces that list for a job that builds no feature set. ``tuned`` is the
    config's ``tuned`` entry: when set, the stride remedy also names
    ``tuned.features``.
    """
    needed_mb = n_bytes / 2**20
    if needed_mb > budget_mb:
        if remedies is None:
            remedies = [remedy] if remedy else []
            if dense_features:
                keys = "features.default, features.strides and tuned.features"
                if not tuned:
                    keys = "features.default and features.strides"
                remedies.append(f"a larger stride or pooling: quadrant in {keys}")
            remedies.append("fewer images with dataset.max_train and dataset.max_test")
        raise MemoryError(
            f"The {description} would take {needed_mb:.0f} MiB, more than "
            f"memory_budget_mb ({budget_mb:g} MiB). Raise memory_budget_mb if the "
            f"machine has the memory, or set {', or '.join(remedies)}."
        )
    logging.getLogger(__name__).info(
        "The %s takes about %.0f MiB (budget %g MiB)", description, needed_mb, budget_mb
    )


def training_remedies(tuned):
    """Return the remedies of a training job over budget, given the tuned entry."""
    if tuned:
        keys = "default_model.num_patches, patch_count and tuned.model.num_patches"
    else:
        keys = "default_model.num_patches and patch_count"
    return [f"fewer patches with {keys}"]


def classifier_remedy(classifier, tuned):
    """Return the PCA option keys that shrink a fit of ``classifier``."""
    remedy = f"classify.options.{classifier}.pca"
    if tuned and classifier in tuned["classify"]["classifiers"]:
        remedy += f" or tuned.classify.options.{classifier}.pca"
    return remedy


def labelled_subsets(dataset, config, seed):
    """Row indices of the labelled training and test images used for classification.

    Returns a dict mapping ``"train"`` and ``"test"`` to ``(split name, indices)``.
    """
    from aecore.classify import subset_indices

    subsets = {}
    for role in ("train", "test"):
        split = config[f"{role}_split"]
        labels = dataset.labels(split)
        subsets[role] = (split, subset_indices(labels, config[f"max_{role}"], seed))
    return subsets


def select_images(dataset, split, rows):
    """Return the images of ``rows``; all of a split stay memory-mapped, not copied."""
    images = dataset.images(split)
    if rows.size == images.shape[0]:
        return images
    return images[rows]


def write_feature_set(output, train, test, dataset, subsets):
    """Write train and test features and their labels (with folds) atomically."""
    import numpy as np

    from aecore.classify import restrict_folds

    train_split, train_rows = subsets["train"]
    test_split, test_rows = subsets["test"]
    arrays = {
        "y_train": np.asarray(dataset.labels(train_split))[train_rows],
        "y_test": np.asarray(dataset.labels(test_split))[test_rows],
    }
    folds = dataset.folds if train_split == "train" else None
    for number, fold in enumerate(restrict_folds(folds, train_rows) or []):
        arrays[f"fold_{number}"] = fold
    for name, values in (("train", train), ("test", test)):
        with atomic_path(output[name]) as temporary:
            np.save(temporary, values)
    with atomic_path(output.labels) as temporary:
        np.savez(temporary, **arrays)


def write_table(table, csv_path, tex_path, **latex_options):
    """Write a pandas table as CSV and as a booktabs LaTeX tabular, atomically."""
    from aecore.collate import to_latex

    with atomic_path(csv_path) as temporary:
        table.to_csv(temporary, index=False)
    with atomic_path(tex_path) as temporary:
        with open(temporary, "w") as handle:
            handle.write(to_latex(table, **latex_options))
    logging.getLogger(__name__).info("Wrote %s (%d rows)", csv_path, len(table))


def save_figure(figure, png_path, pdf_path):
    """Save a matplotlib figure as PNG and PDF atomically, then close it.

    Raises ValueError, before writing either file, if a path's suffix is not
    ``.png`` or ``.pdf`` as its argument name requires.
    """
    import matplotlib.pyplot as plt

    outputs = (
        ("png_path", png_path, "png", {"dpi": 150}),
        ("pdf_path", pdf_path, "pdf", {}),
    )
    for name, path, image_format, _ in outputs:
        if Path(path).suffix.lower() != f".{image_format}":
            raise ValueError(f"{name} must end in .{image_format}, got {str(path)!r}.")
    for _, path, image_format, options in outputs:
        with atomic_path(path) as temporary:
            figure.savefig(temporary, format=image_format, **options)
    plt.close(figure)
    logging.getLogger(__name__).info("Wrote %s and %s", png_path, pdf_path)
