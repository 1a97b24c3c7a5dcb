"""Training with L-BFGS-B: loss history, wall-clock times and the stop reason."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.optimize

from . import _objective
from ._validation import as_float_matrix, check_float_dtype, check_int
from .backend import Backend, get_backend
from .model import AutoencoderSpec, check_theta, init_theta

logger = logging.getLogger(__name__)

HISTORY_COLUMNS = ("iteration", "loss", "grad_norm", "seconds")


@dataclass
class TrainResult:
    """Outcome of :func:`train_autoencoder`.

    Attributes
    ----------
    theta : ndarray of shape (n_params,)
        Final parameters, float64.
    history : dict of str to ndarray
        One entry per iteration, starting with iteration 0 at the initial point:
        ``iteration``, ``loss``, ``grad_norm`` (Euclidean norm of the gradient) and
        ``seconds`` (wall-clock time since the start of training).
        ``pandas.DataFrame(history)`` gives a table.
    nit, nfev : int
        Iterations and loss evaluations reported by SciPy.
    success : bool
        SciPy's flag; False for an iteration limit as well as for a failure.
    status : int
        SciPy's L-BFGS-B status: 0 converged, 1 iteration or evaluation limit,
        2 anything else.
    message : str
        SciPy's message, e.g. ``"STOP: TOTAL NO. OF ITERATIONS REACHED LIMIT"``.
    stop_reason : str
        Short form of the message: ``"converged"``, ``"iteration limit"``,
        ``"evaluation limit"``, ``"line search failed"``, ``"rounding errors"``,
        ``"stopped by callback"`` or ``"error"``.
    final_loss : float
        Loss at ``theta``.
    seconds : float
        Wall-clock time of the whole optimisation.
    dtype, backend : str
        Working precision and array backend used for the loss.
    """

    theta: np.ndarray
    history: dict[str, np.ndarray]
    nit: int
    nfev: int
    success: bool
    status: int
    message: str
    stop_reason: str
    final_loss: float
    seconds: float
    dtype: str = "float64"
    backend: str = "numpy"
    extra: dict[str, Any] = field(default_factory=dict)

    def info(self) -> dict[str, Any]:
        """Return the scalar fields as JSON-friendly values (no theta, no history)."""
        return {
            "nit": int(self.nit),
            "nfev": int(self.nfev),
            "success": bool(self.success),
            "status": int(self.status),
            "message": str(self.message),
            "stop_reason": str(self.stop_reason),
            "final_loss": float(self.final_loss),
            "seconds": float(self.seconds),
            "dtype": str(self.dtype),
            "backend": str(self.backend),
            **self.extra,
        }


def stop_reason(status: int, message: str) -> str:
    """Map SciPy's L-BFGS-B status and message to a short stop reason."""
    text = str(message).upper()
    if status == 0:
        return "converged"
    if "ITERATIONS REACHED LIMIT" in text:
        return "iteration limit"
    if "EVALUATIONS EXCEEDS LIMIT" in text:
        return "evaluation limit"
    if "CALLBACK" in text:
        return "stopped by callback"
    if text.startswith("ABNORMAL"):
        return "line search failed"
    if "ROUNDING ERRORS" in text:
        return "rounding errors"
    if status == 1:
        return "iteration limit"
    return "error"


def estimate_training_bytes(
    num_patches: int,
    visible_size: int,
    hidden_sizes,
    *,
    dtype="float64",
    whiten: bool = False,
    raw_itemsize: int = 1,
) -> int:
    """Estimate the peak memory of sampling, normalising and training on patches.

    The workflow's training job keeps the raw patches (``raw_itemsize`` bytes a
    value) and their float64 normalised copy throughout. Normalising briefly needs
    one more float64 copy, and whitening two. Training adds a ``dtype`` copy of the
    patches unless ``dtype`` is float64, and twice the hidden activations of every
    patch: the loss keeps them for its backward pass, and tracemalloc shows a
    second set at the peak. The largest of these brief needs is counted.

    Parameters
    ----------
    num_patches : int
        Training patches.
    visible_size : int
        Values per patch (3 * patch_size**2).
    hidden_sizes : sequence of int
        Units of each hidden layer.
    dtype : {"float64", "float32"}, default "float64"
        Training dtype.
    whiten : bool, default False
        Whether the patches are ZCA-whitened before training.
    raw_itemsize : int, default 1
        Bytes of one raw pixel value (1 for uint8 images).

    Returns
    -------
    int
        Estimated bytes, from the array layouts; not a measurement. Per-block
        scratch buffers and the parameters are left out, being independent of
        ``num_patches``.

    Raises
    ------
    ValueError
        If a count or size is not a positive integer, ``hidden_sizes`` is empty, or
        ``dtype`` is not float32 or float64.
    """
    num_patches = check_int("num_patches", num_patches)
    visible_size = check_int("visible_size", visible_size)
    raw_itemsize = check_int("raw_itemsize", raw_itemsize)
    itemsize = check_float_dtype("dtype", dtype).itemsize
    hidden_sizes = list(hidden_sizes)
    if not hidden_sizes:
        raise ValueError("hidden_sizes must contain at least one size, got none.")
    hidden = sum(check_int("hidden_sizes", size) for size in hidden_sizes)
    persistent = raw_itemsize * visible_size + 8 * visible_size
    preprocessing = (16 if whiten else 8) * visible_size
    training = (0 if itemsize == 8 else itemsize * visible_size) + 2 * itemsize * hidden
    return num_patches * (persistent + max(preprocessing, training))


def train_autoencoder(
    X,
    spec: AutoencoderSpec,
    maxiter: int = 400,
    seed: int | np.random.Generator | None = 0,
    dtype="float64",
    backend: str | Backend = "numpy",
    log_every: int = 10,
    *,
    theta0=None,
    options: dict[str, Any] | None = None,
) -> TrainResult:
    """Minimise the sparse-autoencoder loss with ``scipy.optimize.minimize``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, spec.visible_size)
        Normalised training rows.
    spec : AutoencoderSpec
        Architecture and loss hyperparameters.
    maxiter : int, default 400
        Maximum number of L-BFGS-B iterations.
    seed : int, Generator or None, default 0
        Seed of the initial parameters (ignored when ``theta0`` is given).
    dtype : {"float64", "float32"}, default "float64"
        Working precision of the loss. L-BFGS-B itself always works in float64.
    backend : str or Backend, default "numpy"
        Array backend of the loss; with ``"cupy"`` the data moves to the GPU once,
        and only ``theta`` and the gradient cross per evaluation.
    log_every : int, default 10
        Log iteration, loss, gradient norm and seconds every ``log_every``
        iterations (logger ``aecore.training``, level INFO).
    theta0 : ndarray, optional
        Starting parameters instead of :func:`aecore.model.init_theta`.
    options : dict, optional
        Further L-BFGS-B options (``maxfun``, ``ftol``, ``gtol``, ``maxcor``...).

    Returns
    -------
    TrainResult

    Raises
    ------
    ValueError
        For invalid arguments, and when training ends with non-finite parameters.
    """
    maxiter = check_int("maxiter", maxiter)
    log_every = check_int("log_every", log_every)
    dtype = check_float_dtype("dtype", dtype)
    X = as_float_matrix("X", X, spec.visible_size)
    if theta0 is None:
        theta0 = init_theta(spec, seed)
    theta0 = check_theta(theta0, spec).astype(np.float64)
    _warn_if_out_of_range(X, spec)
    requested = get_backend(backend)
    logger.info(
        "training %s on %d x %d rows: %s, %s, maxiter %d",
        list(spec.layer_sizes),
        X.shape[0],
        X.shape[1],
        requested.name,
        dtype.name,
        maxiter,
    )
    start = time.perf_counter()
    # row_parallel keeps BLAS single-threaded for the whole run where the loss
    # spreads row blocks over threads itself. The level-1 BLAS calls of L-BFGS-B,
    # on vectors of ~10^4 values, gain nothing from threads either.
    with requested.row_parallel() as be:
        recorder = _Recorder(be, be.asarray(X, dtype), dtype, spec, log_every, start)
        res = scipy.optimize.minimize(
            recorder.fun,
            theta0,
            method="L-BFGS-B",
            jac=True,
            callback=recorder.callback,
            options={"maxiter": maxiter, **(options or {})},
        )
    history = recorder.history
    seconds = time.perf_counter() - start

    theta = np.asarray(res.x, dtype=np.float64)
    if not np.all(np.isfinite(theta)) or not np.isfinite(res.fun):
        raise ValueError(
            "L-BFGS-B produced non-finite parameters or loss "
            f"(stop message: {res.message!r}). Check that X is normalised (values "
            "in [0, 1] for a sigmoid decoder) and that the hyperparameters are in "
            "their usual ranges."
        )
    reason = stop_reason(res.status, res.message)
    routine = reason in ("converged", "iteration limit")
    log = logger.info if routine else logger.warning
    log(
        "stopped after %d iterations (%d evaluations, %.2f s): %s, loss %.6g [%s]",
        res.nit,
        res.nfev,
        seconds,
        reason,
        res.fun,
        res.message,
    )
    return TrainResult(
        theta=theta,
        history={
            name: np.asarray(values, dtype=np.int64 if name == "iteration" else None)
            for name, values in history.items()
        },
        nit=int(res.nit),
        nfev=int(res.nfev),
        success=bool(res.success),
        status=int(res.status),
        message=str(res.message),
        stop_reason=reason,
        final_loss=float(res.fun),
        seconds=seconds,
        dtype=dtype.name,
        backend=requested.name,
        extra={"maxiter": maxiter, "n_samples": int(X.shape[0])},
    )


class _Recorder:
    """Loss function and callback for L-BFGS-B that record the history."""

    def __init__(self, be, X_device, dtype, spec, log_every: int, start: float):
        self.be, self.X_device, self.dtype, self.spec = be, X_device, dtype, spec
        self.log_every, self.start = log_every, start
        self.history: dict[str, list] = {name: [] for name in HISTORY_COLUMNS}
        self.last_theta = None
        self.last_grad_norm = np.nan

    def fun(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        be = self.be
        loss, grad = _objective.loss_and_grad(
            be.asarray(theta, self.dtype), self.X_device, self.spec, be
        )
        grad = be.to_numpy(grad).astype(np.float64)
        self.last_theta = theta.copy()
        self.last_grad_norm = float(np.linalg.norm(grad))
        if not self.history["iteration"]:
            self._record(0, loss, self.last_grad_norm)
        return loss, grad

    def callback(self, intermediate_result: scipy.optimize.OptimizeResult) -> None:
        iteration = len(self.history["iteration"])
        # L-BFGS-B calls back at the iterate it evaluated last, so the cached
        # gradient norm belongs to it; otherwise the norm is unknown (NaN).
        same = self.last_theta is not None and np.array_equal(
            self.last_theta, intermediate_result.x
        )
        grad_norm = self.last_grad_norm if same else np.nan
        seconds = self._record(iteration, intermediate_result.fun, grad_norm)
        if iteration % self.log_every == 0:
            logger.info(
                "iter %5d  loss %.6g  |grad| %.3g  %.2f s",
                iteration,
                intermediate_result.fun,
                grad_norm,
                seconds,
            )

    def _record(self, iteration: int, loss: float, grad_norm: float) -> float:
        seconds = time.perf_counter() - self.start
        self.history["iteration"].append(int(iteration))
        self.history["loss"].append(float(loss))
        self.history["grad_norm"].append(float(grad_norm))
        self.history["seconds"].append(float(seconds))
        return seconds


def _warn_if_out_of_range(X: np.ndarray, spec: AutoencoderSpec) -> None:
    if spec.linear_decoder:
        return
    low, high = float(X.min()), float(X.max())
    if low < 0.0 or high > 1.0:
        logger.warning(
            "X spans [%.3g, %.3g], but a sigmoid decoder can only output values in "
            "(0, 1); normalise the patches or set linear_decoder=True.",
            low,
            high,
        )
