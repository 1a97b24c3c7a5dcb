"""Collate per-job results into the study's tables and figures.

One script serves every collate rule; the rule's name selects what it builds.
"""

from _common import save_figure, start, write_table

logger = start(snakemake)  # noqa: F821 (defined by Snakemake)

import pandas as pd  # noqa: E402

from aecore import collate, plots  # noqa: E402
from aecore.naming import parse_model_name  # noqa: E402
from aecore.results import filter_grid, model_history, model_summary  # noqa: E402

smk = snakemake  # noqa: F821


def summaries():
    return [model_summary(path) for path in smk.input.models]


def table_training():
    write_table(collate.training_table(summaries()), smk.output.csv, smk.output.tex)


def figure_filters_default():
    grid = filter_grid(smk.input.model)
    figure = plots.filter_figure(grid, "First-layer filters of the default model")
    save_figure(figure, smk.output.png, smk.output.pdf)


def figure_training_curve():
    history = model_history(smk.input.model)
    figure = plots.training_curve_figure(history, "Default model")
    save_figure(figure, smk.output.png, smk.output.pdf)


def figure_ablation():
    field = smk.params.field
    symbol = smk.wildcards.parameter
    values = [getattr(parse_model_name(_name(p)), field) for p in smk.input.models]
    titles = plots.parameter_titles(symbol, values)
    grids = [filter_grid(path) for path in smk.input.models]
    figure = plots.filter_panel_figure(grids, titles, f"Filters as {symbol} varies")
    save_figure(figure, smk.output.png, smk.output.pdf)


def table_classification():
    metrics = collate.load_metrics(smk.input.metrics)
    write_table(collate.classification_table(metrics), smk.output.csv, smk.output.tex)
    write_table(
        collate.folds_table(metrics),
        smk.output.folds_csv,
        smk.output.folds_tex,
        empty_message="The dataset has no predefined folds.",
    )


def table_stride():
    table = collate.stride_table(collate.load_metrics(smk.input.metrics))
    write_table(table, smk.output.csv, smk.output.tex)
    save_figure(plots.stride_figure(table), smk.output.png, smk.output.pdf)


def table_depth():
    table = collate.depth_table(collate.load_metrics(smk.input.metrics))
    write_table(table, smk.output.csv, smk.output.tex)
    titles = [
        "hidden " + "-".join(map(str, parse_model_name(_name(p)).hidden_sizes))
        for p in smk.input.models
    ]
    grids = [filter_grid(path) for path in smk.input.models]
    figure = plots.filter_panel_figure(grids, titles, "First-layer filters by depth")
    save_figure(figure, smk.output.png, smk.output.pdf)


def table_patch_count():
    metrics = collate.load_metrics(smk.input.metrics)
    table = collate.patch_count_table(metrics, summaries())
    write_table(table, smk.output.csv, smk.output.tex)
    save_figure(plots.patch_count_figure(table), smk.output.png, smk.output.pdf)


def table_activation():
    metrics = collate.load_metrics(smk.input.metrics)
    write_table(
        collate.activation_table(metrics, summaries()), smk.output.csv, smk.output.tex
    )
    histories = {
        parse_model_name(_name(path)).activation: model_history(path)
        for path in smk.input.models
    }
    figure = plots.convergence_figure(histories, "Sigmoid versus ReLU hidden units")
    save_figure(figure, smk.output.png, smk.output.pdf)


def table_tuned():
    metrics = collate.load_metrics(smk.input.metrics)
    table = collate.tuned_table(
        metrics, summaries(), smk.params.default_model, smk.params.tuned_model
    )
    write_table(table, smk.output.csv, smk.output.tex)


def table_speed():
    table = collate.speed_table([pd.read_csv(path) for path in smk.input.timings])
    write_table(table, smk.output.csv, smk.output.tex)
    save_figure(plots.speed_figure(table), smk.output.png, smk.output.pdf)


def _name(model_dir):
    return str(model_dir).rstrip("/").rsplit("/", 1)[-1]


BUILDERS = {
    "table_training": table_training,
    "figure_filters_default": figure_filters_default,
    "figure_training_curve": figure_training_curve,
    "figure_ablation": figure_ablation,
    "table_classification": table_classification,
    "table_stride": table_stride,
    "table_depth": table_depth,
    "table_patch_count": table_patch_count,
    "table_activation": table_activation,
    "table_speed": table_speed,
    "table_tuned": table_tuned,
}
BUILDERS[smk.rule]()
