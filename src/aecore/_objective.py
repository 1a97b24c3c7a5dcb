"""Loss, gradient and forward pass on backend arrays; inputs are already validated.

Everything here takes arrays that already live on the backend, in one floating
dtype, and returns backend arrays (the loss as a Python float). The public wrappers
in :mod:`aecore.model` validate and move data.

Symbols follow the usual backpropagation notation: ``A`` for a layer's activations
(rows are samples), ``E`` for the output error, ``D`` for a hidden layer's error.
All errors are scaled by the number of rows ``n`` (sums, not means); the gradient is
divided by ``n`` once at the end.
"""

from __future__ import annotations

from typing import Any

RHO_HAT_EPS = 1e-8


def unpack(theta: Any, weight_shapes, xp) -> tuple[list[Any], list[Any]]:
    """Split ``theta`` into ``W_l`` (n_out, n_in) and ``b_l`` (n_out,) arrays."""
    weights, biases = [], []
    offset = 0
    for n_out, n_in in weight_shapes:
        size = n_out * n_in
        weights.append(xp.reshape(theta[offset : offset + size], (n_out, n_in)))
        offset += size
    for n_out, _ in weight_shapes:
        biases.append(theta[offset : offset + n_out])
        offset += n_out
    return weights, biases


def _kl_sparsity(col_sums, n_rows: int, rho: float, be) -> tuple[Any, Any]:
    """Return sum_j KL(rho || rho_hat_j) and dKL/drho_hat_j, both in float64.

    ``rho_hat`` is clipped into [RHO_HAT_EPS, 1 - RHO_HAT_EPS]; the derivative is
    that of the clipped function, so it is zero where the clip is active.
    """
    xp = be.xp
    rho_hat = col_sums / n_rows
    inside = (rho_hat > RHO_HAT_EPS) & (rho_hat < 1 - RHO_HAT_EPS)
    q = xp.clip(rho_hat, RHO_HAT_EPS, 1 - RHO_HAT_EPS)
    kl = xp.sum(rho * xp.log(rho / q) + (1 - rho) * xp.log((1 - rho) / (1 - q)))
    dkl = -rho / q + (1 - rho) / (1 - q)
    return kl, xp.where(inside, dkl, xp.zeros_like(dkl))


def _hidden_forward(theta, X, spec, be, n_layers: int):
    """Run the first ``n_layers`` hidden layers on all rows, block by block.

    Returns the activations of each layer and, in float64, their column sums.
    """
    weights, biases = unpack(theta, spec.weight_shapes, be.xp)
    n = X.shape[0]
    sizes = spec.hidden_sizes[:n_layers]
    hidden = [be.empty((n, h), X.dtype) for h in sizes]
    f64 = be.dtype("float64")

    def run_chunk(blocks):
        totals = [be.zeros((h,), f64) for h in sizes]
        for rows in blocks:
            a_prev = X[rows, :]
            for k in range(n_layers):
                out = hidden[k][rows, :] if be.supports_out else None
                Z = be.linear(a_prev, weights[k], biases[k], out=out)
                Z = be.activate_(Z, spec.activation)
                if Z is not out:
                    hidden[k][rows, :] = Z
                # Summing while the block is in cache saves a pass for rho_hat.
                totals[k] += be.astype(be.column_sums(Z), f64)
                a_prev = Z
        return totals

    col_sums = _sum_results(be.map_row_chunks(run_chunk, n))
    return hidden, col_sums


def forward(theta, X, spec, be, layer: int):
    """Return the activations of ``layer`` (1 = input) for the rows of ``X``."""
    with be.row_parallel() as be:
        return _forward(theta, X, spec, be, layer)


def _forward(theta, X, spec, be, layer: int):
    n_hidden = len(spec.hidden_sizes)
    if layer == 1:
        return X
    if layer <= n_hidden + 1:
        hidden, _ = _hidden_forward(theta, X, spec, be, layer - 1)
        return hidden[-1]
    weights, biases = unpack(theta, spec.weight_shapes, be.xp)
    a_top = _hidden_forward(theta, X, spec, be, n_hidden)[0][-1]
    Z = be.linear(a_top, weights[-1], biases[-1])
    return Z if spec.linear_decoder else be.sigmoid_(Z)


def loss_and_grad(theta, X, spec, be) -> tuple[float, Any]:
    """Return the loss (float) and its gradient (backend array) at ``theta``.

    The loss is defined in :func:`aecore.model.loss_and_grad`. A first pass computes
    the hidden activations of all rows, because the sparsity term needs their means
    before any error can be propagated back. A second pass handles the output layer
    and the whole backward pass block by block, so each block's temporaries stay in
    cache on the CPU. Both passes split the rows into chunks that the backend may
    run on several threads; their partial sums are added at the end.
    """
    with be.row_parallel() as be:
        return _loss_and_grad(theta, X, spec, be)


def _loss_and_grad(theta, X, spec, be) -> tuple[float, Any]:
    xp = be.xp
    dtype = X.dtype
    n = X.shape[0]
    weights, biases = unpack(theta, spec.weight_shapes, xp)
    n_hidden = len(spec.hidden_sizes)
    rho, beta, lam = spec.sparsity_target, spec.sparsity_weight, spec.weight_decay

    # Pass 1: hidden activations, and the sparsity term from their means.
    hidden, col_sums = _hidden_forward(theta, X, spec, be, n_hidden)
    kl_total = 0.0
    sparse_grads = []
    for total in col_sums:
        kl, dkl = _kl_sparsity(total, n, rho, be)
        kl_total = kl_total + kl
        # Scaled by n like the errors: beta * dKL/drho_hat per row, not / n.
        sparse_grads.append(be.astype(beta * dkl, dtype))

    # Pass 2: output layer and backward pass, one row block at a time.
    def run_chunk(blocks):
        grad_w = [be.zeros(W.shape, dtype) for W in weights]
        grad_b = [be.zeros(b.shape, dtype) for b in biases]
        size = max(r.stop - r.start for r in blocks)
        out_buf = be.scratch((size, spec.visible_size), dtype)
        err_buf = be.scratch((size, spec.visible_size), dtype)
        d_bufs = [be.scratch((size, h), dtype) for h in spec.hidden_sizes]
        t_bufs = [be.scratch((size, h), dtype) for h in spec.hidden_sizes]
        sse = 0.0
        for rows in blocks:
            m = rows.stop - rows.start
            x = X[rows, :]
            a_top = hidden[-1][rows, :]
            Z = be.linear(a_top, weights[-1], biases[-1], out=_head(out_buf, m))
            if spec.linear_decoder:
                E = be.subtract(Z, x, out=_head(err_buf, m))
                sse = sse + be.sumsq(E)
            else:
                Z = be.sigmoid_(Z)
                E = be.subtract(x, Z, out=_head(err_buf, m))
                sse = sse + be.sumsq(E)
                # E = (x - a) * a * (a - 1) = (a - x) * a * (1 - a), the output error.
                E *= Z
                Z -= 1
                E *= Z
            grad_w[-1] += be.matmul(E.T, a_top)
            grad_b[-1] += be.column_sums(E)

            G = E
            for k in range(n_hidden - 1, -1, -1):
                A = hidden[k][rows, :]
                D = be.matmul(G, weights[k + 1], out=_head(d_bufs[k], m))
                D += sparse_grads[k]
                D = be.activation_grad_mul_(D, A, spec.activation, _head(t_bufs[k], m))
                a_in = x if k == 0 else hidden[k - 1][rows, :]
                grad_w[k] += be.matmul(D.T, a_in)
                grad_b[k] += be.column_sums(D)
                G = D
        return [sse, *grad_w, *grad_b]

    sse, *grads = _sum_results(be.map_row_chunks(run_chunk, n))
    grad_w, grad_b = grads[: len(weights)], grads[len(weights) :]

    decay = 0.0
    for W, gW in zip(weights, grad_w, strict=True):
        decay = decay + be.sumsq(W)
        gW *= 1.0 / n
        gW += lam * W
    for gb in grad_b:
        gb *= 1.0 / n
    loss = (
        be.to_float(sse) / (2 * n)
        + 0.5 * lam * be.to_float(decay)
        + beta * be.to_float(kl_total)
    )
    parts = [xp.reshape(g, (-1,)) for g in grad_w] + grad_b
    return loss, be.concat(parts)


def _sum_results(results: list[list[Any]]) -> list[Any]:
    """Add the per-chunk lists of partial sums element by element."""
    totals = results[0]
    for partial in results[1:]:
        totals = [t + p for t, p in zip(totals, partial, strict=True)]
    return totals


def _head(buffer, m: int):
    return None if buffer is None else buffer[:m, :]
