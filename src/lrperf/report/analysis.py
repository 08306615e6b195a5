"""The numbers behind the figures and the write-up, from the tidy results table."""
import math

import numpy as np
import pandas as pd

from ..grid import nbytes


def _ok(frame):
    return frame[frame["status"] == "ok"]


def _has_grid(frame):
    return frame["strategy"].notna() & frame["n_x"].notna() & frame["m"].notna()


def find_benchmark(frame, kind, words=(), unit=None, exclude=()):
    """Name of the benchmark of ``kind`` whose name contains one of ``words`` (grid ones first)."""
    cand = frame[frame["type"] == kind]
    if unit is not None:
        cand = cand[cand["unit"] == unit]
    for word in exclude:
        cand = cand[~cand["benchmark"].str.contains(word, regex=False)]
    for word in words:
        hit = cand[cand["benchmark"].str.contains(word, regex=False) & _has_grid(cand)]
        if len(hit):
            return hit["benchmark"].iloc[0]
    grid = cand[_has_grid(cand)]
    return grid["benchmark"].iloc[0] if len(grid) else None


def latest(frame):
    """Rows of the newest commit (by date) and, within it, the environment with most ok points."""
    ok = _ok(frame)
    if ok.empty:  # nothing measured on this machine: its newest file, failures and all
        ok = frame
    commit = ok.sort_values("date")["commit"].iloc[-1]
    env = ok[ok["commit"] == commit].groupby("environment").size().idxmax()
    return frame[(frame["commit"] == commit) & (frame["environment"] == env)]


def grid_values(frame, name):
    """Ok points of benchmark ``name`` with a size column (bytes of X)."""
    rows = _ok(frame[frame["benchmark"] == name]).copy()
    rows = rows[_has_grid(rows)]
    rows["size"] = [nbytes(n, m, d or "float64") for n, m, d in
                    zip(rows["n_x"], rows["m"], rows["dtype"])]
    return rows


def default_layout(rows):
    layouts = rows["layout"].dropna().unique().tolist()
    return "C" if "C" in layouts or not layouts else sorted(layouts)[0]


def _select(rows, layout, threads):
    sel = rows
    if layout is not None and rows["layout"].notna().any():
        sel = sel[sel["layout"] == layout]
    if threads is not None and rows["threads"].notna().any():
        sel = sel[sel["threads"] == threads]
    return sel


def table(rows, layout, threads):
    """size x strategy table of values (median over shapes with the same size)."""
    sel = _select(rows, layout, threads)
    if sel.empty:
        return pd.DataFrame()
    return sel.pivot_table(index="size", columns="strategy", values="value", aggfunc="median")


def shape_table(rows, layout, threads):
    """(n_x, m) x strategy table of values: figures join points of equal n_x."""
    sel = _select(rows, layout, threads)
    if sel.empty:
        return pd.DataFrame()
    return sel.pivot_table(index=["n_x", "m"], columns="strategy", values="value",
                           aggfunc="median")


def strategy_order(frame, names):
    """Strategies in registry order (slowest first) where known, then the rest."""
    from ..registry import STRATEGIES
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


def crossovers(times, a, b):
    """Where the faster of strategies a and b changes with size.

    Returns (kind, detail): ("none", faster) when one is faster at every
    common size; ("one", (size, faster_below, faster_above)) for a single
    switch, its size interpolated log-linearly where the log time ratio
    crosses zero; ("mixed", (a_wins, n)) when the order flips more than once
    (then the shape, not only the size, decides).
    """
    if a not in times or b not in times:
        return None, None
    r = np.log(times[a] / times[b]).dropna()
    r = r[r != 0]
    if len(r) < 2:
        return None, None
    flips = [(s0, r0, s1, r1) for (s0, r0), (s1, r1) in zip(r.items(), list(r.items())[1:])
             if (r0 > 0) != (r1 > 0)]
    if not flips:
        return "none", (b if r.iloc[0] > 0 else a)
    if len(flips) > 1:
        return "mixed", (int((r < 0).sum()), len(r))
    s0, r0, s1, r1 = flips[0]
    t = r0 / (r0 - r1)
    size = math.exp(math.log(s0) + t * (math.log(s1) - math.log(s0)))
    return "one", (size, b if r0 > 0 else a, a if r0 > 0 else b)


def regimes(times):
    """Consecutive size ranges with the same fastest strategy: [(lo, hi, strategy)]."""
    out = []
    for size, row in times.iterrows():
        row = row.dropna()
        if row.empty:
            continue
        best = row.idxmin()
        if out and out[-1][2] == best:
            out[-1] = (out[-1][0], size, best)
        else:
            out.append((size, size, best))
    return out


def threads_text(n):
    return f"{n} thread" + ("" if n == 1 else "s")


def human_bytes(n):
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n:.0f} B"


def human_seconds(s):
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if s >= scale:
            return f"{s / scale:.3g} {unit}"
    return f"{s / 1e-9:.3g} ns"
