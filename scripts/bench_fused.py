"""Measure numba_fused against numpy, and both against the machine's read bandwidth.

For each case (n_x, m, layout) it times ``lrperf.propagate`` with both
strategies at the same thread count (Numba threads and BLAS threads set
together), interleaving their repeats with a parallel-sum read-bandwidth pass
over X's own memory so that noise from a shared machine hits all three alike.
JIT compilation (or loading from Numba's cache) is the first call, timed and
reported on its own.  Prints a Markdown table; --json saves the raw figures.

    python scripts/bench_fused.py                 # the issue's goals (1.6 GB arrays)
    python scripts/bench_fused.py --quick         # small smoke test
    python scripts/bench_fused.py --threads 1 --repeats 11 --json out.json
"""
import argparse
import gc
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numba
import numpy as np

import lrperf
from lrperf.datasets import synthetic
from lrperf.machine import machine_info, read_bandwidth

STRATEGIES = ("numpy", "numba_fused")
FULL_CASES = [(4096, 50000, "C"), (4096, 50000, "F"), (12288, 209, "F"), (12288, 209, "C")]
QUICK_CASES = [(1024, 4000, "C"), (1024, 4000, "F"), (12288, 209, "F")]


def _timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _timed_run(fn, calls, gap):
    """Times of ``calls`` back-to-back calls, as in a training loop.

    Both thread pools busy-wait for a while after a call (OpenBLAS for about
    0.1 s, Numba's OpenMP pool briefly); on 2 cores the spinning pool of the
    strategy timed before would steal a core.  So: sleep ``gap`` seconds to
    let it park, make one untimed call to wake this strategy's own pool, then
    time the calls.
    """
    time.sleep(gap)
    fn()
    return [_timed(fn) for _ in range(calls)]


def measure_case(n_x, m, order, repeats, calls, threads, gap, log):
    """Median seconds per propagate for each strategy, read bandwidth, first calls."""
    X, Y = synthetic(n_x, m, order=order, seed=0)
    w = np.random.default_rng(1).standard_normal((n_x, 1)) * (1.0 / np.sqrt(n_x))
    b = 0.1
    calls_of = {s: (lambda s=s: lrperf.propagate(w, b, X, Y, strategy=s)) for s in STRATEGIES}
    first = {}
    for s in STRATEGIES:
        time.sleep(gap)
        first[s] = _timed(calls_of[s])
    times = {s: [] for s in STRATEGIES}
    bandwidth = []
    for r in range(repeats):
        # Alternate which strategy goes first: drift in machine load hits both.
        for s in (STRATEGIES if r % 2 == 0 else STRATEGIES[::-1]):
            times[s] += _timed_run(calls_of[s], calls, gap)
        time.sleep(gap)
        bandwidth.append(read_bandwidth(X, repeats=calls, threads=threads))
        log(f"  {n_x}x{m} {order}: round {r + 1}/{repeats}")
    result = {
        "n_x": n_x, "m": m, "order": order, "bytes": X.nbytes, "threads": threads,
        "read_bandwidth_gbs": statistics.median(bandwidth),
        "read_bandwidth_rounds_gbs": bandwidth,
        "first_call_s": first,
        "median_s": {s: statistics.median(t) for s, t in times.items()},
        "all_s": times,
    }
    del X, Y, calls_of
    gc.collect()  # at most one large X alive at a time
    return result


def shares(case):
    bw = case["read_bandwidth_gbs"]
    return {s: case["bytes"] / t / 1e9 / bw for s, t in case["median_s"].items()}


def best_figures(case):
    """Speed-up and fused share from the fastest call and the fastest bandwidth round.

    On a machine shared with other jobs the medians carry their load; the
    best times are the closer estimate of what the hardware does unloaded.
    """
    best = {s: min(t) for s, t in case["all_s"].items()}
    bw = max(case["read_bandwidth_rounds_gbs"])
    return best["numpy"] / best["numba_fused"], case["bytes"] / best["numba_fused"] / 1e9 / bw


def markdown(cases, info):
    lines = [
        f"Machine: {info['cpu']}, {info['cores']} cores, BLAS {info['blas']}; "
        f"NumPy {info['numpy']}, Numba {info['numba']}; threads {cases[0]['threads']} "
        "(Numba and BLAS)",
        "",
        "| X (n_x x m, order) | MB | numpy ms | numba_fused ms | speed-up | "
        "read BW GB/s | numpy share | numba_fused share | best: speed-up, fused share "
        "| first call numpy / fused ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for c in cases:
        t = c["median_s"]
        sh = shares(c)
        best_speedup, best_share = best_figures(c)
        lines.append(
            f"| {c['n_x']} x {c['m']}, {c['order']} | {c['bytes'] / 1e6:.1f} "
            f"| {t['numpy'] * 1e3:.3f} | {t['numba_fused'] * 1e3:.3f} "
            f"| {t['numpy'] / t['numba_fused']:.2f}x | {c['read_bandwidth_gbs']:.1f} "
            f"| {sh['numpy']:.0%} | {sh['numba_fused']:.0%} "
            f"| {best_speedup:.2f}x, {best_share:.0%} "
            f"| {c['first_call_s']['numpy'] * 1e3:.0f} / {c['first_call_s']['numba_fused'] * 1e3:.0f} |"
        )
    lines += ["", "share = (X bytes / median step time) / read bandwidth of a parallel sum "
              "over X's memory, measured interleaved with the steps; medians of "
              f"{len(cases[0]['all_s']['numpy'])} timed steps per strategy (rounds of "
              "back-to-back calls, strategies alternating).  best: from the fastest call of "
              "each strategy and the fastest bandwidth round (less affected by other jobs "
              "on a shared machine)."]
    return "\n".join(lines)


def write_json(path, payload):
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent or ".", prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(payload, f, indent=2)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _seconds(text):
    value = float(text)
    if not 0.0 <= value <= 60.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 60 seconds, got {text}")
    return value


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Time lrperf.propagate with numba_fused and numpy side by side at equal "
                    "thread counts, and report each as a share of the read bandwidth "
                    "measured over X's memory in the same process.")
    parser.add_argument("--threads", type=_positive, default=None,
                        help="Numba and BLAS threads for both strategies (default: all cores "
                             "Numba may use)")
    parser.add_argument("--repeats", type=_positive, default=7,
                        help="rounds per case; in each, every strategy runs --calls timed "
                             "steps back to back (default: 7)")
    parser.add_argument("--calls", type=_positive, default=3,
                        help="timed back-to-back calls per strategy and round; the median "
                             "over all of them is reported (default: 3)")
    parser.add_argument("--gap", type=_seconds, default=0.3,
                        help="seconds of sleep before each strategy's run, so that the other "
                             "strategy's idle thread pool stops spinning (default: 0.3)")
    parser.add_argument("--quick", action="store_true",
                        help="small sizes (1024 x 4000 and the cat size): a smoke test, not "
                             "the goals")
    parser.add_argument("--json", metavar="PATH", help="also save the raw figures as JSON")
    args = parser.parse_args(argv)

    from threadpoolctl import threadpool_limits  # the 'bench' extra

    threads = args.threads or min(os.cpu_count() or 1, numba.config.NUMBA_NUM_THREADS)
    if threads > numba.config.NUMBA_NUM_THREADS:
        parser.error(f"--threads must be <= NUMBA_NUM_THREADS = "
                     f"{numba.config.NUMBA_NUM_THREADS}, got {threads}")
    cases = QUICK_CASES if args.quick else FULL_CASES

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    numba.set_num_threads(threads)
    results = []
    with threadpool_limits(threads):
        info = machine_info()
        for n_x, m, order in cases:
            log(f"case {n_x} x {m}, {order} order ({8 * n_x * m / 1e9:.2f} GB)")
            results.append(measure_case(n_x, m, order, args.repeats, args.calls, threads,
                                        args.gap, log))
    print(markdown(results, info))
    if args.json:
        write_json(args.json, {"machine": info, "command": " ".join(sys.argv), "cases": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
