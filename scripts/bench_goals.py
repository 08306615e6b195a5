"""numba_fused's goals out of the box: an EMPTY wisdom file, what a new user gets.

``goals``: optimize at 4096 x 25000 and 4096 x 50000 and propagate at
4096 x 50000, C and F order, 1 thread and all cores: numba_fused per step
over numpy, and its share of one plain read of X per step (the ceiling,
``lrperf.ceiling.probe_read`` on X itself); float32 over float64 in C-order
optimize.  ``grid``: every point of the full grid with X >= 1 MB, both
layouts, both thread counts, propagate and optimize: how many are slower
than numpy.

Side by side in one process, equal threads, interleaved medians with a 0.3 s
pause (``lrperf.measure.interleaved``).  The plan (``lrperf.numba_fused.
plan_points``, the study's call) runs first and its cost is reported apart;
JIT compilation stays in the untimed first calls.  Runs against older code
too (no planner: nothing planned), so the same script gives the before and
the after: ``PYTHONPATH=/work/main/src python scripts/bench_goals.py grid``.

    cpu-bench env PYTHONPATH=$PWD/src:$PWD python scripts/bench_goals.py goals
    cpu-bench env PYTHONPATH=$PWD/src:$PWD python scripts/bench_goals.py grid --kinds propagate
"""
import argparse
import atexit
import gc
import json
import os
import shutil
import sys
import tempfile
import time

import numpy as np

_wisdom_dir = tempfile.mkdtemp(prefix="lrperf-goals-wisdom-")
atexit.register(shutil.rmtree, _wisdom_dir, ignore_errors=True)
if "--keep-wisdom" not in sys.argv:
    os.environ["LRPERF_WISDOM"] = os.path.join(_wisdom_dir, "wisdom.json")  # empty: a new user
    os.environ.pop("LRPERF_TUNING", None)

import lrperf  # noqa: E402
from lrperf import ceiling, grid, measure  # noqa: E402
from lrperf.datasets import synthetic  # noqa: E402
from lrperf.machine import cpu_summary  # noqa: E402

STRATEGIES = ("numpy", "numba_fused")


def _planner():
    try:
        from lrperf.numba_fused import plan_points
    except ImportError:  # older code: no planner
        return None
    return plan_points


def plan(points, log):
    plan_points = _planner()
    if plan_points is None:
        log("no planner in this lrperf: nothing planned")
        return {"plan_s": 0.0, "planned": 0}
    t0 = time.perf_counter()
    got = plan_points(points)
    wall = time.perf_counter() - t0
    first = got.get("first_calls_s")
    log(f"planned {len(got['planned'])} keys: timed calls {got['plan_s']:.2f} s; first calls "
        f"(JIT compilation) {first if first is None else round(first, 2)} s; wall, with the "
        f"synthetic data: {wall:.2f} s")
    return {"plan_s": got["plan_s"], "first_calls_s": first, "wall_s": wall,
            "planned": len(got["planned"])}


def _iterations(nbytes):
    # About 0.1-0.5 s per timed optimize call; at least 5 steps (C order reads X
    # steps + 1 times: the extra read is part of the per-step figure).
    return int(min(100, max(5, 4e8 // max(nbytes, 1))))


def _repeat(nbytes):
    return int(min(2000, max(1, 2e7 // max(nbytes, 1))))  # ~2 ms or more per timed call


def time_point(X, Y, kind, threads, rounds=3, dtypes_compare=None):
    """{strategy: seconds per step} side by side."""
    n_x = X.shape[0]
    w = np.zeros((n_x, 1)) if kind == "optimize" else \
        np.random.default_rng(1).standard_normal((n_x, 1)) / np.sqrt(n_x)
    if kind == "optimize":
        iters = _iterations(X.nbytes)
        per = iters
        calls = {s: (lambda s=s: lrperf.optimize(w, 0.0, X, Y, iters, 0.009, strategy=s))
                 for s in STRATEGIES}
    else:
        rep = _repeat(X.nbytes)
        per = rep

        def calls_for(s):
            def run():
                for _ in range(rep):
                    lrperf.propagate(w, 0.1, X, Y, strategy=s)
            return run
        calls = {s: calls_for(s) for s in STRATEGIES}
    with measure.threads(threads):
        times = measure.interleaved(calls, rounds=rounds, per_round=1)
    return {s: measure.median(t) / per for s, t in times.items()}


def goals(log):
    threads = grid.thread_counts()
    shapes = [(4096, 25000), (4096, 50000)]
    points = [(n, m, lay, "float64", t) for n, m in shapes for lay in "CF" for t in threads]
    points += [(4096, 50000, "C", "float32", t) for t in threads]
    planned = plan(points, log)
    rows = []
    f32 = {}
    for n_x, m in shapes:
        for layout in "CF":
            X, Y = synthetic(n_x, m, order=layout, seed=0)
            for t in threads:
                ceil = ceiling.probe_read(array=X, threads=t, rounds=3, per_round=1)["gbs"]
                kinds = ["optimize"] + (["propagate"] if m == 50000 else [])
                for kind in kinds:
                    s = time_point(X, Y, kind, t)
                    read = X.nbytes / ceil / 1e9
                    rows.append({"kind": kind, "n_x": n_x, "m": m, "layout": layout,
                                 "threads": t, "numpy_s": s["numpy"],
                                 "fused_s": s["numba_fused"], "ceiling_gbs": ceil,
                                 "share": read / s["numba_fused"],
                                 "numpy_share": read / s["numpy"]})
                    log(f"{kind} {n_x}x{m} {layout} {t}t: numpy {s['numpy'] * 1e3:.1f} ms, "
                        f"fused {s['numba_fused'] * 1e3:.1f} ms, "
                        f"{s['numpy'] / s['numba_fused']:.2f}x, share {rows[-1]['share']:.0%}")
                if layout == "C" and m == 50000:
                    f32.setdefault(t, {})["float64"] = rows[-2]["fused_s"]
            if layout == "C" and m == 50000:
                X32 = X.astype(np.float32)
                del X
                gc.collect()
                for t in threads:
                    iters = _iterations(X32.nbytes * 2)
                    w = np.zeros((n_x, 1))
                    with measure.threads(t):
                        tm = measure.interleaved(
                            {"f32": lambda: lrperf.optimize(w, 0.0, X32, Y, iters, 0.009,
                                                            strategy="numba_fused")},
                            rounds=3, per_round=1)
                    f32[t]["float32"] = measure.median(tm["f32"]) / iters
                    log(f"float32 C optimize {t}t: {f32[t]['float32'] * 1e3:.1f} ms vs float64 "
                        f"{f32[t]['float64'] * 1e3:.1f} ms: {f32[t]['float64'] / f32[t]['float32']:.2f}x")
                del X32
            else:
                del X
            gc.collect()
    return {"plan": planned, "rows": rows, "float32": f32}


def grid_count(kinds, log, part=None):
    g = grid.GRIDS["full"]
    threads = grid.thread_counts()
    shapes = [(n, m) for n in g.n_x for m in g.m if grid.nbytes(n, m) >= 1 << 20]
    if part:
        k, n = part
        shapes = shapes[k - 1::n]
    points = [(n, m, lay, "float64", t) for n, m in shapes for lay in "CF" for t in threads]
    planned = plan(points, log)
    rows = []
    for n_x, m in shapes:
        for layout in "CF":
            X, Y = synthetic(n_x, m, order=layout, seed=0)
            for t in threads:
                for kind in kinds:
                    s = time_point(X, Y, kind, t)
                    rows.append({"kind": kind, "n_x": n_x, "m": m, "layout": layout,
                                 "threads": t, "numpy_s": s["numpy"],
                                 "fused_s": s["numba_fused"]})
                    log(f"{kind} {n_x}x{m} {layout} {t}t: {s['numpy'] / s['numba_fused']:.2f}x")
            del X
            gc.collect()
    slower = [r for r in rows if r["fused_s"] > r["numpy_s"]]
    log(f"{len(slower)} of {len(rows)} points slower than numpy")
    return {"plan": planned, "rows": rows, "slower": len(slower)}


def markdown_goals(res):
    lines = ["| call | X | layout | threads | numpy ms/step | numba_fused ms/step | speed-up "
             "| share of a plain read | numpy's share | read GB/s |",
             "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in res["rows"]:
        lines.append(f"| {r['kind']} | {r['n_x']} x {r['m']} | {r['layout']} | {r['threads']} "
                     f"| {r['numpy_s'] * 1e3:.1f} | {r['fused_s'] * 1e3:.1f} "
                     f"| {r['numpy_s'] / r['fused_s']:.2f}x | {r['share']:.0%} "
                     f"| {r['numpy_share']:.0%} | {r['ceiling_gbs']:.1f} |")
    for t, f in sorted(res["float32"].items()):
        lines.append(f"\nfloat32 over float64, C-order optimize 4096 x 50000, {t} thread(s): "
                     f"{f['float64'] / f['float32']:.2f}x")
    return "\n".join(lines)


def markdown_grid(res):
    lines = ["| call | X | layout | threads | numpy ms/step | numba_fused ms/step | speed-up |",
             "| --- | --- | --- | ---: | ---: | ---: | ---: |"]
    for r in res["rows"]:
        lines.append(f"| {r['kind']} | {r['n_x']} x {r['m']} | {r['layout']} | {r['threads']} "
                     f"| {r['numpy_s'] * 1e3:.3f} | {r['fused_s'] * 1e3:.3f} "
                     f"| {r['numpy_s'] / r['fused_s']:.2f}x |")
    lines.append(f"\n{res['slower']} of {len(res['rows'])} points slower than numpy")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("what", choices=["goals", "grid"])
    p.add_argument("--kinds", nargs="+", choices=["propagate", "optimize"],
                   default=["propagate", "optimize"])
    p.add_argument("--part", default=None, help="K/N: the K-th of N slices of the grid's shapes")
    p.add_argument("--json", default=None, help="write the results here too")
    p.add_argument("--keep-wisdom", action="store_true",
                   help="use the machine's wisdom instead of an empty file")
    args = p.parse_args(argv)

    def log(text):
        print(text, file=sys.stderr, flush=True)
    print(f"CPU: {cpu_summary()}; lrperf from {os.path.dirname(lrperf.__file__)}")
    if args.what == "goals":
        res = goals(log)
        print(markdown_goals(res))
    else:
        part = tuple(int(v) for v in args.part.split("/")) if args.part else None
        res = grid_count(args.kinds, log, part)
        print(markdown_grid(res))
    print(f"\nplan: {json.dumps(res['plan'])}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
