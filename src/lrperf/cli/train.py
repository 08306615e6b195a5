"""``lrperf train``: gradient descent with one strategy, its accuracy and time per step."""
import os
import time

import numpy as np

from .. import api, datasets
from ..registry import available
from .args import non_negative_float, non_negative_int

NAME = "train"
HELP = "train the model with one strategy and report accuracy"
DESCRIPTION = ("Train logistic regression by gradient descent with one strategy, "
               "printing the cost every 100 iterations, then train/test accuracy "
               "and the time per step (JIT compilation timed separately).")


def add_arguments(p):
    p.add_argument("--data", metavar="DIR", default=None,
                   help="folder with train_catvnoncat.h5 and test_catvnoncat.h5, or a Zarr "
                        "store written by lrperf.datasets.write_zarr (read chunk by chunk: "
                        "--strategy dask) (default: built-in synthetic data)")
    p.add_argument("--strategy", default="numpy", choices=available(),
                   help="strategy for the gradient step (default: numpy)")
    p.add_argument("--iterations", type=non_negative_int, default=2000,
                   help="gradient-descent iterations (default: 2000)")
    p.add_argument("--learning-rate", type=non_negative_float, default=0.005,
                   help="learning rate (default: 0.005)")
    p.add_argument("--seed", type=non_negative_int, default=0,
                   help="seed of the synthetic data (default: 0)")


def _accuracy(Y_pred, Y):
    return 100.0 - float(np.mean(np.abs(Y_pred - Y))) * 100.0


def _data(args):
    if args.data is None:
        data = datasets.synthetic_split(seed=args.seed)
        return data, (f"built-in synthetic data (n_x={data.X_train.shape[0]}, "
                      f"m_train={data.X_train.shape[1]}, m_test={data.X_test.shape[1]}, "
                      f"seed={args.seed})")
    if datasets.is_zarr_store(args.data):
        data = datasets.open_zarr(args.data)
        return data, (f"the Zarr store {args.data} (n_x={data.X_train.shape[0]}, "
                      f"m_train={data.X_train.shape[1]}, m_test={data.X_test.shape[1]}, "
                      f"{len(data.X_train.chunks[1])} chunks, read chunk by chunk)")
    return datasets.load_catvnoncat(args.data), f"cat/non-cat data from {args.data}"


def _train(args, data):
    """The model trained with a progress bar; (result, seconds)."""
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)
    columns = (TextColumn("train"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("eta"), TimeRemainingColumn())
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task("train", total=max(args.iterations, 1))

        def report(i, cost):
            if i % 100 == 0:
                bar.console.print(f"Cost after iteration {i}: {cost:f}", highlight=False)
            bar.update(task, completed=i + 1)

        t0 = time.perf_counter()
        result = api.model(data.X_train, data.Y_train, data.X_test, data.Y_test,
                           args.iterations, args.learning_rate, strategy=args.strategy,
                           callback=report)
        return result, time.perf_counter() - t0


def _quiet_cluster_logs(strategy):
    """distributed logs at INFO to stderr (every connection opened and closed),
    from its own threads: when a scheduler dies, a record begun before the
    command knows can finish printing after its one line of error.  This
    command shows its own progress, so distributed keeps its warnings only,
    unless the user set its level (DASK_LOGGING__DISTRIBUTED)."""
    from ..registry import get_strategy
    if not get_strategy(strategy).chunked or os.environ.get("DASK_LOGGING__DISTRIBUTED"):
        return
    import logging

    import distributed  # noqa: F401  (its import sets its loggers up first)
    log = logging.getLogger("distributed")
    log.setLevel(max(log.getEffectiveLevel(), logging.WARNING))


def run(args):
    _quiet_cluster_logs(args.strategy)
    data, source = _data(args)
    print(f"training on {source} with strategy {args.strategy!r}, "
          f"{args.iterations} iterations, learning rate {args.learning_rate}", flush=True)
    # JIT compilation (or loading from Numba's on-disk cache) happens on the
    # first call; time it on its own so it does not pollute the step timing.
    t0 = time.perf_counter()
    api.propagate(np.zeros(data.X_train.shape[0]), 0.0, data.X_train[:, :2],
                  data.Y_train[:, :2], strategy=args.strategy)
    first_call = time.perf_counter() - t0
    result, elapsed = _train(args, data)
    print(f"train accuracy: {_accuracy(result['Y_prediction_train'], data.Y_train):.2f} %")
    print(f"test accuracy:  {_accuracy(result['Y_prediction_test'], data.Y_test):.2f} %")
    per_step = elapsed / max(args.iterations, 1)
    print(f"time: {elapsed:.3f} s for {args.iterations} steps ({per_step * 1e3:.3f} ms/step); "
          f"first call (JIT compile or cache load) {first_call * 1e3:.1f} ms")
    return 0
