"""The first screen: which strategy is fastest in each regime of this machine.

One line per layout x threads, from the report's regimes (``analysis.regime_facet``):
each run of shapes with the same fastest strategy, its speed-up over the reference
and at how many of its shapes that speed-up is significant (``facets.significance_rule``).  A
shape whose times have too few samples for an interval is left out of the
numbers and counted on a line of its own.  ``lrperf study`` prints the same lines.
"""
import math

from .facets import sample_need, significance_rule
from .units import human_bytes, threads_text

MAX_RUNS_A_LINE = 4


def _span(regime):
    lo, hi = human_bytes(regime.first_bytes), human_bytes(regime.last_bytes)
    span = lo if regime.first_bytes == regime.last_bytes else f"{lo}–{hi}"
    return span if regime.level is None else f"{regime.level} {span}"


def _part(regime, reference):
    held = f"{regime.significant}/{regime.confirmed}"
    if regime.strategy == reference:
        text = f"{reference} fastest ({held} significant)"
    elif not math.isfinite(regime.speedup_min):
        text = f"{regime.strategy} ({reference} not measured there)"
    else:
        lo, hi = f"{regime.speedup_min:.2g}", f"{regime.speedup_max:.2g}"
        text = f"{regime.strategy} {lo if lo == hi else f'{lo}–{hi}'}× ({held} significant)"
    if regime.others:
        text += "; also " + ", ".join(f"{s} {n}" for s, n in regime.others.items())
    return f"{_span(regime)}: {text}"


def regime_lines(report):
    """[(layout, threads, text)] for every layout x threads with a confirmed shape."""
    out = []
    keys = sorted({(r.layout, r.threads) for r in report.regimes})
    for layout, threads in keys:
        runs = [r for r in report.regimes if (r.layout, r.threads) == (layout, threads)
                and r.confirmed]
        if not runs:
            continue
        parts = [_part(r, report.reference) for r in runs[:MAX_RUNS_A_LINE]]
        if len(runs) > MAX_RUNS_A_LINE:
            parts.append(f"{len(runs) - MAX_RUNS_A_LINE} more runs (winner map)")
        out.append((layout, threads, " | ".join(parts)))
    return out


def unconfirmed_line(report):
    """How many winner-map cells have too few samples to state a speed-up, or None."""
    cells = report.winners
    if cells is None or cells.empty:
        return None
    weak = cells[~cells["confirmed"]]
    if weak.empty:
        return None
    fewest = int(weak["samples"].min())
    return (f"{len(weak)} of {len(cells)} shapes unconfirmed: their times have {fewest} "
            f"sample{'' if fewest == 1 else 's'} ({sample_need(report)} needed: asv --quick "
            "takes one, and a point near the time bound may be skipped by some of its "
            "processes); no speed-up is stated for them")


def answer(report, markdown=True):
    """The first screen as lines of text: markdown for the README, plain for a terminal."""
    if report.winners is None or report.winners.empty:
        return ["No step timings in these results."] if not markdown else [
            "**No step timings in these results.**"]
    bold = (lambda t: f"**{t}**") if markdown else (lambda t: t)
    head = (f"Fastest strategy per regime ({report.primary_dtype} X; ×: speed-up over "
            f"{report.reference}; n/m significant: at n of m shapes "
            f"{significance_rule(report)}; also: shapes where another strategy is fastest):")
    lines = [bold(head) if markdown else head]
    for layout, threads, text in regime_lines(report):
        lines.append(("- " if markdown else "  ") + f"{bold(f'layout {layout}, {threads_text(threads)}')}: {text}")
    weak = unconfirmed_line(report)
    if weak:
        lines.append(("- " if markdown else "  ") + weak)
    return lines
