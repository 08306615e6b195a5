"""The report's figures, as a declared list; each draws from one MachineReport's facets.

Matplotlib runs headless (Agg).  A figure whose data is absent draws nothing
and is left out of the report.  Lines follow one n_x (the report's ``family``)
across m; the other shapes are points without a line.  Intervals are bands,
points whose ratio is not significant (or unconfirmed) are hollow, legends sit
outside the axes, and axes read in s/ms/µs and B/kB/MB (matplotlib's
EngFormatter).
"""
import math
from dataclasses import dataclass
from typing import Callable

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.ticker import (EngFormatter, FormatStrFormatter, LogLocator,  # noqa: E402
                               NullFormatter)

from .. import grid  # noqa: E402
from .facets import held, interval_name, sample_need  # noqa: E402
from .units import shape_text, threads_text  # noqa: E402

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


def _panels(report, by_threads=True, width=5.2, height=3.8):
    keys = [(layout, t) for layout in report.layouts
            for t in (report.threads if by_threads else [None])]
    ncols = len(report.threads) if by_threads else 1
    nrows = len(report.layouts)
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols + 2.2, height * nrows),
                             squeeze=False, layout="constrained")
    return fig, list(zip(keys, [ax for row in axes for ax in row]))


def _legend(fig, **kwargs):
    """One legend for the figure, outside every axes (right of them)."""
    handles, labels = {}, {}
    for ax in fig.axes:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab and not lab.startswith("_") and lab not in labels:
                handles[lab], labels[lab] = h, lab
    if handles:
        fig.legend(list(handles.values()), list(labels.values()), loc="outside right upper",
                   fontsize=9, **kwargs)


def _size_axis(ax, unit_note="size of X"):
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(EngFormatter(unit="B"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(unit_note)
    ax.grid(True, which="major", alpha=0.3)
    cat = grid.nbytes(*grid.CAT_SHAPE)
    lo, hi = ax.get_xlim()
    if not lo <= cat <= hi:  # marked where the measured sizes reach it, never widening the axis
        return
    ax.axvline(cat, color="grey", lw=0.8, ls=":")
    ax.annotate(f"cat data {shape_text(*grid.CAT_SHAPE)}", (cat, 0),
                xycoords=("data", "axes fraction"), xytext=(2, 4),
                textcoords="offset points", fontsize=7, color="grey", va="bottom")


def _seconds_axis(ax):
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(EngFormatter(unit="s"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def _ratio_axis(ax, values, floor=None):
    """A log axis of ratios labelled 0.5×, 1×, 2×; limits from the values themselves."""
    v = np.asarray([x for x in values if np.isfinite(x) and x > 0], float)
    ax.set_yscale("log")
    if v.size:
        lo, hi = v.min(), v.max()
        ax.set_ylim(min(lo, 1.0) / 1.25, max(hi, 1.0) * 1.25)
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FormatStrFormatter("%g×"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def _robust_ylim(ax, values, log=True, pad=1.6):
    """Limits from the 2nd to 98th percentile (``lrperf compare``'s figure)."""
    v = np.asarray([x for x in values if np.isfinite(x) and (x > 0 or not log)], float)
    if v.size < 2:
        return
    lo, hi = np.percentile(v, [2, 98])
    if log:
        ax.set_ylim(lo / pad, hi * pad)
    else:
        span = (hi - lo) or abs(hi) or 1
        ax.set_ylim(lo - 0.15 * span, hi + 0.15 * span)


def _line_and_points(ax, part, x, y, style, label, family, lo=None, hi=None, hollow=None):
    """The family's line (band: [lo, hi]) and the other shapes as points; ``hollow``: a
    boolean column, True where the point is drawn without fill."""
    part = part.dropna(subset=[y])
    main = part[part["n_x"] == family].sort_values(x)
    rest = part[part["n_x"] != family]
    if len(main):
        ax.plot(main[x], main[y], color=style["color"], lw=1.6, label=label)
        if lo is not None:
            band = main.dropna(subset=[lo, hi])
            if len(band):
                ax.fill_between(band[x], band[lo], band[hi], color=style["color"], alpha=0.18,
                                lw=0)
    for pts, size in ((main, 36), (rest, 18)):
        if pts.empty:
            continue
        empty = pts[hollow].astype(bool) if hollow is not None else np.zeros(len(pts), bool)
        for filled, sel in ((True, pts[~empty]), (False, pts[empty])):
            if len(sel):
                ax.scatter(sel[x], sel[y], s=size, marker=style["marker"],
                           facecolors=style["color"] if filled else "none",
                           edgecolors=style["color"], linewidths=1.1, zorder=3,
                           label=None if len(main) else label)


def _family_note(report):
    return (f"line: n_x = {report.family} across m; points: the other shapes"
            if report.family is not None else "")


def draw_winner_map(report):
    cells = report.winners
    if cells is None or cells.empty:
        return None
    style = _style(report.strategies)
    n_xs = sorted(cells["n_x"].unique())
    ms = sorted(cells["m"].unique())
    fig, panels = _panels(report, width=max(3.2, 1.1 * len(ms) + 1.4),
                          height=max(2.6, 0.75 * len(n_xs) + 1.2))
    for (layout, threads), ax in panels:
        part = cells[(cells["layout"] == layout) & (cells["threads"] == threads)]
        ax.set_xlim(-0.5, len(ms) - 0.5)
        ax.set_ylim(-0.5, len(n_xs) - 0.5)
        for r in part.itertuples():
            x, y = ms.index(r.m), n_xs.index(r.n_x)
            colour = style.get(r.strategy, {"color": "lightgrey"})["color"]
            holds = held(r.significant)
            ax.add_patch(plt.Rectangle((x - 0.5, y - 0.5), 1, 1, facecolor=colour,
                                       alpha=0.85 if holds else 0.35, edgecolor="white",
                                       hatch=None if holds else "//", lw=1.5))
            if not r.confirmed:
                label = "?"
            elif r.strategy == report.reference:
                label = report.reference
            else:
                label = f"{r.speedup:.2g}×" if math.isfinite(r.speedup) else "—"
            ax.text(x, y, label, ha="center", va="center", fontsize=9,
                    fontweight="bold" if holds else "normal")
        ax.set_xticks(range(len(ms)), [str(m) for m in ms])
        ax.set_yticks(range(len(n_xs)), [str(n) for n in n_xs])
        ax.set_xlabel("m (examples)")
        ax.set_ylabel("n_x (features)")
        ax.set_title(f"layout {layout}, {threads_text(threads)}", fontsize=10)
    shown = [s for s in report.strategies if s in set(cells["strategy"])]
    handles = [Patch(facecolor=style[s]["color"], alpha=0.85, label=s) for s in shown]
    handles += [Patch(facecolor="white", edgecolor="grey", hatch="//",
                      label="pale, hatched: not significant"),
                Patch(facecolor="white", edgecolor="white",
                      label=f"?: unconfirmed (without {sample_need(report)})"),
                Patch(facecolor="white", edgecolor="white",
                      label=f"label: speed-up over {report.reference}")]
    # Below the panels: on the right, a tall legend ran into the centred title.
    fig.legend(handles=handles, loc="outside lower center", ncols=2, fontsize=9)
    fig.suptitle(f"fastest strategy per shape ({report.primary_dtype} X)", fontsize=11)
    return fig


def draw_time(report):
    steps = report.primary
    if steps is None or steps.empty:
        return None
    style = _style(report.strategies)
    fig, panels = _panels(report)
    for (layout, threads), ax in panels:
        sel = steps[(steps["layout"] == layout) & (steps["threads"] == threads)]
        for s in report.strategies:
            part = sel[sel["strategy"] == s]
            if len(part):
                part = part.assign(hollow=~part["confirmed"])
                _line_and_points(ax, part, "size", "value", style[s], s, report.family,
                                 lo="ci_low", hi="ci_high", hollow="hollow")
        _size_axis(ax, f"size of X ({_family_note(report)})")
        _seconds_axis(ax)
        ax.set_ylabel(f"time per step (band: {interval_name(report)})")
        ax.set_title(f"layout {layout}, {threads_text(threads)}", fontsize=10)
    _legend(fig)
    return fig


def draw_speedup(report):
    sp = report.over_reference
    if sp is None or sp.empty or not report.competitors:
        return None
    sp = sp.assign(hollow=[not held(v) for v in sp["significant"]])
    style = _style(report.strategies)
    fig, panels = _panels(report)
    for (layout, threads), ax in panels:
        sel = sp[(sp["layout"] == layout) & (sp["threads"] == threads)]
        values = []
        for s in report.competitors:
            part = sel[sel["strategy"] == s]
            if len(part):
                _line_and_points(ax, part, "size", "speedup", style[s], s, report.family,
                                 lo="lo", hi="hi", hollow="hollow")
                values += part["speedup"].tolist()
        ax.axhline(1.0, color="black", lw=1, ls="--", label=f"{report.reference} itself")
        _size_axis(ax, f"size of X ({_family_note(report)})")
        _ratio_axis(ax, values)
        ax.set_ylabel(f"speed-up over {report.reference}")
        ax.set_title(f"layout {layout}, {threads_text(threads)}", fontsize=10)
    _legend(fig)
    fig.suptitle(f"against {report.reference}, the strategies that compete with it; band: "
                 f"from the {interval_name(report)}; hollow: not significant", fontsize=10)
    return fig


def ceiling_line(ceiling, sizes=()):
    """(sizes, GB/s) that draw B(size) with ``drawstyle="steps-post"`` as the shares use it
    (``analysis.ceiling_at``): each measured point holds from its size up to the next
    one; below the first the first holds, beyond the last the last.  The line spans
    ``sizes`` (bytes of X) too."""
    ladder = ceiling.dropna(subset=["nbytes"]).groupby("nbytes")["value"].max().sort_index()
    at, values = ladder.index.to_numpy(float), ladder.to_numpy(float)
    drawn = list(sizes)
    lo = min([at[0], *drawn])
    hi = max([at[-1], *drawn]) * 1.5
    return (np.concatenate([[lo], at[1:], [hi]]), np.concatenate([values, [values[-1]]]))


def _levels(ax, report, threads, xs, ys):
    """Name the cache level that holds each stretch of the staircase (ERT's roofline)."""
    from ..ceiling import level_of
    caches = (report.description or {}).get("caches") or {}
    if not caches:
        return
    spans = {}
    for x0, x1, y in zip(xs[:-1], xs[1:], ys[:-1]):
        level = level_of(math.sqrt(x0 * x1), threads, caches)
        lo, hi, top = spans.get(level, (x0, x1, y))
        spans[level] = (min(lo, x0), max(hi, x1), max(top, y))
    for level, (lo, hi, top) in spans.items():
        ax.annotate(level, (math.sqrt(lo * hi), top), xytext=(0, 3),
                    textcoords="offset points", ha="center", va="bottom", fontsize=8,
                    fontweight="bold")


def draw_bandwidth(report):
    sh = report.shares
    if sh is None or sh.empty:
        return None
    shown = report.drawn
    style = _style(report.strategies)
    fig, panels = _panels(report)
    for (layout, threads), ax in panels:
        sel = sh[(sh["layout"] == layout) & (sh["threads"] == threads)]
        # In bytes/s, so that EngFormatter writes GB/s, MB/s.
        sel = sel.assign(bps=sel["bytes_read"] / sel["value"],
                         bps_lo=sel["bytes_read"] / sel["ci_high"],
                         bps_hi=sel["bytes_read"] / sel["ci_low"], hollow=~sel["confirmed"])
        for s in shown:
            part = sel[sel["strategy"] == s]
            if len(part):
                passes = int(part["passes"].iloc[0])
                _line_and_points(ax, part, "size", "bps", style[s],
                                 s if passes == 1 else f"{s} (reads X {passes}×)",
                                 report.family, lo="bps_lo", hi="bps_hi", hollow="hollow")
        c = report.ceiling[report.ceiling["threads"] == threads]
        if report.single_ceiling and len(c):
            ax.axhline(c["value"].max() * 1e9, color="black", lw=2,
                       label="read ceiling, one out-of-cache size")
        elif len(c):
            xs, ys = ceiling_line(c, sel["size"].tolist())
            ys = ys * 1e9
            ax.plot(xs, ys, color="black", lw=2, drawstyle="steps-post",
                    label="read ceiling B(size, threads)")
            _levels(ax, report, threads, xs, ys)
        _size_axis(ax, f"size of X ({_family_note(report)})")
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(EngFormatter(unit="B/s"))
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_ylabel("bytes read per step / median step time")
        ax.set_title(f"layout {layout}, {threads_text(threads)}", fontsize=10)
    _legend(fig)
    return fig


def draw_scaling(report):
    sc = report.scaling
    if sc is None or sc.empty:
        return None
    one, most = report.threads[0], report.threads[-1]
    shown = report.drawn
    style = _style(report.strategies)
    fig, panels = _panels(report, by_threads=False, width=6.4)
    sc = sc.assign(hollow=sc["noisy"] | ~sc["confirmed"])
    for (layout, _), ax in panels:
        sel = sc[sc["layout"] == layout]
        for s in shown:
            part = sel[sel["strategy"] == s]
            if len(part):
                _line_and_points(ax, part, "size", "efficiency", style[s], s, report.family,
                                 lo="lo", hi="hi", hollow="hollow")
        ax.axhline(1.0, color="black", lw=1, ls=":", label=f"ideal ({most / one:g}× faster)")
        ax.axhline(one / most, color="grey", lw=1, ls="--", label="no gain over 1 thread")
        _size_axis(ax, f"size of X ({_family_note(report)})")
        top = sel.loc[sel["strategy"].isin(shown), "efficiency"].max()
        ax.set_ylim(0, max(1.3, 1.1 * top) if np.isfinite(top) else 1.3)  # superlinear shows
        ax.set_ylabel(f"parallel efficiency: (t{one} / t{most}) / {most / one:g}")
        ax.set_title(f"layout {layout}; band: from the {interval_name(report)}; hollow: noisy "
                     "or unconfirmed", fontsize=10)
    _legend(fig)
    return fig


def draw_history(report):
    if len(report.commits) < 2 or report.history_shape is None:
        return None
    shape = report.history_shape
    h = report.history
    rows = h[(h["n_x"] == shape[0]) & (h["m"] == shape[1]) & (h["dtype"] == report.primary_dtype)]
    pos = {c: i for i, (c, _) in enumerate(report.commits)}
    style = _style(report.strategies)
    fig, panels = _panels(report)
    for (layout, threads), ax in panels:
        sel = rows[(rows["layout"] == layout) & (rows["threads"] == threads)]
        for s in report.strategies:
            pts = sel[sel["strategy"] == s].groupby("commit")["value"].median()
            pts = pts[[c in pos for c in pts.index]]
            if len(pts):
                order = sorted(pts.index, key=pos.get)
                ax.plot([pos[c] for c in order], pts[order].to_numpy(), label=s, **style[s])
        ax.set_xticks(range(len(report.commits)))
        ax.set_xticklabels([f"{c[:8]}\n{d:%Y-%m-%d}" for c, d in report.commits], fontsize=7)
        _seconds_axis(ax)
        ax.set_xlabel("commit (oldest to newest)")
        ax.set_ylabel("time per step")
        ax.set_title(f"{shape_text(*shape)}, layout {layout}, {threads_text(threads)}",
                     fontsize=10)
        ax.grid(True, alpha=0.3)
    _legend(fig)
    return fig


def draw_accuracy(report):
    pts, shape = report.accuracy_points, report.accuracy_at
    if shape is None or pts is None or pts.empty:
        return None
    style = _style(report.strategies)
    fig, ax = plt.subplots(figsize=(8.5, 4.8), layout="constrained")
    floor = 1e-18  # an exact result would sit at 0, off a log axis
    for r in pts.itertuples():
        st = style.get(r.strategy, {"color": "grey", "marker": "o"})
        filled = r.dtype == report.primary_dtype
        ax.scatter(r.value, max(r.error_dw, floor), marker=st["marker"], s=70,
                   facecolors=st["color"] if filled else "none", edgecolors=st["color"],
                   linewidths=1.5, label=f"{r.strategy}, {r.dtype}", zorder=3)
    for dtype, ls in (("float64", ":"), ("float32", "--")):
        eps = float(np.finfo(dtype).eps)
        ax.axhline(eps, color="grey", lw=0.8, ls=ls)
        ax.annotate(f"{dtype} machine epsilon", (0.99, eps), xycoords=("axes fraction", "data"),
                    ha="right", va="bottom", fontsize=8, color="grey")
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(EngFormatter(unit="s"))
    ax.set_yscale("log")
    ax.set_xlabel("time per step")
    ax.set_ylabel("relative error of dw against the exact step")
    ax.set_title(f"{shape_text(*shape)}, layout F, {threads_text(report.threads[-1])}: "
                 "filled float64 X, hollow float32 X", fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    fig.legend(loc="outside right upper", fontsize=9)
    return fig


FIGURES = [
    Figure("winner_map", "The fastest strategy at each measured shape", draw_winner_map),
    Figure("speedup", "Speed-up over numpy, for the strategies that compete with it",
           draw_speedup),
    Figure("time_vs_size", "Time per step against the size of X", draw_time),
    Figure("bandwidth", "Bytes read per second against the read ceiling", draw_bandwidth),
    Figure("thread_scaling", "Thread scaling as parallel efficiency", draw_scaling),
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
