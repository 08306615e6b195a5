"""What a run did and what it cost, for its sidecar's "study" entry; what it
selects and shares.

Skipped points are counted by reason, by the rules of benchmarks/common.py
and the registry; seconds per benchmark family come from the progress file
(``results_format.family_seconds``).
"""
import ast
import contextlib
import itertools
import json
import math
import os
import re

from ..grid import GRIDS

# The "study" entry of the sidecar: what the run did and what it cost.
# 2: seconds per phase, per benchmark family, skipped points by reason.
# 3: families are wall seconds from the progress file (2 held asv's durations,
#    one round each); wall_s, the whole run before its report.
RUN_INFO_FORMAT = 3


def default_selection(grid):
    """asv ``--bench`` regexes of the benchmarks a grid runs (None: all of them).

    asv matches a parametrized benchmark's regex against ``name(param, ...)``
    only, an unparametrized one against its name."""
    names = GRIDS[grid].benchmarks
    return None if names is None else benchmark_selection(names)


def benchmark_selection(names):
    """asv ``--bench`` regexes that select every point of the benchmarks ``names``."""
    return ["^" + re.escape(name) + r"(\(|$)" for name in names]


def shared_caches(tmp):
    """Caches the run's point processes share: the skip estimate's cost model
    (benchmarks/common.py) and XLA's compiled programs; compilation and probes
    are never timed, they only cost each process seconds.  A user's own
    setting wins."""
    env = {"LRPERF_COST_MODEL_FILE": str(tmp / "cost-model.json")}
    if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
        env.update(JAX_COMPILATION_CACHE_DIR=str(tmp / "jax-cache"),
                   JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0")
    return env


def skip_reason(point):
    """Why the suite skipped a point ({axis: value}), by the rules of
    benchmarks/common.py and the registry: "no GPU", "not available here",
    "read through a float64 copy", "its thread pool is fixed at start" or
    "estimated too slow"."""
    from ..registry import STRATEGIES
    record = STRATEGIES.get(point.get("strategy"))
    if record is None:
        return "no GPU" if point.get("benchmark", "").startswith("gpu.") else "not available here"
    if not record.available:
        return "no GPU" if record.device == "gpu" else "not available here"
    if "dtype" in point and point["dtype"] not in record.dtypes:
        return "read through a float64 copy"
    if record.fixed_pool is not None and "threads" in point:
        if point["threads"] != record.fixed_pool():
            return "its thread pool is fixed at start"
    return "estimated too slow"


def run_accounting(stage, commit):
    """{"skipped": {reason: points}} of this commit's result files in ``stage``."""
    from asv.results import Results
    from asv.util import UserError
    skipped = {}
    for path in stage.glob(f"*/{commit[:8]}-*.json"):
        try:
            res = Results.load(str(path))
        except (UserError, OSError, ValueError, KeyError):
            continue
        names = json.loads((stage / "benchmarks.json").read_text()) if (
            stage / "benchmarks.json").is_file() else {}
        for name in res.get_all_result_keys():
            params = res.get_result_params(name) or []
            values = res.get_result_value(name, params)
            values = values if isinstance(values, list) else [values]
            axes = (names.get(name) or {}).get("param_names") or []
            for point, value in zip(itertools.product(*params), values):
                if isinstance(value, float) and math.isnan(value):
                    named = {"benchmark": name}
                    for axis, text in zip(axes, point):
                        with contextlib.suppress(ValueError, SyntaxError):
                            named[axis] = ast.literal_eval(text)
                    reason = skip_reason(named)
                    skipped[reason] = skipped.get(reason, 0) + 1
    return {"skipped": skipped}
