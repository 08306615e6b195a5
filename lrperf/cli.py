"""The ``lrperf`` command."""
import argparse
import sys
import time

import numpy as np

from . import api, datasets
from .progress import Progress
from .strategies import DESCRIPTIONS, STRATEGIES


def _accuracy(Y_pred, Y):
    return 100.0 - float(np.mean(np.abs(Y_pred - Y))) * 100.0


def cmd_strategies(args):
    width = max(map(len, STRATEGIES))
    for name in STRATEGIES:
        print(f"{name:<{width}}  {DESCRIPTIONS[name]}")
    return 0


def cmd_train(args):
    if args.data is None:
        data = datasets.synthetic_split(seed=args.seed)
        source = (f"built-in synthetic data (n_x={data.X_train.shape[0]}, "
                  f"m_train={data.X_train.shape[1]}, m_test={data.X_test.shape[1]}, seed={args.seed})")
    else:
        data = datasets.load_catvnoncat(args.data)
        source = f"cat/non-cat data from {args.data}"
    print(f"training on {source} with strategy {args.strategy!r}, "
          f"{args.iterations} iterations, learning rate {args.learning_rate}")

    # JIT compilation (or loading from Numba's on-disk cache) happens on the
    # first call; time it on its own so it does not pollute the step timing.
    t0 = time.perf_counter()
    api.propagate(np.zeros(data.X_train.shape[0]), 0.0, data.X_train[:, :2],
                  data.Y_train[:, :2], strategy=args.strategy)
    first_call = time.perf_counter() - t0

    bar = Progress(args.iterations, label="train")

    def report(i, cost):
        if i % 100 == 0:
            bar.print(f"Cost after iteration {i}: {cost:f}")
        bar.update(i + 1)

    t0 = time.perf_counter()
    result = api.model(data.X_train, data.Y_train, data.X_test, data.Y_test,
                       args.iterations, args.learning_rate, strategy=args.strategy,
                       callback=report)
    elapsed = time.perf_counter() - t0
    bar.close()
    print(f"train accuracy: {_accuracy(result['Y_prediction_train'], data.Y_train):.2f} %")
    print(f"test accuracy:  {_accuracy(result['Y_prediction_test'], data.Y_test):.2f} %")
    per_step = elapsed / max(args.iterations, 1)
    print(f"time: {elapsed:.3f} s for {args.iterations} steps ({per_step * 1e3:.3f} ms/step); "
          f"first call (JIT compile or cache load) {first_call * 1e3:.1f} ms")
    return 0


def _positive_int(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def build_parser():
    parser = argparse.ArgumentParser(
        prog="lrperf",
        description="Loop strategies for one logistic-regression gradient step, "
                    "proven equivalent and compared honestly.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("strategies", help="list the registered strategies",
                       description="List the registered strategies, slowest first.")
    p.set_defaults(func=cmd_strategies)

    p = sub.add_parser(
        "train", help="train the model with one strategy and report accuracy",
        description="Train logistic regression by gradient descent with one strategy, "
                    "printing the cost every 100 iterations, then train/test accuracy "
                    "and the time per step (JIT compilation timed separately).")
    p.add_argument("--data", metavar="DIR", default=None,
                   help="folder with train_catvnoncat.h5 and test_catvnoncat.h5 "
                        "(default: built-in synthetic data)")
    p.add_argument("--strategy", default="numpy", choices=list(STRATEGIES),
                   help="strategy for the gradient step (default: numpy)")
    p.add_argument("--iterations", type=_positive_int, default=2000,
                   help="gradient-descent iterations (default: 2000)")
    p.add_argument("--learning-rate", type=float, default=0.005,
                   help="learning rate (default: 0.005)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the synthetic data (default: 0)")
    p.set_defaults(func=cmd_train)

    from . import study  # `lrperf study` (issue 3)
    study.add_parser(sub)
    from . import report  # `lrperf report` (issue 4)
    report.add_parser(sub)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, TypeError, FileNotFoundError, ImportError, FloatingPointError) as exc:
        print(f"lrperf {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
