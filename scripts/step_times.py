"""Time one `lrperf.propagate` per strategy, side by side, on the cat data's size.

Every strategy runs at the same thread count (Numba and BLAS pools set
together); JIT compilation is done and timed before the timed repeats, and the
repeats are interleaved across strategies so machine noise hits all alike.
Prints a Markdown table of median times and the ratio of each to numpy.

    python scripts/step_times.py --data ../shared/data --threads 1
"""
import argparse
import statistics
import time

import numba
import numpy as np
from threadpoolctl import threadpool_limits

import lrperf
from lrperf import datasets


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="folder with the cat/non-cat .h5 files "
                                       "(default: synthetic data of the same shape)")
    parser.add_argument("--threads", type=int, default=1, help="Numba and BLAS threads (default 1)")
    parser.add_argument("--repeats", type=int, default=7, help="timed repeats per strategy")
    parser.add_argument("--strategies", nargs="*", default=list(lrperf.STRATEGIES))
    args = parser.parse_args(argv)

    if args.data:
        X, Y = (lambda d: (d.X_train, d.Y_train))(datasets.load_catvnoncat(args.data))
        source = f"cat data {X.shape}, Fortran order"
    else:
        X, Y = datasets.synthetic(12288, 209, order="F")
        source = f"synthetic {X.shape}, Fortran order"
    w = np.zeros(X.shape[0])
    numba.set_num_threads(args.threads)
    times = {s: [] for s in args.strategies}
    first = {}
    with threadpool_limits(args.threads):
        for s in args.strategies:
            t0 = time.perf_counter()
            lrperf.propagate(w, 0.0, X, Y, strategy=s)
            first[s] = time.perf_counter() - t0
        for _ in range(args.repeats):
            for s in args.strategies:
                t0 = time.perf_counter()
                lrperf.propagate(w, 0.0, X, Y, strategy=s)
                times[s].append(time.perf_counter() - t0)
    med = {s: statistics.median(t) for s, t in times.items()}
    ref = med.get("numpy")
    print(f"{source}; {args.threads} thread(s); median of {args.repeats} interleaved repeats\n")
    print("| strategy | median time per step | ratio to numpy | first call (incl. JIT) |")
    print("| --- | ---: | ---: | ---: |")
    for s in args.strategies:
        ratio = f"{med[s] / ref:.2f}x" if ref else "n/a"
        print(f"| {s} | {med[s] * 1e3:.3f} ms | {ratio} | {first[s] * 1e3:.1f} ms |")


if __name__ == "__main__":
    main()
