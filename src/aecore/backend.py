"""Array-backend switch: NumPy, CuPy or any array-API namespace, one code path.

The numerical code in :mod:`aecore` is written once against a :class:`Backend`. A
backend pairs an array namespace (``xp``) with the few primitives that the standard
array API cannot express efficiently, chiefly in-place elementwise functions with
``out=``. In-place arithmetic operators (``a += b``, ``a *= b``) are part of the array
API standard, so the shared code uses them directly.

Three families exist:

- ``"numpy"``: in-place ufuncs with ``out=`` and row blocks sized for the CPU cache.
- ``"cupy"``: the same in-place ufuncs on the GPU, whole arrays at once. Data moves to
  the device with :meth:`Backend.asarray` and back with :meth:`Backend.to_numpy`;
  nothing converts a device array implicitly.
- ``"array_api_strict"`` (and :func:`array_api_backend` for any namespace): standard
  functions only, which keeps the shared code honest about the array API.

Asking for CuPy when it is not installed, or when no CUDA GPU is present, raises
:class:`BackendUnavailableError`. There is no silent fallback to the CPU.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import importlib
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

BACKENDS = ("numpy", "cupy", "array_api_strict")

# Rows per block for the NumPy backend's elementwise work: small enough that a
# block's temporaries stay in cache (512 x 192 values take 384 KiB in float32),
# large enough that matrix products on a block run at full BLAS speed and Python
# overhead per block stays small. For 192-75-192 on a 2-core AMD EPYC VM, 512 and
# 1024 rows ran float32 up to 20% faster than 256, and float64 about as fast.
DEFAULT_BLOCK_ROWS = 512


class BackendUnavailableError(RuntimeError):
    """Raised when the requested array backend cannot run on this machine."""


class Backend:
    """Array namespace plus the primitives that the shared maths needs.

    Parameters
    ----------
    name : str
        Backend name reported in logs and result metadata.
    xp : module
        Array namespace (``numpy``, ``cupy``, ``array_api_strict``, ...).
    device : object, optional
        Device passed to array creation functions; ``None`` uses the default.
    block_rows : int or None
        Rows per block for elementwise work; ``None`` processes whole arrays.

    Notes
    -----
    This base class uses standard array-API functions only and allocates a new array
    for each elementwise result. :class:`UfuncBackend` overrides the hot primitives
    with in-place versions for NumPy and CuPy.
    """

    supports_out = False

    def __init__(self, name: str, xp: Any, device: Any = None, block_rows=None):
        self.name = name
        self.xp = xp
        self.device = device
        self.block_rows = block_rows

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, device={self.device!r})"

    # --- data movement and creation -------------------------------------------

    def dtype(self, name: str) -> Any:
        """Return the namespace's floating dtype called ``name``."""
        return getattr(self.xp, np.dtype(name).name)

    def asarray(self, a: Any, dtype: str | None = None) -> Any:
        """Copy host data ``a`` to this backend, C-contiguous, as ``dtype``."""
        host = np.ascontiguousarray(a, dtype=None if dtype is None else np.dtype(dtype))
        if self.device is None:
            return self.xp.asarray(host)
        return self.xp.asarray(host, device=self.device)

    def to_numpy(self, a: Any) -> np.ndarray:
        """Copy a backend array to a NumPy array on the host."""
        return to_numpy(a)

    def to_float(self, a: Any) -> float:
        """Return a 0-d backend array as a Python float."""
        return float(self.to_numpy(a))

    def empty(self, shape: tuple[int, ...], dtype: Any) -> Any:
        if self.device is None:
            return self.xp.empty(shape, dtype=dtype)
        return self.xp.empty(shape, dtype=dtype, device=self.device)

    def zeros(self, shape: tuple[int, ...], dtype: Any) -> Any:
        if self.device is None:
            return self.xp.zeros(shape, dtype=dtype)
        return self.xp.zeros(shape, dtype=dtype, device=self.device)

    def scratch(self, shape: tuple[int, ...], dtype: Any) -> Any:
        """Return an output buffer, or ``None`` where ``out=`` is unsupported."""
        return self.empty(shape, dtype) if self.supports_out else None

    def astype(self, a: Any, dtype: Any) -> Any:
        return self.xp.astype(a, dtype)

    def row_blocks(self, n_rows: int) -> list[slice]:
        """Split ``range(n_rows)`` into the row blocks that elementwise work uses."""
        step = max(1, n_rows if self.block_rows is None else self.block_rows)
        return [slice(i, min(i + step, n_rows)) for i in range(0, max(n_rows, 1), step)]

    @contextlib.contextmanager
    def row_parallel(self) -> Iterator[Backend]:
        """Yield the backend to use for row-chunked work (this one, here)."""
        yield self

    def map_row_chunks(self, fn: Callable[[list[slice]], Any], n_rows: int) -> list:
        """Call ``fn`` on contiguous chunks of row blocks and return its results.

        ``fn`` receives a list of row slices and must only write rows inside them.
        This base class runs a single chunk with every block.
        """
        return [fn(self.row_blocks(n_rows))]

    # --- arithmetic primitives -------------------------------------------------

    def matmul(self, a: Any, b: Any, out: Any = None) -> Any:
        """Return ``a @ b``, written into ``out`` where the backend supports it."""
        return self.xp.matmul(a, b)

    def linear(self, a: Any, w: Any, b: Any, out: Any = None) -> Any:
        """Return ``a @ w.T + b`` for weights ``w`` of shape (n_out, n_in)."""
        z = self.matmul(a, w.T, out=out)
        z += b
        return z

    def subtract(self, a: Any, b: Any, out: Any = None) -> Any:
        """Return ``a - b``, written into ``out`` where the backend supports it."""
        return a - b

    def sigmoid_(self, z: Any) -> Any:
        """Return the logistic sigmoid of ``z``, overwriting ``z`` where possible."""
        # 0.5 * tanh(z / 2) + 0.5 equals 1 / (1 + exp(-z)) and cannot overflow.
        return 0.5 * self.xp.tanh(0.5 * z) + 0.5

    def relu_(self, z: Any) -> Any:
        """Return ``max(z, 0)``, overwriting ``z`` where possible."""
        return self.xp.where(z > 0, z, self.xp.zeros_like(z))

    def sigmoid_grad_mul_(self, g: Any, a: Any, tmp: Any = None) -> Any:
        """Return ``g * a * (1 - a)`` for sigmoid outputs ``a``, in ``g`` if able."""
        return g * (a * (1 - a))

    def relu_grad_mul_(self, g: Any, a: Any, tmp: Any = None) -> Any:
        """Return ``g * (a > 0)`` for ReLU outputs ``a``, in ``g`` if possible."""
        return self.xp.where(a > 0, g, self.xp.zeros_like(g))

    def sumsq(self, a: Any) -> Any:
        """Return the sum of squares of all elements as a 0-d array."""
        return self.xp.sum(a * a)

    def column_sums(self, a: Any) -> Any:
        """Return the sum over rows of a 2-D array."""
        return self.xp.sum(a, axis=0)

    def concat(self, parts: list[Any]) -> Any:
        """Join 1-D arrays end to end."""
        return self.xp.concat(parts)

    def activate_(self, z: Any, activation: str) -> Any:
        """Apply a hidden-layer activation by name (see :meth:`sigmoid_`)."""
        return self.sigmoid_(z) if activation == "sigmoid" else self.relu_(z)

    def activation_grad_mul_(
        self, g: Any, a: Any, activation: str, tmp: Any = None
    ) -> Any:
        """Multiply ``g`` by the activation's derivative, given its outputs ``a``."""
        if activation == "sigmoid":
            return self.sigmoid_grad_mul_(g, a, tmp)
        return self.relu_grad_mul_(g, a, tmp)


class UfuncBackend(Backend):
    """Backend for NumPy-compatible namespaces whose functions accept ``out=``.

    NumPy and CuPy share this class: elementwise results overwrite their inputs or
    preallocated buffers, so a loss evaluation allocates few large temporaries.
    """

    supports_out = True

    def __init__(
        self, name, xp, device=None, block_rows=None, to_host=None, n_threads=1
    ):
        super().__init__(name, xp, device, block_rows)
        self._to_host = to_host
        self.n_threads = n_threads

    def map_row_chunks(self, fn, n_rows):
        """Run ``fn`` on up to ``n_threads`` chunks of row blocks in parallel.

        NumPy ufuncs and BLAS release the GIL, so Python threads use several cores
        for the elementwise work as well as for the matrix products. Call it inside
        :meth:`row_parallel`, which keeps BLAS single-threaded meanwhile. Without
        row blocks (``block_rows=None``) ``fn`` runs once on every row.
        """
        blocks = self.row_blocks(n_rows)
        if self.block_rows is None or not self._is_cpu:
            return [fn(blocks)]
        n_threads = self.n_threads if self.n_threads is not None else _blas_threads()
        n_chunks = max(1, min(n_threads, len(blocks)))
        if n_chunks == 1:
            return [fn(blocks)]
        bounds = [len(blocks) * i // n_chunks for i in range(n_chunks + 1)]
        chunks = [blocks[bounds[i] : bounds[i + 1]] for i in range(n_chunks)]
        pool = _thread_pool(n_chunks)
        futures = [pool.submit(fn, chunk) for chunk in chunks]
        return [future.result() for future in futures]

    @contextlib.contextmanager
    def row_parallel(self) -> Iterator[UfuncBackend]:
        """Yield a backend for row-chunked work, with BLAS single-threaded inside.

        The yielded backend's ``n_threads`` is fixed at the BLAS thread count found
        on entry (``OMP_NUM_THREADS`` and threadpoolctl limits apply), and BLAS
        then runs on one thread per caller. BLAS threads gain little on blocks of a
        few hundred rows, and when the cores are busy they can slow a product down
        many times over. Entering once for a whole computation matters, because
        idle BLAS threads spin for a while after each switch back, and take CPU
        from the row threads. Without row blocks this yields ``self`` unchanged.
        """
        if self.block_rows is None or not self._is_cpu:
            yield self
            return
        resolved = self
        if self.n_threads is None:
            resolved = copy.copy(self)
            resolved.n_threads = _blas_threads()
        if _blas_threads() == 1:
            yield resolved
            return
        with single_threaded_blas():
            yield resolved

    @property
    def _is_cpu(self) -> bool:
        return self.xp is np

    def asarray(self, a: Any, dtype: str | None = None) -> Any:
        host = np.ascontiguousarray(a, dtype=None if dtype is None else np.dtype(dtype))
        return self.xp.asarray(host) if self.xp is not np else host

    def to_numpy(self, a: Any) -> np.ndarray:
        if self._to_host is None:
            return to_numpy(a)
        return self._to_host(a)

    def empty(self, shape, dtype):
        return self.xp.empty(shape, dtype=dtype)

    def zeros(self, shape, dtype):
        return self.xp.zeros(shape, dtype=dtype)

    def astype(self, a, dtype):
        return a.astype(dtype, copy=False)

    def matmul(self, a, b, out=None):
        return self.xp.matmul(a, b, out=out)

    def subtract(self, a, b, out=None):
        return self.xp.subtract(a, b, out=out)

    def sigmoid_(self, z):
        xp = self.xp
        # exp(-z) overflows to inf for very negative z, and 1 / (1 + inf) = 0 is the
        # correctly rounded sigmoid there, so the overflow flag is expected.
        with np.errstate(over="ignore"):
            xp.negative(z, out=z)
            xp.exp(z, out=z)
        z += 1
        xp.reciprocal(z, out=z)
        return z

    def relu_(self, z):
        return self.xp.maximum(z, 0, out=z)

    def sigmoid_grad_mul_(self, g, a, tmp=None):
        tmp = self.xp.subtract(1, a, out=tmp)
        g *= a
        g *= tmp
        return g

    def relu_grad_mul_(self, g, a, tmp=None):
        # a >= 0, so sign(a) is the 0/1 derivative of the ReLU at its input.
        tmp = self.xp.sign(a, out=tmp)
        g *= tmp
        return g

    def sumsq(self, a):
        flat = a.reshape(-1)
        return self.xp.dot(flat, flat)

    def column_sums(self, a):
        return a.sum(axis=0)

    def concat(self, parts):
        return self.xp.concatenate(parts)


def _numpy_backend(block_rows: int | None, n_threads: int | None) -> UfuncBackend:
    return UfuncBackend(
        "numpy", np, block_rows=block_rows, to_host=np.asarray, n_threads=n_threads
    )


@functools.lru_cache(maxsize=1)
def _blas_controller():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController().select(user_api="blas")


def _blas_threads() -> int:
    """Return the current BLAS thread count (1 if no BLAS library is found)."""
    counts = [lib.num_threads for lib in _blas_controller().lib_controllers]
    return max(counts, default=1)


def single_threaded_blas():
    """Return a context manager inside which BLAS runs on one thread."""
    return _blas_controller().limit(limits=1)


_POOLS: dict[int, ThreadPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()


def _thread_pool(n_workers: int) -> ThreadPoolExecutor:
    with _POOLS_LOCK:
        pool = _POOLS.get(n_workers)
        if pool is None:
            pool = ThreadPoolExecutor(n_workers, thread_name_prefix="aecore-rows")
            _POOLS[n_workers] = pool
        return pool


def _check_gpu(cupy: Any) -> None:
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    # CuPy reports a missing driver or device with its own CUDARuntimeError, and a
    # broken CUDA installation with other exception types, so catch them all here.
    except Exception as exc:  # noqa: BLE001
        raise BackendUnavailableError(
            "backend='cupy' needs a CUDA GPU, but CuPy could not query the CUDA "
            f"devices ({type(exc).__name__}: {exc}). Check the NVIDIA driver, or use "
            "backend='numpy'."
        ) from exc
    if count < 1:
        raise BackendUnavailableError(
            "backend='cupy' needs a CUDA GPU, but CuPy found none. "
            "Use backend='numpy' on this machine."
        )


def _cupy_backend() -> UfuncBackend:
    try:
        cupy = importlib.import_module("cupy")
    except ImportError as exc:
        raise BackendUnavailableError(
            "backend='cupy' needs CuPy, which is not installed or failed to import "
            f"({exc}). Install it with `pip install aecore[gpu]` (CUDA 12) or "
            "`pip install aecore[gpu-cuda13]` (CUDA 13)."
        ) from exc
    _check_gpu(cupy)
    return UfuncBackend("cupy", cupy, block_rows=None, to_host=_cupy_to_host)


def _cupy_to_host(a: Any) -> np.ndarray:
    return np.asarray(a.get())


def _strict_backend(device: Any = None) -> Backend:
    try:
        xp = importlib.import_module("array_api_strict")
    except ImportError as exc:
        raise BackendUnavailableError(
            "backend='array_api_strict' needs the array-api-strict package: "
            "install it with `pip install array-api-strict`."
        ) from exc
    return Backend("array_api_strict", xp, device=device, block_rows=None)


def array_api_backend(xp: Any, device: Any = None, name: str | None = None) -> Backend:
    """Wrap any array-API namespace in a :class:`Backend` with standard functions.

    Parameters
    ----------
    xp : module
        Namespace following the Python array API standard.
    device : object, optional
        Device on which to create arrays.
    name : str, optional
        Name used in logs; defaults to the namespace's module name.
    """
    return Backend(name or getattr(xp, "__name__", "array-api"), xp, device=device)


def get_backend(
    backend: str | Backend = "numpy",
    *,
    block_rows: int | None = DEFAULT_BLOCK_ROWS,
    n_threads: int | None = None,
) -> Backend:
    """Return the :class:`Backend` for a name, or ``backend`` itself if it is one.

    Parameters
    ----------
    backend : {"numpy", "cupy", "array_api_strict"} or Backend
        Requested backend.
    block_rows : int or None, default DEFAULT_BLOCK_ROWS
        Rows per block for the NumPy backend's elementwise work; ``None`` turns
        blocking off. Other backends process whole arrays.
    n_threads : int or None, default None
        Threads over which the NumPy backend spreads row blocks; ``None`` follows
        the BLAS thread count at call time (``OMP_NUM_THREADS`` and friends).

    Raises
    ------
    ValueError
        If the name is unknown.
    BackendUnavailableError
        If CuPy is not installed or no CUDA GPU is present.
    """
    if isinstance(backend, Backend):
        return backend
    if backend == "numpy":
        return _numpy_backend(block_rows, n_threads)
    if backend == "cupy":
        return _cupy_backend()
    if backend == "array_api_strict":
        return _strict_backend()
    raise ValueError(
        f"backend must be one of {', '.join(map(repr, BACKENDS))} or a Backend "
        f"instance, got {backend!r}."
    )


def get_namespace(backend: str | Backend = "numpy") -> Any:
    """Return the array namespace (``xp``) of a backend; see :func:`get_backend`."""
    return get_backend(backend).xp


def to_numpy(a: Any) -> np.ndarray:
    """Copy an array from any supported backend to a NumPy array on the host.

    CuPy arrays (anything with a ``get()`` method) are copied from the device;
    array-API arrays go through DLPack after moving to the CPU where needed.
    """
    if isinstance(a, np.ndarray):
        return a
    get = getattr(a, "get", None)
    if callable(get):
        return np.asarray(get())
    if hasattr(a, "__dlpack__"):
        return np.from_dlpack(_to_cpu_device(a))
    return np.asarray(a)


def _to_cpu_device(a: Any) -> Any:
    try:
        xp = a.__array_namespace__()
        cpu = xp.__array_namespace_info__().default_device()
    except AttributeError:
        return a
    if getattr(a, "device", cpu) == cpu:
        return a
    return a.to_device(cpu)
