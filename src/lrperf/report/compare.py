"""``lrperf compare A B``: each step point's time ratio between two runs, with significance.

A and B name a run: a machine (its newest commit), a commit hash prefix, a git
revision of the checkout (``HEAD~1``), or ``machine:commit``.  The verdict is
``lrperf.samples.verdict``: the process is the unit (each point timed in
several processes, samples recorded), an exact rank test across the
per-process medians at 5%, and a change beyond the threshold (1.1, as asv
compare's).  A point whose runs lack the processes (results recorded without
samples, one process per point) is "unconfirmed", never a change.
"""
import math
from pathlib import Path

from .. import grid, samples as sm
from ..names import joined_name
from ..results_format import references_of
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
            commit = _revision(commit) or commit
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


def _step_samples(path):
    """{point key: recorded samples} of one asv result file's step benchmark."""
    import ast
    import itertools

    from asv.results import Results
    try:
        res = Results.load(str(path))
        params = res.get_result_params(grid.BENCH_STEP)
        found = res.get_result_samples(grid.BENCH_STEP, params)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}
    names = list(grid.AXES) if len(params) == len(grid.AXES) else [
        a for a in grid.AXES if a != "dtype"]
    out = {}
    for point, got in zip(itertools.product(*params), found or []):
        named = {"dtype": "float64", **dict(zip(names, map(ast.literal_eval, point)))}
        out[tuple(named[k] for k in KEYS)] = got
    return out


def _samples_of(run):
    cache = {}
    got = []
    for r in run.itertuples():
        if r.file not in cache:
            cache[r.file] = _step_samples(r.file)
        key = (r.strategy, int(r.n_x), int(r.m), r.layout, r.dtype, int(r.threads))
        got.append(cache[r.file].get(key))
    return got


def _revision(spec):
    """The commit hash git gives ``spec`` (HEAD~1, a branch) in the cwd's checkout, or None."""
    import subprocess
    try:
        out = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"{spec}^{{commit}}"],
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _reference_key(r):
    """The point as the step's processes name it in their reference lines."""
    return (repr(str(r.strategy)), str(int(r.n_x)), str(int(r.m)), repr(str(r.layout)),
            repr(str(r.dtype)), str(int(r.threads)))


def _steadied(loaded, run):
    """Each row's samples at the run's usual speed (``samples.at_reference_speed``),
    and how many rows had references for every process."""
    import statistics
    key = (run["machine"].iloc[0], run["commit"].iloc[0], run["environment"].iloc[0])
    refs = references_of(loaded.descriptions.get(key) or {})
    every = [s for got in refs.values() for s in got]
    if not every:
        return list(run["samples"]), 0
    scale = statistics.median(every)
    out, matched = [], 0
    for r in run.itertuples():
        got = sm.at_reference_speed(r.samples, refs.get(_reference_key(r)), scale)
        matched += got is not r.samples
        out.append(got)
    return out, matched


def _table(loaded, a, b, threshold, judge_drift=True, judge_reference=True):
    ra, rb = _select(loaded.frame, a), _select(loaded.frame, b)
    ra, rb = ra.assign(samples=_samples_of(ra)), rb.assign(samples=_samples_of(rb))
    (ja, na), (jb, nb) = ((_steadied(loaded, run) if judge_reference
                           else (list(run["samples"]), 0)) for run in (ra, rb))
    ra, rb, steady = ra.assign(judged=ja), rb.assign(judged=jb), {"a": na, "b": nb}
    cols = KEYS + ["value", "samples", "judged"]
    both = ra[cols].merge(rb[cols], on=KEYS, suffixes=("_a", "_b"))
    if both.empty:
        raise ValueError(f"runs {a!r} and {b!r} have no step point in common")
    found = sm.drift(zip(both["judged_a"], both["judged_b"]))
    factor = found[0] if judge_drift else 1.0
    verdicts, ratios, judged, ps, shown_a, shown_b = [], [], [], [], [], []
    for r in both.itertuples():
        sa = r.judged_a if r.judged_a is not None else [r.value_a]
        sb = r.judged_b if r.judged_b is not None else [r.value_b]
        verdict, ratio, p = sm.verdict(sa, sb, threshold, drift=factor)
        ia = sm.interval(r.samples_a) if r.samples_a is not None else None
        ib = sm.interval(r.samples_b) if r.samples_b is not None else None
        shown_a.append(ia[0] if ia else r.value_a)
        shown_b.append(ib[0] if ib else r.value_b)
        if verdict == "unconfirmed":
            ratio = r.value_b / r.value_a
        verdicts.append(verdict)
        judged.append(ratio / factor)
        ratios.append(shown_b[-1] / shown_a[-1] if shown_a[-1] else math.nan)
        ps.append(p)
    both = both.assign(verdict=verdicts, ratio=ratios, judged=judged, p=ps, shown_a=shown_a,
                       shown_b=shown_b)
    return ra, rb, both.sort_values(KEYS), (factor, found[1], found[0]), steady


def results_folders(start=None):
    """The results folders that exist, in the order a default looks at them:
    asv run's (asv.conf.json's ``results_dir``, the history), then lrperf
    study's (``.asv/results/<kind>``).  Relative to the checkout holding
    asv.conf.json at or above ``start`` (the cwd), else to ``start``."""
    import json
    import re
    here = Path(start or Path.cwd()).resolve()
    root = next((f for f in (here, *here.parents) if (f / "asv.conf.json").is_file()), here)
    found = []
    try:
        text = (root / "asv.conf.json").read_text(encoding="utf-8")
        conf = json.loads(re.sub(r"^\s*//.*$", "", text, flags=re.M))
        found.append(root / conf.get("results_dir", ".asv/results"))
    except (OSError, ValueError, AttributeError):
        pass
    study_root = root / ".asv" / "results"
    for kind in (*grid.GRIDS, *(f"{g}-quick" for g in grid.GRIDS)):
        found.append(study_root / kind)
    return [f for f in dict.fromkeys(found) if any(f.glob("*/*-*.json"))]


def newest_folder(start=None):
    """The results folder holding the newest result file, or None."""
    folders = results_folders(start)
    stamp = lambda f: max(p.stat().st_mtime for p in f.glob("*/*-*.json"))  # noqa: E731
    return max(folders, key=stamp) if folders else None


def folder_with(a, b, start=None):
    """The first results folder (``results_folders`` order) holding both runs."""
    import warnings
    tried = results_folders(start)
    for folder in tried:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                frame = load(folder).frame
                _select(frame, a), _select(frame, b)
            except ValueError:
                continue
        return folder
    looked = ", ".join(str(f) for f in tried) or "none exist"
    raise ValueError(f"no results folder holds both runs {a!r} and {b!r} (looked in: "
                     f"{looked}); name one with --results")


def _drift_lines(factor, points, measured, threshold, judged):
    if points < sm.MIN_DRIFT_POINTS:
        return [f"drift: not measured ({points} points with processes in both runs, "
                f"{sm.MIN_DRIFT_POINTS} needed); points judged as measured"]
    if not judged:
        return [f"drift: B ran {measured:.3g}x A over its {points} points (median); not "
                "divided out (--no-drift)"]
    lines = [f"drift: B ran {factor:.3g}x A over its {points} points (median), divided "
             "out before each point is judged: the machine's speed between the runs, or a "
             "change of every point at once, shows here and never as changes"]
    if max(factor, 1 / factor) > threshold:
        lines.append(f"the drift is beyond {threshold:g}x: if no machine state explains it, "
                     "everything changed; measure side by side in one process "
                     "(scripts/point_check.py), or compare with --no-drift")
    return lines


def _reference_lines(steady, points, judged):
    if not judged:
        return ["reference: not used (--no-reference): each process judged as measured"]
    a, b = steady["a"], steady["b"]
    if not a and not b:
        return ["reference: neither run recorded one (runs of `asv run`, or from before "
                "lrperf study timed it): each process judged as measured"]
    return [f"reference: each process's samples divided by its own slowness (a fixed "
            f"pure-Python loop timed before each sample, over the share of a core its "
            f"thread got where one thread does the work: the machine's speed at that "
            f"moment), for {a} points of A and {b} of B; the times shown are as measured"]


def compare(results_dir, a, b, out=None, threshold=1.1, judge_drift=True,
            judge_reference=True):
    """(lines of text, path of the figure or None) comparing run ``b`` against run ``a``."""
    if not (isinstance(threshold, (int, float)) and threshold >= 1):
        raise ValueError(f"threshold must be a ratio >= 1, got {threshold!r}")
    if results_dir is None:
        results_dir = folder_with(a, b)
    loaded = load(results_dir)
    ra, rb, both, (factor, points, measured), steady = _table(
        loaded, a, b, threshold, judge_drift, judge_reference)
    name = lambda r: f"{r['machine'].iloc[0]}:{r['commit'].iloc[0][:8]}"  # noqa: E731
    lines = [f"results: {results_dir}",
             f"B = {name(rb)} over A = {name(ra)}: time ratio per step point "
             f"(> 1: B slower). A change: beyond {threshold:g}x after the drift, and an "
             f"exact rank test across the per-process medians at p < {sm.ALPHA:g} "
             f"(each point timed in {sm.MIN_PROCESSES} or more processes of "
             f"{sm.SAMPLES_PER_PROCESS} samples: {grid.GRIDS['full'].processes} on the full "
             f"grid, {grid.GRIDS['tiny'].processes} on a first look); "
             f"'unconfirmed': a run has fewer than {sm.MIN_PROCESSES} processes of samples "
             "recorded, so no change can be claimed",
             *_reference_lines(steady, points, judge_reference),
             *_drift_lines(factor, points, measured, threshold, judge_drift), "",
             "ratio: B/A as measured (medians of the per-process medians); judged: the "
             "ratio the test sees, after the reference and the drift",
             f"{'verdict':11} {'ratio':>8} {'judged':>7} {'p':>6} {'A':>10} {'B':>10}  point"]
    for r in both.itertuples():
        p = "-" if r.p is None or r.p != r.p else f"{r.p:.3f}"
        lines.append(f"{r.verdict:11} {r.ratio:8.3f} {r.judged:7.3f} {p:>6} "
                     f"{an.human_seconds(r.shown_a):>10} "
                     f"{an.human_seconds(r.shown_b):>10}  {r.strategy} "
                     f"{an.shape_text(r.n_x, r.m)} {r.layout} {r.dtype} "
                     f"{an.threads_text(int(r.threads))}")
    counts = both["verdict"].value_counts()
    lines += ["", f"{len(both)} points: {counts.get('faster', 0)} faster, "
              f"{counts.get('slower', 0)} slower, {counts.get('same', 0)} unchanged, "
              f"{counts.get('unconfirmed', 0)} unconfirmed"]
    if counts.get("unconfirmed", 0):
        lines.append("unconfirmed points need both runs timed in processes with samples "
                     "recorded: `lrperf study`, or `asv run --record-samples`")
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
    ax.set_title(f"{b} against {a} (filled: significant change; hollow: not, or unconfirmed)")
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

