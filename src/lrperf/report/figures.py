"""The report's figures, as a declared list; each draws from one MachineReport.

Matplotlib runs headless (Agg).  A figure whose data is absent draws nothing
and is left out of the report.
"""
from dataclasses import dataclass
from typing import Callable

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import EngFormatter, NullFormatter  # noqa: E402

from .. import grid  # noqa: E402
from . import analysis as an  # noqa: E402

MARKERS = "osD^v<>Ph*X"


@dataclass(frozen=True)
class Figure:
    name: str                  # file name without .png
    title: str
    draw: Callable             # draw(report) -> matplotlib Figure or None


def _style(strategies):
    cmap = plt.get_cmap("tab10")
    return {s: {"color": cmap(i % 10), "marker": MARKERS[i % len(MARKERS)]}
            for i, s in enumerate(strategies)}


def _family(rows):
    """The n_x whose line the figures draw bold: the cat data's, else the one with most m."""
    counts = rows.groupby("n_x")["m"].nunique()
    if counts.empty:
        return None
    if grid.CAT_SHAPE[0] in counts.index and counts[grid.CAT_SHAPE[0]] > 1:
        return grid.CAT_SHAPE[0]
    return int(max(counts.index, key=lambda n: (counts[n], n)))


def _facets(report, by_threads=True):
    keys = [(layout, t) for layout in report.layouts
            for t in (report.threads if by_threads else [None])]
    ncols = len(report.threads) if by_threads else 1
    nrows = len(report.layouts)
    fig, axes = plt.subplots(nrows, ncols, figsize=(6.4 * ncols, 4.4 * nrows), squeeze=False,
                             layout="constrained")
    return fig, list(zip(keys, [ax for row in axes for ax in row]))


def _lines(ax, table, family, style, label):
    """The family's line bold; every other n_x faded, unlabelled (they share the colour)."""
    table = table.dropna()
    for n_x, part in table.groupby(level="n_x"):
        ms = part.index.get_level_values("m").to_numpy()
        sizes = int(n_x) * ms.astype("int64") * 8
        order = sizes.argsort()
        main = int(n_x) == family
        ax.plot(sizes[order], part.to_numpy()[order], label=label if main else None,
                lw=1.6 if main else 0.8, ms=6 if main else 3, alpha=1 if main else 0.3, **style)


def _size_axis(ax, family):
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(EngFormatter(unit="B"))
    ax.xaxis.set_minor_formatter(NullFormatter())  # labelled minor ticks cost seconds a figure
    ax.set_xlabel(f"size of X, 8·n_x·m bytes (bold: n_x = {family}; faded: other n_x)")
    ax.grid(True, which="major", alpha=0.3)
    cat = grid.nbytes(*grid.CAT_SHAPE)
    ax.axvline(cat, color="grey", lw=0.8, ls=":")
    ax.annotate(f"cat data {an.shape_text(*grid.CAT_SHAPE)}", (cat, 1), xycoords=(
        "data", "axes fraction"), xytext=(2, -10), textcoords="offset points", fontsize=7,
                color="grey", va="top")


def _robust_ylim(ax, values, log=True, pad=1.6):
    """Limits from the 2nd to 98th percentile: no single outlier decides the scale."""
    v = np.asarray([x for x in values if np.isfinite(x) and (x > 0 or not log)], float)
    if v.size < 2:
        return
    lo, hi = np.percentile(v, [2, 98])
    if log:
        ax.set_ylim(lo / pad, hi * pad)
    else:
        span = (hi - lo) or abs(hi) or 1
        ax.set_ylim(lo - 0.15 * span, hi + 0.15 * span)


def _steps64(report):
    return an.select(report.steps, dtype="float64")


def draw_time(report):
    steps = _steps64(report)
    if steps.empty:
        return None
    style, family = _style(report.strategies), _family(steps)
    fig, facets = _facets(report)
    for (layout, threads), ax in facets:
        sel = an.select(steps, layout=layout, threads=threads)
        table = an.shape_table(sel)
        for s in report.strategies:
            if s in table:
                _lines(ax, table[s], family, style[s], s)
                pts = sel[(sel["strategy"] == s) & (sel["n_x"] == family)].dropna(
                    subset=["ci_low", "ci_high"])
                if len(pts):
                    y = pts["value"].to_numpy()
                    ax.errorbar(pts["size"].to_numpy(), y, fmt="none", ecolor=style[s]["color"],
                                yerr=[(y - pts["ci_low"]).clip(0), (pts["ci_high"] - y).clip(0)],
                                elinewidth=1, capsize=2)
        _size_axis(ax, family)
        ax.set_yscale("log")
        ax.set_ylabel("time per step (s), bars: asv's 99% interval")
        ax.set_title(f"one propagate step, layout {layout}, {an.threads_text(threads)}")
        ax.legend(fontsize=8)
    return fig


def _competitors(report, steps):
    """Strategies that come within COMPETES of numpy in at least one facet (calm points)."""
    best = {}
    calm = steps[~steps["noisy"]]  # one bimodal numpy point must not qualify a slow strategy
    for (layout, threads), sel in calm.groupby(["layout", "threads"]):
        table = an.shape_table(sel)
        for s in report.strategies:
            if s != "numpy" and s in table and "numpy" in table:
                r = (table["numpy"] / table[s]).max()
                best[s] = max(best.get(s, 0), r if np.isfinite(r) else 0)
    return [s for s in report.strategies if best.get(s, 0) >= 1 / COMPETES]


COMPETES = an.COMPETES_WITHIN


def draw_speedup(report):
    steps = _steps64(report)
    if steps.empty or "numpy" not in set(steps["strategy"]):
        return None
    style, family = _style(report.strategies), _family(steps)
    shown = _competitors(report, steps)
    if not shown:
        return None
    fig, facets = _facets(report)
    for (layout, threads), ax in facets:
        table = an.shape_table(an.select(steps, layout=layout, threads=threads))
        values = []
        if "numpy" in table:
            for s in shown:
                if s in table:
                    ratio = table["numpy"] / table[s]
                    _lines(ax, ratio, family, style[s], s)
                    values += ratio.dropna().tolist()
        ax.axhline(1.0, color="grey", lw=1, ls="--", label="numpy itself")
        _size_axis(ax, family)
        ax.set_yscale("log")
        _robust_ylim(ax, values + [1.0], pad=1.3)
        ax.set_ylabel("speedup over numpy (×, higher is faster)")
        ax.set_title(f"speedup over numpy, layout {layout}, {an.threads_text(threads)}")
        ax.legend(fontsize=8)
    fig.suptitle(f"strategies within {COMPETES:g}× of numpy somewhere; the slower ones are "
                 "in the time figure", fontsize=9)
    return fig


def ceiling_line(ceiling, table=None):
    """(sizes, GB/s) that draw B(size) with ``drawstyle="steps-post"`` as the shares use it
    (``analysis.ceiling_at``): each measured point holds from its size up to the next
    one; below the first the first holds, beyond the last the last.  The line spans
    the sizes of ``table`` (an (n_x, m) shape table) too."""
    ladder = ceiling.dropna(subset=["nbytes"]).groupby("nbytes")["value"].max().sort_index()
    sizes, values = ladder.index.to_numpy(float), ladder.to_numpy(float)
    drawn = ([grid.nbytes(n, m) for n, m in table.index]
             if table is not None and len(table) else [])
    lo = min([sizes[0], *drawn])
    hi = max([sizes[-1], *drawn]) * 1.5
    return (np.concatenate([[lo], sizes[1:], [hi]]),
            np.concatenate([values, [values[-1]]]))


def draw_bandwidth(report):
    bw = an.select(report.bandwidth, dtype="float64") if not report.bandwidth.empty else \
        report.bandwidth
    if bw.empty:
        return None
    style, family = _style(report.strategies), _family(bw)
    fig, facets = _facets(report)
    for (layout, threads), ax in facets:
        table = an.shape_table(an.select(bw, layout=layout, threads=threads))
        for s in report.strategies:
            if s in table:
                _lines(ax, table[s], family, style[s], s)
        c = report.ceiling[report.ceiling["threads"] == threads]
        if report.single_ceiling and len(c):
            ax.axhline(c["value"].max(), color="black", lw=2,
                       label=f"single read ceiling (out of cache): {c['value'].max():.1f} GB/s")
        elif len(c):
            xs, ys = ceiling_line(c, table)
            ax.plot(xs, ys, color="black", lw=2, drawstyle="steps-post",
                    label="read ceiling B(size) on these threads")
        _size_axis(ax, family)
        ax.set_yscale("log")
        ax.set_ylabel("bytes of X read / time (GB/s)")
        ax.set_title(f"achieved bandwidth, layout {layout}, {an.threads_text(threads)}")
        ax.legend(fontsize=7, loc="lower right")
    return fig


def draw_scaling(report):
    steps = _steps64(report)
    if len(report.threads) < 2 or steps.empty:
        return None
    one, most = report.threads[0], report.threads[-1]
    style, family = _style(report.strategies), _family(steps)
    fig, facets = _facets(report, by_threads=False)
    for (layout, _), ax in facets:
        sel = an.select(steps, layout=layout)
        t1, tn = an.shape_table(sel[sel["threads"] == one]), an.shape_table(sel[sel["threads"]
                                                                               == most])
        values, ratios = [], {}
        for s in report.strategies:
            if s in t1 and s in tn:
                ratios[s] = ratio = t1[s] / tn[s]
                _lines(ax, ratio, family, style[s], s)
                values += ratio.dropna().tolist()
        # Ring each ratio whose 1- or n-thread time is noisy, where it is drawn.
        marks = {(r.size, float(ratios[r.strategy].get((r.n_x, r.m), np.nan)))
                 for r in sel[sel["noisy"]].itertuples() if r.strategy in ratios}
        marks = sorted((x, y) for x, y in marks if np.isfinite(y))
        if marks:
            ax.scatter(*zip(*marks), marker="o", facecolors="none", edgecolors="red", s=90,
                       linewidths=1.2, label="noisy time behind it (see findings)", zorder=5)
        ax.axhline(1.0, color="grey", lw=1, ls="--", label="no gain")
        ax.axhline(most / one, color="black", lw=1, ls=":", label=f"ideal ({most / one:g}×)")
        _size_axis(ax, family)
        ax.set_yscale("log")
        _robust_ylim(ax, values + [1.0, most / one], pad=1.3)
        ax.set_ylabel(f"speedup of {most} threads over {one} (×)")
        ax.set_title(f"thread scaling, layout {layout}")
        ax.legend(fontsize=8)
    return fig


def history_shape(report):
    """The cat data's shape where measured, else the measured shape nearest to it in size."""
    shapes = {(int(n), int(m)) for n, m in zip(report.history["n_x"], report.history["m"])}
    if not shapes:
        return None
    if grid.CAT_SHAPE in shapes:
        return grid.CAT_SHAPE
    cat = grid.nbytes(*grid.CAT_SHAPE)
    return min(shapes, key=lambda s: abs(np.log(grid.nbytes(*s) / cat)))


def draw_history(report):
    if len(report.commits) < 2:
        return None
    shape = history_shape(report)
    rows = an.select(report.history, n_x=shape[0], m=shape[1], dtype="float64")
    pos = {c: i for i, (c, _) in enumerate(report.commits)}
    style = _style(report.strategies)
    fig, facets = _facets(report)
    for (layout, threads), ax in facets:
        sel = an.select(rows, layout=layout, threads=threads)
        for s in report.strategies:
            pts = sel[sel["strategy"] == s].groupby("commit")["value"].median()
            pts = pts[[c in pos for c in pts.index]]
            if len(pts):
                order = sorted(pts.index, key=pos.get)
                ax.plot([pos[c] for c in order], pts[order].to_numpy(), label=s, **style[s])
        ax.set_xticks(range(len(report.commits)))
        ax.set_xticklabels([f"{c[:8]}\n{d:%Y-%m-%d}" for c, d in report.commits], fontsize=7)
        ax.set_yscale("log")
        ax.set_xlabel("commit (oldest to newest)")
        ax.set_ylabel("time per step (s)")
        ax.set_title(f"{an.shape_text(*shape)}, layout {layout}, {an.threads_text(threads)}")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    return fig


def accuracy_points(report):
    """(shape, rows): step time and dw error per strategy and dtype, at the largest
    shape with both (layout F, as the accuracy benchmarks; most threads)."""
    acc = report.accuracy
    if acc.empty:
        return None, None
    steps = an.select(report.steps, layout="F", threads=report.threads[-1])
    pts = acc.merge(steps[["strategy", "n_x", "m", "dtype", "value"]],
                    on=["strategy", "n_x", "m", "dtype"]).dropna(subset=["error_dw", "value"])
    if pts.empty:
        return None, None
    shape = max(zip(pts["n_x"], pts["m"]), key=lambda s: (s == grid.CAT_SHAPE, s[0] * s[1]))
    return shape, pts[(pts["n_x"] == shape[0]) & (pts["m"] == shape[1])]


def draw_accuracy(report):
    shape, pts = accuracy_points(report)
    if shape is None:
        return None
    style = _style(report.strategies)
    fig, ax = plt.subplots(figsize=(7.5, 5), layout="constrained")
    floor = 1e-18  # an exact result would sit at 0, off a log axis
    for r in pts.itertuples():
        st = style.get(r.strategy, {"color": "grey", "marker": "o"})
        filled = r.dtype == "float64"
        ax.scatter(r.value, max(r.error_dw, floor), marker=st["marker"], s=70,
                   facecolors=st["color"] if filled else "none", edgecolors=st["color"],
                   linewidths=1.5, label=f"{r.strategy}, {r.dtype}", zorder=3)
    for dtype, ls in (("float64", ":"), ("float32", "--")):
        eps = float(np.finfo(dtype).eps)
        ax.axhline(eps, color="grey", lw=0.8, ls=ls)
        ax.annotate(f"{dtype} machine epsilon", (0.99, eps), xycoords=("axes fraction", "data"),
                    ha="right", va="bottom", fontsize=7, color="grey")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("time per step (s)")
    ax.set_ylabel("relative error of dw against the exact step")
    ax.set_title(f"{an.shape_text(*shape)}, layout F, {an.threads_text(report.threads[-1])}: "
                 "filled float64 X, hollow float32 X")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    return fig


FIGURES = [
    Figure("time_vs_size", "Time per step against the size of X", draw_time),
    Figure("speedup", "Speedup over numpy, for the strategies that compete with it",
           draw_speedup),
    Figure("bandwidth", "Achieved bandwidth against the read ceiling", draw_bandwidth),
    Figure("thread_scaling", "Thread scaling", draw_scaling),
    Figure("accuracy", "Speed against accuracy, per strategy and dtype of X", draw_accuracy),
    Figure("history", "Time per step across commits, at the cat data's size", draw_history),
]


def render(report, folder):
    """Draw every declared figure that has data into ``folder``: [(Figure, file name)]."""
    made = []
    for figure in FIGURES:
        fig = figure.draw(report)
        if fig is None:
            continue
        path = folder / f"{figure.name}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        made.append((figure, path.name))
    return made
