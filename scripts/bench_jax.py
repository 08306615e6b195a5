"""jax_xla against numpy and numba_fused, side by side at equal thread counts.

XLA's CPU thread pool is fixed when the process starts, so every thread count
runs in its own child process, started by this script, which before
importing anything that starts threads (NumPy's BLAS, Numba, JAX):

* pins itself to the first N of its allowed CPUs (``os.sched_setaffinity``,
  as ``taskset -c`` would): every thread any library starts inherits the
  mask, so no strategy can use more than N cores;
* for N = 1 runs with ``XLA_FLAGS=--xla_cpu_multi_thread_eigen=false`` (XLA's
  dots single-threaded as well);
* sets Numba's and the BLAS threads to N (``lrperf.measure.threads``).

The process CPU time over wall time of each strategy's calls is reported as
the number of cores it actually kept busy.

Per size and layout, in that child: the first ``propagate`` of each strategy
(JAX: trace + XLA compile + transfer + step; Numba: compile or cache load) is
timed alone; results are checked against numpy; then, with
``lrperf.measure.interleaved`` (medians, alternating order, a pause before
each so the other pool parks), the step of each strategy on its prepared
arrays, and jax_xla's prepare + step: the host-to-XLA transfer a
``propagate`` call pays (an alias when X is 64-byte aligned, else a copy).
The optimized HLO of the step (``jax_xla.hlo_summary``) says how many dots
read X and what XLA fused.

    python scripts/bench_jax.py                       # 3 sizes x 2 layouts x threads 1 and all
    python scripts/bench_jax.py --quick               # tiny smoke run
    python scripts/bench_jax.py --compile-cache DIR   # run twice: 2nd first call is warm
    python scripts/bench_jax.py --json out.json --hlo-dir hlo/
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

# Nothing from lrperf (NumPy, Numba, JAX) is imported here: a child pins itself
# first (see pin_child), and every thread a library starts inherits the mask.

STRATEGIES = ("numpy", "numba_fused", "jax_xla")
FULL_SIZES = ("4096x50000", "1024x2048", "12288x209")
QUICK_SIZES = ("64x300", "256x1000")
LAYOUTS = ("C", "F")
SINGLE_THREAD_XLA_FLAGS = "--xla_cpu_multi_thread_eigen=false"
GOAL = 1.3


# --- the child: one thread count -------------------------------------------------------

def _busy(fn, totals):
    """fn, adding its wall and process CPU seconds to ``totals``."""
    import time

    def call():
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        totals[0] += time.perf_counter() - w0
        totals[1] += time.process_time() - c0
    return call


def measure_case(n_x, m, layout, args, log):
    import gc
    import statistics
    import time

    import numpy as np

    import lrperf
    from lrperf import measure
    from lrperf.datasets import synthetic
    from lrperf.strategies import jax_xla

    X, Y = synthetic(n_x, m, order=layout, seed=0)
    Yv = Y.reshape(m)
    w = np.random.default_rng(1).standard_normal(n_x) / np.sqrt(n_x)
    b = 0.1
    first = {}
    for s in STRATEGIES:
        time.sleep(args.gap)
        first[s] = measure.timed(lambda s=s: lrperf.propagate(w, b, X, Y, strategy=s))
    want, want_cost = lrperf.propagate(w, b, X, Y, strategy="numpy")
    for s in STRATEGIES[1:]:
        got, cost = lrperf.propagate(w, b, X, Y, strategy=s)
        np.testing.assert_allclose(got["dw"], want["dw"], rtol=1e-9, atol=1e-12, err_msg=s)
        if not np.isclose(cost, want_cost, rtol=1e-9):
            raise AssertionError(f"{s}: cost {cost} != numpy's {want_cost}")

    records = {s: lrperf.get_strategy(s) for s in STRATEGIES}
    prepared = {s: records[s].prepared(X, Yv) for s in STRATEGIES}
    Xd = prepared["jax_xla"][0]
    host = X.T if Xd.transposed else X
    aliased = Xd.data.unsafe_buffer_pointer() == host.ctypes.data
    jax_record = records["jax_xla"]
    calls = {s: (lambda s=s: records[s].step(w, b, *prepared[s])) for s in STRATEGIES}
    calls["jax_xla+transfer"] = lambda: jax_record.step(w, b, *jax_record.prepared(X, Yv))
    busy = {name: [0.0, 0.0] for name in calls}
    timed = {name: _busy(fn, busy[name]) for name, fn in calls.items()}
    times = measure.interleaved(timed, rounds=args.repeats, per_round=args.calls, gap=args.gap,
                                between=lambda r: log(f"  {n_x}x{m} {layout}: round "
                                                      f"{r + 1}/{args.repeats}"))
    t0 = time.perf_counter()
    text = jax_xla.compiled_text(n_x, m, transposed=Xd.transposed)
    hlo = jax_xla.summarize_hlo(text)
    hlo["lower_compile_s"] = time.perf_counter() - t0
    if args.hlo_dir:
        args.hlo_dir.mkdir(parents=True, exist_ok=True)
        (args.hlo_dir / f"step_{n_x}x{m}_{layout}.hlo.txt").write_text(text)
    result = {
        "n_x": n_x, "m": m, "layout": layout, "bytes": X.nbytes,
        "first_call_s": first,
        "median_s": {name: statistics.median(t) for name, t in times.items()},
        "all_s": times,
        "cores_busy": {name: (c / w_ if w_ else None) for name, (w_, c) in busy.items()},
        "transfer": "alias" if aliased else "copy",
        "hlo": hlo,
    }
    del X, Y, Yv, prepared, Xd, host, calls, timed
    gc.collect()  # at most one large X alive at a time
    return result


def pin_child(argv):
    """In a child (``--child-threads N``), pin this process to the first N of its CPUs,
    before NumPy, Numba or JAX start a thread: all of them inherit the mask."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--child-threads", type=int, default=None)
    n = pre.parse_known_args(argv)[0].child_threads
    if n is None:
        return
    cpus = sorted(os.sched_getaffinity(0))
    if n > len(cpus):
        raise SystemExit(f"--threads {n} > the {len(cpus)} CPUs this process may use")
    os.sched_setaffinity(0, cpus[:n])


def child(args):
    import jax
    import numba

    from lrperf import measure
    from lrperf.machine import cpu_name, machine_info
    from lrperf.scripting import log, write_json

    if args.compile_cache:
        # A script's own process: setting JAX's global config here is ours to do.
        jax.config.update("jax_compilation_cache_dir", str(args.compile_cache))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)

    with measure.threads(args.threads):
        from threadpoolctl import threadpool_info

        payload = {
            "threads": args.threads,
            "cpus": sorted(os.sched_getaffinity(0)),
            "xla_flags": os.environ.get("XLA_FLAGS", ""),
            "numba_threads": numba.get_num_threads(),
            "blas_threads": sorted({p["num_threads"] for p in threadpool_info()}),
            "compile_cache": str(args.compile_cache) if args.compile_cache else None,
            "machine": machine_info(),
            "cpu_name": cpu_name(),
            "jax": jax.__version__,
            "cases": [],
        }
        for n_x, m in args.sizes:
            for layout in LAYOUTS:
                log(f"threads {args.threads}: {n_x} x {m}, {layout}")
                payload["cases"].append(measure_case(n_x, m, layout, args, log))
    write_json(args.child_out, payload)


# --- the parent: one child per thread count, then the tables ----------------------------

def run_children(args, argv):
    runs = []
    for n in args.thread_counts:
        env = dict(os.environ)
        if n == 1:
            env["XLA_FLAGS"] = f"{env.get('XLA_FLAGS', '')} {SINGLE_THREAD_XLA_FLAGS}".strip()
        with tempfile.TemporaryDirectory(prefix="bench-jax-") as tmp:
            out = Path(tmp) / "child.json"
            cmd = [sys.executable, __file__, *argv, "--child-threads", str(n),
                   "--child-out", str(out)]
            done = subprocess.run(cmd, env=env)
            if done.returncode != 0:
                raise SystemExit(f"the {n}-thread child failed (exit {done.returncode})")
            runs.append(json.loads(out.read_text()))
    return runs


STEP_COLUMNS = ["X (n_x x m)", "layout", "threads", "numpy ms", "numba_fused ms",
                "jax_xla ms", "jax_xla + transfer ms", "numba_fused vs jax", "jax vs numpy",
                "cores busy numpy / fused / jax", "first call jax / fused ms"]
HLO_COLUMNS = ["X (n_x x m)", "layout", "dots", "instructions reading X",
               "fusions (kind: count)", "lower + compile ms"]


def _step_row(run, c):
    from lrperf.scripting import ms
    t, busy, first = c["median_s"], c["cores_busy"], c["first_call_s"]
    return [f"{c['n_x']} x {c['m']}", c["layout"], run["threads"], ms(t["numpy"]),
            ms(t["numba_fused"]), ms(t["jax_xla"]),
            f"{ms(t['jax_xla+transfer'])} ({c['transfer']})",
            f"{t['jax_xla'] / t['numba_fused']:.2f}x", f"{t['numpy'] / t['jax_xla']:.2f}x",
            f"{busy['numpy']:.2f} / {busy['numba_fused']:.2f} / {busy['jax_xla']:.2f}",
            f"{ms(first['jax_xla'], 0)} / {ms(first['numba_fused'], 0)}"]


def _hlo_row(c):
    from lrperf.scripting import ms
    h = c["hlo"]
    kinds = {}
    for f in h["fusions"]:
        kinds[f["kind"]] = kinds.get(f["kind"], 0) + 1
    reads = ", ".join(r["op"] for r in h["x_reads"])
    return [f"{c['n_x']} x {c['m']}", c["layout"], h["dots"], f"{len(h['x_reads'])}: {reads}",
            ", ".join(f"{k}: {v}" for k, v in kinds.items()), ms(h["lower_compile_s"], 0)]


def markdown(runs):
    from lrperf.scripting import cpu_line, table
    info = runs[0]["machine"]
    lines = [f"{cpu_line(info)}; NumPy {info['numpy']} (BLAS {info.get('blas')}), "
             f"Numba {info['numba']}, JAX {runs[0]['jax']}.", ""]
    lines += table(STEP_COLUMNS, [_step_row(run, c) for run in runs for c in run["cases"]],
                   "llrrrrrrrlr")
    lines += ["", "Threads: each row's process was pinned to that many CPUs (sched_setaffinity) "
              "with Numba and BLAS threads set to match:"]
    for run in runs:
        lines.append(f"- {run['threads']}: CPUs {run['cpus']}, Numba {run['numba_threads']}, "
                     f"BLAS {run['blas_threads']}, XLA_FLAGS={run['xla_flags'] or '(none)'}")
    lines += [
        "",
        "Times are medians of the step on arrays already prepared (jax_xla: X already an XLA "
        "buffer); 'jax_xla + transfer' adds the host-to-XLA move a propagate call pays "
        "(alias: X was 64-byte aligned and shared; copy: copied).  'vs' columns: ratio of "
        "median times (> 1: the first named is faster).  Cores busy: process CPU time / "
        "wall time over the strategy's calls.  First call: the first propagate at this "
        "shape in the process (JAX: trace + XLA compile + transfer + step; compile cache "
        f"{runs[0]['compile_cache'] or 'off'}), not part of the medians.",
        "",
        "What XLA compiled (optimized HLO of the jitted step):",
        "",
    ]
    lines += table(HLO_COLUMNS, [_hlo_row(c) for c in runs[0]["cases"]], "llrllr")
    lines += ["", f"Goal: numba_fused >= {GOAL}x jax_xla at 4096 x 50000, both layouts, "
              "equal threads:"]
    goal_rows = [(run["threads"], c) for run in runs for c in run["cases"]
                 if (c["n_x"], c["m"]) == (4096, 50000)]
    for threads, c in goal_rows:
        ratio = c["median_s"]["jax_xla"] / c["median_s"]["numba_fused"]
        lines.append(f"- {c['layout']}, {threads} thread(s): {ratio:.2f}x, "
                     f"{'met' if ratio >= GOAL else 'NOT met'}")
    if not goal_rows:
        lines.append("- not measured in this run (4096 x 50000 was not among the sizes)")
    return "\n".join(lines)


def parse_args(argv):
    from lrperf.scripting import Parser, pause_seconds, positive_int, shape
    parser = Parser(
        prog="bench_jax.py",
        description="Time jax_xla, numpy and numba_fused side by side, each thread count in "
                    "its own pinned process, and summarize the HLO XLA compiled.")
    parser.add_argument("--sizes", type=shape, nargs="+", default=None, metavar="N_XxM",
                        help=f"sizes of X (default: {' '.join(FULL_SIZES)}); both layouts")
    parser.add_argument("--quick", action="store_true",
                        help=f"tiny sizes ({' '.join(QUICK_SIZES)}), 2 rounds: a smoke test")
    parser.add_argument("--threads", type=positive_int, nargs="+", default=None,
                        help="thread counts, one process each (default: 1 and all cores)")
    parser.add_argument("--repeats", type=positive_int, default=7,
                        help="interleaved rounds (default: 7)")
    parser.add_argument("--calls", type=positive_int, default=3,
                        help="timed back-to-back calls per strategy and round (default: 3)")
    parser.add_argument("--gap", type=pause_seconds, default=0.3,
                        help="pause before each strategy's turn so the other pool parks "
                             "(default: 0.3 s)")
    parser.add_argument("--compile-cache", type=Path, default=None, metavar="DIR",
                        help="JAX's persistent compilation cache: a second run's first "
                             "calls are warm")
    parser.add_argument("--json", metavar="PATH", help="also save the raw figures as JSON")
    parser.add_argument("--hlo-dir", type=Path, default=None, metavar="DIR",
                        help="also save each case's optimized HLO text there")
    parser.add_argument("--child-threads", type=positive_int, help=argparse.SUPPRESS)
    parser.add_argument("--child-out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.sizes is None:
        args.sizes = [shape(s) for s in (QUICK_SIZES if args.quick else FULL_SIZES)]
    if args.quick:
        args.repeats, args.calls = min(args.repeats, 2), min(args.calls, 2)
    return args


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    pin_child(argv)  # before the first lrperf import
    from lrperf.scripting import UsageError, write_json
    try:
        args = parse_args(argv)
    except UsageError as exc:
        print(f"bench_jax.py: {exc}", file=sys.stderr)
        return 2
    if args.child_threads is not None:
        args.threads = args.child_threads
        child(args)
        return 0

    from lrperf import grid
    from lrperf.strategies import jax_xla

    reason = jax_xla.unavailable_reason()
    if reason:
        print(f"bench_jax: jax_xla is unavailable: {reason}", file=sys.stderr)
        return 2
    args.thread_counts = args.threads or grid.thread_counts(len(os.sched_getaffinity(0)))
    try:
        runs = run_children(args, argv)
    except KeyboardInterrupt:
        print("bench_jax: interrupted", file=sys.stderr)
        return 130
    except SystemExit as e:
        print(f"bench_jax: {e}", file=sys.stderr)
        return 1
    print(markdown(runs))
    if args.json:
        write_json(args.json, {"runs": runs})
    return 0


if __name__ == "__main__":
    sys.exit(main())
