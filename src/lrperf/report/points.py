"""Points of the results: the newest run, the noise rule, confirmation, ratios with
their intervals, shape tables, and the strategy traits the report reads.

Building blocks of the facets (``speed``, ``extras``); nothing here renders.
"""
import math

import numpy as np
import pandas as pd

from .. import grid, samples

# The noise rule is the results format's: the study re-measures by it too.
from ..results_format import NOISE_CI_SHARE, NOISE_IQR_SHARE, noise_score  # noqa: F401

# A time needs this many samples (and a finite interval) before a ratio of it
# is stated as a finding: asv --quick's single sample is not enough.
MIN_SAMPLES = 3
PRIMARY_DTYPE = grid.DTYPES[0]
REFERENCE = grid.REFERENCE


def _ok(frame):
    return frame[frame["status"] == "ok"]


def latest(frame):
    """Rows of the newest commit (by date) and, within it, the environment with most ok points."""
    ok = _ok(frame)
    if ok.empty:
        ok = frame
    commit = ok.sort_values("date")["commit"].iloc[-1]
    env = ok[ok["commit"] == commit].groupby("environment").size().idxmax()
    return frame[(frame["commit"] == commit) & (frame["environment"] == env)]


def grid_points(frame, name):
    """Ok points of benchmark ``name`` (exact) that carry the grid axes, with size in bytes."""
    rows = _ok(frame[frame["benchmark"] == name])
    rows = rows[rows["strategy"].notna() & rows["n_x"].notna() & rows["m"].notna()].copy()
    rows["dtype"] = rows["dtype"].fillna(PRIMARY_DTYPE)
    rows["size"] = [grid.nbytes(n, m, d) for n, m, d in zip(rows["n_x"], rows["m"], rows["dtype"])]
    return rows


def noisy(rows):
    """The noise rule (see noise_score) as a boolean Series."""
    if rows.empty:
        return pd.Series(False, index=rows.index, dtype=bool)
    score = noise_score(*(rows[c].astype(float).to_numpy()
                          for c in ("value", "ci_low", "ci_high", "q_25", "q_75")))
    return pd.Series(score > 1, index=rows.index, dtype=bool)


def confirmed(rows, min_samples=MIN_SAMPLES):
    """True where a time is backed by enough samples for its interval.

    Where its samples were recorded by process (``processes``, from
    ``load``): at least ``samples.MIN_PROCESSES`` processes of them, the
    unit a claim needs (``lrperf.samples``).  Where results carry no samples
    (an ``asv run`` without ``--record-samples``): at least ``min_samples``
    samples and a finite 99% interval, asv's own.
    """
    lo, hi = rows["ci_low"].astype(float), rows["ci_high"].astype(float)
    n = rows["repeat"].astype(float).fillna(0)
    legacy = (n >= min_samples) & np.isfinite(lo) & np.isfinite(hi)
    if "processes" not in rows:
        return legacy
    procs = rows["processes"].astype(float)
    return pd.Series(np.where(procs.notna(), procs.fillna(0) >= samples.MIN_PROCESSES,
                              legacy), index=rows.index, dtype=bool)


def _medians(meds):
    return meds if isinstance(meds, tuple) and len(meds) >= samples.MIN_PROCESSES else None


def ratio_interval(num, num_lo, num_hi, den, den_lo, den_hi, num_meds=None, den_meds=None):
    """num/den with its interval and its verdict (None where an interval is missing).

    With both sides' per-process medians (``num_meds``, ``den_meds``): the
    interval from the ranges of those medians, and significant when the rank
    test across them gives p < ``samples.ALPHA``, the test ``lrperf compare``
    uses.  Without them: from the two 99% intervals, significant when those
    do not overlap (asv compare's rule).
    """
    ratio = num / den
    bounds = [float(x) for x in (num_lo, num_hi, den_lo, den_hi)]
    if not all(math.isfinite(x) for x in bounds) or bounds[2] <= 0:
        return ratio, math.nan, math.nan, None
    lo, hi = bounds[0] / bounds[3], bounds[1] / bounds[2]
    a, b = _medians(num_meds), _medians(den_meds)
    if a is not None and b is not None:
        return ratio, lo, hi, bool(samples.rank_test(a, b) < samples.ALPHA)
    return ratio, lo, hi, bool(lo > 1 or hi < 1)


def is_different(a, b):
    """asv compare's rule on two points' 99% intervals: True, False or None (no interval)."""
    bounds = [float(x) for x in (a["ci_low"], a["ci_high"], b["ci_low"], b["ci_high"])]
    if not all(math.isfinite(x) for x in bounds):
        return None
    return bool(bounds[0] > bounds[3] or bounds[2] > bounds[1])


def select(rows, **axes):
    for axis, value in axes.items():
        if value is not None and rows[axis].notna().any():
            rows = rows[rows[axis] == value]
    return rows


def size_order(shapes):
    """(n_x, m) shapes in size order (n_x breaks ties)."""
    return sorted(shapes, key=lambda s: (int(s[0]) * int(s[1]), int(s[0])))


def shape_table(rows, **axes):
    """(n_x, m) x strategy table of one value per measured shape, ordered by size."""
    sel = select(rows, **axes)
    if sel.empty:
        return pd.DataFrame()
    t = sel.pivot_table(index=["n_x", "m"], columns="strategy", values="value", aggfunc="first")
    sizes = [int(n) * int(m) for n, m in t.index]
    return t.iloc[np.lexsort((t.index.get_level_values("n_x"), sizes))]


def strategy_order(names):
    """Strategies in registry order (slowest first) where known, then the rest."""
    from .. import STRATEGIES  # fills the registry on first use
    known = [s for s in STRATEGIES if s in names]
    return known + sorted(set(names) - set(known))


def slope(sizes, values):
    """Least-squares exponent k of value ~ size**k (NaN with fewer than 2 points)."""
    s = np.asarray(sizes, float)
    v = np.asarray(values, float)
    keep = np.isfinite(s) & np.isfinite(v) & (s > 0) & (v > 0)
    if keep.sum() < 2 or np.unique(s[keep]).size < 2:
        return math.nan
    return float(np.polyfit(np.log(s[keep]), np.log(v[keep]), 1)[0])


def regimes(times):
    """Runs of consecutive shapes (in size order) with the same fastest strategy."""
    out = []
    for shape, row in times.iterrows():
        row = row.dropna()
        if row.empty:
            continue
        best = row.idxmin()
        if out and out[-1][2] == best:
            out[-1] = (out[-1][0], shape, best)
        else:
            out.append((shape, shape, best))
    return out


def crossovers(times, a, b):
    """Where the faster of strategies a and b changes along the shapes in size order.

    ("none", faster), ("one", (last_shape_below, first_shape_above, faster_below,
    faster_above)), ("mixed", (a_wins, n)) or (None, None) without two common shapes.
    """
    if a not in times or b not in times:
        return None, None
    r = np.log(times[a] / times[b]).dropna()
    r = r[r != 0]
    if len(r) < 2:
        return None, None
    items = list(r.items())
    flips = [(s0, r0, s1) for (s0, r0), (s1, r1) in zip(items, items[1:]) if (r0 > 0) != (r1 > 0)]
    if not flips:
        return "none", (b if r.iloc[0] > 0 else a)
    if len(flips) > 1:
        return "mixed", (int((r < 0).sum()), len(r))
    s0, r0, s1 = flips[0]
    return "one", (s0, s1, b if r0 > 0 else a, a if r0 > 0 else b)


def ceiling_at(ceiling, size, threads):
    """The read ceiling (GB/s) for a working set of ``size`` bytes on ``threads``.

    ``lrperf.ceiling.ceiling_at`` on the measured ladder (a share against it can
    err low, never high); the single out-of-cache value where results predate
    the ladder.
    """
    from ..ceiling import ceiling_at as on_ladder
    c = ceiling[ceiling["threads"] == threads].dropna(subset=["value"])
    if c.empty:
        return math.nan
    ladder = c.dropna(subset=["nbytes"])
    if ladder.empty:
        return float(c["value"].max())
    points = [{"nbytes": int(n), "threads": int(t), "gbs": float(v)}
              for n, t, v in zip(ladder["nbytes"], ladder["threads"], ladder["value"])]
    return float(on_ladder(points, size, int(threads)))


def _record(strategy):
    from .. import STRATEGIES  # fills the registry on first use
    return STRATEGIES.get(strategy)


def passes(strategy):
    """Reads of X per step (the registry's trait; 1 for a strategy not registered here)."""
    record = _record(strategy)
    return record.passes if record is not None else 1


def per_call_kind(strategy):
    """What a ``propagate`` call does beyond a resident step, from the registry's traits."""
    record = _record(strategy)
    if record is None:
        return "per-call work"
    if record.device == "gpu":
        return "X moved to the device on every call"
    if record.prepare is not None:
        return "its prepare on every call (X converted or moved for it) and call overhead"
    return "call overhead (checks, thread set-up)"


def reads_text(strategy, dtype):
    """How a strategy reads X of ``dtype``: natively (and what it sums in) or through a
    float64 copy; from the registry (None: not registered here)."""
    record = _record(strategy)
    if record is None:
        return None
    if dtype not in record.dtypes:
        return "gets a float64 copy"
    return f"reads it, sums in {record.accumulation(dtype)}"


def peer(strategy):
    """The strategy a finding sets it beside (the registry's trait), or None."""
    record = _record(strategy)
    return getattr(record, "peer", None) if record is not None else None


def parallel(strategy):
    """Whether a strategy uses several threads (the registry's trait; True if unknown)."""
    record = _record(strategy)
    return record is None or record.parallel
