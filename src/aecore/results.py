"""Read trained-model directories into what the collated tables and figures show."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from aecore.model import unpack
from aecore.persist import load_model
from aecore.viz import tile_grid

__all__ = [
    "FIGURE_NAMES",
    "TABLE_NAMES",
    "TUNED_TABLE_NAMES",
    "filter_grid",
    "model_history",
    "model_summary",
    "table_names",
]

#: Collated tables under ``results/tables/`` that every run builds and the report
#: reads or includes; :func:`table_names` adds the optional ones.
TABLE_NAMES = (
    "gradient_check",
    "training",
    "classification",
    "folds",
    "stride",
    "depth",
    "patch_count",
    "activation",
    "speed",
)

#: Collated tables built only when the config has a ``tuned`` entry.
TUNED_TABLE_NAMES = ("tuned",)


def table_names(config: Mapping | None) -> tuple[str, ...]:
    """Return the collated tables that a run with this config builds.

    Parameters
    ----------
    config : mapping or None
        The workflow config (for a finished run, the one in ``provenance.json``).
        None or an empty mapping gives the tables every run builds.

    Returns
    -------
    tuple of str
        ``TABLE_NAMES``, followed by ``TUNED_TABLE_NAMES`` when ``config["tuned"]``
        is set.
    """
    if config and config.get("tuned"):
        return TABLE_NAMES + TUNED_TABLE_NAMES
    return TABLE_NAMES


#: Collated figures under ``results/figures/`` that the report includes.
FIGURE_NAMES = (
    "filters_default",
    "training_curve",
    "ablation_rho",
    "ablation_lambda",
    "ablation_beta",
    "stride",
    "depth_filters",
    "patch_count",
    "activation_convergence",
    "speed",
)


def model_summary(model_dir: str | os.PathLike) -> dict:
    """Summarise the training outcome of one saved model.

    Parameters
    ----------
    model_dir : path-like
        Directory written by :func:`aecore.persist.save_model`, named by
        :func:`aecore.naming.model_name`.

    Returns
    -------
    dict
        ``model`` (the directory name), ``final_loss``, ``iterations``,
        ``evaluations``, ``seconds`` and ``stop_reason``.

    Raises
    ------
    ValueError
        If the model was saved without its training result.
    """
    path = Path(model_dir)
    result = load_model(path).result
    if result is None:
        raise ValueError(
            f"Model {path} has no training result; retrain it with the workflow."
        )
    return {
        "model": path.name,
        "final_loss": float(result.final_loss),
        "iterations": int(result.nit),
        "evaluations": int(result.nfev),
        "seconds": float(result.seconds),
        "stop_reason": str(result.stop_reason),
    }


def model_history(model_dir: str | os.PathLike) -> pd.DataFrame:
    """Return the loss history of one saved model.

    Returns
    -------
    pandas.DataFrame
        Columns ``iteration``, ``loss``, ``grad_norm`` and ``seconds``, one row per
        L-BFGS-B iteration from iteration 0 at the initial parameters.

    Raises
    ------
    ValueError
        If the model was saved without its training result.
    """
    result = load_model(model_dir).result
    if result is None:
        raise ValueError(
            f"Model {model_dir} has no training result; retrain it with the workflow."
        )
    return pd.DataFrame(result.history)


def filter_grid(model_dir: str | os.PathLike) -> np.ndarray:
    """Return the first-layer filters of one saved model as an RGB tile grid.

    Returns
    -------
    ndarray of shape (height, width, 3), values in [0, 1]
        One contrast-normalised tile per hidden unit of the first layer.
    """
    model = load_model(model_dir)
    weights, _ = unpack(model.theta, model.spec)
    return tile_grid(weights[0])
