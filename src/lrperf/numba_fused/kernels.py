"""One pass over X per step: a fused, multi-threaded Numba kernel.

The ``numpy`` strategy reads X twice (w @ X, then X @ dZ); on data larger
than the caches that second read is half the cost.  Here each example's
dot product, sigmoid, loss and its share of dw are computed while the example
is still in cache, so X comes from memory once per step.

The loop order follows the layout:

* columns contiguous (Fortran order, the course's layout): groups of
  examples, software-pipelined: the dot products of the next group run in
  the same loop as dw += x * dz for this group, whose columns are still in
  L2, so memory is read without a pause; groups of 4 or 2 examples, as many
  as the L2 holds (``planner.column_group``); for columns shorter than
  an eighth of the L1d, pairs of examples, dot then dw update;
* rows contiguous (C order), ``tiles``: tiles of ``block`` examples; z for
  the tile row by row, then dw row by row over the same tile, which is still
  in cache; the z pass of the next tile runs in the same loop as the dw pass
  of this one, and rows ``ahead`` are prefetched by hand (row segments of a
  tile are too short for the hardware prefetcher to ramp up);
* rows contiguous, ``rows``: whole rows, z then dw; when X fits the
  last-level cache the second pass reads it from cache, not memory.

Which loop, how wide the tiles and groups, how far the prefetch: planned per
machine and shape class (``lrperf.numba_fused.planner``).

Examples are split into one fixed chunk per thread (depends only on m and the
thread count), each thread accumulates into its own row of a
(threads, n_x) array, and the rows are added in thread order: the same
thread count gives bit-identical results.

float32 X is read as it is (the kernels are compiled once per dtype of X):
each element is widened to float64 as it is loaded, and w, z, dz, dw and
every sum stay float64, so a float32 step costs half the bytes of memory
traffic and keeps float64 accuracy on the float32 values.

Numerics: only the dot products are compiled with ``fastmath={"reassoc"}``
(what lets LLVM vectorize a reduction: a sum in several SIMD lanes, as BLAS
does); the sigmoid and the loss are the shared ``numerics`` functions, compiled
without fast-math.  Indexing is through slices and ``range`` loop variables
on purpose: an index like ``X[j, s + k]`` with an arbitrary ``s`` makes Numba
emit a negative-index check per element, which blocks vectorization (measured
4-5x slower).
"""
import numba as nb
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from ..numerics import loss_jit, sigmoid_jit


_ALIGN = 8  # doubles per 64-byte cache line: chunk and row padding


@intrinsic
def _prefetch(typingctx, row, idx):
    """Hint the cache line of row[idx] into cache; never changes a result."""
    if not (isinstance(row, types.Array) and row.ndim == 1 and isinstance(idx, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [args[1]], wraparound=False)
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
        # read, keep in all cache levels, data cache
        builder.call(fn, [builder.bitcast(ptr, i8p), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return types.void(row, idx), codegen


@nb.njit(cache=True)
def _prefetch_segment(X, r, s, e):
    row = X[r]
    for c in range(s, e, _ALIGN):
        _prefetch(row, c)
    _prefetch(row, e - 1)


# reassoc (only): LLVM may split the sum over SIMD lanes.  Deterministic for a
# given build; the order differs from BLAS's only by rounding.
@nb.njit(fastmath={"reassoc"}, cache=True)
def _dot(a, b, n):
    s = 0.0
    for j in range(n):
        s += a[j] * b[j]
    return s


@nb.njit(fastmath={"reassoc"}, cache=True)
def _dot2(w, x0, x1, n):
    s0 = 0.0
    s1 = 0.0
    for j in range(n):
        wj = w[j]
        s0 += wj * x0[j]
        s1 += wj * x1[j]
    return s0, s1


@nb.njit(fastmath={"reassoc"}, cache=True)
def _dot4(x0, x1, x2, x3, y, n):
    s0 = 0.0
    s1 = 0.0
    s2 = 0.0
    s3 = 0.0
    for k in range(n):
        yk = y[k]
        s0 += x0[k] * yk
        s1 += x1[k] * yk
        s2 += x2[k] * yk
        s3 += x3[k] * yk
    return s0, s1, s2, s3


@nb.njit(cache=True)
def _axpy(y, a, x, n):
    for j in range(n):
        y[j] += a * x[j]


@nb.njit(cache=True)
def _axpy2(y, a0, x0, a1, x1, n):
    for j in range(n):
        y[j] += a0 * x0[j] + a1 * x1[j]


@nb.njit(cache=True)
def _axpy4(z, w0, x0, w1, x1, w2, x2, w3, x3, n):
    # Four rows per sweep over z: a quarter of z's loads and stores, and four
    # memory streams in flight instead of one.
    for k in range(n):
        z[k] += (w0 * x0[k] + w1 * x1[k]) + (w2 * x2[k] + w3 * x3[k])


@nb.njit(cache=True)
def _pad(n):
    return (n + _ALIGN - 1) // _ALIGN * _ALIGN


@nb.njit(cache=True)
def _chunk(m, nthreads):
    # One chunk per thread, a whole number of cache lines of a C-order row.
    return _pad((m + nthreads - 1) // nthreads)


@nb.njit(cache=True)
def _reduce(dws, sums, n_x, m):
    # Fixed order, thread 0 first: the result depends only on the thread count.
    dw = np.zeros(n_x)
    db = 0.0
    cost = 0.0
    for t in range(dws.shape[0]):
        row = dws[t]
        for j in range(n_x):
            dw[j] += row[j]
        db += sums[t, 0]
        cost += sums[t, 1]
    for j in range(n_x):
        dw[j] /= m
    return dw, db / m, cost / m


@nb.njit(fastmath={"reassoc"}, cache=True)
def _dot2_axpy2(w, n0, n1, acc, a0, x0, a1, x1, n):
    """acc += a0 x0 + a1 x1 (this pair, in cache) while dotting the next pair (from memory)."""
    s0 = 0.0
    s1 = 0.0
    for j in range(n):
        wj = w[j]
        s0 += wj * n0[j]
        s1 += wj * n1[j]
        acc[j] += a0 * x0[j] + a1 * x1[j]
    return s0, s1


@nb.njit(fastmath={"reassoc"}, cache=True)
def _dot4_axpy4(w, n0, n1, n2, n3, acc, a0, x0, a1, x1, a2, x2, a3, x3, n):
    """_dot2_axpy2 for groups of four: w and acc pass through the core once per four."""
    s0 = 0.0
    s1 = 0.0
    s2 = 0.0
    s3 = 0.0
    for j in range(n):
        wj = w[j]
        s0 += wj * n0[j]
        s1 += wj * n1[j]
        s2 += wj * n2[j]
        s3 += wj * n3[j]
        acc[j] += (a0 * x0[j] + a1 * x1[j]) + (a2 * x2[j] + a3 * x3[j])
    return s0, s1, s2, s3


@nb.njit(cache=True)
def _axpy4c(acc, a0, x0, a1, x1, a2, x2, a3, x3, n):
    for j in range(n):
        acc[j] += (a0 * x0[j] + a1 * x1[j]) + (a2 * x2[j] + a3 * x3[j])


@nb.njit(cache=True)
def _dz(z, y):
    """(loss, dz) of one example."""
    return loss_jit(z, y), sigmoid_jit(z) - y


@nb.njit(cache=True)
def _dz2(z0, z1, b, Y, i):
    """dz of examples i and i + 1, and their sums of losses and of dz."""
    l0, d0 = _dz(z0 + b, Y[i])
    l1, d1 = _dz(z1 + b, Y[i + 1])
    return d0, d1, l0 + l1, d0 + d1


@nb.njit(cache=True)
def _pairs_plain(w, b, XT, Y, acc, lo, hi, n_x):
    """Examples lo.. in pairs, dot then dw update; returns (next example, db, cost).

    For short columns: they are done before the next pair's reads would stall,
    and these loops cost less per call than the pipelined ones (which check
    more arrays for overlap).
    """
    db = 0.0
    cost = 0.0
    i = lo
    while i + 1 < hi:
        x0 = XT[i]
        x1 = XT[i + 1]
        z0, z1 = _dot2(w, x0, x1, n_x)
        d0, d1, loss, dz = _dz2(z0, z1, b, Y, i)
        cost += loss
        db += dz
        _axpy2(acc, d0, x0, d1, x1, n_x)
        i += 2
    return i, db, cost


@nb.njit(cache=True)
def _pairs(w, b, XT, Y, acc, lo, hi, n_x):
    """Examples lo.. in pairs, software-pipelined; returns (next example, db, cost)."""
    db = 0.0
    cost = 0.0
    i = lo
    if i + 1 < hi:
        z0, z1 = _dot2(w, XT[i], XT[i + 1], n_x)
        while i + 1 < hi:
            d0, d1, loss, dz = _dz2(z0, z1, b, Y, i)
            cost += loss
            db += dz
            if i + 3 < hi:
                z0, z1 = _dot2_axpy2(w, XT[i + 2], XT[i + 3], acc, d0, XT[i], d1, XT[i + 1], n_x)
            else:
                _axpy2(acc, d0, XT[i], d1, XT[i + 1], n_x)
            i += 2
    return i, db, cost


@nb.njit(cache=True)
def _quads(w, b, XT, Y, acc, lo, hi, n_x):
    """Examples lo.. in groups of four, software-pipelined; returns (next example, db, cost)."""
    db = 0.0
    cost = 0.0
    i = lo
    if i + 3 < hi:
        z0, z1, z2, z3 = _dot4(XT[i], XT[i + 1], XT[i + 2], XT[i + 3], w, n_x)
        while i + 3 < hi:
            d0, d1, loss01, dz01 = _dz2(z0, z1, b, Y, i)
            d2, d3, loss23, dz23 = _dz2(z2, z3, b, Y, i + 2)
            cost += loss01 + loss23
            db += dz01 + dz23
            if i + 7 < hi:
                z0, z1, z2, z3 = _dot4_axpy4(
                    w, XT[i + 4], XT[i + 5], XT[i + 6], XT[i + 7], acc,
                    d0, XT[i], d1, XT[i + 1], d2, XT[i + 2], d3, XT[i + 3], n_x)
            else:
                _axpy4c(acc, d0, XT[i], d1, XT[i + 1], d2, XT[i + 2], d3, XT[i + 3], n_x)
            i += 4
    return i, db, cost


# Takes X.T (m, n_x), whose rows are the examples: a column X[:, i] of an
# F-ordered X is typed as a 1-D 'F' array by Numba and its dot ran at half the
# speed (measured), and an X of shape (n_x, 1) would be typed 'C' and compile
# this kernel a second time.
@nb.njit(parallel=True, cache=True)
def _step_columns(w, b, XT, Y, nthreads, row, group, pipelined):
    m, n_x = XT.shape
    dws = np.zeros((nthreads, row))
    sums = np.zeros((nthreads, 2))
    chunk = _chunk(m, nthreads)
    for t in nb.prange(nthreads):
        lo = min(m, t * chunk)
        hi = min(m, lo + chunk)
        acc = dws[t]
        # Groups of examples: w and this thread's dw row go through the core
        # once per group.  Pipelined: the dot of the next group runs in the
        # same loop as the dw update of this one (from cache), so memory is
        # read without a pause while the in-cache work is done.
        if not pipelined:
            i, db, cost = _pairs_plain(w, b, XT, Y, acc, lo, hi, n_x)
        elif group >= 4:
            i, db, cost = _quads(w, b, XT, Y, acc, lo, hi, n_x)
        else:
            i, db, cost = _pairs(w, b, XT, Y, acc, lo, hi, n_x)
        while i < hi:
            x = XT[i]
            loss, dz = _dz(_dot(w, x, n_x) + b, Y[i])
            cost += loss
            db += dz
            _axpy(acc, dz, x, n_x)
            i += 1
        sums[t, 0] = db
        sums[t, 1] = cost
    return _reduce(dws, sums, n_x, m)


@nb.njit(cache=True)
def _tile_z(z, w, b, X, s, e, n4):
    """z = w^T X[:, s:e] + b, four rows per sweep."""
    k = e - s
    for c in range(k):
        z[c] = 0.0
    for j in range(0, n4, 4):
        _axpy4(z, w[j], X[j, s:e], w[j + 1], X[j + 1, s:e],
               w[j + 2], X[j + 2, s:e], w[j + 3], X[j + 3, s:e], k)
    for j in range(n4, X.shape[0]):
        _axpy(z, w[j], X[j, s:e], k)
    for c in range(k):
        z[c] += b


@nb.njit(cache=True)
def _tile_dz(z, Y, s, e):
    """Turn z into dz in place; returns the tile's (sum of dz, sum of losses)."""
    db = 0.0
    cost = 0.0
    for c in range(e - s):
        y = Y[s + c]
        cost += loss_jit(z[c], y)
        dz = sigmoid_jit(z[c]) - y
        db += dz
        z[c] = dz
    return db, cost


@nb.njit(parallel=True, cache=True)
def _step_tiles(w, b, X, Y, nthreads, row, block, ahead):
    n_x, m = X.shape
    dws = np.zeros((nthreads, row))
    sums = np.zeros((nthreads, 2))
    zs = np.empty((nthreads, 2, _pad(block)))
    chunk = _chunk(m, nthreads)
    n4 = n_x // 4 * 4
    for t in nb.prange(nthreads):
        lo = min(m, t * chunk)
        hi = min(m, lo + chunk)
        acc = dws[t]
        db = 0.0
        cost = 0.0
        if lo < hi:
            # Software pipeline: while the dw pass walks the current tile
            # (in cache), the same loop computes z for the next tile (from
            # memory), so memory reads overlap the in-cache work instead of
            # alternating with it.
            cur = zs[t, 0]
            nxt = zs[t, 1]
            s = lo
            e = min(hi, s + block)
            _tile_z(cur, w, b, X, s, e, n4)
            while s < hi:
                tdb, tcost = _tile_dz(cur, Y, s, e)
                db += tdb
                cost += tcost
                k = e - s
                s2 = e
                e2 = min(hi, s2 + block)
                k2 = e2 - s2
                if k2 > 0:
                    for c in range(k2):
                        nxt[c] = 0.0
                for j in range(0, n4, 4):
                    if k2 > 0:
                        for r in range(j + ahead, min(j + ahead + 4, n_x)):
                            _prefetch_segment(X, r, s2, e2)
                        _axpy4(nxt, w[j], X[j, s2:e2], w[j + 1], X[j + 1, s2:e2],
                               w[j + 2], X[j + 2, s2:e2], w[j + 3], X[j + 3, s2:e2], k2)
                    s0, s1, s2_, s3 = _dot4(X[j, s:e], X[j + 1, s:e], X[j + 2, s:e],
                                            X[j + 3, s:e], cur, k)
                    acc[j] += s0
                    acc[j + 1] += s1
                    acc[j + 2] += s2_
                    acc[j + 3] += s3
                for j in range(n4, n_x):
                    if k2 > 0:
                        _axpy(nxt, w[j], X[j, s2:e2], k2)
                    acc[j] += _dot(X[j, s:e], cur, k)
                if k2 > 0:
                    for c in range(k2):
                        nxt[c] += b
                cur, nxt = nxt, cur
                s = s2
                e = e2
        sums[t, 0] = db
        sums[t, 1] = cost
    return _reduce(dws, sums, n_x, m)


@nb.njit(parallel=True, cache=True)
def _step_rows(w, b, X, Y, nthreads):
    """C order, X in cache: whole rows, z then dw, each thread a fixed block of rows."""
    n_x, m = X.shape
    zs = np.zeros((nthreads, m))
    rows = (n_x + nthreads - 1) // nthreads
    for t in nb.prange(nthreads):
        lo = min(n_x, t * rows)
        hi = min(n_x, lo + rows)
        z = zs[t]
        j = lo
        while j + 4 <= hi:
            _axpy4(z, w[j], X[j], w[j + 1], X[j + 1], w[j + 2], X[j + 2], w[j + 3], X[j + 3], m)
            j += 4
        while j < hi:
            _axpy(z, w[j], X[j], m)
            j += 1
    dz = zs[0]
    for t in range(1, nthreads):  # fixed order: same thread count, same bits
        part = zs[t]
        for i in range(m):
            dz[i] += part[i]
    db = 0.0
    cost = 0.0
    for i in range(m):
        z = dz[i] + b
        cost += loss_jit(z, Y[i])
        d = sigmoid_jit(z) - Y[i]
        db += d
        dz[i] = d
    dw = np.empty(n_x)
    for t in nb.prange(nthreads):
        lo = min(n_x, t * rows)
        hi = min(n_x, lo + rows)
        j = lo
        while j + 4 <= hi:
            s0, s1, s2, s3 = _dot4(X[j], X[j + 1], X[j + 2], X[j + 3], dz, m)
            dw[j] = s0 / m
            dw[j + 1] = s1 / m
            dw[j + 2] = s2 / m
            dw[j + 3] = s3 / m
            j += 4
        while j < hi:
            dw[j] = _dot(X[j], dz, m) / m
            j += 1
    return dw, db / m, cost / m


# Gradient descent on C-ordered X, fused across steps.  Once a group of rows
# has given its dw for step t, those rows of w are final for step t + 1, and
# while the rows are still in cache they add their share to z for step t + 1
# (the fusion of X v and X^T u that makes F order one pass, across steps):
# T steps read X T + 1 times instead of 2T.  Each thread owns a fixed block of
# rows and its own partial z; the partials are summed in thread order.

_Z_BLOCK = 4096  # examples per block of the z reduction (fixed: same bits at any thread count)


@nb.njit(cache=True)
def _row_block(n_x, nthreads, t):
    rows = (n_x + nthreads - 1) // nthreads
    rows = (rows + 3) // 4 * 4
    lo = min(n_x, t * rows)
    return lo, min(n_x, lo + rows)


@nb.njit(parallel=True, cache=True)
def descent_start(w, X, zs, nthreads):
    """zs[t] = thread t's rows' share of w^T X (the one extra read of X)."""
    n_x, m = X.shape
    for t in nb.prange(nthreads):
        lo, hi = _row_block(n_x, nthreads, t)
        z = zs[t]
        for i in range(m):
            z[i] = 0.0
        j = lo
        while j + 4 <= hi:
            _axpy4(z, w[j], X[j], w[j + 1], X[j + 1], w[j + 2], X[j + 2], w[j + 3], X[j + 3], m)
            j += 4
        while j < hi:
            _axpy(z, w[j], X[j], m)
            j += 1


@nb.njit(parallel=True, cache=True)
def descent_dz(zs, b, Y, dz, sums):
    """dz = sigmoid(sum_t zs[t] + b) - Y; returns (db, cost) of this step."""
    nthreads, m = zs.shape
    nblocks = sums.shape[0]
    for k in nb.prange(nblocks):
        lo = k * _Z_BLOCK
        hi = min(m, lo + _Z_BLOCK)
        db = 0.0
        cost = 0.0
        for i in range(lo, hi):
            z = zs[0, i]
            for t in range(1, nthreads):  # thread order: same thread count, same bits
                z += zs[t, i]
            z += b
            cost += loss_jit(z, Y[i])
            d = sigmoid_jit(z) - Y[i]
            db += d
            dz[i] = d
        sums[k, 0] = db
        sums[k, 1] = cost
    db = 0.0
    cost = 0.0
    for k in range(nblocks):
        db += sums[k, 0]
        cost += sums[k, 1]
    return db / m, cost / m


@nb.njit(cache=True)
def _update4(w, wn, dw, j, lr, m, s0, s1, s2, s3):
    dw[j] = s0 / m
    dw[j + 1] = s1 / m
    dw[j + 2] = s2 / m
    dw[j + 3] = s3 / m
    for r in range(j, j + 4):
        wn[r] = w[r] - lr * dw[r]


@nb.njit(parallel=True, cache=True)
def descent_step(w, wn, X, dz, lr, zs, dw, nthreads, pipelined, more):
    """dw = X dz / m and wn = w - lr dw; with ``more``, zs[t] = thread t's share of
    wn^T X, added while its rows are in cache.  ``pipelined``: the dot of the
    next four rows (from memory) in the same loop as this four's z update (from
    cache)."""
    n_x, m = X.shape
    for t in nb.prange(nthreads):
        lo, hi = _row_block(n_x, nthreads, t)
        z = zs[t]
        if more:
            for i in range(m):
                z[i] = 0.0
        j = lo
        if pipelined and more and j + 4 <= hi:
            s0, s1, s2, s3 = _dot4(X[j], X[j + 1], X[j + 2], X[j + 3], dz, m)
            while j + 4 <= hi:
                _update4(w, wn, dw, j, lr, m, s0, s1, s2, s3)
                if j + 8 <= hi:
                    s0, s1, s2, s3 = _dot4_axpy4(
                        dz, X[j + 4], X[j + 5], X[j + 6], X[j + 7], z,
                        wn[j], X[j], wn[j + 1], X[j + 1], wn[j + 2], X[j + 2],
                        wn[j + 3], X[j + 3], m)
                else:
                    _axpy4c(z, wn[j], X[j], wn[j + 1], X[j + 1], wn[j + 2], X[j + 2],
                            wn[j + 3], X[j + 3], m)
                j += 4
        else:
            while j + 4 <= hi:
                s0, s1, s2, s3 = _dot4(X[j], X[j + 1], X[j + 2], X[j + 3], dz, m)
                _update4(w, wn, dw, j, lr, m, s0, s1, s2, s3)
                if more:
                    _axpy4c(z, wn[j], X[j], wn[j + 1], X[j + 1], wn[j + 2], X[j + 2],
                            wn[j + 3], X[j + 3], m)
                j += 4
        while j < hi:
            dw[j] = _dot(X[j], dz, m) / m
            wn[j] = w[j] - lr * dw[j]
            if more:
                _axpy(z, wn[j], X[j], m)
            j += 1


def z_blocks(m):
    return (m + _Z_BLOCK - 1) // _Z_BLOCK
