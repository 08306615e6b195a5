"""numba_fused against numpy, and both against the ceiling at X's own size: the issue's goals.

For each case (n_x, m, layout) and thread count, ``lrperf.propagate`` with
both strategies and the read probes of ``lrperf.ceiling`` over X's own
memory (a vectorized Numba sum, BLAS ``X @ v`` and ``v @ X``) are timed side
by side in one process (``lrperf.measure.interleaved``: alternating order,
a pause before each so the other thread pool parks), with Numba and BLAS
threads set together (``lrperf.measure.threads``).  Step times are medians;
the ceiling is the fastest probe's best time (an upper bound on a plain
read, so a share errs low, never high).  First calls (JIT compilation or
Numba's cache load) are timed on their own.  Prints a Markdown table, the
machine (``cpu_facts``) and what numba_fused's tuning chose (``tuning_record``).

    python scripts/bench_fused.py                   # the issue's goals, 1 and all threads
    python scripts/bench_fused.py --quick           # small smoke test (seconds)
    python scripts/bench_fused.py --threads 2 --rounds 11 --json out.json
"""
import argparse
import gc
import sys
import time

import numpy as np

import lrperf
from lrperf import ceiling, grid, measure, tuning
from lrperf.datasets import synthetic
from lrperf.machine import cpu_name, machine_info
from lrperf.scripting import write_json

STRATEGIES = ("numpy", "numba_fused")
# (n_x, m, layout, goal): the table; goal = (min speed-up, min share of the ceiling).
BIG = (4096, 50000)
FULL_CASES = [(*BIG, "C"), (*BIG, "F"), (*grid.CAT_SHAPE, "C"), (*grid.CAT_SHAPE, "F"),
              (12288, 3344, "C"), (12288, 3344, "F")]
QUICK_CASES = [(1024, 4000, "C"), (1024, 4000, "F"), (*grid.CAT_SHAPE, "C")]


def goal_of(n_x, m):
    """(speed-up, share) the issue asks for at this shape; share None: no share goal."""
    if (n_x, m) == BIG:
        return 1.5, 0.80
    return 1.0, None  # every X >= 1 MB, the cat size included: not slower than numpy


def measure_case(n_x, m, order, threads, rounds, per_round, gap, log):
    X, Y = synthetic(n_x, m, order=order, seed=0)
    w = np.random.default_rng(1).standard_normal((n_x, 1)) * (1.0 / np.sqrt(n_x))
    calls = {s: (lambda s=s: lrperf.propagate(w, 0.1, X, Y, strategy=s)) for s in STRATEGIES}
    with measure.threads(threads) as n:
        first = {}
        for s in STRATEGIES:
            time.sleep(gap)
            first[s] = measure.timed(calls[s])
        probes, volume = {}, {}
        for name, factory in ceiling.PROBES.items():
            probes[f"read:{name}"], volume[name] = factory(X, n, 1)
            probes[f"read:{name}"]()  # compile / first touch, as the strategies had
        times = measure.interleaved({**calls, **probes}, rounds=rounds, per_round=per_round,
                                    gap=gap, warmup=False,
                                    between=lambda r: log(f"  round {r + 1}/{rounds}"))
    reads = {name: ceiling.rate(volume[name], min(times[f"read:{name}"])) for name in volume}
    best_probe = max(reads, key=reads.get)
    result = {
        "n_x": n_x, "m": m, "order": order, "threads": n, "bytes": X.nbytes,
        "level": ceiling.level_of(X.nbytes, n),
        "ceiling_gbs": reads[best_probe], "ceiling_probe": best_probe, "probes_gbs": reads,
        "first_call_s": first,
        "median_s": {s: measure.median(times[s]) for s in STRATEGIES},
        "all_s": {s: times[s] for s in STRATEGIES},
        "tuning": tuning.tuning_record()["choices"],
    }
    del X, Y, calls, probes
    gc.collect()  # one large X alive at a time
    return result


def figures(case):
    """Speed-up, share of each strategy, and whether the issue's goal is met."""
    t = case["median_s"]
    speedup = t["numpy"] / t["numba_fused"]
    shares = {s: ceiling.share(case["bytes"], t[s], case["ceiling_gbs"]) for s in STRATEGIES}
    want_speedup, want_share = goal_of(case["n_x"], case["m"])
    met = speedup >= want_speedup and (want_share is None or shares["numba_fused"] >= want_share)
    goal = f">= {want_speedup:g}x" + (f", >= {want_share:.0%}" if want_share else "")
    return speedup, shares, goal, met


def machine_line(info):
    caches = ", ".join(f"{k} {v['bytes'] / 2**20:g} MB" if v["bytes"] >= 2**20
                       else f"{k} {v['bytes'] // 1024} KB" for k, v in info["caches"].items())
    return (f"Machine: {cpu_name(info)} ({info['arch']}; {', '.join(info['simd'])}), {caches}, "
            f"{info['cores']} cores; BLAS {info['blas']}; NumPy {info['numpy']}, "
            f"Numba {info['numba']}")


def markdown(cases, info, mode):
    lines = [
        machine_line(info), f"numba_fused tuning: LRPERF_TUNING={mode}", "",
        "| X (n_x x m, order) | threads | MB | held by | numpy ms | numba_fused ms | speed-up "
        "| ceiling GB/s (probe) | numpy share | numba_fused share | goal | met "
        "| first call numpy / fused ms |",
        "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: |",
    ]
    for c in cases:
        t = c["median_s"]
        speedup, sh, goal, met = figures(c)
        lines.append(
            f"| {c['n_x']} x {c['m']}, {c['order']} | {c['threads']} | {c['bytes'] / 1e6:.1f} "
            f"| {c['level']} | {t['numpy'] * 1e3:.3f} | {t['numba_fused'] * 1e3:.3f} "
            f"| {speedup:.2f}x | {c['ceiling_gbs']:.1f} ({c['ceiling_probe']}) "
            f"| {sh['numpy']:.0%} | {sh['numba_fused']:.0%} | {goal} | {'yes' if met else 'NO'} "
            f"| {c['first_call_s']['numpy'] * 1e3:.0f} / "
            f"{c['first_call_s']['numba_fused'] * 1e3:.0f} |")
    over = [c for c in cases if max(figures(c)[1].values()) > 1.05]
    lines += ["", "share = (X bytes / median step time) / ceiling; ceiling = the fastest plain "
              "read of X's own memory (best time of the fastest probe: vectorized Numba sum, "
              "BLAS X @ v, v @ X), measured interleaved with the steps at the same thread "
              f"count; medians of {len(cases[0]['all_s']['numpy'])} timed steps per strategy."]
    if over:
        lines.append("WARNING: a share above 105% means the ceiling is wrong: "
                     + ", ".join(f"{c['n_x']} x {c['m']} {c['order']} {c['threads']}t"
                                 for c in over))
    choices = {}
    for c in cases:
        choices.update(c["tuning"])
    if choices:
        lines += ["", "What numba_fused chose (lrperf.tuning):", ""]
        lines += [f"- {k}: {v['choice']} ({_knobs(v)}) -- {v['source']}: {v['why']}"
                  for k, v in sorted(choices.items())]
    return "\n".join(lines)


def _knobs(v):
    if v["variant"] in ("columns", "groups"):
        return f"groups of {v.get('group')} examples"
    return f"tile {v['tile']}, prefetch {v['ahead']} rows"


_positive, _seconds = measure.positive_int, measure.pause_seconds


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Time lrperf.propagate with numba_fused and numpy side by side at equal "
                    "thread counts, with the ceiling (fastest plain read of X's own memory) "
                    "measured in the same interleaved run; print the issue's goals table.")
    parser.add_argument("--threads", type=_positive, nargs="+", default=None,
                        help="thread counts, Numba and BLAS together (default: 1 and all cores "
                             "Numba may use)")
    parser.add_argument("--rounds", type=_positive, default=7,
                        help="interleaved rounds; in each, every strategy and probe runs "
                             "--per-round timed calls back to back (default: 7)")
    parser.add_argument("--per-round", type=_positive, default=3,
                        help="timed calls per strategy and round (default: 3)")
    parser.add_argument("--gap", type=_seconds, default=measure.DEFAULT_GAP_S,
                        help="seconds of sleep before each callable's turn, so the other "
                             f"thread pool parks (default: {measure.DEFAULT_GAP_S})")
    parser.add_argument("--quick", action="store_true",
                        help="small sizes: a smoke test, not the goals")
    parser.add_argument("--json", metavar="PATH", help="also save the raw figures as JSON")
    args = parser.parse_args(argv)

    threads = args.threads or grid.thread_counts()
    cases = QUICK_CASES if args.quick else FULL_CASES

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    try:
        mode = tuning.mode()
        info = machine_info()
        results = []
        for n in threads:
            for n_x, m, order in cases:
                log(f"{n_x} x {m}, {order} order, {n} thread(s) "
                    f"({8 * n_x * m / 1e9:.2f} GB)")
                results.append(measure_case(n_x, m, order, n, args.rounds, args.per_round,
                                            args.gap, log))
    except ValueError as exc:  # a thread count above NUMBA_NUM_THREADS, a bad LRPERF_TUNING
        print(f"bench_fused: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bench_fused: interrupted", file=sys.stderr)
        return 130
    print(markdown(results, info, mode))
    if args.json:
        write_json(args.json, {"machine": info, "command": " ".join(sys.argv),
                               "tuning_mode": mode, "cases": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
