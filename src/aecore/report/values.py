"""Numbers, names and flags that the report quotes, collected from a run's results.

:func:`collect_values` reads the collated tables (``results/tables/<name>.csv``) and
the provenance record (``results/provenance.json``) and returns every macro and flag
the LaTeX sources use. A macro whose source is absent is ``n/a``, and a section whose
results are absent has its flag off, so a partial run still builds a PDF that states
plainly what is missing.
"""

from __future__ import annotations

import json
import logging
import math
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import yaml

from aecore.classify import CLASSIFIERS, VALIDATION_FRACTION
from aecore.gradient import CHECK_EPSILON
from aecore.model import RHO_HAT_EPS
from aecore.naming import ModelPoint, model_name
from aecore.report.latex import (
    MISSING,
    format_float,
    format_integer,
    format_parameter_values,
    format_percent,
    format_scientific,
    latex_escape,
)
from aecore.results import FIGURE_NAMES, TABLE_NAMES, table_names

__all__ = [
    "TABLE_NAMES",
    "FIGURE_NAMES",
    "ReportValues",
    "collect_values",
    "default_model_point",
    "is_converged",
    "training_longtable",
]

logger = logging.getLogger(__name__)

#: Largest relative gradient error accepted in float64.
GRADIENT_TOLERANCE = 1e-8

#: Every macro the LaTeX sources use, with the value shown when its result is absent.
MACRO_NAMES = (
    # Provenance and data.
    "Date",
    "DatasetName",
    "DatasetSource",
    "DatasetChecksum",
    "ConfigFile",
    "Commit",
    "CommitDirty",
    "Machine",
    "PythonVersion",
    "PackageVersionRows",
    "TrainImages",
    "TestImages",
    "PatchSize",
    "PatchSplit",
    "RhoHatEps",
    "ClassifierList",
    "PrimaryClassifier",
    # The default model.
    "DefaultLayers",
    "DefaultThetaSize",
    "DefaultHidden",
    "DefaultRho",
    "DefaultLambda",
    "DefaultBeta",
    "DefaultPatches",
    "DefaultActivation",
    "DefaultIterations",
    "DefaultEvaluations",
    "DefaultSeconds",
    "DefaultFinalLoss",
    "DefaultStopReason",
    "ModelCount",
    "NonConvergedCount",
    # Gradient check.
    "GradCheckCount",
    "GradCheckMaxError",
    "GradCheckThreshold",
    "GradCheckEpsilon",
    # Ablations.
    "AblationRhoValues",
    "AblationRhoLosses",
    "AblationLambdaValues",
    "AblationLambdaLosses",
    "AblationBetaValues",
    "AblationBetaLosses",
    # Classification.
    "BestRawAccuracy",
    "BestRawClassifier",
    "BestAeAccuracy",
    "BestAeClassifier",
    "BestFoldsMean",
    "BestFoldsStd",
    "BestFoldsClassifier",
    "BestFoldsFeatures",
    "BestStride",
    "BestStrideAccuracy",
    "BestStridePooling",
    "BestStrideClassifier",
    "DepthOneAccuracy",
    "DepthThreeAccuracy",
    "PatchCountMin",
    "PatchCountMax",
    "PatchCountAccuracyMin",
    "PatchCountAccuracyMax",
    "PatchCountSecondsMin",
    "PatchCountSecondsMax",
    "PatchCountSentence",
    "SigmoidFinalLoss",
    "SigmoidIterations",
    "SigmoidSeconds",
    "SigmoidAccuracy",
    "ReluFinalLoss",
    "ReluIterations",
    "ReluSeconds",
    "ReluAccuracy",
    # Speed.
    "SpeedMaxN",
    "SpeedCpuSeconds",
    "SpeedCpuRatio",
    "GpuName",
    "GpuMaxN",
    "GpuSeconds",
    "GpuCpuSeconds",
    "GpuSpeedup",
    "GpuComparison",
    "GradCheckVerdict",
    # The tuned model.
    "TunedModel",
    "TunedFeatureSet",
    "TunedFeatureCount",
    "TunedClassifier",
    "TunedSetting",
    "TunedStopReason",
    "TunedAccuracy",
    "TunedRawAccuracy",
    "TunedDefaultAccuracy",
    "TunedComparison",
    "TunedValidationShare",
)

#: Every flag the LaTeX sources test, off until a result turns it on.
FLAG_NAMES = (
    "HaveDefaultModel",
    "DefaultConverged",
    "AllConverged",
    "HaveGradientCheck",
    "GradCheckPass",
    "HaveAblationRho",
    "HaveAblationLambda",
    "HaveAblationBeta",
    "HaveClassification",
    "HaveFolds",
    "HaveStride",
    "HaveDepth",
    "HavePatchCount",
    "HaveActivation",
    "HaveSpeed",
    "HaveGpu",
    "HavePackageVersions",
    "HaveConfig",
    "PatchesUnseenByClassifiers",
    "PatchesFromClassifierTrainSplit",
    "PatchesFromClassifierTestSplit",
    "FoldsTurnedOff",
    "TunedConfigured",
    "HaveTuned",
)

#: Prefix of every generated macro and flag, which keeps them apart from LaTeX's own.
PREFIX = "res"


@dataclass
class ReportValues:
    """Macros, flags and generated files for one build of the report.

    Attributes
    ----------
    macros : dict of str to str
        Macro name without prefix (``"DefaultRho"``) to its LaTeX body.
    flags : dict of str to bool
        Flag name without prefix and ``if`` (``"HaveGpu"``) to its value.
    files : dict of str to str
        Extra files for the build directory: file name to text (the training table
        with highlighted stop reasons, the configuration as plain text).
    """

    macros: dict[str, str] = field(
        default_factory=lambda: dict.fromkeys(MACRO_NAMES, MISSING)
    )
    flags: dict[str, bool] = field(
        default_factory=lambda: dict.fromkeys(FLAG_NAMES, False)
    )
    files: dict[str, str] = field(
        default_factory=lambda: {
            "training_table.tex": "\\MissingResult{table of trained models}\n",
            "config.txt": "The provenance record contains no configuration.\n",
        }
    )

    def prefixed_macros(self) -> dict[str, str]:
        """Return the macros with their LaTeX names (``resDefaultRho``)."""
        return {PREFIX + name: body for name, body in self.macros.items()}

    def prefixed_flags(self) -> dict[str, bool]:
        """Return the flags with their LaTeX names (``ifresHaveGpu``)."""
        return {"if" + PREFIX + name: value for name, value in self.flags.items()}


def _read_table(results_dir: Path, name: str) -> pd.DataFrame | None:
    """Read ``tables/<name>.csv``; None when it is absent or has no rows."""
    path = results_dir / "tables" / f"{name}.csv"
    if not path.exists():
        logger.info("table %s not found at %s", name, path)
        return None
    try:
        table = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        return None
    return table if len(table) else None


def _column(table: pd.DataFrame, *candidates: str) -> str | None:
    """Return the first of ``candidates`` that is a column of ``table``."""
    for name in candidates:
        if name in table.columns:
            return name
    return None


def _figure_exists(results_dir: Path, name: str) -> bool:
    return (results_dir / "figures" / f"{name}.pdf").exists()


def _read_provenance(results_dir: Path) -> dict:
    path = results_dir / "provenance.json"
    if not path.exists():
        logger.info("provenance record not found at %s", path)
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def _config(provenance: Mapping) -> dict:
    config = provenance.get("config")
    return config if isinstance(config, dict) else {}


def _text(value: object) -> str:
    """Escape a value for the report, or ``n/a`` when it is missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    return latex_escape(value)


def _number(value: object) -> str:
    """Format one parameter value as LaTeX math (0.01, 10^{-4}, 3)."""
    return format_parameter_values([value])[0]


def is_converged(stop_reason: object) -> bool:
    """Tell whether an optimiser stop reason means convergence.

    Parameters
    ----------
    stop_reason : object
        The ``stop_reason`` cell of the training table: a category such as
        ``"converged"`` or ``"iteration limit"``, or scipy's L-BFGS-B message
        (``"CONVERGENCE: ..."`` after convergence, ``"STOP: TOTAL NO. OF
        ITERATIONS REACHED LIMIT"`` or ``"ABNORMAL_TERMINATION_IN_LNSRCH"``
        otherwise).

    Returns
    -------
    bool
        True only when the text starts with "converged" or "convergence", in any case.
    """
    text = str(stop_reason).strip().lower()
    return text.startswith(("converged", "convergence"))


def _add_provenance(values: ReportValues, provenance: Mapping) -> None:
    macros = values.macros
    config = _config(provenance)
    dataset = provenance.get("dataset") or {}
    dataset_config = config.get("dataset") or {}
    macros["DatasetName"] = _text(dataset_config.get("name") or dataset.get("kind"))
    kind = dataset.get("kind") or dataset_config.get("kind")
    macros["DatasetSource"] = _text(f"{kind} format" if kind else None)
    checksum = dataset.get("checksum") or {}
    if isinstance(checksum, Mapping) and checksum.get("value"):
        algorithm = checksum.get("algorithm", "checksum")
        scope = f" of the {checksum['of']}" if checksum.get("of") else ""
        digest = str(checksum["value"])
        # Let a long hexadecimal digest break across lines every 16 characters.
        chunks = [digest[i : i + 16] for i in range(0, len(digest), 16)]
        breakable = r"\allowbreak{}".join(map(_text, chunks))
        macros["DatasetChecksum"] = _text(f"{algorithm}{scope}: ") + breakable
    elif isinstance(checksum, str):
        macros["DatasetChecksum"] = _text(checksum)

    counts = dataset.get("counts") or {}
    for macro, split_key, limit_key in (
        ("TrainImages", "train_split", "max_train"),
        ("TestImages", "test_split", "max_test"),
    ):
        count = counts.get(dataset_config.get(split_key, split_key.split("_")[0]))
        limit = dataset_config.get(limit_key)
        if count is not None and limit is not None:
            count = min(count, limit)
        macros[macro] = format_integer(count)
    if config.get("patch_size") is not None:
        macros["PatchSize"] = str(int(config["patch_size"]))
    split = dataset_config.get("patch_split")
    if split == "auto":
        # The workflow trains on unlabelled images when the dataset has them.
        split = "unlabeled" if "unlabeled" in counts else "train"
    split_names = {"unlabeled": "unlabelled", "train": "training", "test": "test"}
    if split:
        macros["PatchSplit"] = _text(split_names.get(split, split))
        train_split = dataset_config.get("train_split", "train")
        test_split = dataset_config.get("test_split", "test")
        flags = values.flags
        flags["PatchesFromClassifierTrainSplit"] = split == train_split
        flags["PatchesFromClassifierTestSplit"] = split == test_split
        flags["PatchesUnseenByClassifiers"] = split not in (train_split, test_split)
    classify = config.get("classify") or {}
    names = [_classifier_label(name) for name in classify.get("classifiers", [])]
    if names:
        macros["ClassifierList"] = _join_words(names)
    if classify.get("primary"):
        macros["PrimaryClassifier"] = _classifier_label(classify["primary"])
    values.flags["FoldsTurnedOff"] = classify.get("folds") is False

    git = provenance.get("git") or {}
    commit = git.get("commit")
    macros["Commit"] = _text(commit)
    if git.get("dirty"):
        macros["CommitDirty"] = " (with uncommitted changes to tracked files)"
    else:
        macros["CommitDirty"] = ""
    macros["Date"] = _text(provenance.get("date"))
    machine = provenance.get("machine") or {}
    if machine:
        parts = [
            machine.get("cpu"),
            f"{machine['cores']} logical cores" if machine.get("cores") else None,
            f"{machine['memory_gib']} GiB memory"
            if machine.get("memory_gib")
            else None,
            machine.get("os"),
        ]
        macros["Machine"] = _text(", ".join(str(p) for p in parts if p))
        macros["PythonVersion"] = _text(machine.get("python"))

    packages = provenance.get("packages") or {}
    installed = {name: version for name, version in packages.items() if version}
    if installed:
        values.flags["HavePackageVersions"] = True
        macros["PackageVersionRows"] = " ".join(
            f"{_text(name)} & {_text(version)} \\\\"
            for name, version in sorted(installed.items())
        )
    if config:
        values.flags["HaveConfig"] = True
        values.files["config.txt"] = _config_text(config)


def _join_words(words: list[str]) -> str:
    """Join words as running text: "a", "a and b", "a, b and c"."""
    if len(words) <= 2:
        return " and ".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def _config_text(config: Mapping, width: int = 90) -> str:
    """Dump the config as YAML with lines wrapped to fit the page."""
    dumped = yaml.safe_dump(dict(config), sort_keys=False, default_flow_style=None)
    lines = []
    for line in dumped.splitlines():
        indent = len(line) - len(line.lstrip())
        lines.extend(
            textwrap.wrap(
                line,
                width=width,
                subsequent_indent=" " * (indent + 4),
                break_on_hyphens=False,
            )
            or [""]
        )
    return "\n".join(lines) + "\n"


def default_model_point(config: Mapping, **changes: object) -> ModelPoint | None:
    """Return the default model's parameters from a run's config, some changed.

    Parameters
    ----------
    config : mapping
        The workflow config, as stored in the provenance record.
    **changes
        :class:`~aecore.naming.ModelPoint` fields to override, for example
        ``sparsity_target=0.1`` for a point of the ablation over rho.

    Returns
    -------
    ModelPoint or None
        None when the config has no ``default_model`` section.
    """
    default = config.get("default_model")
    if not default:
        return None
    fields = {
        "hidden_sizes": tuple(default["hidden_sizes"]),
        "sparsity_target": default["sparsity_target"],
        "weight_decay": default["weight_decay"],
        "sparsity_weight": default["sparsity_weight"],
        "num_patches": default["num_patches"],
        "activation": default.get("activation", "sigmoid"),
        "linear_decoder": default.get("linear_decoder", False),
        "whiten": default.get("whiten", False),
        "seed": config.get("seed", 0),
    }
    fields.update(changes)
    return ModelPoint(**fields)


def _layers_text(hidden_sizes: tuple[int, ...], visible: int) -> str:
    return "--".join(str(size) for size in (visible, *hidden_sizes, visible))


def _theta_size(hidden_sizes: tuple[int, ...], visible: int) -> int:
    sizes = (visible, *hidden_sizes, visible)
    return sum(
        n_out * (n_in + 1) for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True)
    )


def _add_default_model(
    values: ReportValues, config: Mapping, training: pd.DataFrame | None
) -> None:
    macros = values.macros
    point = default_model_point(config)
    if point is None:
        return
    visible = 3 * int(config.get("patch_size", 8)) ** 2
    macros["DefaultLayers"] = _layers_text(point.hidden_sizes, visible)
    macros["DefaultThetaSize"] = format_integer(
        _theta_size(point.hidden_sizes, visible)
    )
    macros["DefaultHidden"] = "[" + ", ".join(map(str, point.hidden_sizes)) + "]"
    macros["DefaultRho"] = _number(point.sparsity_target)
    macros["DefaultLambda"] = _number(point.weight_decay)
    macros["DefaultBeta"] = _number(point.sparsity_weight)
    macros["DefaultPatches"] = format_integer(point.num_patches)
    macros["DefaultActivation"] = _text(point.activation)
    if training is None:
        return
    rows = training[training["model"] == model_name(point)]
    if rows.empty:
        return
    row = rows.iloc[0]
    values.flags["HaveDefaultModel"] = True
    values.flags["DefaultConverged"] = is_converged(row["stop_reason"])
    macros["DefaultIterations"] = format_integer(row["iterations"])
    macros["DefaultEvaluations"] = format_integer(row["evaluations"])
    macros["DefaultSeconds"] = format_float(row["seconds"], 1)
    macros["DefaultFinalLoss"] = format_float(row["final_loss"], 4)
    macros["DefaultStopReason"] = _text(row["stop_reason"])


def _add_training(values: ReportValues, training: pd.DataFrame | None) -> None:
    if training is None:
        return
    converged = training["stop_reason"].map(is_converged)
    values.macros["ModelCount"] = format_integer(len(training))
    values.macros["NonConvergedCount"] = format_integer(int((~converged).sum()))
    values.flags["AllConverged"] = bool(converged.all())
    values.files["training_table.tex"] = training_longtable(training)


def training_longtable(training: pd.DataFrame) -> str:
    """Render the training table as a LaTeX longtable, shading non-converged runs.

    Parameters
    ----------
    training : pandas.DataFrame
        The collated training table with at least the columns ``model``,
        ``final_loss``, ``iterations``, ``evaluations``, ``seconds`` and
        ``stop_reason``.

    Returns
    -------
    str
        A ``longtable`` whose rows for runs that did not converge (see
        :func:`is_converged`) are shaded and marked in bold in the status column,
        so they stand out in colour and in greyscale.
    """
    lines = [
        r"\begingroup\footnotesize",
        r"\setlength{\LTcapwidth}{\linewidth}",
        r"\begin{longtable}{@{}>{\raggedright\arraybackslash}p{0.36\linewidth}"
        r"rrrr>{\raggedright\arraybackslash}p{0.27\linewidth}@{}}",
        r"\caption{Every trained model: final loss, L-BFGS-B iterations and loss "
        r"evaluations, training time and the optimiser's stop reason. Shaded rows "
        r"did not converge.}\label{tab:training}\\",
        r"\toprule",
        r"Model & Final loss & Iter. & Eval. & Seconds & Stop reason \\",
        r"\midrule\endfirsthead",
        r"\toprule",
        r"Model & Final loss & Iter. & Eval. & Seconds & Stop reason \\",
        r"\midrule\endhead",
        r"\bottomrule\endfoot",
    ]
    for row in training.itertuples(index=False):
        # Let long model names break after each underscore.
        name = latex_escape(row.model).replace(r"\_", r"\_\allowbreak{}")
        reason = latex_escape(row.stop_reason)
        if is_converged(row.stop_reason):
            prefix = ""
        else:
            prefix = r"\rowcolor{stopwarn}"
            reason = r"\textbf{not converged:} " + reason
        lines.append(
            f"{prefix}\\texttt{{{name}}} & {format_float(row.final_loss, 4)} & "
            f"{format_integer(row.iterations)} & {format_integer(row.evaluations)} & "
            f"{format_float(row.seconds, 1)} & {reason} \\\\"
        )
    lines += [r"\end{longtable}", r"\endgroup", ""]
    return "\n".join(lines)


def _add_gradient_check(values: ReportValues, table: pd.DataFrame | None) -> None:
    values.macros["GradCheckThreshold"] = format_scientific(GRADIENT_TOLERANCE, 0)
    values.macros["GradCheckEpsilon"] = format_scientific(CHECK_EPSILON, 0).strip("$")
    if table is None:
        return
    error_column = _column(table, "relative_error", "rel_error", "error")
    if error_column is None:
        logger.warning("gradient_check table has no relative error column")
        return
    errors = pd.to_numeric(table[error_column], errors="coerce")
    values.flags["HaveGradientCheck"] = True
    values.flags["GradCheckPass"] = bool(
        errors.notna().all() and (errors < GRADIENT_TOLERANCE).all()
    )
    values.macros["GradCheckCount"] = format_integer(len(table))
    values.macros["GradCheckMaxError"] = format_scientific(errors.max(), 1)
    # A missing error (NaN) fails the check like one above the threshold.
    largest = errors.max()
    if errors.isna().any() or largest > GRADIENT_TOLERANCE:
        values.macros["GradCheckVerdict"] = r"\textbf{above}"
    elif largest == GRADIENT_TOLERANCE:
        values.macros["GradCheckVerdict"] = r"\textbf{equal to}"
    else:
        values.macros["GradCheckVerdict"] = "below"


def _add_ablations(
    values: ReportValues,
    results_dir: Path,
    config: Mapping,
    training: pd.DataFrame | None,
) -> None:
    ablation = config.get("ablation") or {}
    for label, key, field_name in (
        ("Rho", "rho", "sparsity_target"),
        ("Lambda", "lambda", "weight_decay"),
        ("Beta", "beta", "sparsity_weight"),
    ):
        parameter_values = list(ablation.get(field_name) or [])
        if not parameter_values:
            continue
        # One style for the whole list, so 1e-4 and 0.001 both read as powers of ten.
        texts = format_parameter_values(parameter_values)
        values.macros[f"Ablation{label}Values"] = ", ".join(texts)
        values.flags[f"HaveAblation{label}"] = _figure_exists(
            results_dir, f"ablation_{key}"
        )
        if training is None:
            continue
        losses = []
        for value, text in zip(parameter_values, texts, strict=True):
            point = default_model_point(config, **{field_name: value})
            rows = training[training["model"] == model_name(point)]
            loss = rows["final_loss"].iloc[0] if len(rows) else None
            losses.append(f"{format_float(loss, 4)} at ${text}$")
        values.macros[f"Ablation{label}Losses"] = "; ".join(losses)


def change_phrase(start: object, end: object, start_text: str, end_text: str) -> str:
    """Describe how a quantity changes between two values, in words.

    The texts are compared first, so two values that print the same (35.31% and
    35.34% both shown as 35.3%) read as unchanged.

    Parameters
    ----------
    start, end : object
        The two numbers, or None or NaN when missing.
    start_text, end_text : str
        The numbers as the report prints them, units included.

    Returns
    -------
    str
        ``"stays at X"``, ``"rises from X to Y"``, ``"falls from X to Y"``, or
        ``"goes from X to Y"`` when a value is missing.
    """
    if start_text == end_text:
        return f"stays at {start_text}"
    try:
        start_number, end_number = float(start), float(end)
    except (TypeError, ValueError):
        return f"goes from {start_text} to {end_text}"
    if math.isnan(start_number) or math.isnan(end_number):
        return f"goes from {start_text} to {end_text}"
    verb = "rises" if end_number > start_number else "falls"
    return f"{verb} from {start_text} to {end_text}"


def _classifier_columns(table: pd.DataFrame) -> list[str]:
    return [name for name in CLASSIFIERS if name in table.columns]


def _classifier_label(name: object) -> str:
    """Return a classifier's display name for running text ("linear SVM")."""
    label = str(CLASSIFIERS.get(str(name), name))
    return _text(label[:1].lower() + label[1:])


def _best_cell(table: pd.DataFrame) -> tuple[int, str, float] | None:
    """Return the row, classifier column and value of the best accuracy."""
    columns = _classifier_columns(table)
    if not columns:
        return None
    accuracies = table[columns].apply(pd.to_numeric, errors="coerce")
    if accuracies.isna().all().all():
        return None
    stacked = accuracies.stack()
    (row, column), value = stacked.idxmax(), stacked.max()
    return row, column, float(value)


def _add_classification(values: ReportValues, table: pd.DataFrame | None) -> None:
    if table is None or "features" not in table.columns:
        return
    values.flags["HaveClassification"] = True
    is_raw = table["features"].astype(str).str.startswith("raw")
    for prefix, rows in (("BestRaw", table[is_raw]), ("BestAe", table[~is_raw])):
        best = _best_cell(rows) if len(rows) else None
        if best is None:
            continue
        _, column, value = best
        values.macros[f"{prefix}Accuracy"] = format_percent(value)
        values.macros[f"{prefix}Classifier"] = _classifier_label(column)


def _add_folds(values: ReportValues, table: pd.DataFrame | None) -> None:
    if table is None or "mean" not in table.columns:
        return
    means = pd.to_numeric(table["mean"], errors="coerce")
    if means.isna().all():
        return
    row = table.loc[means.idxmax()]
    values.flags["HaveFolds"] = True
    values.macros["BestFoldsMean"] = format_percent(row["mean"])
    values.macros["BestFoldsStd"] = format_percent(row["std"])
    values.macros["BestFoldsClassifier"] = _classifier_label(row["classifier"])
    values.macros["BestFoldsFeatures"] = _text(row["features"])


def _add_stride(values: ReportValues, table: pd.DataFrame | None) -> None:
    best = None if table is None else _best_cell(table)
    if best is None:
        return
    row, column, value = best
    values.flags["HaveStride"] = True
    values.macros["BestStride"] = format_integer(table.loc[row, "stride"])
    values.macros["BestStridePooling"] = _text(table.loc[row, "pooling"])
    values.macros["BestStrideAccuracy"] = format_percent(value)
    values.macros["BestStrideClassifier"] = _classifier_label(column)


def _add_depth(values: ReportValues, table: pd.DataFrame | None) -> None:
    if table is None or "hidden_sizes" not in table.columns:
        return
    values.flags["HaveDepth"] = True
    depth = table["hidden_sizes"].astype(str).str.count("-") + 1
    for macro, layers in (("DepthOneAccuracy", 1), ("DepthThreeAccuracy", 3)):
        best = _best_cell(table[depth == layers])
        if best is not None:
            _, column, value = best
            values.macros[macro] = (
                f"{format_percent(value)} ({_classifier_label(column)})"
            )


def _add_patch_count(values: ReportValues, table: pd.DataFrame | None) -> None:
    if table is None or "patches" not in table.columns:
        return
    values.flags["HavePatchCount"] = True
    ordered = table.sort_values("patches", kind="stable")
    first, last = ordered.iloc[0], ordered.iloc[-1]
    values.macros["PatchCountMin"] = format_integer(first["patches"])
    values.macros["PatchCountMax"] = format_integer(last["patches"])
    values.macros["PatchCountAccuracyMin"] = format_percent(first["accuracy"])
    values.macros["PatchCountAccuracyMax"] = format_percent(last["accuracy"])
    values.macros["PatchCountSecondsMin"] = format_float(first["seconds"], 1)
    values.macros["PatchCountSecondsMax"] = format_float(last["seconds"], 1)

    macros = values.macros
    if first["patches"] == last["patches"]:
        values.macros["PatchCountSentence"] = (
            f"With {macros['PatchCountMin']} patches the accuracy is "
            f"{macros['PatchCountAccuracyMin']} and the training time "
            f"{macros['PatchCountSecondsMin']}~s."
        )
        return

    accuracy = change_phrase(
        first["accuracy"],
        last["accuracy"],
        macros["PatchCountAccuracyMin"],
        macros["PatchCountAccuracyMax"],
    )
    seconds = change_phrase(
        first["seconds"],
        last["seconds"],
        f"{macros['PatchCountSecondsMin']}~s",
        f"{macros['PatchCountSecondsMax']}~s",
    )
    values.macros["PatchCountSentence"] = (
        f"From {macros['PatchCountMin']} to {macros['PatchCountMax']} patches the "
        f"accuracy {accuracy} and the training time {seconds}."
    )


def _add_activation(values: ReportValues, table: pd.DataFrame | None) -> None:
    if table is None or "activation" not in table.columns:
        return
    found = False
    for label, activation in (("Sigmoid", "sigmoid"), ("Relu", "relu")):
        rows = table[table["activation"] == activation]
        if rows.empty:
            continue
        found = True
        row = rows.iloc[0]
        values.macros[f"{label}FinalLoss"] = format_float(row["final_loss"], 4)
        values.macros[f"{label}Iterations"] = format_integer(row["iterations"])
        values.macros[f"{label}Seconds"] = format_float(row["seconds"], 1)
        values.macros[f"{label}Accuracy"] = format_percent(row["accuracy"])
    values.flags["HaveActivation"] = found


def _model_text(tuned_model: Mapping) -> str:
    """Describe the tuned model point in words ("400 sigmoid hidden units, ...")."""
    hidden = [str(h) for h in tuned_model.get("hidden_sizes", [])]
    activation = tuned_model.get("activation", "sigmoid")
    if len(hidden) == 1:
        parts = [f"{hidden[0]} {activation} hidden units"]
    else:
        parts = [f"hidden layers of {_join_words(hidden)} {activation} units"]
    if tuned_model.get("linear_decoder"):
        parts.append("a linear decoder")
    parts.append(
        "ZCA-whitened patches" if tuned_model.get("whiten") else "unwhitened patches"
    )
    settings = (
        f"$\\rho = {_number(tuned_model.get('sparsity_target'))}$, "
        f"$\\lambda = {_number(tuned_model.get('weight_decay'))}$, "
        f"$\\beta = {_number(tuned_model.get('sparsity_weight'))}$, "
        f"{format_integer(tuned_model.get('num_patches'))} training patches"
    )
    return f"{_join_words(parts)} ({settings})"


def points_phrase(difference: float, other: str) -> str:
    """Describe an accuracy difference in percentage points against ``other``.

    Parameters
    ----------
    difference : float
        Accuracy minus the other accuracy, as a fraction.
    other : str
        What is compared, for example ``"raw pixels (38.2\\%)"``.

    Returns
    -------
    str
        ``"4.1 percentage points above <other>"``, ``"... below ..."``, or ``"the
        same as <other>"`` when the difference prints as 0.0.
    """
    text = format_float(abs(100.0 * difference), 1)
    if text in (MISSING, "0.0"):
        return f"the same as {other}" if text != MISSING else f"compared with {other}"
    direction = "above" if difference > 0 else "below"
    return f"{text} percentage points {direction} {other}"


def _add_tuned(
    values: ReportValues, config: Mapping, table: pd.DataFrame | None
) -> None:
    tuned = config.get("tuned")
    values.flags["TunedConfigured"] = bool(tuned)
    if not tuned or table is None or "features" not in table.columns:
        return
    rows = table[table["features"] == "tuned autoencoder"]
    accuracies = pd.to_numeric(rows["accuracy"], errors="coerce")
    if accuracies.isna().all():
        return

    # The best tuned row is compared with the other rows of its classifier.
    best = rows.loc[accuracies.idxmax()]
    classifier = best["classifier"]
    same = table[table["classifier"] == classifier]

    macros = values.macros
    values.flags["HaveTuned"] = True
    macros["TunedValidationShare"] = format_percent(VALIDATION_FRACTION, 0)
    macros["TunedModel"] = _model_text(tuned.get("model", {}))
    macros["TunedFeatureSet"] = _text(best["feature_set"])
    macros["TunedFeatureCount"] = format_integer(best["n_features"])
    macros["TunedClassifier"] = _classifier_label(classifier)
    macros["TunedSetting"] = macros["TunedClassifier"]
    if pd.notna(best["C"]):
        macros["TunedSetting"] += f" ($C = {_number(best['C'])}$)"
    macros["TunedStopReason"] = _text(best["stop_reason"])
    macros["TunedAccuracy"] = format_percent(best["accuracy"])

    phrases = []
    for label, features, macro in (
        ("the default model on the same features", "default autoencoder", "Default"),
        ("raw pixels", "raw pixels", "Raw"),
    ):
        other = same[same["features"] == features]
        if other.empty:
            continue
        accuracy = float(other["accuracy"].iloc[0])
        macros[f"Tuned{macro}Accuracy"] = format_percent(accuracy)
        phrases.append(
            points_phrase(
                float(best["accuracy"]) - accuracy,
                f"{label} ({format_percent(accuracy)})",
            )
        )
    if phrases:
        macros["TunedComparison"] = f"This is {_join_words(phrases)}."
    else:
        macros["TunedComparison"] = ""


def _is_gpu_backend(backend: object) -> bool:
    return str(backend).lower() in {"cupy", "cuda", "gpu", "torch-cuda"}


def _add_speed(values: ReportValues, table: pd.DataFrame | None) -> None:
    if table is None or "loss_grad_seconds" not in table.columns:
        return
    values.flags["HaveSpeed"] = True
    gpu = table["backend"].map(_is_gpu_backend)
    cpu = table[~gpu & (table["dtype"].astype(str) == "float64")]
    if len(cpu):
        row = cpu.loc[cpu["n"].idxmax()]
        values.macros["SpeedMaxN"] = format_integer(row["n"])
        values.macros["SpeedCpuSeconds"] = format_scientific(
            row["loss_grad_seconds"], 2
        )
        values.macros["SpeedCpuRatio"] = format_float(row.get("ratio"), 2)
    gpu_rows = table[gpu]
    if gpu_rows.empty:
        return
    values.flags["HaveGpu"] = True
    # Compare at the largest N timed on both, in the same dtype.
    merged = gpu_rows.merge(
        table[~gpu], on=["n", "dtype"], suffixes=("_gpu", "_cpu"), how="left"
    )
    row = merged.loc[merged["n"].idxmax()]
    values.macros["GpuName"] = _text(row.get("device_gpu", row.get("device")))
    values.macros["GpuMaxN"] = format_integer(row["n"])
    values.macros["GpuSeconds"] = format_scientific(row["loss_grad_seconds_gpu"], 2)
    values.macros["GpuCpuSeconds"] = format_scientific(row["loss_grad_seconds_cpu"], 2)
    speedup = row["loss_grad_seconds_cpu"] / row["loss_grad_seconds_gpu"]
    text = format_float(speedup, 1)
    values.macros["GpuSpeedup"] = text if text == MISSING else f"{text}$\\times$"
    values.macros["GpuComparison"] = _speed_comparison(speedup)


def _speed_comparison(speedup: float) -> str:
    """Describe a CPU-over-GPU time ratio as the end of a sentence."""
    text = format_float(speedup, 1)
    if text == MISSING:
        return f"a speed-up of {MISSING}"
    if text == "1.0":
        return "so the two take the same time"
    if speedup > 1:
        return f"a speed-up of {text}$\\times$"
    return f"so the GPU is {format_float(1 / speedup, 1)}$\\times$ slower"


def collect_values(results_dir: str | Path) -> ReportValues:
    """Collect every macro, flag and generated file of the report from a run.

    Parameters
    ----------
    results_dir : path
        The workflow's ``results/`` directory. Absent tables, figures or provenance
        leave their macros at ``n/a`` and their flags off.

    Returns
    -------
    ReportValues
        Macros, flags and extra files (``training_table.tex``, ``config.txt``).
    """
    results_dir = Path(results_dir)
    values = ReportValues()
    provenance = _read_provenance(results_dir)
    config = _config(provenance)
    tables = {name: _read_table(results_dir, name) for name in table_names(config)}

    values.macros["RhoHatEps"] = format_scientific(RHO_HAT_EPS, 0).strip("$")
    _add_provenance(values, provenance)
    _add_default_model(values, config, tables["training"])
    _add_training(values, tables["training"])
    _add_gradient_check(values, tables["gradient_check"])
    _add_ablations(values, results_dir, config, tables["training"])
    _add_classification(values, tables["classification"])
    _add_folds(values, tables["folds"])
    _add_stride(values, tables["stride"])
    _add_depth(values, tables["depth"])
    _add_patch_count(values, tables["patch_count"])
    _add_activation(values, tables["activation"])
    _add_speed(values, tables["speed"])
    _add_tuned(values, config, tables.get("tuned"))
    return values
