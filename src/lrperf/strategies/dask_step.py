"""The gradient step over chunks of examples on Dask's distributed scheduler.

X (n_x, m) is split along the examples into column chunks.  One step is one
pass over X and one small reduction:

* each chunk's task runs numba_fused's one-pass kernel (through its registry
  record, single-threaded: the workers supply the parallelism, one per core)
  on the worker that holds the chunk, and returns its partial sums
  (m_c dw_c, m_c db_c, m_c cost_c) as one vector of n_x + 2 floats;
* the partials are added in a tree whose shape depends only on the number of
  chunks (groups of ``FAN_IN`` consecutive chunks, level by level), so the
  result does not depend on which worker ran what, on timing, or on a worker
  restarted in between: same chunking, same bits.

X's forms (checked once per call in ``prepare``):

* a NumPy array: cut into chunks of about ``CHUNK_BYTES`` (at least one per
  worker) and scattered to the workers once per call; only w and b travel
  with each step's tasks.  It must fit in half the workers' memory;
* a ``dask.array`` chunked along the examples only (chunks along the features
  are refused: ``X.rechunk({0: -1})`` joins them).  If it fits in half the
  workers' memory it is persisted there for the call; otherwise (a Zarr store
  larger than the workers) every step reads each chunk, uses it and drops it.

A worker lost mid-step costs time, not results: persisted chunks are
recomputed by Dask from their graph, scattered ones are sent again from the
caller's array, and the step is run again (at most ``RETRIES`` times).
"""
import math

import numpy as np

from . import dask_cluster

CHUNK_BYTES = 32 << 20      # a chunk's size when lrperf chunks a NumPy X
FAN_IN = 8                  # partials added per reduction task
FIT_FRACTION = 0.5          # X is kept on the workers if it fits in this share of their memory
RETRIES = 5                 # steps run again after a lost worker

_KERNEL = []


def _kernel():
    if not _KERNEL:
        from ..registry import get_strategy

        _KERNEL.append(get_strategy("numba_fused").step)
    return _KERNEL[0]


def partial(x, y, w, b):
    """(m_c dw_c, m_c db_c, m_c cost_c) of one chunk: runs on the worker holding x."""
    import numba

    numba.set_num_threads(1)  # this thread's setting: the workers are the parallelism
    dw, db, cost = _kernel()(w, b, x, y)
    n_x, m_c = x.shape
    out = np.empty(n_x + 2)
    np.multiply(dw, m_c, out=out[:n_x])
    out[n_x] = db * m_c
    out[n_x + 1] = cost * m_c
    return out


def partial_block(x, y, w, b):
    """``partial`` of a block read in the same task (a store's chunk is read,
    used and dropped: it never becomes data the worker holds)."""
    return partial(x, y.reshape(-1), w, b)


def combine(*parts):
    """Sum of partials in the order given (the tree fixes the order)."""
    total = parts[0].copy()
    for p in parts[1:]:
        total += p
    return total


def _native(block):
    # numba_fused reads float64 and float32; anything else once as float64.
    return block if block.dtype.name in ("float64", "float32") else block.astype(np.float64)


def _contiguous(block):
    # A column slice of a C-ordered X is strided: one copy per chunk and call.
    if block.flags.f_contiguous or block.flags.c_contiguous:
        return block
    return np.ascontiguousarray(block)


def _worker_memory(client):
    """(the workers' memory in all, None if unlimited; how many workers)."""
    timeout = dask_cluster.start_timeout()
    try:
        # A worker being restarted by its nanny comes back within seconds.
        client.wait_for_workers(1, timeout=timeout)
    except TimeoutError:
        raise dask_cluster.ClusterError(
            f"the Dask cluster at {client.scheduler.address} has no workers "
            f"(waited {timeout:g} s, dask config lrperf.start-timeout)") from None
    workers = client.scheduler_info(n_workers=-1)["workers"].values()
    limits = [w.get("memory_limit") or 0 for w in workers]
    return None if 0 in limits else sum(limits), len(limits)


def _edges(m, n_x, itemsize, n_workers):
    per = max(1, CHUNK_BYTES // max(1, n_x * itemsize))
    count = min(m, max(n_workers, math.ceil(m / per)))
    size = math.ceil(m / count)
    return list(range(0, m, size)) + [m]


class Chunks:
    """X (and Y) on the cluster for one api call; ``step`` runs one step."""

    def __init__(self, client, X, Y):
        self.client = client
        self.n_x, self.m = X.shape
        self.Y = Y
        self.timeout = dask_cluster.step_timeout()
        memory, n_workers = _worker_memory(client)
        nbytes = X.dtype.itemsize * self.n_x * self.m
        fits = memory is None or nbytes <= FIT_FRACTION * memory
        if isinstance(X, np.ndarray):
            if not fits:
                raise ValueError(
                    f"X ({nbytes / 2**30:.2f} GiB) does not fit in half the Dask workers' "
                    f"memory ({memory / 2**30:.2f} GiB in {n_workers} workers): write it to "
                    "a Zarr store (lrperf.datasets.write_zarr) and pass "
                    "dask.array.from_zarr(...), which is read chunk by chunk")
            self.source = X
            self.edges = _edges(self.m, self.n_x, X.dtype.itemsize, n_workers)
            self.xs = [None] * (len(self.edges) - 1)
            self.persisted = True
            self.lazy = None
        else:
            self.source = None
            self._dask_chunks(X, fits)
        self.ys = [None] * len(self.xs)
        if self.lazy is None:
            self._send()

    def _dask_chunks(self, X, fits):
        import distributed

        if len(X.chunks[0]) != 1:
            raise ValueError(
                f"X must be chunked along the examples only (one chunk over its {self.n_x} "
                f"features), got {len(X.chunks[0])} chunks along the features "
                f"{X.chunks[0][:5]}; pass X.rechunk({{0: -1}})")
        if any(math.isnan(c) for c in X.chunks[1]):
            raise ValueError("X must have known chunk sizes, got unknown (nan) ones; "
                             "pass X.compute_chunk_sizes()")
        X = X.map_blocks(_native, dtype=np.float64) if X.dtype.name not in (
            "float64", "float32") else X
        self.edges = [0] + list(np.cumsum(X.chunks[1]).tolist())
        self.persisted = fits
        if fits:
            Xp = self.client.persist(X)
            futures = {f.key: f for f in distributed.futures_of(Xp)}
            self.xs = [futures[k] for k in Xp.__dask_keys__()[0]]
            self._wait(self.xs, "persisting X on the workers")
            self.lazy = None
        else:
            import dask.array as da

            self.lazy = X
            # The labels (one row of X) are kept on the workers, with their graph:
            # a lost worker's share is rebuilt by Dask.
            self.Yd = self.client.persist(
                da.from_array(self.Y.reshape(1, -1), chunks=((1,), X.chunks[1])))
            self._wait(distributed.futures_of(self.Yd), "sending Y to the workers")
            self.xs = [None] * len(X.chunks[1])

    def _send(self):
        """Scatter what is not on the cluster (all at first, lost chunks after a fault)."""
        for j, (lo, hi) in enumerate(zip(self.edges[:-1], self.edges[1:])):
            alive = self.ys[j] is not None and self.ys[j].status == "finished"
            holder = None
            if self.source is not None and not (
                    self.xs[j] is not None and self.xs[j].status == "finished"):
                x = _contiguous(_native(self.source[:, lo:hi]))
                self.xs[j] = self.client.scatter(x, hash=False)
                alive = False
            if not alive:
                if self.persisted:
                    holder = list(self.client.who_has([self.xs[j]]).get(self.xs[j].key, ()))
                self.ys[j] = self.client.scatter(np.ascontiguousarray(self.Y[lo:hi]),
                                                 workers=holder or None, hash=False)

    def _wait(self, futures, what):
        import distributed

        try:
            with self.client.as_current():
                distributed.wait(futures, timeout=self.timeout)
        except TimeoutError:
            raise dask_cluster.ClusterError(
                f"{what} did not finish within {self.timeout:g} s (dask config "
                "lrperf.step-timeout)") from None

    def _once(self, w, b):
        client = self.client
        if self.lazy is not None:
            import dask.array as da

            # One task per chunk that reads it and computes its partial (the
            # store's read is fused into it by Dask's blockwise optimization).
            blocks = da.map_blocks(
                partial_block, self.lazy, self.Yd, w=w, b=b, dtype=np.float64,
                chunks=((self.n_x + 2,), (1,) * len(self.xs)), meta=np.empty((0, 0)))
            parts = client.compute(list(blocks.to_delayed(optimize_graph=True).ravel()))
        else:
            parts = client.map(partial, self.xs, self.ys, w=w, b=b, pure=False)
        while len(parts) > 1:
            parts = [client.submit(combine, *parts[i:i + FAN_IN], pure=False)
                     for i in range(0, len(parts), FAN_IN)]
        return parts[0].result(timeout=self.timeout)

    def step(self, w, b):
        import distributed

        lost = None
        for _ in range(RETRIES + 1):
            try:
                total = self._once(w, b)
            except (distributed.client.FutureCancelledError, distributed.KilledWorker) as exc:
                lost = exc
                self._check_scheduler(exc)
                if self.lazy is None:
                    self._send()
                continue
            except TimeoutError:
                self._check_scheduler(None)
                raise dask_cluster.ClusterError(
                    f"a step did not finish within {self.timeout:g} s (dask config "
                    "lrperf.step-timeout)") from None
            except OSError as exc:
                self._check_scheduler(exc)
                raise
            m = self.m
            return total[:self.n_x] / m, total[self.n_x] / m, total[self.n_x + 1] / m
        raise dask_cluster.ClusterError(
            f"a step failed {RETRIES + 1} times as workers were lost: {lost}")

    def _check_scheduler(self, exc):
        if self.client.status != "running":
            address = getattr(self.client.scheduler, "address", "?")
            dask_cluster.abandon(self.client)
            raise dask_cluster.ClusterError(
                f"lost the Dask scheduler at {address}: the call was ended (the cluster's "
                "state went with it; start it again and rerun)") from None


def prepare(X, Y):
    """Once per api call: X and Y onto the cluster (see the module docstring)."""
    if Y.dtype != np.float64:
        Y = Y.astype(np.float64)
    client = dask_cluster.get_client()
    return Chunks(client, X, Y), Y


def step(w, b, X, Y):
    return X.step(w, b)
