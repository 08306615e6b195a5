"""Time one `lrperf.propagate` per strategy, side by side, on the cat data's size.

Every strategy runs at the same thread count (Numba and BLAS pools set
together, ``lrperf.measure.threads``); the first call (JIT compilation or
cache load) is timed on its own, then ``lrperf.measure.interleaved`` times the
strategies in alternating order, sleeping 0.3 s before each one's turn so the
other's thread pool parks.  Prints a Markdown table of median times, the
ratio of each to numpy, and the CPU it ran on.

    python scripts/step_times.py --data ../shared/data --threads 1
"""
import argparse

import numpy as np

import lrperf
from lrperf import datasets, measure
from lrperf.machine import cpu_summary


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="folder with the cat/non-cat .h5 files "
                                       "(default: synthetic data of the same shape)")
    parser.add_argument("--threads", type=int, default=1, help="Numba and BLAS threads (default 1)")
    parser.add_argument("--repeats", type=int, default=7, help="rounds of timed calls per strategy")
    parser.add_argument("--strategies", nargs="*", default=lrperf.available())
    args = parser.parse_args(argv)

    if args.data:
        X, Y = (lambda d: (d.X_train, d.Y_train))(datasets.load_catvnoncat(args.data))
        source = f"cat data {X.shape}, Fortran order"
    else:
        X, Y = datasets.synthetic(12288, 209, order="F")
        source = f"synthetic {X.shape}, Fortran order"
    w = np.zeros(X.shape[0])
    calls = {s: (lambda s=s: lrperf.propagate(w, 0.0, X, Y, strategy=s)) for s in args.strategies}
    with measure.threads(args.threads):
        first = {s: measure.timed(fn) for s, fn in calls.items()}
        times = measure.interleaved(calls, rounds=args.repeats, per_round=1, warmup=False)
    med = {s: measure.median(t) for s, t in times.items()}
    ref = med.get("numpy")
    print(cpu_summary())
    print(f"{source}; {args.threads} thread(s); median of {args.repeats} interleaved rounds\n")
    print("| strategy | median time per step | ratio to numpy | first call (incl. JIT) |")
    print("| --- | ---: | ---: | ---: |")
    for s in args.strategies:
        ratio = f"{med[s] / ref:.2f}x" if ref else "n/a"
        print(f"| {s} | {med[s] * 1e3:.3f} ms | {ratio} | {first[s] * 1e3:.1f} ms |")


if __name__ == "__main__":
    main()
