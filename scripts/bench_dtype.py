"""float32 against float64 X, per strategy, side by side: time, bytes, error.

For each layout and thread count, every strategy's ``lrperf.propagate`` on
float64 X and on the same X rounded to float32 is timed with
``lrperf.measure.interleaved`` (alternating order, 0.3 s pause before each
turn, medians; the first call, JIT compilation for the dtype included, is
reported on its own).  Beside each time: the bytes of X, the rate they are
read at, that rate as a share of the fastest plain read of as many bytes
(``lrperf.ceiling.read_bandwidth``) and the relative error of dw against
float64 NumPy on the same values (``lrperf.accuracy``; the 50-digit errors
are in the asv suite, ``benchmarks/accuracy.py``).  Ends with the issue-12
goals for numba_fused.  Prints Markdown, naming the CPU.

    python scripts/bench_dtype.py --n-x 4096 --m 50000            # the issue's size
    python scripts/bench_dtype.py --n-x 64 --m 500 --rounds 3    # a smoke test
"""
import argparse
import sys

import numpy as np

import lrperf
from lrperf import accuracy, grid, measure
from lrperf.ceiling import read_bandwidth
from lrperf.datasets import synthetic
from lrperf.machine import cpu_summary, last_level_cache_bytes

# The float32 goals for numba_fused, checked (never asserted) at the end.
GOAL_SPEEDUP = 1.8       # float32 over float64
GOAL_SHARE = 0.80        # of the plain read of the float32 X
GOAL_OVER_NUMPY = 1.5    # over numpy on float32


def _measure(strategies, n_x, m, layout, threads, rounds):
    X64, Y = synthetic(n_x, m, order=layout, seed=0)
    Y = Y.reshape(m)
    data = {"float64": X64, "float32": X64.astype(np.float32)}  # keeps the layout
    w = np.random.default_rng(1).normal(size=n_x) / np.sqrt(n_x)
    b = 0.25
    calls = {(s, d): (lambda s=s, X=X: lrperf.propagate(w, b, X, Y, strategy=s))
             for s in strategies for d, X in data.items()}
    rows = {}
    with measure.threads(threads):
        ceiling_before = {d: read_bandwidth(nbytes=X.nbytes, repeats=5, threads=threads)
                          for d, X in data.items()}
        first = {key: measure.timed(fn) for key, fn in calls.items()}
        times = measure.interleaved(calls, rounds=rounds, per_round=1, warmup=False)
        # The fastest of two plain reads, before and after the timing: a busy
        # moment would otherwise lower the limit (and raise shares past 100%).
        ceiling = {d: max(read_bandwidth(nbytes=X.nbytes, repeats=5, threads=threads),
                          ceiling_before[d]) for d, X in data.items()}
    for d, X in data.items():
        exact_dw = accuracy.float64_step(w, b, X, Y)[0]
        for s in strategies:
            grads, _ = lrperf.propagate(w, b, X, Y, strategy=s)
            t = measure.median(times[(s, d)])
            rate = X.nbytes / t / 1e9
            rows[(s, d)] = {
                "time": t, "first": first[(s, d)], "bytes": X.nbytes, "rate": rate,
                "share": rate / ceiling[d], "ceiling": ceiling[d],
                "error": accuracy.relative_error(grads["dw"], exact_dw),
                "reads": "native" if d in lrperf.STRATEGIES[s].dtypes else "float64 copy",
                "sums": lrperf.STRATEGIES[s].accumulation(d),
            }
    return rows


def _share(row):
    # The ceiling is a memory read: X within the last-level cache is read
    # from cache, faster than any memory limit.
    if row["bytes"] <= last_level_cache_bytes():
        return "in cache"
    if row["share"] > 1.0:
        return f"{100 * row['share']:.0f}% (limit measured too low: rerun)"
    return f"{100 * row['share']:.0f}%"


def _table(rows, strategies):
    out = ["| strategy | X dtype | reads | sums in | median / step | first call | X bytes "
           "| GB/s of X | share of plain read | float32 speedup | error of dw |",
           "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for s in strategies:
        for d in grid.DTYPES:
            r = rows[(s, d)]
            speedup = (f"{rows[(s, 'float64')]['time'] / r['time']:.2f}x"
                       if d == "float32" else "")
            out.append(f"| {s} | {d} | {r['reads']} | {r['sums']} | {r['time'] * 1e3:.2f} ms "
                       f"| {r['first'] * 1e3:.0f} ms | {r['bytes'] / 1e6:.1f} MB "
                       f"| {r['rate']:.2f} | {_share(r)} | {speedup} "
                       f"| {r['error']:.1e} |")
    return "\n".join(out)


def _goals(rows):
    if ("numba_fused", "float32") not in rows:
        return []
    f32, f64 = rows[("numba_fused", "float32")], rows[("numba_fused", "float64")]
    lines = [f"- numba_fused float32 over float64: {f64['time'] / f32['time']:.2f}x "
             f"(goal >= {GOAL_SPEEDUP}x)",
             f"- numba_fused float32, share of the plain read of its bytes: "
             f"{_share(f32)} (goal >= {100 * GOAL_SHARE:.0f}%)"]
    if ("numpy", "float32") in rows:
        np32 = rows[("numpy", "float32")]
        lines.append(f"- numba_fused over numpy, both float32: {np32['time'] / f32['time']:.2f}x "
                     f"(goal >= {GOAL_OVER_NUMPY}x); error of dw {f32['error']:.1e} vs "
                     f"{np32['error']:.1e}")
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-x", type=int, default=4096, help="features (default 4096)")
    parser.add_argument("--m", type=int, default=50000, help="examples (default 50000)")
    parser.add_argument("--layouts", nargs="+", choices=grid.LAYOUTS, default=list(grid.LAYOUTS))
    parser.add_argument("--threads", type=int, nargs="+", default=None,
                        help="thread counts (default: 1 and all of Numba's)")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (default 7)")
    native = [s for s in lrperf.available() if "float32" in lrperf.STRATEGIES[s].dtypes]
    parser.add_argument("--strategies", nargs="+", default=native,
                        help=f"default: those that read float32 natively ({' '.join(native)})")
    args = parser.parse_args(argv)
    for name in ("n_x", "m", "rounds"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    unknown = [s for s in args.strategies if s not in lrperf.available()]
    if unknown:
        parser.error(f"--strategies must be among {lrperf.available()}, got {unknown}")
    threads = args.threads or grid.thread_counts()
    try:
        print(cpu_summary())
        for layout in args.layouts:
            for t in threads:
                rows = _measure(args.strategies, args.n_x, args.m, layout, t, args.rounds)
                print(f"\n{args.n_x} x {args.m}, {layout} order, {t} thread(s), median of "
                      f"{args.rounds} interleaved rounds; error: max |dw - dw64| / max |dw64| "
                      "against float64 NumPy on the same values\n")
                print(_table(rows, args.strategies))
                print("\n".join(_goals(rows)))
    except ValueError as exc:  # e.g. a thread count over Numba's
        print(f"bench_dtype: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
