"""Time the sparse-autoencoder loss+gradient against its five matrix products.

Any exact loss and gradient of a one-hidden-layer autoencoder on N rows must do five
matrix products: the two forward products, the error propagated back through the
decoder weights, and the two weight gradients. This script times those five
products and the full loss+gradient side by side, on the same machine, in the same
run, for each backend, precision and N; and PyTorch autograd on the same inputs
when torch is installed.

What is timed:

- numpy: ``aecore.autoencoder.autoencoder_loss`` (the assignment function, input
  checks included) on host arrays.
- cupy: the loss as training runs it: data already on the GPU, ``theta`` copied in
  and the gradient copied back on every call.
- matmul: the five products into preallocated outputs, on the same backend.
- torch: forward and backward of the same loss with autograd, on the CPU for numpy
  rows and on CUDA for cupy rows. ``torch_loss_rel_diff`` compares its loss value
  with aecore's, as a check that both compute the same function.

Every measurement is the minimum over ``--repeats`` bursts of back-to-back calls,
and the bursts of the different methods are interleaved, so that load from other
processes affects them alike. BLAS threads follow ``OMP_NUM_THREADS`` and the like,
and torch uses as many.

Usage::

    python benchmarks/loss_speed.py --sizes 1000 10000 100000 --out speed.csv
    python benchmarks/loss_speed.py --backends numpy cupy --sizes 1000 1000000
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from aecore import _objective
from aecore.autoencoder import autoencoder_loss
from aecore.backend import get_backend
from aecore.collate import cpu_device_label
from aecore.model import AutoencoderSpec, init_theta, unpack

# Each method runs in bursts of back-to-back calls lasting about this long (3 to 50
# calls), as the loss runs in training. The first calls of a burst can be slowed
# by the method before: idle OpenBLAS threads keep spinning for a while after a
# threaded product, and a pause instead let the cores slow down.
BURST_SECONDS = 0.3

COLUMNS = (
    "device",
    "backend",
    "dtype",
    "n",
    "threads",
    "repeats",
    "loss_seconds",
    "loss_grad_seconds",
    "matmul_seconds",
    "ratio",
    "torch_seconds",
    "torch_ratio",
    "torch_loss_rel_diff",
)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=[1000, 10000, 100000],
        help="numbers of rows N to time (default: 1000 10000 100000)",
    )
    parser.add_argument(
        "--dtypes",
        nargs="+",
        choices=["float64", "float32"],
        default=["float64", "float32"],
        help="precisions to time (default: both)",
    )
    parser.add_argument(
        "--backends",
        nargs="+",
        choices=["numpy", "cupy"],
        default=["numpy"],
        help="array backends to time (default: numpy)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=5,
        help="timed runs per method; the minimum is reported (default: 5)",
    )
    parser.add_argument(
        "--visible", type=int, default=192, help="visible units (default: 192)"
    )
    parser.add_argument(
        "--hidden", type=int, default=75, help="hidden units (default: 75)"
    )
    parser.add_argument(
        "--no-torch", action="store_true", help="skip the PyTorch reference"
    )
    parser.add_argument("--out", type=Path, help="write the timings to this CSV file")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"--repeats must be >= 1, got {args.repeats}")
    if min(args.sizes) < 1:
        parser.error(f"--sizes must be >= 1, got {min(args.sizes)}")
    return args


def blas_threads() -> int:
    from threadpoolctl import threadpool_info

    counts = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
    return max(counts, default=1)


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "cpu"


def load_torch(enabled: bool):
    if not enabled:
        return None
    try:
        import torch
    except ImportError:
        return None
    return torch


class Case:
    """Inputs and timed callables for one backend, precision and N."""

    def __init__(self, backend: str, dtype: str, n: int, spec: AutoencoderSpec, torch):
        self.backend, self.dtype, self.n, self.spec = backend, dtype, n, spec
        rng = np.random.default_rng(0)
        X = rng.uniform(0.1, 0.9, size=(n, spec.visible_size)).astype(dtype)
        self.X = X
        self.theta = init_theta(spec, seed=0)
        self.be = get_backend(backend)
        self.sync = _synchroniser(self.be)
        self.methods = {"loss": self._loss_method(X), "matmul": self._matmul_method(X)}
        if torch is not None:
            self.methods["torch"] = self._torch_method(torch, X)

    def _loss_method(self, X):
        spec, theta = self.spec, self.theta
        if self.backend == "numpy":
            hidden = np.array(spec.hidden_sizes)

            def run():
                autoencoder_loss(
                    theta,
                    spec.visible_size,
                    hidden,
                    spec.weight_decay,
                    spec.sparsity_target,
                    spec.sparsity_weight,
                    X,
                )

            return run
        be = self.be.resolve_threads()
        X_device = be.asarray(X, self.dtype)

        def run():
            loss, grad = _objective.loss_and_grad(
                be.asarray(theta, self.dtype), X_device, spec, be
            )
            be.to_numpy(grad)

        return run

    def _matmul_method(self, X):
        be, n = self.be, self.n
        (W1, W2), _ = unpack(self.theta.astype(self.dtype), self.spec)
        X, W1, W2 = (be.asarray(a, self.dtype) for a in (X, W1, W2))
        h, v = W1.shape
        dtype = be.dtype(self.dtype)
        A2, D2 = be.empty((n, h), dtype), be.empty((n, h), dtype)
        Out = be.empty((n, v), dtype)
        G1, G2 = be.empty((h, v), dtype), be.empty((v, h), dtype)
        matmul = be.xp.matmul

        def run():
            # The values do not matter, only shapes: forward, back through W2, grads.
            matmul(X, W1.T, out=A2)
            matmul(A2, W2.T, out=Out)
            matmul(Out, W2, out=D2)
            matmul(Out.T, A2, out=G2)
            matmul(D2.T, X, out=G1)
            self.sync()

        return run

    def _torch_method(self, torch, X):
        device = "cuda" if self.backend == "cupy" else "cpu"
        if device == "cuda" and not torch.cuda.is_available():
            return None
        torch.set_num_threads(blas_threads())
        spec = self.spec
        dtype = getattr(torch, self.dtype)
        X_t = torch.as_tensor(X, dtype=dtype, device=device)
        theta = torch.tensor(self.theta, dtype=dtype, device=device, requires_grad=True)
        v, h = spec.visible_size, spec.hidden_sizes[0]
        rho, beta, lam = spec.sparsity_target, spec.sparsity_weight, spec.weight_decay
        eps = _objective.RHO_HAT_EPS
        sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)

        def loss():
            W1 = theta[: h * v].view(h, v)
            W2 = theta[h * v : 2 * h * v].view(v, h)
            b1 = theta[2 * h * v : 2 * h * v + h]
            b2 = theta[2 * h * v + h :]
            a2 = torch.sigmoid(X_t @ W1.T + b1)
            a3 = torch.sigmoid(a2 @ W2.T + b2)
            q = a2.mean(dim=0).clamp(eps, 1 - eps)
            kl = rho * torch.log(rho / q) + (1 - rho) * torch.log((1 - rho) / (1 - q))
            return (
                0.5 * ((a3 - X_t) ** 2).sum() / X_t.shape[0]
                + 0.5 * lam * ((W1**2).sum() + (W2**2).sum())
                + beta * kl.sum()
            )

        def run():
            theta.grad = None
            value = loss()
            value.backward()
            theta.grad.cpu()
            sync()

        self.torch_loss = loss
        return run

    def torch_difference(self) -> float:
        """Return the relative difference between the torch and aecore losses."""
        if getattr(self, "torch_loss", None) is None:
            return float("nan")
        reference = float(self.torch_loss().detach().cpu())
        ours, _ = _objective.loss_and_grad(
            self.theta.astype(self.dtype), self.X, self.spec, get_backend("numpy")
        )
        return abs(ours - reference) / abs(ours)


def _synchroniser(be):
    if be.name != "cupy":
        return lambda: None
    return be.xp.cuda.get_current_stream().synchronize


def time_case(case: Case, repeats: int) -> dict[str, float]:
    methods = {k: m for k, m in case.methods.items() if m is not None}
    runs = {}
    for name, method in methods.items():
        start = time.perf_counter()
        method()  # warm-up: allocations, thread pools, GPU kernels
        runs[name] = max(3, min(50, int(BURST_SECONDS / (time.perf_counter() - start))))
    best = {name: float("inf") for name in methods}
    for _ in range(repeats):
        for name, method in methods.items():
            for _ in range(runs[name]):
                start = time.perf_counter()
                method()
                best[name] = min(best[name], time.perf_counter() - start)
    return best


def device_name(backend: str) -> str:
    if backend == "cupy":
        import cupy

        properties = cupy.cuda.runtime.getDeviceProperties(0)
        name = properties["name"]
        return name.decode() if isinstance(name, bytes) else str(name)
    return cpu_device_label(cpu_name(), blas_threads())


def run(args: argparse.Namespace) -> list[dict]:
    spec = AutoencoderSpec(args.visible, (args.hidden,))
    torch = load_torch(not args.no_torch)
    rows = []
    for backend in args.backends:
        device = device_name(backend)
        for dtype in args.dtypes:
            for n in args.sizes:
                case = Case(backend, dtype, n, spec, torch)
                best = time_case(case, args.repeats)
                torch_seconds = best.get("torch", float("nan"))
                rows.append(
                    {
                        "device": device,
                        "backend": backend,
                        "dtype": dtype,
                        "n": n,
                        "threads": blas_threads(),
                        "repeats": args.repeats,
                        "loss_seconds": best["loss"],
                        "loss_grad_seconds": best["loss"],
                        "matmul_seconds": best["matmul"],
                        "ratio": best["loss"] / best["matmul"],
                        "torch_seconds": torch_seconds,
                        "torch_ratio": torch_seconds / best["matmul"],
                        "torch_loss_rel_diff": case.torch_difference(),
                    }
                )
                print_row(rows[-1], header=len(rows) == 1)
                del case
    return rows


def print_row(row: dict, header: bool) -> None:
    if header:
        print(f"device: {row['device']}")
        print(
            f"{'backend':8} {'dtype':8} {'N':>8} {'loss ms':>10} {'5 matmul ms':>12} "
            f"{'ratio':>6} {'torch ms':>10} {'torch ratio':>11}"
        )
    print(
        f"{row['backend']:8} {row['dtype']:8} {row['n']:>8} "
        f"{row['loss_seconds'] * 1e3:>10.2f} {row['matmul_seconds'] * 1e3:>12.2f} "
        f"{row['ratio']:>6.2f} {row['torch_seconds'] * 1e3:>10.2f} "
        f"{row['torch_ratio']:>11.2f}",
        flush=True,
    )


def write_csv(rows: list[dict], path: Path) -> None:
    """Write ``rows`` to ``path`` through a temporary file in the same directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", newline="") as stream:
            writer = csv.DictWriter(stream, fieldnames=COLUMNS)
            writer.writeheader()
            for row in rows:
                writer.writerow({k: _format(row[k]) for k in COLUMNS})
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _format(value):
    return repr(value) if isinstance(value, float) else value


def main(argv=None) -> int:
    args = parse_args(argv)
    rows = run(args)
    if args.out is not None:
        write_csv(rows, args.out)
        print(f"wrote {len(rows)} rows to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
