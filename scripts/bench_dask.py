"""The dask strategy's step against its peers, and optimize from a Zarr store
larger than the workers' memory.

``memory``: a LocalCluster with one single-threaded worker per core; for each
X size (n_x = 4096) and chunk size, the same chunked X is persisted on the
cluster once, then side by side (``lrperf.measure.interleaved``: medians, a
0.3 s pause before each turn):

* ``dask``: the strategy's step (``Chunks.step``: one task per chunk, a tree);
* ``dask_glm``: ``dask_glm.families.Logistic.gradient(XT.dot(beta), XT, y)``
  computed, with XT = X.T over the same chunks (the same bytes, dask-glm's
  (m, n_x) orientation): one call = one step;
* ``numba_fused`` and ``numpy``: one process, all cores' threads.

The scheduler's overhead per step is the step on a tiny X (one chunk per
worker), and per task the slope over more chunks of that tiny X.  Cluster
start-up and the first step (each worker loads numba_fused's kernel) are
timed apart.

``oom``: X written to Zarr (``lrperf.datasets.write_zarr``) larger than each
worker's memory limit; ``optimize`` from the store (each step reads every
chunk in its task) against the speed at which one process reads every chunk
once with zarr (the page cache is warm: the store was just written).

    cpu-bench env PYTHONPATH=$PWD/src:$PWD python scripts/bench_dask.py memory
    cpu-bench env PYTHONPATH=$PWD/src:$PWD python scripts/bench_dask.py oom
"""
import argparse
import os
import shutil
import sys
import tempfile
import time

import numpy as np

N_X = 4096
SIZES_MB = (8, 64, 256, 1024)
CHUNKS_MB = (4, 32)


def log(message):
    print(message, flush=True)  # the figures are the output: stdout, not scripting.log's stderr


def _rounds(nbytes):
    return (3, 2) if nbytes >= 200e6 else (5, 3)


def memory(args):
    import dask.array as da
    import distributed
    from dask_glm.families import Logistic

    from lrperf import measure
    from lrperf.datasets import synthetic
    from lrperf.registry import get_strategy
    from lrperf.strategies import dask_cluster, dask_step

    out = {"cluster": {}, "points": []}
    t0 = time.perf_counter()
    client = dask_cluster.get_client()
    out["cluster"]["start_s"] = time.perf_counter() - t0
    n_workers = len(client.scheduler_info(n_workers=-1)["workers"])
    log(f"LocalCluster: {n_workers} single-threaded workers, started in "
        f"{out['cluster']['start_s']:.2f} s")
    cores = dask_cluster.cores()
    fused, plain = get_strategy("numba_fused"), get_strategy("numpy")

    def on_cluster(X, Y, c):
        Xd = client.persist(da.from_array(X, chunks=(N_X, c)))
        Yd = client.persist(da.from_array(Y.ravel(), chunks=(c,)))
        with client.as_current():
            distributed.wait(distributed.futures_of(Xd) + distributed.futures_of(Yd))
        return Xd, Yd

    # Scheduler overhead: tiny X, one chunk per worker, then many chunks.
    X, Y = synthetic(N_X, 64, seed=1)
    tiny = {}
    for n_chunks in (n_workers, 64):
        Xd, _ = on_cluster(X, Y, max(1, 64 // n_chunks))
        chunks = dask_step.Chunks(client, Xd, Y.ravel())
        w = np.zeros(N_X)
        t1 = time.perf_counter()
        chunks.step(w, 0.0)
        if n_chunks == n_workers:
            out["cluster"]["first_step_s"] = time.perf_counter() - t1
        t = measure.interleaved({"dask": lambda: chunks.step(w, 0.0)}, rounds=5, per_round=5,
                                gap=0.0)["dask"]
        tiny[n_chunks] = measure.median(t)
        del chunks, Xd
    out["cluster"]["tiny_step_s"] = tiny[n_workers]
    out["cluster"]["per_task_s"] = (tiny[64] - tiny[n_workers]) / (64 - n_workers)
    log(f"first step (kernel load on the workers): {out['cluster']['first_step_s']:.2f} s; "
        f"tiny X ({n_workers} chunks): {tiny[n_workers] * 1e3:.2f} ms a step; "
        f"64 chunks: {tiny[64] * 1e3:.2f} ms: {out['cluster']['per_task_s'] * 1e3:.3f} ms a task")

    for mb in args.sizes:
        m = max(1, int(mb * 2**20) // (8 * N_X))
        X, Y = synthetic(N_X, m, seed=2)
        w = np.random.default_rng(3).standard_normal(N_X) * 0.01
        wf = w.copy()
        Xf, Yf = fused.prepared(X, Y.ravel())
        Xn, Yn = plain.prepared(X, Y.ravel())
        for cmb in args.chunks:
            c = min(m, max(1, int(cmb * 2**20) // (8 * N_X)))
            Xd, Yd = on_cluster(X, Y, c)
            chunks = dask_step.Chunks(client, Xd, Y.ravel())
            XT = Xd.T
            beta = da.from_array(w, chunks=(N_X,))
            glm = Logistic.gradient(XT.dot(beta), XT, Yd)

            def step_glm():
                return client.compute(glm).result()

            ref = fused.step(wf, 0.0, Xf, Yf)
            got = chunks.step(w, 0.0)
            g = step_glm()
            # Same values: dask-glm's gradient is m dw; check all agree before timing.
            assert np.allclose(got[0], ref[0], rtol=1e-9, atol=1e-12)
            assert np.allclose(g / m, ref[0], rtol=1e-9, atol=1e-12)
            rounds, per = _rounds(X.nbytes)
            with measure.threads(cores):
                t = measure.interleaved({
                    "dask": lambda: chunks.step(w, 0.0),
                    "dask_glm": step_glm,
                    "numba_fused": lambda: fused.step(wf, 0.0, Xf, Yf),
                    "numpy": lambda: plain.step(wf, 0.0, Xn, Yn),
                }, rounds=rounds, per_round=per)
            med = {k: measure.median(v) for k, v in t.items()}
            point = {"X_MB": X.nbytes / 1e6, "m": m, "chunk_MB": c * N_X * 8 / 1e6,
                     "n_chunks": len(Xd.chunks[1]), "s": med,
                     "dask_over_glm": med["dask_glm"] / med["dask"],
                     "dask_share_of_fused": med["numba_fused"] / med["dask"],
                     "dask_over_numpy": med["numpy"] / med["dask"]}
            out["points"].append(point)
            log(f"X {point['X_MB']:8.1f} MB chunk {point['chunk_MB']:6.1f} MB "
                f"({point['n_chunks']:4d} chunks): "
                + " ".join(f"{k} {v * 1e3:8.2f} ms" for k, v in med.items())
                + f" | dask/glm {point['dask_over_glm']:.2f}x, share of fused "
                  f"{point['dask_share_of_fused']:.0%}, over numpy {point['dask_over_numpy']:.2f}x")
            del chunks, Xd, Yd, XT, glm
        del X, Y, Xf, Xn
    return out


def oom(args):
    import dask
    import dask.array as da
    import distributed
    import zarr

    import lrperf
    from lrperf import measure
    from lrperf.datasets import write_zarr
    from lrperf.strategies import dask_cluster, dask_step

    out = {}
    folder = tempfile.mkdtemp(prefix="lrperf-oom-", dir=args.dir)
    try:
        path = os.path.join(folder, "store")
        m = int(args.oom_mb * 2**20) // (8 * N_X)
        c = int(args.oom_chunk_mb * 2**20) // (8 * N_X)
        t0 = time.perf_counter()
        write_zarr(path, N_X, m, 0, chunk=c, seed=4)
        out["write_s"] = time.perf_counter() - t0
        nbytes = 8 * N_X * m
        # One process reads every chunk once (the store was just written: the page cache is warm).
        arr = zarr.open_group(path, mode="r")["X_train"]
        reads = []
        for _ in range(3):
            t1 = time.perf_counter()
            for lo in range(0, m, c):
                arr[:, lo:lo + c]
            reads.append(time.perf_counter() - t1)
        read_s = min(reads)
        out.update(X_MB=nbytes / 1e6, chunk_MB=8 * N_X * c / 1e6, n_chunks=-(-m // c),
                   read_s=read_s, read_GBps=nbytes / read_s / 1e9, reads_s=reads,
                   page_cache="warm (store just written; 21 GiB free)")
        log(f"Zarr X {nbytes / 1e6:.0f} MB in {out['n_chunks']} chunks of "
            f"{out['chunk_MB']:.1f} MB, written in {out['write_s']:.1f} s; one process reads "
            f"every chunk in {read_s:.3f} s = {out['read_GBps']:.2f} GB/s (warm page cache)")
        limit = args.worker_limit_mb * 2**20
        # The process-memory thresholds are off: a worker's baseline RSS (numba
        # loaded) is near the limit; the managed memory is what must stay small.
        with dask.config.set({"distributed.worker.memory.target": False,
                              "distributed.worker.memory.spill": False,
                              "distributed.worker.memory.pause": False,
                              "distributed.worker.memory.terminate": False}):
            cluster = distributed.LocalCluster(
                n_workers=dask_cluster.cores(), threads_per_worker=1, processes=True,
                memory_limit=limit, scheduler_port=0, dashboard_address=":0", silence_logs=40)
            client = distributed.Client(cluster)
            try:
                Xd = da.from_zarr(path, component="X_train")
                Y = np.asarray(zarr.open_group(path, mode="r")["Y_train"][:]).ravel()
                w = np.zeros(N_X)
                chunks = dask_step.Chunks(client, Xd, Y)
                assert chunks.lazy is not None, "X was persisted: the limit is not below X"
                t1 = time.perf_counter()
                chunks.step(w, 0.0)
                out["first_step_s"] = time.perf_counter() - t1
                t = measure.interleaved({"step": lambda: chunks.step(w, 0.0)},
                                        rounds=3, per_round=2, gap=0.0)["step"]
                out["step_s"] = measure.median(t)
                iters = args.iterations
                t1 = time.perf_counter()
                lrperf.optimize(np.zeros((N_X, 1)), 0.0, Xd, Y.reshape(1, -1),
                                num_iterations=iters, strategy="dask")
                out["optimize_s"] = time.perf_counter() - t1
                out["optimize_per_step_s"] = out["optimize_s"] / iters
                out["worker_limit_MB"] = limit / 1e6
                out["step_GBps"] = nbytes / out["step_s"] / 1e9
                out["optimize_GBps"] = nbytes / out["optimize_per_step_s"] / 1e9
                out["share_of_read"] = out["optimize_GBps"] / out["read_GBps"]
                log(f"workers: {dask_cluster.cores()} x {limit / 2**20:.0f} MiB limit; first "
                    f"step {out['first_step_s']:.2f} s; step {out['step_s']:.3f} s = "
                    f"{out['step_GBps']:.2f} GB/s; optimize {iters} steps "
                    f"{out['optimize_s']:.2f} s = {out['optimize_per_step_s']:.3f} s a step = "
                    f"{out['optimize_GBps']:.2f} GB/s: {out['share_of_read']:.0%} of the read")
            finally:
                client.close()
                cluster.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return out


def main(argv=None):
    from lrperf import scripting
    from lrperf.machine import cpu_summary

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=("memory", "oom", "all"))
    parser.add_argument("--sizes", type=float, nargs="+", default=SIZES_MB,
                        help="X sizes in MiB (n_x = 4096)")
    parser.add_argument("--chunks", type=float, nargs="+", default=CHUNKS_MB,
                        help="chunk sizes in MiB")
    parser.add_argument("--oom-mb", type=float, default=1024, help="the Zarr X's size in MiB")
    parser.add_argument("--oom-chunk-mb", type=float, default=32)
    parser.add_argument("--worker-limit-mb", type=int, default=384,
                        help="each worker's memory limit in MiB (below X)")
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--dir", default=None, help="where the Zarr store is written")
    parser.add_argument("--json", default=None, help="write the figures here too")
    args = parser.parse_args(argv)
    log(scripting.cpu_line())
    result = {"cpu": cpu_summary(), "command": " ".join(sys.argv)}
    if args.part in ("memory", "all"):
        result["memory"] = memory(args)
        from lrperf.strategies import dask_cluster
        dask_cluster.close()
    if args.part in ("oom", "all"):
        result["oom"] = oom(args)
    if args.json:
        scripting.write_json(args.json, result, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
