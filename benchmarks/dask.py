"""The dask strategy's step on a LocalCluster, kept tiny (scripts/bench_dask.py
measures sizes, chunkings and peers).

``DaskStep``: one step of the strategy on an 8 MB X persisted on a LocalCluster
of one single-threaded worker per core, in 2 or 8 chunks; the cluster's
start-up and the workers' first step (numba_fused's kernel loaded) happen in
``setup``, outside the timing; ``first_call.FirstCall`` times those two apart,
in a fresh interpreter (the dask strategy's first ``propagate``).  Skipped (NotImplementedError in setup) without dask and
distributed.
"""
import numpy as np

import lrperf

from .common import announce

N_X, M = 1024, 1024


def _available():
    record = lrperf.STRATEGIES.get("dask")
    if record is None or not record.available:
        raise NotImplementedError("the dask strategy is unavailable (pip install 'lrperf[dask]')")


class DaskStep:
    params = [[2, 8]]
    param_names = ["chunks"]
    number = 1
    repeat = (3, 10, 5.0)
    warmup_time = 0.0
    timeout = 300

    def setup(self, n_chunks):
        announce("dask")
        _available()
        import dask.array as da
        import distributed

        from lrperf.datasets import synthetic
        from lrperf.strategies import dask_cluster, dask_step

        self.client = dask_cluster.get_client()
        X, Y = synthetic(N_X, M, seed=0)
        Xd = self.client.persist(da.from_array(X, chunks=(N_X, M // n_chunks)))
        with self.client.as_current():
            distributed.wait(distributed.futures_of(Xd), timeout=120)
        self.chunks = dask_step.Chunks(self.client, Xd, Y.ravel())
        self.w = np.zeros(N_X)
        self.chunks.step(self.w, 0.0)  # the workers load the kernel: not timed

    def teardown(self, n_chunks):
        from lrperf.strategies import dask_cluster

        dask_cluster.close()

    def time_step(self, n_chunks):
        self.chunks.step(self.w, 0.0)

