"""Which step points the second pass measures again: those the noise rule flags."""
import itertools
import math
import re

from ..results_format import BENCH_STEP, noise_score

# The second pass re-runs at most this many points (about 1 s each in the
# full grid): enough for a quiet machine's few, bounded on a busy one.
REMEASURE_MAX = 40


def _step_points(stage, commit):
    """(asv's param strings, value, stats) of every step point of ``commit`` in ``stage``."""
    from asv.results import Results
    from asv.util import UserError

    for path in stage.glob(f"*/{commit[:8]}-*.json"):
        try:
            res = Results.load(str(path))
        except (UserError, OSError, ValueError, KeyError):
            continue  # not one asv wrote in this run: nothing to measure again there
        if BENCH_STEP not in res.get_all_result_keys():
            continue
        params = res.get_result_params(BENCH_STEP)
        values = res.get_result_value(BENCH_STEP, params)
        stats = res.get_result_stats(BENCH_STEP, params) or [None] * len(values)
        for point, value, st in zip(itertools.product(*params), values, stats):
            if isinstance(value, (int, float)) and math.isfinite(value):
                yield tuple(point), value, st


def measured_points(stage, commit):
    """The step points of ``commit`` in ``stage`` that have a time (not skipped,
    not failed): [(benchmark, asv's param strings, None)], as ``selection`` takes."""
    return [(BENCH_STEP, point, None) for point, _, _ in _step_points(stage, commit)]


def noisy_points(stage, commit):
    """The step points of ``commit`` in ``stage`` that the noise rule flags,
    noisiest first: [(benchmark, asv's param strings, score)]."""
    found = []
    for point, value, st in _step_points(stage, commit):
        if not isinstance(st, dict):
            continue
        spread = [st.get(k) for k in ("ci_99_a", "ci_99_b", "q_25", "q_75")]
        score = float(noise_score(value, *(math.nan if x is None else x for x in spread)))
        if score > 1:
            found.append((BENCH_STEP, point, score))
    found.sort(key=lambda f: -f[2])
    return found


def selection(picks):
    """asv ``--bench`` regexes that select exactly the points ``picks``."""
    return ["^" + re.escape(f"{name}({', '.join(point)})") + "$" for name, point, _ in picks]


def still_noisy(stage, commit, picks):
    """How many of ``picks`` the noise rule still flags after the second pass."""
    still = {(n, p) for n, p, _ in noisy_points(stage, commit)}
    return sum((n, p) in still for n, p, _ in picks)
