"""The environment variables lrperf reads, each parsed by one function here or in
the module that uses it, and all checked at once by ``check`` before an
``lrperf`` command starts: a bad value is one line naming the variable, what it
expects and what it holds (exit 2), never a traceback from deep in an import.

This module imports nothing heavy at its top: the command line calls ``check``
right after installing its signal handling, before NumPy and Numba load.
"""
import os

NUMBA_THREADS_ENV = "NUMBA_NUM_THREADS"
TIME_BOUND_ENV = "LRPERF_BENCH_TIME_BOUND"


class BadEnvironment(ValueError):
    """An environment variable holds a value lrperf (or a library it loads) refuses."""


def _environ(environ):
    return os.environ if environ is None else environ


def numba_threads(environ=None):
    """NUMBA_NUM_THREADS as an int, or None when unset (Numba takes every core).

    Numba raises a bare ValueError at import for 0 or less and silently uses
    every core for a value it cannot parse: both are refused here, by name.
    """
    raw = _environ(environ).get(NUMBA_THREADS_ENV)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or value < 1:
        raise BadEnvironment(f"{NUMBA_THREADS_ENV} must be an integer >= 1 (or unset for every "
                             f"core), got {raw!r}")
    return value


def time_bounds(environ=None):
    """(bound for the suite's propagate benchmarks, bound for time_optimize) in
    seconds, or (None, None) when LRPERF_BENCH_TIME_BOUND is "off".

    A point whose call takes longer is skipped, so which points are measured
    depends on the machine and its load; "off" measures every point (the
    tests that check which points the suite measured run it so).
    """
    raw = _environ(environ).get(TIME_BOUND_ENV, "")
    value = raw.strip().lower()
    if value in ("", "on"):
        return 1.0, 0.05   # time_optimize: 100 calls a sample
    if value == "off":
        return None, None
    raise BadEnvironment(f"{TIME_BOUND_ENV} must be 'on' or 'off' (or unset for 'on'), "
                         f"got {raw!r}")


def check(environ=None):
    """Every variable lrperf reads, parsed once; BadEnvironment (a ValueError)
    naming the first bad one.  NUMBA_NUM_THREADS first: Numba reads it on import."""
    environ = _environ(environ)
    numba_threads(environ)
    time_bounds(environ)
    from . import grid, tuning
    for parse in (grid.grid_name, tuning.mode):
        try:
            parse(environ)
        except BadEnvironment:
            raise
        except ValueError as exc:
            raise BadEnvironment(str(exc)) from None
