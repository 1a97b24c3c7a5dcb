import importlib.util
import json
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest

from aecore import collate, plots
from aecore.collate import RAW_FEATURES

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]

MODEL = "h75_rho0.01_lam0.0001_beta3_n10000_sigmoid_s0"
DEEP = "h200-75-200_rho0.01_lam0.0001_beta3_n10000_sigmoid_s0"
RELU = "h75_rho0.01_lam0.0001_beta3_n10000_relu_s0"
SMALL = "h75_rho0.01_lam0.0001_beta3_n100_sigmoid_s0"


def metric(features, classifier, accuracy, n_features=100, **extra):
    model, _, feature_set = features.partition("/")
    return {
        "features": features,
        "model": model,
        "feature_set": feature_set,
        "classifier": classifier,
        "accuracy": accuracy,
        "n_features": n_features,
        **extra,
    }


def write_metrics(tmp_path, records):
    paths = []
    for number, record in enumerate(records):
        path = tmp_path / f"m{number}.json"
        path.write_text(json.dumps(record))
        paths.append(path)
    return paths


def summary(model, loss=1.0, seconds=2.0, reason="converged"):
    return {
        "model": model,
        "final_loss": loss,
        "iterations": 50,
        "evaluations": 55,
        "seconds": seconds,
        "stop_reason": reason,
    }


def test_load_metrics(tmp_path):
    paths = write_metrics(tmp_path, [metric(RAW_FEATURES, "logreg", 0.3)])
    frame = collate.load_metrics(paths)
    assert frame.loc[0, "accuracy"] == 0.3
    (tmp_path / "bad.json").write_text(json.dumps({"features": "x"}))
    with pytest.raises(
        ValueError, match=r"missing the keys \['accuracy', 'classifier'\]"
    ):
        collate.load_metrics([tmp_path / "bad.json"])
    with pytest.raises(ValueError, match="at least one metrics file"):
        collate.load_metrics([])


def test_classification_table(tmp_path):
    records = [
        metric(RAW_FEATURES, "logreg", 0.31, 3072),
        metric(RAW_FEATURES, "forest", 0.38, 3072),
        metric(f"{MODEL}/4-concat", "forest", 0.40, 3675),
        metric(f"{MODEL}/4-concat", "logreg", 0.45, 3675),
    ]
    table = collate.classification_table(
        collate.load_metrics(write_metrics(tmp_path, records))
    )
    assert list(table.columns) == ["features", "n_features", "logreg", "forest"]
    assert table["features"].tolist() == [
        "raw pixels",
        "autoencoder 75 (sigmoid), stride 4, concat",
    ]
    assert table["logreg"].tolist() == [0.31, 0.45]
    assert table["forest"].tolist() == [0.38, 0.40]


def test_folds_table():
    metrics = pd.DataFrame(
        [
            metric(
                RAW_FEATURES,
                "logreg",
                0.3,
                fold_mean=0.28,
                fold_std=0.01,
                fold_accuracies=[0.27, 0.29],
            ),
            metric(
                RAW_FEATURES,
                "forest",
                0.3,
                fold_mean=None,
                fold_std=None,
                fold_accuracies=None,
            ),
        ]
    )
    table = collate.folds_table(metrics)
    assert len(table) == 1
    assert table.loc[0, "folds"] == 2
    assert table.loc[0, "mean"] == 0.28
    without = collate.folds_table(pd.DataFrame([metric(RAW_FEATURES, "logreg", 0.3)]))
    assert without.empty
    assert list(without.columns) == ["features", "classifier", "folds", "mean", "std"]


def test_stride_table_sorted():
    metrics = pd.DataFrame(
        [
            metric(f"{MODEL}/8-concat", "logreg", 0.40),
            metric(f"{MODEL}/2-quadrant", "logreg", 0.42),
            metric(f"{MODEL}/4-concat", "logreg", 0.45),
        ]
    )
    table = collate.stride_table(metrics)
    assert table[["stride", "pooling"]].values.tolist() == [
        [4, "concat"],
        [8, "concat"],
        [2, "quadrant"],
    ]
    assert table["logreg"].tolist() == [0.45, 0.40, 0.42]


def test_depth_table():
    metrics = pd.DataFrame(
        [
            metric(f"{MODEL}/4-concat", "logreg", 0.45),
            metric(f"{DEEP}/4-concat", "logreg", 0.41),
        ]
    )
    table = collate.depth_table(metrics)
    assert table["hidden_sizes"].tolist() == ["75", "200-75-200"]
    assert table["logreg"].tolist() == [0.45, 0.41]


def test_patch_count_and_activation_tables():
    metrics = pd.DataFrame(
        [
            metric(f"{MODEL}/4-concat", "logreg", 0.45),
            metric(f"{SMALL}/4-concat", "logreg", 0.3),
        ]
    )
    summaries = [
        summary(MODEL, seconds=9.0),
        summary(SMALL, seconds=1.0, reason="iteration limit"),
    ]
    table = collate.patch_count_table(metrics, summaries)
    assert table["patches"].tolist() == [100, 10000]
    assert table["seconds"].tolist() == [1.0, 9.0]
    assert table["stop_reason"].tolist() == ["iteration limit", "converged"]

    metrics = pd.DataFrame(
        [
            metric(f"{MODEL}/4-concat", "logreg", 0.45),
            metric(f"{RELU}/4-concat", "logreg", 0.43),
        ]
    )
    table = collate.activation_table(metrics, [summary(MODEL), summary(RELU, loss=0.5)])
    assert table["activation"].tolist() == ["sigmoid", "relu"]
    assert table["final_loss"].tolist() == [1.0, 0.5]
    with pytest.raises(ValueError, match="No training summary for the models"):
        collate.activation_table(metrics, [summary(MODEL)])


def test_training_table_parses_names():
    table = collate.training_table([summary(DEEP, reason="line search failed")])
    row = table.iloc[0]
    assert row["hidden_sizes"] == "200-75-200"
    assert row["lambda"] == 0.0001
    assert row["beta"] == 3
    assert row["patches"] == 10000
    assert row["stop_reason"] == "line search failed"


def test_gradient_table():
    rows = [
        {
            "activation": "relu",
            "hidden_sizes": [6, 4, 6],
            "sparsity": True,
            "decay": False,
            "relative_error": 1e-10,
        },
        {
            "activation": "sigmoid",
            "hidden_sizes": [5],
            "sparsity": False,
            "decay": True,
            "relative_error": 1e-6,
        },
    ]
    table = collate.gradient_table(rows)
    assert table["hidden_sizes"].tolist() == ["6-4-6", "5"]
    assert table["sparsity"].tolist() == ["on", "off"]
    assert table["passed"].tolist() == ["yes", "no"]


def test_speed_table():
    cpu = pd.DataFrame(
        {
            "n": [1000, 100],
            "backend": "numpy",
            "dtype": "float64",
            "loss_grad_seconds": [0.2, 0.02],
            "matmul_seconds": [0.1, 0.01],
        }
    )
    gpu = pd.DataFrame(
        {
            "n": [1000],
            "backend": "cupy",
            "dtype": "float32",
            "device": "H100",
            "loss_grad_seconds": [0.01],
        }
    )
    table = collate.speed_table([cpu, gpu])
    cpu_rows = table[table["backend"] == "numpy"]
    assert cpu_rows["n"].tolist() == [100, 1000]
    assert cpu_rows["ratio"].tolist() == pytest.approx([2.0, 2.0])
    assert np.isnan(table.loc[table["backend"] == "cupy", "ratio"]).all()
    with pytest.raises(
        ValueError, match=r"timings\[0\] is missing the columns \['dtype'\]"
    ):
        collate.speed_table([cpu.drop(columns="dtype")])
    with pytest.raises(ValueError, match="at least one frame"):
        collate.speed_table([])


@pytest.mark.parametrize(
    ("threads", "label"), [(1, "Xeon (1 thread)"), (2, "Xeon (2 threads)")]
)
def test_cpu_device_label_plural(threads, label):
    assert collate.cpu_device_label("Xeon", threads) == label


def test_speed_table_reads_old_device_labels():
    # Benchmark files written before cpu_device_label say "(1 threads)".
    rows = {
        "n": [100, 100, 100],
        "backend": "numpy",
        "dtype": "float64",
        "device": ["Xeon (1 threads)", "Xeon (4 threads)", "H100"],
        "loss_grad_seconds": [0.2, 0.1, 0.01],
    }
    table = collate.speed_table([pd.DataFrame(rows)])
    assert table["device"].tolist() == ["H100", "Xeon (1 thread)", "Xeon (4 threads)"]
    figure = plots.speed_figure(table)
    legend = [text.get_text() for text in figure.axes[0].get_legend().get_texts()]
    assert "numpy float64 (Xeon (1 thread))" in legend
    assert not any("1 threads" in text for text in legend)


def test_benchmark_device_label_uses_plural_rule():
    spec = importlib.util.spec_from_file_location(
        "loss_speed", ROOT / "benchmarks" / "loss_speed.py"
    )
    benchmark = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(benchmark)
    threads = benchmark.blas_threads()
    label = benchmark.device_name("numpy")
    assert label == collate.cpu_device_label(benchmark.cpu_name(), threads)


def test_ablation_titles_share_one_style(tmp_path):
    titles = plots.parameter_titles("lambda", [0, 1e-4, 0.001, 0.01])
    assert titles == [
        r"$\lambda = 0$",
        r"$\lambda = 10^{-4}$",
        r"$\lambda = 10^{-3}$",
        r"$\lambda = 10^{-2}$",
    ]
    grid = np.zeros((10, 10, 3))
    figure = plots.filter_panel_figure([grid] * 4, titles, "lambda")
    # Matplotlib parses the mathtext only when it draws the titles.
    figure.savefig(tmp_path / "titles.png")


def test_to_latex_escapes_and_uses_booktabs():
    table = pd.DataFrame(
        {"model": [MODEL], "logreg": [0.456789], "note": ["50% & more"]}
    )
    tex = collate.to_latex(table)
    assert r"\toprule" in tex
    assert r"\bottomrule" in tex
    assert r"h75\_rho0.01\_lam0.0001" in tex
    assert r"50\% \& more" in tex
    assert "Logistic regression" in tex
    assert "0.457" in tex


def test_to_latex_readable_headers_and_aligned_accuracies():
    table = pd.DataFrame(
        {
            "stride": [4, 8],
            "n_features": [3675, 1200],
            "forest": [0.323, 0.32],
            "accuracy": [0.5, float("nan")],
            "final_loss": [0.97734, 1.5],
        }
    )
    tex = collate.to_latex(table)
    assert "features per image" in tex
    assert "final loss" in tex
    assert "n\\_features" not in tex
    assert "& 0.320 &" in tex
    assert "& 0.500 &" in tex
    assert "& -- &" in tex
    # Other floats keep three significant digits.
    assert "& 0.977 \\\\" in tex


def test_to_latex_classifier_display_names():
    table = pd.DataFrame({"classifier": ["logreg", "forest", "other"], "C": [1, 2, 3]})
    tex = collate.to_latex(table)
    assert "Logistic regression &" in tex
    assert "Random forest &" in tex
    assert "other &" in tex
    assert "logreg" not in tex


def test_to_latex_empty_table():
    tex = collate.to_latex(pd.DataFrame(columns=["a"]), empty_message="No folds_here.")
    assert r"No folds\_here." in tex


@pytest.mark.parametrize("with_gpu", [False, True])
def test_speed_figure_says_when_no_gpu(with_gpu):
    rows = [
        {
            "device": "cpu",
            "backend": "numpy",
            "dtype": "float64",
            "n": 10,
            "loss_grad_seconds": 0.1,
            "matmul_seconds": 0.05,
            "ratio": 2.0,
        }
    ]
    if with_gpu:
        rows.append({**rows[0], "backend": "cupy", "device": "gpu"})
    figure = plots.speed_figure(pd.DataFrame(rows))
    title = figure.axes[0].get_title()
    assert ("no GPU timing was measured" in title) is not with_gpu


def test_figures_draw(tmp_path):
    grid = np.random.default_rng(0).uniform(size=(20, 30, 3))
    history = pd.DataFrame(
        {"iteration": [0, 1, 2], "loss": [3.0, 2.0, 1.5], "seconds": [0.0, 0.1, 0.2]}
    )
    figures = [
        plots.filter_figure(grid, "filters"),
        plots.filter_panel_figure([grid] * 6, [f"rho = {i}" for i in range(6)], "rho"),
        plots.training_curve_figure(history, "default"),
        plots.convergence_figure({"sigmoid": history, "relu": history}, "act"),
        plots.stride_figure(
            pd.DataFrame(
                {
                    "stride": [4, 8],
                    "pooling": "concat",
                    "n_features": [1, 2],
                    "logreg": [0.4, 0.3],
                }
            )
        ),
        plots.patch_count_figure(
            pd.DataFrame(
                {
                    "patches": [100, 1000],
                    "seconds": [1, 5],
                    "classifier": "logreg",
                    "accuracy": [0.3, 0.4],
                }
            )
        ),
    ]
    for number, figure in enumerate(figures):
        path = tmp_path / f"f{number}.png"
        figure.savefig(path)
        assert path.stat().st_size > 1000
    assert len(figures[1].axes) == 10  # 2 rows of 5, 4 of them blank
    with pytest.raises(ValueError, match="grids and titles must be non-empty"):
        plots.filter_panel_figure([grid], [], "x")


TUNED = "h400_rho0.035_lam0.003_beta5_n100000_sigmoid_lin_zca_s0"


def tuned_metrics(tmp_path):
    run = {"options": {"C": [0.01, 0.1], "max_iter": 100}, "run": "logreg_C0.01-0.1"}
    records = [
        metric(
            f"{TUNED}/1-quadrant",
            "logreg",
            0.62,
            1600,
            chosen_options={"C": 0.1, "max_iter": 100},
            converged=True,
            **run,
        ),
        metric(
            RAW_FEATURES,
            "logreg",
            0.39,
            3072,
            chosen_options={"C": 0.01, "max_iter": 100},
            converged=True,
            **run,
        ),
        metric(
            f"{MODEL}/1-quadrant",
            "logreg",
            0.5,
            300,
            chosen_options={"C": 0.1, "max_iter": 100},
            converged=False,
            **run,
        ),
    ]
    return collate.load_metrics(write_metrics(tmp_path, records))


def test_tuned_table_rows(tmp_path):
    summaries = [summary(MODEL), summary(TUNED, reason="iteration limit")]
    table = collate.tuned_table(tuned_metrics(tmp_path), summaries, MODEL, TUNED)
    assert list(table.columns) == collate.TUNED_COLUMNS
    assert list(table["features"]) == [
        "raw pixels",
        "default autoencoder",
        "tuned autoencoder",
    ]
    assert list(table["accuracy"]) == [0.39, 0.5, 0.62]
    assert list(table["C"]) == [0.01, 0.1, 0.1]
    assert list(table["n_features"]) == [3072, 300, 1600]
    assert list(table["classifier_converged"]) == [True, False, True]
    assert pd.isna(table.loc[0, "hidden_sizes"])
    assert pd.isna(table.loc[0, "stop_reason"])
    assert list(table["hidden_sizes"][1:]) == ["75", "400"]
    assert list(table["feature_set"][1:]) == ["stride 1, quadrant"] * 2
    assert list(table["stop_reason"][1:]) == ["converged", "iteration limit"]


def test_tuned_table_fixed_options(tmp_path):
    # Metrics written before validation existed carry options but no chosen_options.
    records = [metric(RAW_FEATURES, "forest", 0.3, 3072, options={"n_estimators": 5})]
    metrics = collate.load_metrics(write_metrics(tmp_path, records))
    table = collate.tuned_table(metrics, [], MODEL, TUNED)
    assert pd.isna(table.loc[0, "C"])
    latex = collate.to_latex(table)
    assert "raw pixels" in latex
    assert "--" in latex


def test_tuned_table_rejects_other_models(tmp_path):
    metrics = tuned_metrics(tmp_path)
    with pytest.raises(ValueError, match="do not belong in the tuned table"):
        collate.tuned_table(metrics, [summary(MODEL)], MODEL, SMALL)
    with pytest.raises(
        ValueError, match=f"No training summary for the model '{TUNED}'"
    ):
        collate.tuned_table(metrics, [summary(MODEL)], MODEL, TUNED)


def test_tuned_table_rejects_default_as_tuned(tmp_path):
    metrics = tuned_metrics(tmp_path)
    metrics = metrics[metrics["model"] != TUNED]
    with pytest.raises(ValueError, match="tuned_model must differ from default_model"):
        collate.tuned_table(metrics, [summary(MODEL)], MODEL, MODEL)


def test_table_names_follow_config():
    from aecore.results import TABLE_NAMES, table_names

    assert table_names(None) == TABLE_NAMES
    assert table_names({"tuned": None}) == TABLE_NAMES
    assert table_names({"tuned": {"model": {}}}) == (*TABLE_NAMES, "tuned")
