"""README.md of one machine's report: the findings in numbers, with the figures."""
import math

from . import analysis as an

hb, hs = an.human_bytes, an.human_seconds


def _date(when):
    return "date unknown" if when is None or when != when else f"{when:%Y-%m-%d %H:%M} UTC"


def _pct(share):
    return f"{100 * share:.0f}%" if share >= 0.1 else f"{100 * share:.2g}%"


def _range(series):
    s = series.dropna()
    if s.empty:
        return None
    lo, hi = s.idxmin(), s.idxmax()
    return f"{s[lo]:.3g}× (at {hb(lo)}) to {s[hi]:.3g}× (at {hb(hi)})"


def machine_section(ctx):
    info, asvm = ctx["info"], ctx["asv_machine"]
    lines = ["## Machine and versions", "", "| | |", "| --- | --- |"]
    fields = [("asv machine name", ctx["machine"]),
              ("CPU", info.get("cpu") or asvm.get("cpu")),
              ("cores", info.get("cores") or asvm.get("num_cpu")),
              ("OS", asvm.get("os")),
              ("RAM", hb(float(asvm["ram"])) if str(asvm.get("ram", "")).isdigit() else None),
              ("BLAS", info.get("blas")), ("BLAS threads (default)", info.get("blas_threads")),
              ("Numba threads (default)", info.get("numba_threads")),
              ("NumPy", info.get("numpy")), ("Numba", info.get("numba")),
              ("Python", info.get("python"))]
    for threads, gbs in sorted(ctx["read_bw"].items()):
        fields.append((f"measured read bandwidth, {an.threads_text(threads)}", f"{gbs:.1f} GB/s"))
    for key, value in fields:
        lines.append(f"| {key} | {value if value not in (None, '') else 'not recorded'} |")
    if not ctx["info"]:
        lines += ["", "The results carry no machine description (no `machine_info` "
                  "benchmark): CPU and cores are asv's own machine record."]
    return lines


def findings(ctx):
    out = []
    times, strategies, layout = ctx["times1"], ctx["strategies"], ctx["layout"]
    t1 = ctx["threads"][0]
    where = f"(layout {layout}, {an.threads_text(t1)})"
    if times.empty:
        return ["- No step timings in these results."]
    regimes = an.regimes(times)
    parts = [f"{s} from {hb(lo)} to {hb(hi)}" if lo != hi else f"{s} at {hb(lo)}"
             for lo, hi, s in regimes]
    out.append(f"- **Best strategy per regime** {where}: " + "; ".join(parts) + ".")
    for base in ("python_loops", "numpy"):
        if base not in times:
            continue
        parts = []
        for s in strategies:
            if s != base and s in times:
                text = _range(times[base] / times[s])
                if text:
                    parts.append(f"{s} {text}")
        if parts:
            out.append(f"- **Speedup over {base}** {where}: " + "; ".join(parts) + ".")
    cross, mixed = [], []
    for i, a in enumerate(strategies):
        for b in strategies[i + 1:]:
            kind, detail = an.crossovers(times, a, b)
            if kind == "one":
                size, below, above = detail
                cross.append(f"{below} is faster than {above} below about {hb(size)}, "
                             f"{above} above")
            elif kind == "mixed":
                mixed.append(f"{a} vs {b} ({a} faster at {detail[0]} of {detail[1]} sizes)")
    text = "; ".join(cross) if cross else "none with a single switch"
    if mixed:
        text += (". The order flips more than once with size (the shape n_x x m decides, "
                 "see the table): " + "; ".join(mixed))
    out.append(f"- **Crossovers** {where}: {text}.")
    bw = ctx["bandwidth"]
    for threads in ctx["threads"]:
        limit = ctx["read_bw"].get(threads)
        gbs = an.table(bw, layout, threads) if not bw.empty else bw
        if not limit or gbs.empty:
            continue
        parts = []
        for s in strategies:
            if s in gbs and gbs[s].notna().any():
                col = gbs[s].dropna()
                peak, big = col.idxmax(), col.index.max()
                text = (f"{s} {col[peak]:.3g} GB/s = {_pct(col[peak] / limit)} "
                        f"at {hb(peak)}")
                if big != peak:
                    text += f" ({_pct(col[big] / limit)} at the largest, {hb(big)})"
                parts.append(text)
        if parts:
            out.append(f"- **Share of the read bandwidth** ({limit:.1f} GB/s measured "
                       "out of cache, so over 100% means X fit in cache; "
                       f"layout {layout}, {an.threads_text(threads)}): "
                       + "; ".join(parts) + ".")
    if len(ctx["threads"]) > 1:
        most = ctx["threads"][-1]
        tn = an.table(ctx["steps"], layout, most)
        parts = []
        for s in strategies:
            if s in times and s in tn:
                r = (times[s] / tn[s]).dropna()
                if len(r):
                    parts.append(f"{s} {r.iloc[-1]:.2g}× at {hb(r.index[-1])} "
                                 f"(range {r.min():.2g}–{r.max():.2g}×)")
        if parts:
            out.append(f"- **Thread scaling** ({most} threads over {t1}, layout {layout}): "
                       + "; ".join(parts) + ".")
    layouts = sorted(ctx["steps"]["layout"].dropna().unique())
    if "C" in layouts and "F" in layouts:
        c, f = an.table(ctx["steps"], "C", t1), an.table(ctx["steps"], "F", t1)
        parts = []
        for s in strategies:
            if s in c and s in f:
                r = (f[s] / c[s]).dropna()
                if len(r):
                    parts.append(f"{s} {r.median():.2g}× (range {r.min():.2g}–{r.max():.2g})")
        if parts:
            out.append("- **Layout** (time with F-ordered X over C-ordered, "
                       f"{an.threads_text(t1)}, "
                       "median over sizes): " + "; ".join(parts) + ".")
    first = ctx["first_call"]
    if not first.empty and "cache" in first.columns:
        parts = []
        for s in strategies:
            row = first[first["strategy"] == s]
            vals = {c: row[row["cache"] == c]["value"].median() for c in ("cold", "warm")}
            if any(math.isfinite(v) for v in vals.values()):
                parts.append(f"{s} {hs(vals['cold'])} cold / {hs(vals['warm'])} warm"
                             if all(math.isfinite(v) for v in vals.values())
                             else f"{s} " + ", ".join(f"{hs(v)} {c}" for c, v in vals.items()
                                                     if math.isfinite(v)))
        if parts:
            out.append("- **First call** (compilation or Numba cache load, fresh interpreter, "
                       "not in any timing above): " + "; ".join(parts) + ".")
    return out


def step_table(ctx):
    steps = ctx["steps"]
    sel = steps[(steps["layout"] == ctx["layout"]) & (steps["threads"] == ctx["threads"][0])]
    if sel.empty:
        return []
    t = sel.pivot_table(index=["n_x", "m"], columns="strategy", values="value", aggfunc="median")
    cols = [s for s in ctx["strategies"] if s in t]
    lines = [f"Time per step, layout {ctx['layout']}, {an.threads_text(ctx['threads'][0])} "
             "(— = skipped as too slow, or failed):", "",
             "| n_x | m | size of X | " + " | ".join(cols) + " |",
             "| ---: | ---: | ---: | " + " | ".join("---:" for _ in cols) + " |"]
    for (n_x, m), row in t.iterrows():
        cells = [hs(row[c]) if math.isfinite(row[c]) else "—" for c in cols]
        lines.append(f"| {n_x} | {m} | {hb(8 * n_x * m)} | " + " | ".join(cells) + " |")
    return lines


def readme(ctx, figures):
    status = ctx["status_counts"]
    n = ctx["n_commits"]
    lines = [f"# lrperf study: machine `{ctx['machine']}`", "",
             f"Commit `{ctx['commit'][:12]}` ({_date(ctx['date'])}), "
             f"environment `{ctx['environment']}`; "
             f"{n} commit{'' if n == 1 else 's'} in the history. "
             f"Points: {status.get('ok', 0)} measured, {status.get('skipped', 0)} skipped "
             f"(estimated too slow), {status.get('failed', 0)} failed. "
             "Every number below comes from these asv results; the table of all points "
             "is [results.csv](results.csv).", ""]
    lines += machine_section(ctx) + ["", "## Findings", ""] + findings(ctx) + [""]
    lines += step_table(ctx) + [""]
    lines += ["## Figures", ""]
    for title, name in figures:
        lines += [f"### {title}", "", f"![{title}]({name})", ""]
    lines += ["## Reproduce", "", "```sh",
              "lrperf study                         # run the suite on this tree, then this report",
              f"lrperf report --results {ctx['results_dir']} --out {ctx['out_dir']}",
              "```", "",
              "Timings are asv medians of one call; the speedups are ratios of medians "
              "measured in the same run, at equal thread counts (Numba and BLAS threads set "
              "together). Skipped points are left out of the figures, never drawn as zero.", ""]
    return "\n".join(lines)
