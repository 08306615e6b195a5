"""``lrperf compare A B``: each step point's time ratio between two runs, with significance.

A and B name a run: a machine (its newest commit), a commit hash prefix, or
``machine:commit``.  The verdict follows ``asv compare``: a change counts
when the two 99% intervals do not overlap and the ratio passes the threshold.
"""
import math
from pathlib import Path

from .. import grid
from ..names import joined_name
from . import analysis as an
from .load import load

KEYS = ["strategy", "n_x", "m", "layout", "dtype", "threads"]


def _select(frame, spec):
    steps = frame[(frame["benchmark"] == grid.BENCH_STEP) & (frame["status"] == "ok")]
    machine, _, commit = spec.rpartition(":") if ":" in spec else ("", "", spec)
    if not machine and spec in set(steps["machine"]):
        machine, commit = spec, ""
    if machine:
        if machine not in set(steps["machine"]):
            raise ValueError(f"run {spec!r}: no machine {machine!r} in the results "
                             f"(machines: {sorted(set(steps['machine']))})")
        steps = steps[steps["machine"] == machine]
    if commit:
        hits = sorted(c for c in set(steps["commit"]) if c.startswith(commit))
        if not hits:
            raise ValueError(f"run {spec!r}: no commit starting with {commit!r} in the "
                             f"results (commits: {sorted(c[:8] for c in set(steps['commit']))})")
        if len(hits) > 1:
            raise ValueError(f"run {spec!r}: {commit!r} matches {len(hits)} commits; "
                             "give more digits")
        steps = steps[steps["commit"] == hits[0]]
    if steps["machine"].nunique() > 1:
        raise ValueError(f"run {spec!r} is on several machines "
                         f"({sorted(set(steps['machine']))}): name one as MACHINE:COMMIT")
    return an.latest(steps)


def _table(loaded, a, b, threshold):
    ra, rb = _select(loaded.frame, a), _select(loaded.frame, b)
    cols = KEYS + ["value", "ci_low", "ci_high"]
    both = ra[cols].merge(rb[cols], on=KEYS, suffixes=("_a", "_b"))
    if both.empty:
        raise ValueError(f"runs {a!r} and {b!r} have no step point in common")
    both["ratio"] = both["value_b"] / both["value_a"]
    verdicts = []
    for r in both.itertuples():
        diff = an.is_different({"ci_low": r.ci_low_a, "ci_high": r.ci_high_a},
                               {"ci_low": r.ci_low_b, "ci_high": r.ci_high_b})
        big = r.ratio > threshold or r.ratio < 1 / threshold
        verdicts.append("slower" if big and diff is not False and r.ratio > 1 else
                        "faster" if big and diff is not False else "same")
        if diff is None and big:
            verdicts[-1] += "?"   # no interval: asv would decide on the ratio alone
    both["verdict"] = verdicts
    return ra, rb, both.sort_values(KEYS)


def compare(results_dir, a, b, out=None, threshold=1.1):
    """(lines of text, path of the figure or None) comparing run ``b`` against run ``a``."""
    if not (isinstance(threshold, (int, float)) and threshold >= 1):
        raise ValueError(f"threshold must be a ratio >= 1, got {threshold!r}")
    loaded = load(results_dir)
    ra, rb, both = _table(loaded, a, b, threshold)
    name = lambda r: f"{r['machine'].iloc[0]}:{r['commit'].iloc[0][:8]}"  # noqa: E731
    lines = [f"B = {name(rb)} over A = {name(ra)}: time ratio per step point "
             f"(> 1: B slower; changes beyond {threshold:g}× whose 99% intervals do not "
             "overlap are marked, as asv compare does; '?' = no interval recorded)", "",
             f"{'verdict':8} {'ratio':>8} {'A':>10} {'B':>10}  point"]
    for r in both.itertuples():
        lines.append(f"{r.verdict:8} {r.ratio:8.3f} {an.human_seconds(r.value_a):>10} "
                     f"{an.human_seconds(r.value_b):>10}  {r.strategy} "
                     f"{an.shape_text(r.n_x, r.m)} {r.layout} {r.dtype} "
                     f"{an.threads_text(int(r.threads))}")
    counts = both["verdict"].str.rstrip("?").value_counts()
    lines += ["", f"{len(both)} points: {counts.get('faster', 0)} faster, "
              f"{counts.get('slower', 0)} slower, {counts.get('same', 0)} unchanged"]
    figure = None
    if out is not None:
        figure = _plot(both, name(ra), name(rb), Path(out))
    return lines, figure


def _plot(both, a, b, out):
    from . import figures
    plt = figures.plt
    from ..atomic import write_bytes
    strategies = an.strategy_order(both["strategy"].unique().tolist())
    style = figures._style(strategies)
    fig, ax = plt.subplots(figsize=(8, 5), layout="constrained")
    size = [grid.nbytes(n, m, d) for n, m, d in zip(both["n_x"], both["m"], both["dtype"])]
    both = both.assign(size=size)
    for s in strategies:
        part = both[both["strategy"] == s]
        sig = part["verdict"].isin(["faster", "slower"])
        ax.scatter(part.loc[sig, "size"], part.loc[sig, "ratio"], color=style[s]["color"],
                   marker=style[s]["marker"], label=s)
        ax.scatter(part.loc[~sig, "size"], part.loc[~sig, "ratio"], facecolors="none",
                   edgecolors=style[s]["color"], marker=style[s]["marker"])
    ax.axhline(1, color="grey", ls="--", lw=1)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("size of X (bytes); every layout, dtype and thread count")
    ax.set_ylabel(f"time ratio {b} / {a} (above 1: B slower)")
    ax.set_title(f"{b} against {a} (filled: significant change; hollow: not)")
    ax.legend(fontsize=8)
    figures._robust_ylim(ax, both["ratio"].tolist() + [1.0], pad=1.3)
    out.mkdir(parents=True, exist_ok=True)
    path = out / joined_name([a, b], prefix="compare-", suffix=".png")
    import io
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    write_bytes(path, buf.getvalue())
    return path

