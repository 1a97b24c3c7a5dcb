"""Fit one classifier on one feature set; write test accuracy and fold scores.

Options that list candidate values are chosen by validation on held-out training
rows first (aecore.classify.evaluate_with_validation).
"""

from _common import check_memory_budget, classifier_remedy, start, write_json

logger = start(snakemake)  # noqa: F821 (defined by Snakemake)

import numpy as np  # noqa: E402

from aecore.classify import (  # noqa: E402
    estimate_fit_bytes,
    evaluate_folds,
    evaluate_with_validation,
    make_pipeline,
)

smk = snakemake  # noqa: F821
# The wildcard is the metrics file's name: the classifier alone, or the classifier
# followed by its options (aecore.naming.classifier_options_name).
classifier = smk.params.classifier
features = smk.wildcards.features


X_train = np.load(smk.input.train, mmap_mode="r")
X_test = np.load(smk.input.test, mmap_mode="r")
check_memory_budget(
    estimate_fit_bytes(
        classifier,
        X_train.shape[0],
        X_test.shape[0],
        X_train.shape[1],
        smk.params.options,
    ),
    smk.config["memory_budget_mb"],
    f"fit of {classifier} on {features}",
    remedy=classifier_remedy(classifier, smk.config.get("tuned")),
    tuned=smk.config.get("tuned"),
    # Raw-pixel feature sets are named raw/pixels (RAW_FEATURES in common.smk).
    dense_features=not features.startswith("raw/"),
)
X_train = np.asarray(X_train)
X_test = np.asarray(X_test)
labels = np.load(smk.input.labels)
y_train, y_test = labels["y_train"], labels["y_test"]
n_folds = sum(key.startswith("fold_") for key in labels.files)
folds = [labels[f"fold_{number}"] for number in range(n_folds)]
logger.info(
    "Classifier %s on %s: %d training and %d test rows, %d features",
    classifier,
    features,
    X_train.shape[0],
    X_test.shape[0],
    X_train.shape[1],
)

result = evaluate_with_validation(
    classifier,
    smk.params.options,
    X_train,
    y_train,
    X_test,
    y_test,
    n_jobs=smk.threads,
    seed=smk.params.seed,
)
logger.info(
    "Test accuracy %.4f (fit %.1f s)", result["accuracy"], result["fit_seconds"]
)
chosen = result["chosen_options"]


def make():
    return make_pipeline(classifier, chosen, n_jobs=smk.threads, seed=smk.params.seed)


if smk.params.folds and folds:
    result.update(evaluate_folds(make, X_train, y_train, X_test, y_test, folds))
    logger.info("Folds: mean %.4f, std %.4f", result["fold_mean"], result["fold_std"])

model, _, feature_set = features.partition("/")
result.update(
    features=features,
    model=model,
    feature_set=feature_set,
    classifier=classifier,
    run=smk.wildcards.classifier,
    options=dict(smk.params.options),
)
write_json(result, smk.output[0])
