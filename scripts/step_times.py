"""Time one `lrperf.propagate` per strategy, side by side, on the cat data's size.

Every strategy runs at the same thread count (Numba and BLAS pools set
together, ``lrperf.measure.threads``); the first call (JIT compilation or
cache load) is timed on its own, then ``lrperf.measure.interleaved`` times the
strategies in alternating order, sleeping 0.3 s before each one's turn so the
other's thread pool parks.  Prints a Markdown table of median times, the
ratio of each to the reference (numpy), and the CPU it ran on.

    python scripts/step_times.py --data ../shared/data --threads 1
"""
import sys

import numpy as np

import lrperf
from lrperf import datasets, grid, measure
from lrperf.scripting import Parser, UsageError, cpu_line, ms, positive_int, table


def parse_args(argv):
    parser = Parser(prog="step_times.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="folder with the cat/non-cat .h5 files "
                                       "(default: synthetic data of the same shape)")
    parser.add_argument("--threads", type=positive_int, default=1,
                        help="Numba and BLAS threads (default 1)")
    parser.add_argument("--repeats", type=positive_int, default=7,
                        help="rounds of timed calls per strategy")
    parser.add_argument("--strategies", nargs="*", default=lrperf.available())
    return parser.parse_args(argv)


def main(argv=None):
    try:
        args = parse_args(argv)
    except UsageError as exc:
        print(f"step_times.py: {exc}", file=sys.stderr)
        return 2
    if args.data:
        data = datasets.load_catvnoncat(args.data)
        X, Y = data.X_train, data.Y_train
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
    ref = med.get(grid.REFERENCE)
    print(cpu_line())
    print(f"{source}; {args.threads} thread(s); median of {args.repeats} interleaved rounds\n")
    rows = [[s, f"{ms(med[s])} ms", f"{med[s] / ref:.2f}x" if ref else "n/a",
             f"{ms(first[s], 1)} ms"] for s in args.strategies]
    print("\n".join(table(["strategy", "median time per step", f"ratio to {grid.REFERENCE}",
                           "first call (incl. JIT)"], rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
