"""One step point measured side by side in this process, against the study's number.

The study times a point in several processes (``lrperf.samples``); here the
same point (the suite's data: ``synthetic(n_x, m, order, dtype, seed=0)``) is
timed in one process beside numpy with ``lrperf.measure.interleaved`` (equal
threads, 0.3 s pause before each turn).  Prints both: median and the range of
the round medians here, median and range of the per-process medians there,
and whether the two ranges overlap.

    python scripts/point_check.py --results .asv/results/tiny numba_fused 128 209 F float64 2
"""
import argparse
import statistics

import numpy as np

import lrperf
from lrperf import grid, measure, samples
from lrperf.datasets import synthetic
from lrperf.machine import cpu_summary


def study_samples(results, point):
    """The recorded samples of ``point`` in the newest result file under ``results``."""
    from lrperf.report.compare import _step_samples
    from lrperf.report.load import load
    frame = load(results).frame
    steps = frame[frame["benchmark"] == grid.BENCH_STEP]
    for path in steps.sort_values("date")["file"].unique()[::-1]:
        got = _step_samples(path).get(point)
        if got:
            return got, path
    raise SystemExit(f"no recorded samples of {point} under {results}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", required=True, help="the study's results folder")
    parser.add_argument("strategy")
    parser.add_argument("n_x", type=int)
    parser.add_argument("m", type=int)
    parser.add_argument("layout", choices=grid.LAYOUTS)
    parser.add_argument("dtype", choices=grid.DTYPES)
    parser.add_argument("threads", type=int)
    parser.add_argument("--rounds", type=int, default=samples.PROCESSES)
    parser.add_argument("--per-round", type=int, default=samples.SAMPLES_PER_PROCESS)
    args = parser.parse_args(argv)
    point = (args.strategy, args.n_x, args.m, args.layout, args.dtype, args.threads)
    recorded, path = study_samples(args.results, point)
    there = samples.interval(recorded)

    X, Y = synthetic(args.n_x, args.m, order=args.layout, dtype=args.dtype, seed=0)
    Y = Y.reshape(-1)
    w = np.zeros(args.n_x)
    names = list(dict.fromkeys([args.strategy, "numpy"]))
    calls = {s: (lambda s=s: lrperf.propagate(w, 0.0, X, Y, strategy=s)) for s in names}
    with measure.threads(args.threads):
        times = measure.interleaved(calls, rounds=args.rounds, per_round=args.per_round)
    per = args.per_round
    print(f"CPU: {cpu_summary()}")
    print(f"point: {args.strategy} {args.n_x} x {args.m} {args.layout} {args.dtype}, "
          f"{args.threads} thread(s)")
    for s in names:
        rounds = [statistics.median(times[s][i:i + per]) for i in range(0, len(times[s]), per)]
        print(f"  side by side, {s}: median {statistics.median(rounds) * 1e6:.1f} us, round "
              f"medians {min(rounds) * 1e6:.1f}..{max(rounds) * 1e6:.1f} us "
              f"({args.rounds} rounds of {per})")
    rounds = [statistics.median(times[args.strategy][i:i + per])
              for i in range(0, len(times[args.strategy]), per)]
    if there is None:
        print(f"  study ({path}): too few samples for an interval (unconfirmed)")
        return 1
    med, lo, hi, conf = there
    print(f"  study, {args.strategy}: median {med * 1e6:.1f} us, process medians "
          f"{lo * 1e6:.1f}..{hi * 1e6:.1f} us ({conf:.0%} interval; {path})")
    agree = min(rounds) <= hi and lo <= max(rounds)
    print(f"  the two ranges {'overlap' if agree else 'DO NOT overlap'}")
    return 0 if agree else 1


if __name__ == "__main__":
    raise SystemExit(main())
