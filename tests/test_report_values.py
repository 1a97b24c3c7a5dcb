"""Tests of the report's macros and flags, collected from small synthetic results."""

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from aecore import collate
from aecore.naming import ModelPoint, model_name
from aecore.report import write_report_inputs
from aecore.report.latex import format_percent
from aecore.report.values import (
    FLAG_NAMES,
    MACRO_NAMES,
    change_phrase,
    collect_values,
    is_converged,
    points_phrase,
    training_longtable,
)

REPORT_DIR = Path(__file__).resolve().parents[1] / "report"

CONFIG = {
    "dataset": {
        "name": "stl10_small",
        "kind": "stl10",
        "patch_split": "auto",
        "train_split": "train",
        "test_split": "test",
        "max_train": 200,
        "max_test": None,
    },
    "seed": 0,
    "patch_size": 8,
    "default_model": {
        "hidden_sizes": [75],
        "sparsity_target": 0.01,
        "weight_decay": 1e-4,
        "sparsity_weight": 3,
        "num_patches": 10000,
        "activation": "sigmoid",
        "linear_decoder": False,
        "whiten": False,
    },
    "ablation": {
        "sparsity_target": [0.01, 0.2],
        "weight_decay": [1e-4],
        "sparsity_weight": [3],
    },
    "classify": {"classifiers": ["logreg", "linsvm"], "primary": "logreg"},
}


def _name(**changes):
    fields = dict(
        hidden_sizes=(75,),
        sparsity_target=0.01,
        weight_decay=1e-4,
        sparsity_weight=3,
        num_patches=10000,
        seed=0,
    )
    fields.update(changes)
    return model_name(ModelPoint(**fields))


def _summary(name, loss, stop_reason="converged"):
    return {
        "model": name,
        "final_loss": loss,
        "iterations": 400,
        "evaluations": 420,
        "seconds": 12.5,
        "stop_reason": stop_reason,
    }


def _write_csv(results: Path, name: str, table: pd.DataFrame) -> None:
    (results / "tables").mkdir(parents=True, exist_ok=True)
    table.to_csv(results / "tables" / f"{name}.csv", index=False)


@pytest.fixture
def results(tmp_path):
    """A results directory with provenance and a few collated tables."""
    results = tmp_path / "results"
    results.mkdir()
    provenance = {
        "dataset": {
            "kind": "stl10",
            "counts": {"train": 5000, "test": 8000, "unlabeled": 100000},
            "checksum": {"algorithm": "sha256", "of": "arrays", "value": "ab12"},
        },
        "config": CONFIG,
        "packages": {"numpy": "2.0.1", "cupy-cuda12x": None},
        "git": {"commit": "0123abc", "dirty": True},
        "date": "2026-01-02T03:04:05+00:00",
        "machine": {"cpu": "Test CPU", "cores": 2, "memory_gib": 24.0},
    }
    (results / "provenance.json").write_text(json.dumps(provenance))
    summaries = [
        _summary(_name(), 0.51),
        _summary(
            _name(sparsity_target=0.2),
            0.73,
            "STOP: TOTAL NO. OF ITERATIONS REACHED LIMIT",
        ),
    ]
    _write_csv(results, "training", collate.training_table(summaries))
    return results


def test_every_macro_and_flag_in_sources_is_generated(tmp_path):
    sources = "\n".join(p.read_text() for p in REPORT_DIR.rglob("*.tex"))
    used_macros = set(re.findall(r"\\res([A-Z][A-Za-z]*)", sources))
    used_flags = set(re.findall(r"\\ifres([A-Z][A-Za-z]*)", sources))
    assert used_macros - set(MACRO_NAMES) == set()
    assert used_flags - set(FLAG_NAMES) == set()
    values = collect_values(tmp_path)
    assert set(values.macros) == set(MACRO_NAMES)
    assert set(values.flags) == set(FLAG_NAMES)


def test_empty_results_turn_every_section_off(tmp_path):
    values = collect_values(tmp_path)
    assert not any(values.flags.values())
    assert values.macros["DefaultIterations"] == "n/a"
    assert values.macros["GradCheckThreshold"] == "$10^{-8}$"


def test_default_model_values(results):
    values = collect_values(results)
    assert values.flags["HaveDefaultModel"]
    assert values.flags["DefaultConverged"]
    assert values.macros["DefaultRho"] == "0.01"
    assert values.macros["DefaultLambda"] == "10^{-4}"
    assert values.macros["DefaultLayers"] == "192--75--192"
    assert values.macros["DefaultThetaSize"] == r"29\,067"
    assert values.macros["DefaultFinalLoss"] == "0.5100"
    assert values.macros["DefaultStopReason"] == "converged"


def test_provenance_values_are_escaped(results):
    values = collect_values(results)
    assert values.macros["DatasetName"] == r"stl10\_small"
    assert values.macros["TrainImages"] == "200"
    assert values.macros["TestImages"] == r"8\,000"
    assert values.macros["PatchSplit"] == "unlabelled"
    assert values.macros["DatasetChecksum"] == "sha256 of the arrays: ab12"
    assert "uncommitted" in values.macros["CommitDirty"]
    assert values.macros["ClassifierList"] == "logistic regression and linear SVM"
    assert values.flags["HavePackageVersions"]
    assert "numpy & 2.0.1" in values.macros["PackageVersionRows"]
    assert "cupy" not in values.macros["PackageVersionRows"]
    assert values.flags["HaveConfig"]
    assert "default_model:" in values.files["config.txt"]


@pytest.mark.parametrize(
    ("counts", "patch_split", "expected"),
    [
        (
            {"train": 50, "test": 10, "unlabeled": 90},
            "auto",
            "PatchesUnseenByClassifiers",
        ),
        ({"train": 50, "test": 10}, "auto", "PatchesFromClassifierTrainSplit"),
        ({"train": 50, "test": 10}, "train", "PatchesFromClassifierTrainSplit"),
        ({"train": 50, "test": 10}, "test", "PatchesFromClassifierTestSplit"),
    ],
)
def test_patch_split_statement_follows_splits(tmp_path, counts, patch_split, expected):
    # The report states whether the classifiers see the autoencoders' images, so
    # the statement must follow the run's splits, not assume an unlabelled one.
    config = {**CONFIG, "dataset": {**CONFIG["dataset"], "patch_split": patch_split}}
    provenance = {"dataset": {"kind": "folder", "counts": counts}, "config": config}
    (tmp_path / "provenance.json").write_text(json.dumps(provenance))
    flags = collect_values(tmp_path).flags
    statements = (
        "PatchesUnseenByClassifiers",
        "PatchesFromClassifierTrainSplit",
        "PatchesFromClassifierTestSplit",
    )
    assert [name for name in statements if flags[name]] == [expected]


@pytest.mark.parametrize(("folds", "expected"), [(False, True), (True, False)])
def test_folds_turned_off_follows_config(tmp_path, folds, expected):
    classify = {**CONFIG["classify"], "folds": folds}
    provenance = {"config": {**CONFIG, "classify": classify}}
    (tmp_path / "provenance.json").write_text(json.dumps(provenance))
    assert collect_values(tmp_path).flags["FoldsTurnedOff"] is expected


def test_non_converged_run_is_counted_and_shaded(results):
    values = collect_values(results)
    assert not values.flags["AllConverged"]
    assert values.macros["NonConvergedCount"] == "1"
    assert values.macros["ModelCount"] == "2"
    table = values.files["training_table.tex"]
    shaded = [line for line in table.splitlines() if line.startswith(r"\rowcolor")]
    assert len(shaded) == 1
    assert "rho0.2" in shaded[0]
    assert r"\textbf{not converged:}" in shaded[0]


def test_ablation_losses_name_each_value(results):
    values = collect_values(results)
    assert values.macros["AblationRhoValues"] == "0.01, 0.2"
    assert values.macros["AblationRhoLosses"] == "0.5100 at $0.01$; 0.7300 at $0.2$"
    # The panel flag follows the figure file, which this run lacks.
    assert not values.flags["HaveAblationRho"]


def test_ablation_values_share_one_style(results):
    provenance = json.loads((results / "provenance.json").read_text())
    provenance["config"]["ablation"]["weight_decay"] = [0, 1e-4, 0.001, 0.01]
    (results / "provenance.json").write_text(json.dumps(provenance))
    values = collect_values(results)
    assert values.macros["AblationLambdaValues"] == "0, 10^{-4}, 10^{-3}, 10^{-2}"
    losses = values.macros["AblationLambdaLosses"].split("; ")
    assert [loss.split(" at ")[1] for loss in losses] == [
        "$0$",
        "$10^{-4}$",
        "$10^{-3}$",
        "$10^{-2}$",
    ]


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("converged", True),
        ("CONVERGENCE: REL_REDUCTION_OF_F_<=_FACTR*EPSMCH", True),
        ("iteration limit", False),
        ("STOP: TOTAL NO. OF ITERATIONS REACHED LIMIT", False),
        ("ABNORMAL_TERMINATION_IN_LNSRCH", False),
        ("line-search failure", False),
    ],
)
def test_is_converged(reason, expected):
    assert is_converged(reason) is expected


def test_training_longtable_escapes_special_characters():
    table = pd.DataFrame(
        [
            {
                "model": "h75_s0",
                "final_loss": 1.0,
                "iterations": 3,
                "evaluations": 4,
                "seconds": 0.5,
                "stop_reason": "ABNORMAL & 50% #1",
            }
        ]
    )
    text = training_longtable(table)
    assert r"h75\_\allowbreak{}s0" in text
    assert r"ABNORMAL \& 50\% \#1" in text


def test_classification_best_cells(tmp_path):
    table = pd.DataFrame(
        {
            "features": ["raw pixels", "autoencoder 75 (sigmoid), stride 4, concat"],
            "n_features": [27648, 39675],
            "logreg": [0.31, 0.48],
            "linsvm": [0.33, 0.45],
        }
    )
    _write_csv(tmp_path, "classification", table)
    values = collect_values(tmp_path)
    assert values.flags["HaveClassification"]
    assert values.macros["BestRawAccuracy"] == r"33.0\%"
    assert values.macros["BestRawClassifier"] == "linear SVM"
    assert values.macros["BestAeAccuracy"] == r"48.0\%"
    assert values.macros["BestAeClassifier"] == "logistic regression"


def test_empty_folds_table_turns_folds_off(tmp_path):
    _write_csv(tmp_path, "folds", collate.folds_table(pd.DataFrame({"x": [1]})))
    values = collect_values(tmp_path)
    assert not values.flags["HaveFolds"]
    assert values.macros["BestFoldsMean"] == "n/a"


def test_folds_best_mean(tmp_path):
    table = pd.DataFrame(
        {
            "features": ["raw pixels", "autoencoder"],
            "classifier": ["logreg", "logreg"],
            "folds": [10, 10],
            "mean": [0.3, 0.45],
            "std": [0.01, 0.012],
        }
    )
    _write_csv(tmp_path, "folds", table)
    values = collect_values(tmp_path)
    assert values.flags["HaveFolds"]
    assert values.macros["BestFoldsMean"] == r"45.0\%"
    assert values.macros["BestFoldsStd"] == r"1.2\%"


def _speed(rows):
    frames = [pd.DataFrame(rows)]
    return collate.speed_table(frames)


def test_cpu_only_speed_has_no_gpu(tmp_path):
    rows = {
        "device": ["cpu", "cpu"],
        "backend": ["numpy", "numpy"],
        "dtype": ["float64", "float64"],
        "n": [1000, 10000],
        "loss_grad_seconds": [0.01, 0.1],
        "matmul_seconds": [0.008, 0.08],
    }
    _write_csv(tmp_path, "speed", _speed(rows))
    values = collect_values(tmp_path)
    assert values.flags["HaveSpeed"]
    assert not values.flags["HaveGpu"]
    assert values.macros["SpeedMaxN"] == r"10\,000"
    assert values.macros["SpeedCpuRatio"] == "1.25"
    assert values.macros["GpuSpeedup"] == "n/a"


def test_gpu_speed_gives_speedup(tmp_path):
    rows = {
        "device": ["cpu", "NVIDIA H200"],
        "backend": ["numpy", "cupy"],
        "dtype": ["float64", "float64"],
        "n": [10000, 10000],
        "loss_grad_seconds": [0.1, 0.004],
        "matmul_seconds": [0.08, 0.003],
    }
    _write_csv(tmp_path, "speed", _speed(rows))
    values = collect_values(tmp_path)
    assert values.flags["HaveGpu"]
    assert values.macros["GpuName"] == "NVIDIA H200"
    assert values.macros["GpuSpeedup"] == r"25.0$\times$"


@pytest.mark.parametrize(
    ("gpu_seconds", "comparison"),
    [
        (0.004, r"a speed-up of 25.0$\times$"),
        (0.1, "so the two take the same time"),
        (0.2, r"so the GPU is 2.0$\times$ slower"),
    ],
)
def test_gpu_comparison_follows_direction(tmp_path, gpu_seconds, comparison):
    rows = {
        "device": ["cpu", "NVIDIA H200"],
        "backend": ["numpy", "cupy"],
        "dtype": ["float64", "float64"],
        "n": [10000, 10000],
        "loss_grad_seconds": [0.1, gpu_seconds],
    }
    _write_csv(tmp_path, "speed", _speed(rows))
    assert collect_values(tmp_path).macros["GpuComparison"] == comparison


@pytest.mark.parametrize(
    ("start", "end", "phrase"),
    [
        (0.353, 0.353, r"stays at 35.3\%"),
        # Different values that print the same also read as unchanged.
        (0.3531, 0.3534, r"stays at 35.3\%"),
        (0.30, 0.353, r"rises from 30.0\% to 35.3\%"),
        (0.353, 0.30, r"falls from 35.3\% to 30.0\%"),
        (None, 0.30, r"goes from n/a to 30.0\%"),
    ],
)
def test_change_phrase_direction(start, end, phrase):
    assert change_phrase(start, end, format_percent(start), format_percent(end)) == (
        phrase
    )


@pytest.mark.parametrize(
    ("accuracies", "seconds", "sentence"),
    [
        (
            [0.353, 0.353],
            [10.0, 20.0],
            r"From 100 to 1\,000 patches the accuracy stays at 35.3\% and the "
            r"training time rises from 10.0~s to 20.0~s.",
        ),
        (
            [0.40, 0.353],
            [10.0, 10.0],
            r"From 100 to 1\,000 patches the accuracy falls from 40.0\% to 35.3\% "
            r"and the training time stays at 10.0~s.",
        ),
        (
            [0.30, 0.353],
            [20.0, 10.0],
            r"From 100 to 1\,000 patches the accuracy rises from 30.0\% to 35.3\% "
            r"and the training time falls from 20.0~s to 10.0~s.",
        ),
    ],
)
def test_patch_count_sentence_wording(tmp_path, accuracies, seconds, sentence):
    table = pd.DataFrame(
        {"patches": [1000, 100], "seconds": seconds[::-1], "accuracy": accuracies[::-1]}
    )
    _write_csv(tmp_path, "patch_count", table)
    assert collect_values(tmp_path).macros["PatchCountSentence"] == sentence


def test_patch_count_sentence_one_count(tmp_path):
    table = pd.DataFrame({"patches": [100], "seconds": [1.5], "accuracy": [0.25]})
    _write_csv(tmp_path, "patch_count", table)
    assert collect_values(tmp_path).macros["PatchCountSentence"] == (
        r"With 100 patches the accuracy is 25.0\% and the training time 1.5~s."
    )


@pytest.mark.parametrize(
    ("largest", "verdict"),
    [(1e-10, "below"), (1e-8, r"\textbf{equal to}"), (1e-6, r"\textbf{above}")],
)
def test_gradient_check_verdict(tmp_path, largest, verdict):
    table = pd.DataFrame({"relative_error": [1e-12, largest]})
    _write_csv(tmp_path, "gradient_check", table)
    assert collect_values(tmp_path).macros["GradCheckVerdict"] == verdict


def test_write_report_inputs_writes_macros_file(results, tmp_path):
    out = tmp_path / "out"
    written = write_report_inputs(results, out)
    assert written[0] == out / "macros.tex"
    text = (out / "macros.tex").read_text()
    assert r"\newcommand{\resDatasetName}{stl10\_small}" in text
    assert r"\newif\ifresHaveGpu\resHaveGpufalse" in text
    assert (out / "training_table.tex").exists()
    assert (out / "config.txt").exists()


TUNED_CONFIG = {
    "model": {
        "hidden_sizes": [400],
        "sparsity_target": 0.035,
        "weight_decay": 0.003,
        "sparsity_weight": 5,
        "num_patches": 100000,
        "activation": "sigmoid",
        "linear_decoder": True,
        "whiten": True,
    },
    "features": {"stride": 1, "pooling": "quadrant"},
    "classify": {"classifiers": ["logreg"], "options": {"logreg": {"C": [0.01, 1]}}},
}


def _tuned_results(tmp_path, tuned, table=None):
    results = tmp_path / "results"
    results.mkdir()
    provenance = {"config": {**CONFIG, "tuned": tuned}}
    (results / "provenance.json").write_text(json.dumps(provenance))
    if table is not None:
        _write_csv(results, "tuned", table)
    return results


def _tuned_table(accuracies=(0.38, 0.5, 0.625)):
    rows = zip(
        ["raw pixels", "default autoencoder", "tuned autoencoder"],
        [None, "75", "400"],
        [None, "stride 1, quadrant", "stride 1, quadrant"],
        [0.01, 0.1, 0.1],
        [3072, 300, 1600],
        accuracies,
        [None, "converged", "iteration limit"],
        strict=True,
    )
    return pd.DataFrame(
        [
            {
                "features": features,
                "hidden_sizes": hidden,
                "feature_set": feature_set,
                "classifier": "logreg",
                "C": c,
                "n_features": count,
                "accuracy": accuracy,
                "stop_reason": stop,
            }
            for features, hidden, feature_set, c, count, accuracy, stop in rows
        ]
    )


def test_tuned_values(tmp_path):
    values = collect_values(_tuned_results(tmp_path, TUNED_CONFIG, _tuned_table()))
    macros = values.macros
    assert values.flags["TunedConfigured"]
    assert values.flags["HaveTuned"]
    assert macros["TunedAccuracy"] == format_percent(0.625)
    assert macros["TunedRawAccuracy"] == format_percent(0.38)
    assert macros["TunedDefaultAccuracy"] == format_percent(0.5)
    assert macros["TunedFeatureCount"] == "1\\,600"
    assert macros["TunedFeatureSet"] == "stride 1, quadrant"
    assert macros["TunedClassifier"] == "logistic regression"
    assert macros["TunedSetting"] == "logistic regression ($C = 0.1$)"
    assert macros["TunedStopReason"] == "iteration limit"
    assert macros["TunedValidationShare"] == "20\\%"
    assert macros["TunedModel"].startswith(
        "400 sigmoid hidden units, a linear decoder and ZCA-whitened patches"
    )
    assert macros["TunedComparison"] == (
        "This is 12.5 percentage points above the default model on the same "
        "features (50.0\\%) and 24.5 percentage points above raw pixels (38.0\\%)."
    )


def test_tuned_comparison_below(tmp_path):
    table = _tuned_table(accuracies=(0.38, 0.5, 0.45))
    macros = collect_values(_tuned_results(tmp_path, TUNED_CONFIG, table)).macros
    assert "5.0 percentage points below the default model" in macros["TunedComparison"]


def test_tuned_off_without_config(tmp_path):
    # A tuned table left from an earlier run is ignored when the config has none.
    values = collect_values(_tuned_results(tmp_path, None, _tuned_table()))
    assert not values.flags["TunedConfigured"]
    assert not values.flags["HaveTuned"]
    assert values.macros["TunedAccuracy"] == "n/a"


def test_tuned_configured_without_table(tmp_path):
    values = collect_values(_tuned_results(tmp_path, TUNED_CONFIG))
    assert values.flags["TunedConfigured"]
    assert not values.flags["HaveTuned"]


@pytest.mark.parametrize(
    ("difference", "phrase"),
    [
        (0.041, "4.1 percentage points above x"),
        (-0.02, "2.0 percentage points below x"),
        (0.0001, "the same as x"),
        (float("nan"), "compared with x"),
    ],
)
def test_points_phrase(difference, phrase):
    assert points_phrase(difference, "x") == phrase
