"""Collated tables of the study, built with pandas from per-job results.

Each ``*_table`` function returns a :class:`pandas.DataFrame` that is written both as
CSV and, through :func:`to_latex`, as a booktabs LaTeX tabular with special
characters escaped.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence

import pandas as pd

from aecore.classify import CLASSIFIERS
from aecore.naming import parse_feature_set_name, parse_model_name

__all__ = [
    "RAW_FEATURES",
    "load_metrics",
    "gradient_table",
    "training_table",
    "classification_table",
    "folds_table",
    "stride_table",
    "depth_table",
    "patch_count_table",
    "activation_table",
    "tuned_table",
    "TUNED_COLUMNS",
    "speed_table",
    "cpu_device_label",
    "to_latex",
]

#: Feature-set identifier of raw pixels in metrics files.
RAW_FEATURES = "raw/pixels"

_MODEL_COLUMNS = [
    "model",
    "hidden_sizes",
    "rho",
    "lambda",
    "beta",
    "patches",
    "activation",
    "final_loss",
    "iterations",
    "evaluations",
    "seconds",
    "stop_reason",
]


def load_metrics(paths: Iterable[str | os.PathLike]) -> pd.DataFrame:
    """Load classification metrics files into one frame, one row per file.

    Parameters
    ----------
    paths : iterable of path-like
        JSON files written by the workflow's classify rule. Each contains at least
        ``features``, ``classifier`` and ``accuracy``.

    Returns
    -------
    pandas.DataFrame
        One row per file, with the JSON keys as columns (lists kept as objects).

    Raises
    ------
    ValueError
        If no path is given or a file lacks one of the required keys.
    """
    records = []
    for path in paths:
        with open(path) as handle:
            record = json.load(handle)
        missing = {"features", "classifier", "accuracy"} - set(record)
        if missing:
            raise ValueError(
                f"Metrics file {os.fspath(path)!r} is missing the keys "
                f"{sorted(missing)}; rerun its classify job."
            )
        records.append(record)
    if not records:
        raise ValueError("paths must name at least one metrics file, got none.")
    return pd.DataFrame.from_records(records)


def gradient_table(rows: Sequence[Mapping], tolerance: float = 1e-8) -> pd.DataFrame:
    """Tabulate gradient-check results, one row per configuration.

    Parameters
    ----------
    rows : sequence of mapping
        As returned by :func:`aecore.gradient.gradient_check_table`: keys
        ``activation``, ``hidden_sizes``, ``sparsity``, ``decay`` and
        ``relative_error``.
    tolerance : float, default 1e-8
        Largest relative error that counts as a pass.

    Returns
    -------
    pandas.DataFrame
        Columns ``activation, hidden_sizes, sparsity, decay, relative_error,
        passed``; booleans are written ``on``/``off`` and ``yes``/``no``.
    """
    table = pd.DataFrame.from_records(list(rows))
    table["hidden_sizes"] = table["hidden_sizes"].map(
        lambda sizes: "-".join(str(h) for h in sizes)
    )
    for column in ("sparsity", "decay"):
        table[column] = table[column].map({True: "on", False: "off"})
    table["passed"] = (table["relative_error"] < tolerance).map(
        {True: "yes", False: "no"}
    )
    columns = ["activation", "hidden_sizes", "sparsity", "decay", "relative_error"]
    return table[[*columns, "passed"]]


def training_table(summaries: Sequence[Mapping]) -> pd.DataFrame:
    """Tabulate trained models: parameters, optimiser outcome and time.

    Parameters
    ----------
    summaries : sequence of mapping
        One mapping per model with ``model`` (its canonical name),
        ``final_loss``, ``iterations``, ``evaluations``, ``seconds`` and
        ``stop_reason``.

    Returns
    -------
    pandas.DataFrame
        Columns ``model, hidden_sizes, rho, lambda, beta, patches, activation,
        final_loss, iterations, evaluations, seconds, stop_reason``; parameters are
        parsed from the model name.
    """
    rows = []
    for summary in summaries:
        point = parse_model_name(summary["model"])
        rows.append(
            {
                "model": summary["model"],
                "hidden_sizes": "-".join(str(h) for h in point.hidden_sizes),
                "rho": point.sparsity_target,
                "lambda": point.weight_decay,
                "beta": point.sparsity_weight,
                "patches": point.num_patches,
                "activation": point.activation,
                "final_loss": summary["final_loss"],
                "iterations": summary["iterations"],
                "evaluations": summary["evaluations"],
                "seconds": summary["seconds"],
                "stop_reason": summary["stop_reason"],
            }
        )
    return pd.DataFrame(rows, columns=_MODEL_COLUMNS)


def _features_label(features: str) -> str:
    if features == RAW_FEATURES:
        return "raw pixels"
    model, _, feature_set = features.partition("/")
    point = parse_model_name(model)
    stride, pooling = parse_feature_set_name(feature_set)
    hidden = "-".join(str(h) for h in point.hidden_sizes)
    return f"autoencoder {hidden} ({point.activation}), stride {stride}, {pooling}"


def _accuracy_by_classifier(
    metrics: pd.DataFrame, keys: Sequence[str], value: str = "accuracy"
) -> pd.DataFrame:
    """Pivot metrics to one row per ``keys`` and one column per classifier."""
    order = [c for c in CLASSIFIERS if c in set(metrics["classifier"])]
    wide = metrics.pivot_table(
        index=list(keys),
        columns="classifier",
        values=value,
        aggfunc="first",
        sort=False,
    )
    wide = wide.reindex(columns=order).reset_index()
    wide.columns.name = None
    return wide


def classification_table(metrics: pd.DataFrame) -> pd.DataFrame:
    """Tabulate test accuracy by feature set (rows) and classifier (columns).

    Parameters
    ----------
    metrics : pandas.DataFrame
        Output of :func:`load_metrics`.

    Returns
    -------
    pandas.DataFrame
        Columns ``features, n_features`` and one accuracy column per classifier
        (``logreg``, ``linsvm``, ...), rows in the order of first appearance.
    """
    frame = metrics.assign(label=metrics["features"].map(_features_label))
    wide = _accuracy_by_classifier(frame, ["label", "n_features"])
    return wide.rename(columns={"label": "features"})


def folds_table(metrics: pd.DataFrame) -> pd.DataFrame:
    """Tabulate the predefined-folds protocol: mean and std of test accuracy.

    Returns
    -------
    pandas.DataFrame
        Columns ``features, classifier, folds, mean, std``; no rows when no metrics
        file contains fold scores (the dataset has no predefined folds).
    """
    columns = ["features", "classifier", "folds", "mean", "std"]
    if "fold_mean" not in metrics:
        return pd.DataFrame(columns=columns)
    rows = metrics[metrics["fold_mean"].notna()]
    return pd.DataFrame(
        {
            "features": rows["features"].map(_features_label),
            "classifier": rows["classifier"],
            "folds": rows["fold_accuracies"].map(len),
            "mean": rows["fold_mean"],
            "std": rows["fold_std"],
        },
        columns=columns,
    ).reset_index(drop=True)


def stride_table(metrics: pd.DataFrame) -> pd.DataFrame:
    """Tabulate test accuracy by stride and pooling (rows) and classifier.

    Returns
    -------
    pandas.DataFrame
        Columns ``stride, pooling, n_features`` and one accuracy column per
        classifier, sorted by pooling then stride.
    """
    parsed = metrics["feature_set"].map(parse_feature_set_name)
    frame = metrics.assign(
        stride=parsed.map(lambda item: item[0]),
        pooling=parsed.map(lambda item: item[1]),
    )
    wide = _accuracy_by_classifier(frame, ["stride", "pooling", "n_features"])
    return wide.sort_values(["pooling", "stride"], kind="stable").reset_index(drop=True)


def depth_table(metrics: pd.DataFrame) -> pd.DataFrame:
    """Tabulate test accuracy by hidden layer sizes (rows) and classifier.

    Returns
    -------
    pandas.DataFrame
        Columns ``hidden_sizes, n_features`` and one accuracy column per
        classifier.
    """
    hidden = metrics["model"].map(
        lambda name: "-".join(str(h) for h in parse_model_name(name).hidden_sizes)
    )
    frame = metrics.assign(hidden_sizes=hidden)
    return _accuracy_by_classifier(frame, ["hidden_sizes", "n_features"])


def _join_models(metrics: pd.DataFrame, summaries: Sequence[Mapping]) -> pd.DataFrame:
    models = pd.DataFrame.from_records(
        list(summaries), columns=["model", *_MODEL_COLUMNS[-5:]]
    )
    merged = metrics.merge(models, on="model", how="left", validate="many_to_one")
    missing = merged["stop_reason"].isna()
    if missing.any():
        raise ValueError(
            "No training summary for the models "
            f"{sorted(set(merged.loc[missing, 'model']))}."
        )
    return merged


def patch_count_table(
    metrics: pd.DataFrame, summaries: Sequence[Mapping]
) -> pd.DataFrame:
    """Tabulate training time and test accuracy by number of training patches.

    Parameters
    ----------
    metrics : pandas.DataFrame
        Output of :func:`load_metrics` for one classifier.
    summaries : sequence of mapping
        Training summaries as in :func:`training_table`.

    Returns
    -------
    pandas.DataFrame
        Columns ``patches, seconds, iterations, stop_reason, classifier,
        accuracy``, sorted by ``patches``.
    """
    merged = _join_models(metrics, summaries)
    merged["patches"] = merged["model"].map(lambda n: parse_model_name(n).num_patches)
    columns = ["patches", "seconds", "iterations", "stop_reason", "classifier"]
    table = merged[[*columns, "accuracy"]].sort_values("patches", kind="stable")
    return table.reset_index(drop=True)


def activation_table(
    metrics: pd.DataFrame, summaries: Sequence[Mapping]
) -> pd.DataFrame:
    """Tabulate sigmoid versus ReLU: final loss, time, iterations and accuracy.

    Returns
    -------
    pandas.DataFrame
        Columns ``activation, final_loss, seconds, iterations, stop_reason,
        classifier, accuracy``.
    """
    merged = _join_models(metrics, summaries)
    merged["activation"] = merged["model"].map(lambda n: parse_model_name(n).activation)
    columns = [
        "activation",
        "final_loss",
        "seconds",
        "iterations",
        "stop_reason",
        "classifier",
        "accuracy",
    ]
    return merged[columns].reset_index(drop=True)


#: Columns of :func:`tuned_table`, in order.
TUNED_COLUMNS = [
    "features",
    "hidden_sizes",
    "feature_set",
    "classifier",
    "C",
    "n_features",
    "accuracy",
    "classifier_converged",
    "stop_reason",
]


def tuned_table(
    metrics: pd.DataFrame,
    summaries: Sequence[Mapping],
    default_model: str,
    tuned_model: str,
) -> pd.DataFrame:
    """Tabulate raw pixels, the default model and the tuned model side by side.

    Parameters
    ----------
    metrics : pandas.DataFrame
        Output of :func:`load_metrics`: raw pixels and the two models' feature
        sets, each with the same classifiers.
    summaries : sequence of mapping
        Training summaries of the two models, as in :func:`training_table`.
    default_model, tuned_model : str
        Model names of the default and the tuned model.

    Returns
    -------
    pandas.DataFrame
        Columns ``TUNED_COLUMNS``. ``features`` is ``raw pixels``, ``default
        autoencoder`` or ``tuned autoencoder``, and ``feature_set`` reads, for
        example, ``stride 1, quadrant``. ``C`` is the value used, which validation
        chose when candidates were listed, and is empty for classifiers without C.
        ``classifier_converged`` is False when the final fit raised a
        ConvergenceWarning, and ``stop_reason`` is that of the model's training.
        Rows follow that order of features, then the order of ``metrics``.

    Raises
    ------
    ValueError
        If ``tuned_model`` equals ``default_model``, a metrics row belongs to
        another model, or a model has no summary.
    """
    if tuned_model == default_model:
        raise ValueError(
            f"tuned_model must differ from default_model, got {tuned_model!r} for "
            "both: the table would show one model twice, labelled as the tuned one."
        )
    roles = {
        "raw": "raw pixels",
        default_model: "default autoencoder",
        tuned_model: "tuned autoencoder",
    }
    unknown = sorted(set(metrics["model"]) - set(roles))
    if unknown:
        raise ValueError(
            f"Metrics of models {unknown} do not belong in the tuned table, which "
            f"compares raw pixels, {default_model!r} and {tuned_model!r}."
        )
    stops = {summary["model"]: summary["stop_reason"] for summary in summaries}
    order = {role: position for position, role in enumerate(roles.values())}
    rows = []
    for _, record in metrics.iterrows():
        model = record["model"]
        if model != "raw" and model not in stops:
            raise ValueError(f"No training summary for the model {model!r}.")
        chosen = record.get("chosen_options")
        if not isinstance(chosen, Mapping):
            chosen = record.get("options")
        chosen = chosen if isinstance(chosen, Mapping) else {}
        is_raw = model == "raw"
        if is_raw:
            hidden, feature_set = None, None
        else:
            hidden = "-".join(str(h) for h in parse_model_name(model).hidden_sizes)
            stride, pooling = parse_feature_set_name(record["feature_set"])
            feature_set = f"stride {stride}, {pooling}"
        rows.append(
            {
                "features": roles[model],
                "hidden_sizes": hidden,
                "feature_set": feature_set,
                "classifier": record["classifier"],
                "C": chosen.get("C"),
                "n_features": int(record["n_features"]),
                "accuracy": float(record["accuracy"]),
                "classifier_converged": record.get("converged"),
                "stop_reason": None if is_raw else stops[model],
            }
        )
    table = pd.DataFrame(rows, columns=TUNED_COLUMNS)
    rank = table["features"].map(order)
    table = table.iloc[rank.argsort(kind="stable")]
    return table.reset_index(drop=True)


def cpu_device_label(cpu: str, threads: int) -> str:
    """Format the device label of CPU timings: the CPU's name and its thread count.

    Parameters
    ----------
    cpu : str
        Processor name.
    threads : int
        BLAS threads the timings used.

    Returns
    -------
    str
        For example ``"Intel Xeon (1 thread)"`` or ``"Intel Xeon (8 threads)"``.
    """
    unit = "thread" if threads == 1 else "threads"
    return f"{cpu} ({threads} {unit})"


# Device labels of speed.csv files written before cpu_device_label existed.
_OLD_ONE_THREAD_LABEL = r"\(1 threads\)$"


def speed_table(timings: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Stack timing frames of several machines or backends into one table.

    Parameters
    ----------
    timings : sequence of pandas.DataFrame
        Frames with at least the columns ``n``, ``backend``, ``dtype`` and
        ``loss_grad_seconds``; ``device``, ``threads``, ``matmul_seconds`` and
        ``torch_seconds`` (a PyTorch-autograd reference) are kept when present.

    Returns
    -------
    pandas.DataFrame
        Columns ``device, threads, backend, dtype, n, loss_grad_seconds,
        matmul_seconds, ratio, torch_seconds``, where ``ratio`` is the
        loss+gradient time over the matrix-product time; sorted by device,
        backend, dtype and ``n``. A device label that ends in ``(1 threads)``,
        as older benchmark files have, reads ``(1 thread)``.

    Raises
    ------
    ValueError
        If no frame is given or one lacks a required column.
    """
    if not timings:
        raise ValueError("timings must contain at least one frame, got none.")
    required = {"n", "backend", "dtype", "loss_grad_seconds"}
    for number, frame in enumerate(timings):
        missing = required - set(frame.columns)
        if missing:
            raise ValueError(
                f"timings[{number}] is missing the columns {sorted(missing)}; it has "
                f"{sorted(frame.columns)}."
            )
    table = pd.concat(timings, ignore_index=True)
    defaults = {
        "device": "unknown",
        "threads": math.nan,
        "matmul_seconds": math.nan,
        "torch_seconds": math.nan,
    }
    for column, default in defaults.items():
        if column not in table:
            table[column] = default
    table["device"] = table["device"].replace(
        _OLD_ONE_THREAD_LABEL, "(1 thread)", regex=True
    )
    table["ratio"] = table["loss_grad_seconds"] / table["matmul_seconds"]
    columns = [
        "device",
        "threads",
        "backend",
        "dtype",
        "n",
        "loss_grad_seconds",
        "matmul_seconds",
        "ratio",
        "torch_seconds",
    ]
    table = table[columns].sort_values(["device", "backend", "dtype", "n"])
    return table.reset_index(drop=True)


#: Readable LaTeX headers of the collated tables' snake_case columns.
COLUMN_LABELS = {
    "n_features": "features per image",
    "hidden_sizes": "hidden units",
    "feature_set": "feature set",
    "classifier_converged": "classifier converged",
    "stop_reason": "stop reason",
    "final_loss": "final loss",
    "relative_error": "relative error",
    "loss_grad_seconds": "loss+gradient (s)",
    "matmul_seconds": "matrix products (s)",
    "torch_seconds": "PyTorch (s)",
}

#: Columns holding accuracies, shown with three decimals so that rows line up.
ACCURACY_COLUMNS = (*CLASSIFIERS, "accuracy", "mean", "std")


def _three_decimals(value) -> str:
    return "--" if pd.isna(value) else f"{value:.3f}"


def to_latex(
    table: pd.DataFrame,
    *,
    float_format: str = "%.3g",
    headers: Mapping[str, str] | None = None,
    empty_message: str = "No rows.",
) -> str:
    """Render a table as a booktabs LaTeX tabular with special characters escaped.

    Parameters
    ----------
    table : pandas.DataFrame
        Table to render.
    float_format : str, default "%.3g"
        printf-style format of floating-point cells.
    headers : mapping, optional
        Column labels shown instead of the column names, over the defaults:
        display names of the classifiers and :data:`COLUMN_LABELS`. Accuracy
        columns (:data:`ACCURACY_COLUMNS`) show three decimals whatever
        ``float_format`` says, and a ``classifier`` column shows display names.
    empty_message : str, default "No rows."
        Text of the single cell shown when ``table`` has no rows.

    Returns
    -------
    str
        A ``tabular`` environment, without a surrounding ``table`` float.
    """
    labels = {**CLASSIFIERS, **COLUMN_LABELS, **(headers or {})}
    formatters = {
        labels.get(name, name): _three_decimals
        for name in table.columns
        if name in ACCURACY_COLUMNS and pd.api.types.is_float_dtype(table[name])
    }
    shown = table.rename(columns=labels)
    if "classifier" in table.columns:
        # Rows name their classifier as the column headers of other tables do.
        column = labels.get("classifier", "classifier")
        shown[column] = shown[column].map(lambda name: CLASSIFIERS.get(name, name))
    if shown.empty:
        shown, formatters = pd.DataFrame({"": [empty_message]}), {}
    numeric = [pd.api.types.is_numeric_dtype(shown[c]) for c in shown.columns]
    column_format = "".join("r" if is_number else "l" for is_number in numeric)
    return shown.to_latex(
        index=False,
        escape=True,
        na_rep="--",
        float_format=float_format,
        formatters=formatters,
        column_format=column_format,
    )
