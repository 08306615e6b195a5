"""Accuracy beside speed: each strategy's relative error of dw and of the cost
against the exact (50-digit) step on the same input values, per dtype of X.

Tracked, not timed (asv ``track_``); one X layout (F, the course's); the sizes
are the grid's up to the cat set's m (``grid.accuracy_grid``).  The exact
steps are computed once for all points in ``setup_cache`` (seconds each at
the cat size).
"""
import lrperf
from lrperf import grid

from .common import DTYPES, GRID, STRATEGY_NAMES, announce

try:
    from lrperf import accuracy
    SIZES = grid.accuracy_grid(GRID)
except (ImportError, AttributeError):  # a commit from before lrperf.accuracy
    accuracy, SIZES = None, GRID

LAYOUT = "F"


def _problem(n_x, m, dtype):
    return accuracy.problem(n_x, m, dtype, layout=LAYOUT, seed=0)


class Accuracy:
    params = [STRATEGY_NAMES, list(SIZES.n_x), list(SIZES.m), DTYPES]
    param_names = list(getattr(grid, "ACCURACY_PARAMS", ("strategy", "n_x", "m", "dtype")))
    timeout = 600       # setup_cache: every exact step (about 20 s at the cat size)
    number = 1
    repeat = 1

    def setup_cache(self):
        if accuracy is None:
            return {}
        return {(n_x, m, dtype): accuracy.exact(*_problem(n_x, m, dtype))
                for n_x in SIZES.n_x for m in SIZES.m for dtype in DTYPES}

    def setup(self, exact, strategy, n_x, m, dtype):
        announce("accuracy")
        if accuracy is None:
            raise NotImplementedError("lrperf.accuracy is not in this commit")
        record = lrperf.STRATEGIES[strategy]
        if not record.available:
            raise NotImplementedError(f"skipped: {strategy} is unavailable: {record.unavailable}")
        self.errors = accuracy.errors(strategy, *_problem(n_x, m, dtype),
                                      reference=exact[(n_x, m, dtype)])

    def track_error_dw(self, exact, strategy, n_x, m, dtype):
        """max |dw - dw*| / max |dw*| against the 50-digit step."""
        return self.errors[0]

    track_error_dw.unit = "relative error"

    def track_error_cost(self, exact, strategy, n_x, m, dtype):
        """|cost - cost*| / |cost*| against the 50-digit step."""
        return self.errors[1]

    track_error_cost.unit = "relative error"
