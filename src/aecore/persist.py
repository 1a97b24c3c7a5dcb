"""On-disk form of a trained model, written atomically and validated on load.

A model directory contains:

``theta.npy``
    Parameters in the layout of :mod:`aecore.model`, float64.
``norm.npz``
    The patch normaliser (``norm_*`` arrays) and, when used, the ZCA whitener
    (``zca_*`` arrays).
``history.csv``
    Training history: iteration, loss, grad_norm, seconds.
``meta.json``
    Format version, the spec, patch size, working dtype and training information
    (stop reason included).

:func:`save_model` builds the directory under a temporary name beside the target
and renames it into place, so readers never see a half-written model.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import __version__
from ._files import apply_default_mode
from ._validation import check_int
from .model import AutoencoderSpec, check_theta
from .patches import PatchNormalizer, ZCAWhitener
from .training import HISTORY_COLUMNS, TrainResult

FORMAT = "aecore.model"
FORMAT_VERSION = 1
FILES = ("theta.npy", "norm.npz", "history.csv", "meta.json")


@dataclass
class TrainedModel:
    """A trained autoencoder with the preprocessing fitted on its training patches.

    Parameters
    ----------
    spec : AutoencoderSpec
    theta : ndarray of shape (spec.n_params,)
    normalizer : PatchNormalizer
        Fitted per-channel normaliser; applied to every patch before encoding.
    whitener : ZCAWhitener, optional
        Fitted whitener applied after the normaliser.
    patch_size : int, default 8
        Side p of the square patches; ``3 * p * p`` must equal
        ``spec.visible_size``.
    result : TrainResult, optional
        Training outcome (history, stop reason, timings).
    """

    spec: AutoencoderSpec
    theta: np.ndarray
    normalizer: PatchNormalizer
    whitener: ZCAWhitener | None = None
    patch_size: int = 8
    result: TrainResult | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.spec, AutoencoderSpec):
            raise ValueError(
                f"spec must be an AutoencoderSpec, got {type(self.spec).__name__}."
            )
        self.theta = check_theta(self.theta, self.spec).astype(np.float64)
        self.patch_size = check_int("patch_size", self.patch_size)
        if 3 * self.patch_size**2 != self.spec.visible_size:
            raise ValueError(
                f"patch_size {self.patch_size} gives {3 * self.patch_size**2} values "
                f"per RGB patch, but spec.visible_size is {self.spec.visible_size}."
            )
        if not isinstance(self.normalizer, PatchNormalizer) or not (
            self.normalizer.is_fitted
        ):
            raise ValueError("normalizer must be a fitted PatchNormalizer.")
        if self.whitener is not None and (
            not isinstance(self.whitener, ZCAWhitener)
            or self.whitener.mean_ is None
            or self.whitener.mean_.shape != (self.spec.visible_size,)
        ):
            raise ValueError(
                "whitener must be None or a ZCAWhitener fitted on rows of "
                f"{self.spec.visible_size} values."
            )

    @property
    def dtype(self) -> str:
        """Working precision used in training (float64 when unknown)."""
        return self.result.dtype if self.result is not None else "float64"

    def preprocess(self, patches, dtype="float64") -> np.ndarray:
        """Normalise (and whiten, if fitted) raw patch rows into model inputs."""
        X = self.normalizer.transform(patches, dtype=dtype)
        if self.whitener is not None:
            X = self.whitener.transform(X, dtype=dtype)
        return X


def save_model(directory, model: TrainedModel, *, overwrite: bool = True) -> Path:
    """Write ``model`` to ``directory`` atomically and return its path.

    Parameters
    ----------
    directory : str or Path
        Target directory; parents are created.
    model : TrainedModel
    overwrite : bool, default True
        Replace an existing model directory (one containing ``meta.json``). An
        empty directory is always replaced; any other existing path raises.

    Raises
    ------
    FileExistsError
        If ``directory`` exists and is neither empty nor a model directory, or is a
        model directory and ``overwrite`` is False.
    """
    if not isinstance(model, TrainedModel):
        raise ValueError(f"model must be a TrainedModel, got {type(model).__name__}.")
    target = Path(directory)
    target.parent.mkdir(parents=True, exist_ok=True)
    _check_replaceable(target, overwrite)

    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        apply_default_mode(staging)
        _write_files(staging, model)
        _move_into_place(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def _check_replaceable(target: Path, overwrite: bool) -> None:
    if not target.exists():
        return
    if not target.is_dir():
        raise FileExistsError(f"{target} exists and is not a directory.")
    contents = list(target.iterdir())
    if not contents:
        return
    if not (target / "meta.json").is_file():
        raise FileExistsError(
            f"{target} exists and is not a model directory (no meta.json); remove it "
            "or choose another path."
        )
    if not overwrite:
        raise FileExistsError(
            f"{target} already contains a model; pass overwrite=True to replace it."
        )


def _move_into_place(staging: Path, target: Path) -> None:
    if not target.exists():
        os.replace(staging, target)
        return
    # A non-empty directory cannot be replaced by rename, so the old one first moves
    # aside; the target path is missing only between the two renames.
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
    os.replace(target, old / "model")
    os.replace(staging, target)
    shutil.rmtree(old, ignore_errors=True)


def _write_files(folder: Path, model: TrainedModel) -> None:
    np.save(folder / "theta.npy", model.theta)

    arrays = {f"norm_{k}": v for k, v in model.normalizer.to_arrays().items()}
    if model.whitener is not None:
        arrays.update({f"zca_{k}": v for k, v in model.whitener.to_arrays().items()})
    np.savez(folder / "norm.npz", **arrays)

    with open(folder / "history.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HISTORY_COLUMNS)
        if model.result is not None:
            history = model.result.history
            for row in zip(*(history[name] for name in HISTORY_COLUMNS), strict=True):
                writer.writerow([int(row[0]), *(repr(float(v)) for v in row[1:])])

    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "aecore_version": __version__,
        "spec": model.spec.to_dict(),
        "patch_size": model.patch_size,
        "dtype": model.dtype,
        "n_params": model.spec.n_params,
        "whitening": model.whitener is not None,
        "training": None if model.result is None else model.result.info(),
    }
    with open(folder / "meta.json", "w") as handle:
        json.dump(meta, handle, indent=2, sort_keys=True)
        handle.write("\n")


def load_model(directory) -> TrainedModel:
    """Read and validate a model directory written by :func:`save_model`.

    Raises
    ------
    FileNotFoundError
        If the directory or one of its files is missing.
    ValueError
        If a file has the wrong format, shape or contents.
    """
    folder = Path(directory)
    if not folder.is_dir():
        raise FileNotFoundError(f"model directory {folder} does not exist.")
    for name in FILES:
        if not (folder / name).is_file():
            raise FileNotFoundError(
                f"{folder} is not a complete model directory: {name} is missing."
            )
    try:
        meta = json.loads((folder / "meta.json").read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{folder / 'meta.json'} is not valid JSON: {exc}") from exc
    if meta.get("format") != FORMAT or meta.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"{folder / 'meta.json'} must have format {FORMAT!r} version "
            f"{FORMAT_VERSION}, got {meta.get('format')!r} version "
            f"{meta.get('format_version')!r}."
        )
    spec = AutoencoderSpec.from_dict(meta["spec"])
    theta = np.load(folder / "theta.npy", allow_pickle=False)
    with np.load(folder / "norm.npz", allow_pickle=False) as npz:
        arrays = dict(npz)
    normalizer = PatchNormalizer.from_arrays(_prefixed(arrays, "norm_", folder))
    whitener = None
    if meta.get("whitening"):
        whitener = ZCAWhitener.from_arrays(_prefixed(arrays, "zca_", folder))
    result = None
    if meta.get("training") is not None:
        result = _result_from(meta["training"], _read_history(folder), theta)
    try:
        return TrainedModel(
            spec, theta, normalizer, whitener, meta["patch_size"], result
        )
    except ValueError as exc:
        raise ValueError(f"{folder} contains an invalid model: {exc}") from exc


def _prefixed(arrays: dict, prefix: str, folder: Path) -> dict:
    picked = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
    if not picked:
        raise ValueError(f"{folder / 'norm.npz'} has no {prefix}* arrays.")
    return picked


def _read_history(folder: Path) -> dict[str, np.ndarray]:
    with open(folder / "history.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    if not rows or tuple(rows[0]) != HISTORY_COLUMNS:
        raise ValueError(
            f"{folder / 'history.csv'} must start with the header "
            f"{','.join(HISTORY_COLUMNS)}."
        )
    if any(len(row) != len(HISTORY_COLUMNS) for row in rows[1:]):
        raise ValueError(
            f"{folder / 'history.csv'} has rows without exactly "
            f"{len(HISTORY_COLUMNS)} fields."
        )
    columns = list(zip(*rows[1:], strict=True)) or [()] * len(HISTORY_COLUMNS)
    history = {}
    for name, values in zip(HISTORY_COLUMNS, columns, strict=True):
        kind = np.int64 if name == "iteration" else np.float64
        history[name] = np.asarray(values, dtype=np.float64).astype(kind)
    return history


def _result_from(info: dict, history: dict, theta: np.ndarray) -> TrainResult:
    known = {
        "nit",
        "nfev",
        "success",
        "status",
        "message",
        "stop_reason",
        "final_loss",
        "seconds",
        "dtype",
        "backend",
    }
    missing = known - set(info)
    if missing:
        raise ValueError(f"training information in meta.json lacks {sorted(missing)}.")
    extra = {k: v for k, v in info.items() if k not in known}
    return TrainResult(
        theta=np.asarray(theta, dtype=np.float64),
        history=history,
        extra=extra,
        **{k: info[k] for k in known},
    )
