"""Classification of feature sets with scikit-learn pipelines.

Every classifier sits in a pipeline whose first step is a :class:`StandardScaler`
(optionally followed by PCA), so scaling is fitted on the training rows only and test
rows are transformed with training statistics.
"""

from __future__ import annotations

import itertools
import logging
import time
import warnings
from collections.abc import Callable, Mapping, Sequence

import numpy as np
from sklearn.decomposition import PCA
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

__all__ = [
    "CLASSIFIERS",
    "CANDIDATE_OPTIONS",
    "VALIDATION_FRACTION",
    "make_pipeline",
    "estimate_fit_bytes",
    "evaluate",
    "evaluate_with_validation",
    "evaluate_folds",
    "pixel_features",
    "subset_indices",
    "restrict_folds",
]

logger = logging.getLogger(__name__)

#: Classifier names accepted by :func:`make_pipeline`, with their display labels.
CLASSIFIERS = {
    "logreg": "Logistic regression",
    "linsvm": "Linear SVM",
    "forest": "Random forest",
    "hgb": "Gradient boosting",
}

# Keyword arguments each classifier accepts from the config, on top of ``pca``.
_ALLOWED_OPTIONS = {
    "logreg": {"C", "max_iter", "tol"},
    "linsvm": {"C", "max_iter", "tol", "dual"},
    "forest": {"n_estimators", "max_depth", "max_features", "min_samples_leaf"},
    "hgb": {"max_iter", "learning_rate", "max_leaf_nodes", "early_stopping"},
}

#: Options that may list candidate values, one of which validation chooses.
CANDIDATE_OPTIONS = {"logreg": {"C"}, "linsvm": {"C"}}

#: Share of the training rows held out to choose among candidate option values.
VALIDATION_FRACTION = 0.2


def make_pipeline(
    name: str,
    options: Mapping[str, object] | None = None,
    *,
    n_jobs: int = 1,
    seed: int = 0,
) -> Pipeline:
    """Build a pipeline of standard scaling, optional PCA and one classifier.

    Parameters
    ----------
    name : {"logreg", "linsvm", "forest", "hgb"}
        Classifier: multinomial logistic regression, a linear SVM (one-vs-rest,
        squared hinge loss), a random forest, or histogram gradient boosting.
    options : mapping, optional
        Classifier keyword arguments (see ``_ALLOWED_OPTIONS`` for each name), plus
        ``pca``: the number of principal components kept after scaling, or None to
        keep every feature.
    n_jobs : int, default 1
        Parallel jobs for the random forest. The other classifiers use the BLAS and
        OpenMP thread pools, which the caller limits.
    seed : int, default 0
        Random state of PCA and of the classifiers that use randomness.

    Returns
    -------
    sklearn.pipeline.Pipeline
        Unfitted pipeline with steps ``scale``, optionally ``pca``, and ``classify``.

    Raises
    ------
    ValueError
        If ``name`` is unknown or ``options`` contains a key the classifier does not
        accept.
    """
    if name not in CLASSIFIERS:
        raise ValueError(f"name must be one of {sorted(CLASSIFIERS)}, got {name!r}.")
    options = dict(options or {})
    pca = options.pop("pca", None)
    unknown = sorted(set(options) - _ALLOWED_OPTIONS[name])
    if unknown:
        raise ValueError(
            f"Invalid options {unknown} for classifier {name!r}: allowed options are "
            f"{sorted(_ALLOWED_OPTIONS[name] | {'pca'})}."
        )
    lists = sorted(key for key, value in options.items() if isinstance(value, list))
    if lists:
        raise ValueError(
            f"Options {lists} of classifier {name!r} list candidate values; a "
            "pipeline takes one value each, and evaluate_with_validation chooses it."
        )
    if pca is not None and (not isinstance(pca, int) or pca < 1):
        raise ValueError(
            f"The 'pca' option must be a positive integer or None, got {pca!r}."
        )

    if name == "logreg":
        classifier = LogisticRegression(**{"max_iter": 1000, **options})
    elif name == "linsvm":
        classifier = LinearSVC(**{"dual": "auto", "random_state": seed, **options})
    elif name == "forest":
        classifier = RandomForestClassifier(
            **{"n_estimators": 200, "n_jobs": n_jobs, "random_state": seed, **options}
        )
    else:
        classifier = HistGradientBoostingClassifier(**{"random_state": seed, **options})

    steps = [("scale", StandardScaler())]
    if pca is not None:
        steps.append(("pca", PCA(n_components=pca, random_state=seed)))
    steps.append(("classify", classifier))
    return Pipeline(steps)


# Peak bytes per training value while fitting, on float32 features: the input and its
# standardised float32 copy (8 bytes), plus the classifier's own copy. liblinear,
# behind the linear SVM, converts to float64 and then stores 16-byte index-value
# pairs; gradient boosting bins values into one byte each.
# NOTE: estimates from the data layouts, checked once. On a 24 GiB machine, the
# workflow's logistic regression on 50000 x 12675 CIFAR-10 features peaked at about
# 5.5 GiB resident against an estimate of 5.7 GiB. The linear SVM on the same
# features was killed for lack of memory.
_BYTES_PER_VALUE = {"logreg": 8, "linsvm": 32, "forest": 8, "hgb": 9}


def estimate_fit_bytes(
    name: str,
    n_train: int,
    n_test: int,
    n_features: int,
    options: Mapping[str, object] | None = None,
) -> int:
    """Estimate the peak memory of fitting and testing one pipeline.

    Parameters
    ----------
    name : {"logreg", "linsvm", "forest", "hgb"}
        Classifier, as in :func:`make_pipeline`.
    n_train, n_test : int
        Training and test rows.
    n_features : int
        Columns of the float32 feature matrix.
    options : mapping, optional
        Classifier options. ``pca`` shrinks the classifier's copy to that many
        columns, and an option that lists candidate values adds the copy of the
        training rows that :func:`evaluate_with_validation` splits off.

    Returns
    -------
    int
        Estimated bytes: a rough upper bound from the data layouts, not a
        measurement.

    Raises
    ------
    ValueError
        If ``name`` is unknown.
    """
    if name not in _BYTES_PER_VALUE:
        raise ValueError(f"name must be one of {sorted(CLASSIFIERS)}, got {name!r}.")
    pca = (options or {}).get("pca")
    columns = n_features if pca is None else min(int(pca), n_features)
    inputs = (n_train + n_test) * n_features * 8  # float32 input and scaled copy
    classifier = n_train * columns * (_BYTES_PER_VALUE[name] - 8)
    # Choosing among candidates keeps the fit and validation rows as one more
    # float32 copy of the training rows while the candidates are fitted. A list of
    # one value is fitted directly, without that copy.
    if any(
        isinstance(value, list) and len(value) > 1 for value in (options or {}).values()
    ):
        inputs += n_train * n_features * 4
    return int(inputs + classifier)


def evaluate(
    pipeline: Pipeline,
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
) -> dict:
    """Fit a pipeline on training rows and measure its test accuracy.

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline
        Unfitted pipeline, for example from :func:`make_pipeline`. It is fitted in
        place.
    X_train : ndarray of shape (n_train, n_features)
        Training features.
    y_train : ndarray of shape (n_train,)
        Training labels.
    X_test : ndarray of shape (n_test, n_features)
        Test features.
    y_test : ndarray of shape (n_test,)
        Test labels.

    Returns
    -------
    dict
        ``accuracy``, ``train_accuracy``, ``fit_seconds``, ``predict_seconds``,
        ``n_train``, ``n_test``, ``n_features``, ``converged`` (False when the
        classifier raised a ConvergenceWarning) and ``warnings`` (their messages).

    Raises
    ------
    ValueError
        If the arrays are not 2-D and 1-D with matching row counts, or the
        training and test feature counts differ.
    """
    _check_xy(X_train, y_train, "X_train", "y_train")
    _check_xy(X_test, y_test, "X_test", "y_test")
    if X_train.shape[1] != X_test.shape[1]:
        raise ValueError(
            f"X_test must have as many columns as X_train ({X_train.shape[1]}), "
            f"got {X_test.shape[1]}."
        )

    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        pipeline.fit(X_train, y_train)
    fit_seconds = time.perf_counter() - start
    messages = [str(w.message) for w in caught if w.category is ConvergenceWarning]
    for message in messages:
        logger.warning("Classifier did not converge: %s", message)

    start = time.perf_counter()
    accuracy = float(np.mean(pipeline.predict(X_test) == y_test))
    predict_seconds = time.perf_counter() - start
    train_accuracy = float(np.mean(pipeline.predict(X_train) == y_train))
    return {
        "accuracy": accuracy,
        "train_accuracy": train_accuracy,
        "fit_seconds": fit_seconds,
        "predict_seconds": predict_seconds,
        "n_train": int(X_train.shape[0]),
        "n_test": int(X_test.shape[0]),
        "n_features": int(X_train.shape[1]),
        "converged": not messages,
        "warnings": messages,
    }


def evaluate_with_validation(
    name: str,
    options: Mapping[str, object] | None,
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    *,
    n_jobs: int = 1,
    seed: int = 0,
    validation_fraction: float = VALIDATION_FRACTION,
) -> dict:
    """Choose candidate option values on held-out training rows, then test.

    An option given as a list (see ``CANDIDATE_OPTIONS``) is a set of candidate
    values. A class-stratified split, seeded by ``seed``, holds out
    ``validation_fraction`` of the training rows. Each candidate is fitted on the
    other rows and scored on the held-out ones. The candidate with the best
    validation accuracy (the first listed among equal ones) is refitted on every
    training row and scored on the test rows, which take no part in the choice.
    Without candidate lists, or with lists of one value each, this is
    :func:`evaluate` of one pipeline.

    Parameters
    ----------
    name : str
        Classifier, as in :func:`make_pipeline`.
    options : mapping or None
        Classifier options, where an option of ``CANDIDATE_OPTIONS[name]`` may be a
        non-empty list of values.
    X_train, y_train, X_test, y_test : ndarray
        As in :func:`evaluate`.
    n_jobs, seed : int
        As in :func:`make_pipeline`; ``seed`` also seeds the validation split.
    validation_fraction : float, default ``VALIDATION_FRACTION``
        Share of the training rows held out, in (0, 1).

    Returns
    -------
    dict
        The result of :func:`evaluate` for the chosen options, plus
        ``chosen_options`` (the options with one value each) and, when there were
        candidates, ``validation``: ``fraction``, ``n_fit``, ``n_validation``,
        ``candidates`` (one options mapping each) and ``accuracies``.

    Raises
    ------
    ValueError
        If an option that cannot take candidates is a list, a list is empty,
        ``validation_fraction`` is outside (0, 1), or the training rows are too
        few to hold out at least one row of every class.
    """
    options = dict(options or {})
    if name not in CLASSIFIERS:
        raise ValueError(f"name must be one of {sorted(CLASSIFIERS)}, got {name!r}.")
    listed = {key: value for key, value in options.items() if isinstance(value, list)}
    allowed = CANDIDATE_OPTIONS.get(name, set())
    for key, values in listed.items():
        if key not in allowed and not allowed:
            raise ValueError(
                f"Invalid option {key!r} of classifier {name!r}: {name!r} takes no "
                f"candidate values, so every option needs one value, got {values!r}."
            )
        if key not in allowed:
            raise ValueError(
                f"Invalid option {key!r} of classifier {name!r}: only "
                f"{sorted(allowed)} may list candidate values, got {values!r}."
            )
        if not values:
            raise ValueError(
                f"Invalid option {key!r} of classifier {name!r}: the list of "
                "candidate values is empty."
            )
    # A list of one value leaves nothing to choose, so it needs no held-out rows.
    for key in [key for key, values in listed.items() if len(values) == 1]:
        options[key] = listed.pop(key)[0]
    if not listed:
        result = evaluate(
            make_pipeline(name, options, n_jobs=n_jobs, seed=seed),
            X_train,
            y_train,
            X_test,
            y_test,
        )
        return {**result, "chosen_options": options}
    if not 0.0 < validation_fraction < 1.0:
        raise ValueError(
            f"validation_fraction must be in (0, 1), got {validation_fraction!r}."
        )
    _check_xy(X_train, y_train, "X_train", "y_train")
    try:
        fit_rows, validation_rows = train_test_split(
            np.arange(X_train.shape[0]),
            test_size=validation_fraction,
            stratify=y_train,
            random_state=seed,
        )
    except ValueError as error:
        raise ValueError(
            f"Cannot hold out {validation_fraction:g} of {X_train.shape[0]} training "
            f"rows with every class on both sides: {error} Give each option one "
            "value, or use more training rows of each class."
        ) from None
    fit_rows.sort()
    validation_rows.sort()

    keys = sorted(listed)
    candidates = [
        {**options, **dict(zip(keys, values, strict=True))}
        for values in itertools.product(*(listed[key] for key in keys))
    ]
    X_fit, y_fit = X_train[fit_rows], y_train[fit_rows]
    X_validation, y_validation = X_train[validation_rows], y_train[validation_rows]
    accuracies = []
    for candidate in candidates:
        scored = evaluate(
            make_pipeline(name, candidate, n_jobs=n_jobs, seed=seed),
            X_fit,
            y_fit,
            X_validation,
            y_validation,
        )
        chosen = {key: candidate[key] for key in keys}
        logger.info(
            "Validation accuracy %.4f with %s (fit %.1f s)",
            scored["accuracy"],
            chosen,
            scored["fit_seconds"],
        )
        accuracies.append(scored["accuracy"])
    del X_fit, X_validation  # free the split copies before the final fit
    best = candidates[int(np.argmax(accuracies))]
    logger.info("Chosen by validation: %s", {key: best[key] for key in keys})
    result = evaluate(
        make_pipeline(name, best, n_jobs=n_jobs, seed=seed),
        X_train,
        y_train,
        X_test,
        y_test,
    )
    result["chosen_options"] = best
    result["validation"] = {
        "fraction": float(validation_fraction),
        "n_fit": int(fit_rows.size),
        "n_validation": int(validation_rows.size),
        "candidates": [{key: c[key] for key in keys} for c in candidates],
        "accuracies": accuracies,
    }
    return result


def evaluate_folds(
    make: Callable[[], Pipeline],
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    folds: Sequence[np.ndarray],
) -> dict:
    """Run the predefined-folds protocol: fit on each fold, test on the test set.

    This is the STL-10 protocol, where each of 10 folds lists 1000 of the training
    images. The score is the mean and standard deviation of test accuracy.

    Parameters
    ----------
    make : callable
        Called with no arguments, returns a fresh unfitted pipeline.
    X_train, y_train, X_test, y_test : ndarray
        As in :func:`evaluate`.
    folds : sequence of ndarray of int
        Row indices into ``X_train``, one array per fold.

    Returns
    -------
    dict
        ``fold_accuracies`` (list), ``fold_mean``, ``fold_std`` (population standard
        deviation, ``ddof=0``), ``fold_fit_seconds`` and ``folds_converged``.

    Raises
    ------
    ValueError
        If ``folds`` is empty or an index lies outside ``X_train``.
    """
    if len(folds) == 0:
        raise ValueError("folds must contain at least one index array, got none.")
    n_train = X_train.shape[0]
    scores, seconds, converged = [], [], True
    for number, fold in enumerate(folds):
        fold = np.asarray(fold, dtype=np.int64)
        if fold.ndim != 1 or fold.size == 0 or fold.min() < 0 or fold.max() >= n_train:
            raise ValueError(
                f"folds[{number}] must be a non-empty 1-D array of row indices in "
                f"[0, {n_train}), got shape {fold.shape}."
            )
        result = evaluate(make(), X_train[fold], y_train[fold], X_test, y_test)
        logger.info("Fold %d: accuracy %.4f", number, result["accuracy"])
        scores.append(result["accuracy"])
        seconds.append(result["fit_seconds"])
        converged = converged and result["converged"]
    return {
        "fold_accuracies": scores,
        "fold_mean": float(np.mean(scores)),
        "fold_std": float(np.std(scores)),
        "fold_fit_seconds": seconds,
        "folds_converged": converged,
    }


def pixel_features(images: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """Flatten images into raw-pixel feature vectors scaled to [0, 1].

    Parameters
    ----------
    images : ndarray of shape (n_images, height, width, channels), uint8
        Images; a memory-mapped array is read in batches.
    batch_size : int, default 1024
        Images converted per step, which bounds the temporary memory.

    Returns
    -------
    ndarray of shape (n_images, height * width * channels), float32

    Raises
    ------
    ValueError
        If ``images`` is not 4-D or ``batch_size`` is not positive.
    """
    if images.ndim != 4:
        raise ValueError(
            f"images must be 4-D (n_images, height, width, channels), got shape "
            f"{images.shape}."
        )
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size}.")
    n_images = images.shape[0]
    out = np.empty((n_images, int(np.prod(images.shape[1:]))), dtype=np.float32)
    for start in range(0, n_images, batch_size):
        batch = np.asarray(images[start : start + batch_size])
        out[start : start + batch.shape[0]] = batch.reshape(batch.shape[0], -1) / 255.0
    return out


def subset_indices(labels: np.ndarray, limit: int | None, seed: int = 0) -> np.ndarray:
    """Choose a class-stratified random subset of rows, in increasing order.

    Parameters
    ----------
    labels : ndarray of shape (n,)
        Class label of each row.
    limit : int or None
        Number of rows to keep. None, or a limit of at least ``n``, keeps every row.
    seed : int, default 0
        Seed of the choice.

    Returns
    -------
    ndarray of int64
        Sorted row indices. Each class keeps a share of ``limit`` proportional to
        its frequency, rounded so that the total is exactly ``limit``.

    Raises
    ------
    ValueError
        If ``limit`` is given and is not a positive integer.
    """
    labels = np.asarray(labels)
    n = labels.shape[0]
    if limit is not None and (
        isinstance(limit, bool) or not isinstance(limit, int | np.integer) or limit < 1
    ):
        raise ValueError(f"limit must be a positive integer or None, got {limit!r}.")
    if limit is None or limit >= n:
        return np.arange(n, dtype=np.int64)
    _, counts = np.unique(labels, return_counts=True)
    n_classes = counts.size
    if counts.min() >= 2 and min(limit, n - limit) >= n_classes:
        # The stratified split of scikit-learn, kept where it works so that subsets
        # stay the ones earlier versions chose.
        chosen, _ = train_test_split(
            np.arange(n), train_size=int(limit), stratify=labels, random_state=seed
        )
    else:
        # That split needs two rows per class and at least one row per class on
        # both sides. Other limits get proportional shares computed here instead.
        chosen = _proportional_subset(labels, int(limit), seed)
    return np.sort(chosen).astype(np.int64)


def _proportional_subset(labels: np.ndarray, limit: int, seed: int) -> np.ndarray:
    """Draw ``limit`` rows with class shares rounded by the largest remainder."""
    rng = np.random.default_rng(seed)
    classes, inverse, counts = np.unique(
        labels, return_inverse=True, return_counts=True
    )
    quotas = counts * limit / labels.shape[0]
    shares = np.floor(quotas).astype(np.int64)
    # The fractions sum to the rows still missing, and each is below 1, so the
    # classes with the largest fractions each get one more row, never beyond
    # their count. Random keys break ties between equal fractions.
    missing = limit - int(shares.sum())
    order = np.lexsort((rng.random(classes.size), -(quotas - shares)))
    shares[order[:missing]] += 1
    chosen = [
        rng.choice(np.flatnonzero(inverse == index), size=share, replace=False)
        for index, share in enumerate(shares)
    ]
    return np.concatenate(chosen)


def restrict_folds(
    folds: Sequence[np.ndarray] | None, rows: np.ndarray
) -> list[np.ndarray] | None:
    """Map predefined folds onto a subset of the training rows.

    Parameters
    ----------
    folds : sequence of ndarray of int, or None
        Row indices into the full training split, one array per fold.
    rows : ndarray of int
        Sorted rows of the full training split that were kept, as returned by
        :func:`subset_indices`.

    Returns
    -------
    list of ndarray of int64, or None
        For each fold, the positions in ``rows`` of its rows that were kept; None
        when ``folds`` is None. A fold that lost every row is dropped.
    """
    if folds is None:
        return None
    rows = np.asarray(rows, dtype=np.int64)
    restricted = [np.flatnonzero(np.isin(rows, fold)) for fold in folds]
    return [fold for fold in restricted if fold.size > 0]


def _check_xy(X: np.ndarray, y: np.ndarray, x_name: str, y_name: str) -> None:
    if X.ndim != 2:
        raise ValueError(f"{x_name} must be 2-D, got shape {X.shape}.")
    if y.ndim != 1 or y.shape[0] != X.shape[0]:
        raise ValueError(
            f"{y_name} must be 1-D with {X.shape[0]} entries (the rows of {x_name}), "
            f"got shape {y.shape}."
        )
