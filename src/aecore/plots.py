"""Collated figures of the study, drawn with matplotlib without a display.

Every function returns a :class:`matplotlib.figure.Figure`; the caller saves it (as
PNG and PDF) and closes it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from aecore.classify import CLASSIFIERS  # noqa: E402
from aecore.report.latex import format_parameter_values  # noqa: E402

__all__ = [
    "filter_figure",
    "filter_panel_figure",
    "training_curve_figure",
    "convergence_figure",
    "stride_figure",
    "patch_count_figure",
    "speed_figure",
]


def filter_figure(grid: np.ndarray, title: str) -> Figure:
    """Show one tile grid of filters.

    Parameters
    ----------
    grid : ndarray of shape (height, width, 3) or (height, width)
        Tile image with values in [0, 1], for example from :mod:`aecore.viz`.
    title : str
        Figure title.
    """
    fig, ax = plt.subplots(figsize=(6, 6 * grid.shape[0] / grid.shape[1] + 0.4))
    _show_grid(ax, grid, title)
    fig.tight_layout()
    return fig


def parameter_titles(symbol: str, values: Sequence[object]) -> list[str]:
    """Build mathtext panel titles such as ``$\\lambda = 10^{-4}$``, one per value.

    Parameters
    ----------
    symbol : str
        TeX name of the Greek letter without the backslash: ``rho``, ``lambda``
        or ``beta``.
    values : sequence
        The parameter's values, formatted together in one style by
        :func:`aecore.report.latex.format_parameter_values`.

    Returns
    -------
    list of str
        One title per value.
    """
    return [rf"$\{symbol} = {text}$" for text in format_parameter_values(list(values))]


def filter_panel_figure(
    grids: Sequence[np.ndarray], titles: Sequence[str], suptitle: str
) -> Figure:
    """Show several tile grids side by side, one per parameter value.

    Parameters
    ----------
    grids : sequence of ndarray
        Tile images with values in [0, 1].
    titles : sequence of str
        One title per grid, for example ``"rho = 0.01"``.
    suptitle : str
        Title of the whole panel.

    Raises
    ------
    ValueError
        If ``grids`` is empty or its length differs from that of ``titles``.
    """
    if len(grids) == 0 or len(grids) != len(titles):
        raise ValueError(
            f"grids and titles must be non-empty and of equal length, got "
            f"{len(grids)} grids and {len(titles)} titles."
        )
    columns = min(len(grids), 5)
    rows = int(np.ceil(len(grids) / columns))
    fig, axes = plt.subplots(
        rows, columns, figsize=(3 * columns, 3.2 * rows), squeeze=False
    )
    for ax in axes.flat[len(grids) :]:
        ax.axis("off")
    for ax, grid, title in zip(axes.flat, grids, titles, strict=False):
        _show_grid(ax, grid, title)
    fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def training_curve_figure(history: pd.DataFrame, title: str) -> Figure:
    """Plot training loss versus L-BFGS-B iteration on a log loss axis.

    Parameters
    ----------
    history : pandas.DataFrame
        Columns ``iteration`` and ``loss``.
    title : str
        Figure title.
    """
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(history["iteration"], history["loss"])
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss J")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    return fig


def convergence_figure(histories: Mapping[str, pd.DataFrame], title: str) -> Figure:
    """Plot the loss of several runs versus iteration and versus seconds.

    Parameters
    ----------
    histories : mapping of str to pandas.DataFrame
        Run label to history with columns ``iteration``, ``loss`` and ``seconds``
        (wall time since the start of training).
    title : str
        Figure title.
    """
    fig, (by_iteration, by_time) = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for label, history in histories.items():
        by_iteration.plot(history["iteration"], history["loss"], label=label)
        by_time.plot(history["seconds"], history["loss"], label=label)
    by_iteration.set_yscale("log")
    by_iteration.set_xlabel("iteration")
    by_iteration.set_ylabel("loss J")
    by_time.set_xlabel("seconds")
    for ax in (by_iteration, by_time):
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def stride_figure(table: pd.DataFrame) -> Figure:
    """Plot test accuracy versus stride, one line per classifier and pooling.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`aecore.collate.stride_table`.
    """
    fig, ax = plt.subplots(figsize=(6, 4))
    classifiers = [c for c in CLASSIFIERS if c in table.columns]
    for pooling, rows in table.groupby("pooling", sort=True):
        style = "-o" if pooling == "concat" else "--s"
        rows = rows.sort_values("stride")
        for classifier in classifiers:
            ax.plot(
                rows["stride"],
                rows[classifier],
                style,
                label=f"{CLASSIFIERS[classifier]}, {pooling}",
            )
    ax.set_xlabel("stride (pixels)")
    ax.set_ylabel("test accuracy")
    ax.set_xticks(sorted(table["stride"].unique()))
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


def patch_count_figure(table: pd.DataFrame) -> Figure:
    """Plot test accuracy and training time versus number of patches (log axes).

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`aecore.collate.patch_count_table`.
    """
    fig, (accuracy, seconds) = plt.subplots(1, 2, figsize=(10, 4))
    accuracy.plot(table["patches"], table["accuracy"], "-o")
    accuracy.set_xscale("log")
    accuracy.set_xlabel("training patches")
    accuracy.set_ylabel(f"test accuracy ({_classifier_label(table)})")
    seconds.plot(table["patches"], table["seconds"], "-o")
    seconds.set_xscale("log")
    seconds.set_yscale("log")
    seconds.set_xlabel("training patches")
    seconds.set_ylabel("training time (s)")
    for ax in (accuracy, seconds):
        ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    return fig


def speed_figure(table: pd.DataFrame) -> Figure:
    """Plot loss+gradient time versus N for each device, backend and dtype.

    When no row has a GPU backend (``cupy``), the figure title states that no GPU
    timing was measured.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`aecore.collate.speed_table`.
    """
    fig, ax = plt.subplots(figsize=(6, 4))
    for (device, backend, dtype), rows in table.groupby(
        ["device", "backend", "dtype"], sort=True
    ):
        rows = rows.sort_values("n")
        ax.plot(
            rows["n"],
            rows["loss_grad_seconds"],
            "-o",
            label=f"{backend} {dtype} ({device})",
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("patches N")
    ax.set_ylabel("loss+gradient time (s)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
    if not (table["backend"] == "cupy").any():
        ax.set_title("CPU only: no GPU timing was measured")
    fig.tight_layout()
    return fig


def _classifier_label(table: pd.DataFrame) -> str:
    names = table["classifier"].unique() if "classifier" in table else []
    return ", ".join(CLASSIFIERS.get(name, name) for name in names)


def _show_grid(ax, grid: np.ndarray, title: str) -> None:
    ax.imshow(
        np.clip(grid, 0.0, 1.0),
        cmap="gray" if grid.ndim == 2 else None,
        interpolation="nearest",
    )
    ax.set_title(title, fontsize="medium")
    ax.set_xticks([])
    ax.set_yticks([])
