"""The report's PNG figures (matplotlib, Agg: no screen needed)."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import EngFormatter  # noqa: E402

from . import analysis as an  # noqa: E402

SIZE_LABEL = "size of X = 8·n_x·m (bytes); lines join equal n_x"
MARKERS = "osD^v<>Ph*X"


def _style(strategies):
    cmap = plt.get_cmap("tab10")
    return {s: {"color": cmap(i % 10), "marker": MARKERS[i % len(MARKERS)]}
            for i, s in enumerate(strategies)}


def _lines(ax, col, label, style):
    """One line per n_x (m grows along it), markers at the measured points; NaN left out."""
    col = col.dropna()
    first = True
    for n_x, part in col.groupby(level="n_x"):
        ms = part.index.get_level_values("m").to_numpy()
        sizes = 8 * int(n_x) * ms.astype("int64")
        order = sizes.argsort()
        ax.plot(sizes[order], part.to_numpy()[order], label=label if first else None,
                lw=1.3, ms=6, **style)
        first = False


def _error_bars(ax, rows, layout, threads, strategy, style):
    """asv's 99% confidence interval where it gave one (a --quick run gives none)."""
    sel = rows[(rows["strategy"] == strategy) & rows["ci_low"].notna() & rows["ci_high"].notna()]
    if rows["layout"].notna().any():
        sel = sel[sel["layout"] == layout]
    if rows["threads"].notna().any():
        sel = sel[sel["threads"] == threads]
    if len(sel):
        y = sel["value"].to_numpy()
        err = [(y - sel["ci_low"].to_numpy()).clip(0), (sel["ci_high"].to_numpy() - y).clip(0)]
        ax.errorbar(sel["size"].to_numpy(), y, yerr=err, fmt="none", ecolor=style["color"],
                    elinewidth=1, capsize=2)


def _size_axis(ax):
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(EngFormatter(unit="B"))
    ax.set_xlabel(SIZE_LABEL)
    ax.grid(True, which="major", alpha=0.3)


def _save(fig, path):
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _panels(n, ncols=None, height=4.2):
    ncols = ncols or n
    nrows = (n + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(6.2 * ncols, height * nrows), squeeze=False,
                             layout="constrained")
    return fig, [ax for row in axes for ax in row]


def time_vs_size(rows, layout, threads_list, strategies, path):
    style = _style(strategies)
    fig, axes = _panels(len(threads_list))
    for ax, threads in zip(axes, threads_list):
        times = an.shape_table(rows, layout, threads)
        for s in strategies:
            if s not in times:
                continue
            col = times[s].dropna()
            sizes = [8 * int(n) * int(m) for n, m in col.index]
            k = an.slope(sizes, col.values)
            _lines(ax, col, f"{s} (slope {k:.2f})", style[s])
            _error_bars(ax, rows, layout, threads, s, style[s])
        _size_axis(ax)
        ax.set_yscale("log")
        ax.set_ylabel("time per step (s)")
        ax.set_title(f"one propagate step, layout {layout}, {an.threads_text(threads)}")
        ax.legend(fontsize=8, title="strategy (time ∝ size^slope)", title_fontsize=8)
    return _save(fig, path)


def speedup(rows, layout, threads_list, strategies, baselines, path):
    style = _style(strategies)
    fig, axes = _panels(len(threads_list) * len(baselines), ncols=len(baselines))
    i = 0
    for threads in threads_list:
        times = an.shape_table(rows, layout, threads)
        for base in baselines:
            ax = axes[i]
            i += 1
            if base in times:
                for s in strategies:
                    if s == base or s not in times:
                        continue
                    _lines(ax, times[base] / times[s], s, style[s])
            ax.axhline(1.0, color="grey", lw=1, ls="--", label=f"{base} itself")
            _size_axis(ax)
            ax.set_yscale("log")
            ax.set_ylabel(f"speedup over {base} (×, higher is faster)")
            ax.set_title(f"speedup over {base}, layout {layout}, {an.threads_text(threads)}")
            ax.legend(fontsize=8)
    return _save(fig, path)


def bandwidth(rows, layout, threads_list, strategies, read_bw, path):
    style = _style(strategies)
    fig, axes = _panels(len(threads_list))
    for ax, threads in zip(axes, threads_list):
        gbs = an.shape_table(rows, layout, threads)
        for s in strategies:
            if s in gbs:
                _lines(ax, gbs[s], s, style[s])
        limit = read_bw.get(threads)
        if limit:
            ax.axhline(limit, color="black", lw=2,
                       label=f"machine read bandwidth, {an.threads_text(threads)}: "
                             f"{limit:.1f} GB/s")
        _size_axis(ax)
        ax.set_yscale("log")
        top = max([limit or 0] + [gbs[c].max() for c in gbs if gbs[c].notna().any()])
        if top > 0:
            ax.set_ylim(top=top * 6)  # room for the legend above the limit line
        ax.set_ylabel("achieved bandwidth, bytes of X / time (GB/s)")
        ax.set_title(f"bandwidth, layout {layout}, {an.threads_text(threads)}")
        ax.legend(fontsize=8, loc="upper left", ncol=2)
    return _save(fig, path)


def thread_scaling(rows, layout, threads_list, strategies, path):
    style = _style(strategies)
    one, most = threads_list[0], threads_list[-1]
    t1, tn = an.shape_table(rows, layout, one), an.shape_table(rows, layout, most)
    fig, axes = _panels(1)
    ax = axes[0]
    for s in strategies:
        if s in t1 and s in tn:
            _lines(ax, t1[s] / tn[s], s, style[s])
    ax.axhline(1.0, color="grey", lw=1, ls="--", label="no gain")
    ax.axhline(most / one, color="black", lw=1, ls=":", label=f"ideal ({most / one:g}×)")
    _size_axis(ax)
    ax.set_yscale("log")
    ax.set_ylabel(f"speedup of {most} threads over {one} (×)")
    ax.set_title(f"thread scaling, layout {layout}")
    ax.legend(fontsize=8)
    return _save(fig, path)


def history(rows, n_x, m, layout, threads, strategies, path):
    """Time at one grid point across commits (x: commits by date)."""
    style = _style(strategies)
    sel = rows[(rows["n_x"] == n_x) & (rows["m"] == m)]
    if rows["layout"].notna().any():
        sel = sel[sel["layout"] == layout]
    if rows["threads"].notna().any():
        sel = sel[sel["threads"] == threads]
    commits = (sel.groupby("commit")["date"].min().sort_values())
    pos = {c: i for i, c in enumerate(commits.index)}
    fig, axes = _panels(1)
    ax = axes[0]
    for s in strategies:
        pts = sel[sel["strategy"] == s].groupby("commit")["value"].median()
        pts = pts.reindex(commits.index).dropna()
        if len(pts):
            ax.plot([pos[c] for c in pts.index], pts.values, label=s, **style[s])
    ax.set_xticks(range(len(commits)))
    ax.set_xticklabels([f"{c[:8]}\n{d:%Y-%m-%d}" for c, d in commits.items()], fontsize=8)
    ax.set_xlim(-0.5, max(len(commits) - 0.5, 0.5))
    ax.set_yscale("log")
    ax.set_xlabel("commit (oldest to newest)")
    ax.set_ylabel("time per step (s)")
    note = " (one commit so far)" if len(commits) == 1 else ""
    ax.set_title(f"time per step across commits at n_x={n_x}, m={m}\n"
                 f"layout {layout}, {an.threads_text(threads)}{note}")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)
