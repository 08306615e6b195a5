"""What the study writes and the report reads: the one format both sides import.

The study (``lrperf.study``) writes asv's result files plus lrperf's own
pieces; the report (``lrperf.report``) and the comparison read them.  Neither
package owns this module, so neither imports the other:

- the benchmarks' names and parameters, as asv records them;
- the result files' portable environment name (``existing-py3.11``);
- the machine sidecar beside each result file, with its format version;
- the progress protocol between a benchmark process and the study;
- the noise rule: when a point's samples are too spread to trust.

Plain Python and NumPy only: the benchmark processes import it too.
"""
import json
import math
import os
import re
import sys
import time
from pathlib import Path

import numpy as np

# Exact names of the suite's benchmarks, as asv records them.
BENCH_STEP = "step.Step.time_propagate"
BENCH_BANDWIDTH = "step.Step.track_bandwidth"
BENCH_PEAKMEM = "step.Step.peakmem_propagate"
BENCH_OPTIMIZE = "step.Optimize.time_optimize"
OPTIMIZE_ITERATIONS = 100
BENCH_FIRST_CALL = "first_call.FirstCall.timeraw_first_call"
# The ceiling B(size, threads): fastest plain read of a working set of
# ``nbytes``, params ["nbytes", "threads"], unit GB/s; the report divides a
# step's bandwidth by it, so a speed is read against what the machine can do.
BENCH_READ_BANDWIDTH = "hardware.track_read_bandwidth"
READ_PARAMS = ("nbytes", "threads")
# Accuracy against the exact (50-digit) reference on the same input values,
# params ["strategy", "n_x", "m", "dtype"], unit "relative error".
BENCH_ERROR_DW = "accuracy.Accuracy.track_error_dw"
BENCH_ERROR_COST = "accuracy.Accuracy.track_error_cost"
ACCURACY_PARAMS = ("strategy", "n_x", "m", "dtype")
# What XLA compiled for jax_xla's step (benchmarks/xla.py), counted in its
# optimized HLO at the cat shape (or the grid's largest), params XLA_PARAMS, unit
# "instructions": dot instructions, instructions that read X, fusions that
# hold a dot.  The report sets them beside the measured step, which explains
# a time by what the compiler made of it.
BENCH_XLA_DOTS = "xla.Program.track_dots"
BENCH_XLA_X_READS = "xla.Program.track_x_reads"
BENCH_XLA_DOT_FUSIONS = "xla.Program.track_dot_fusions"
XLA_PARAMS = ("n_x", "m", "layout")
# GPU strategies (benchmarks/gpu.py; skipped without a GPU): one step, params
# GPU_STEP_PARAMS, "resident" (X on the device) or "transfer" (X moved every
# call); the device's read ceiling by working-set size (GB/s, param "nbytes");
# host-to-device copies (GB/s, param "host": "pageable" or "pinned").
BENCH_GPU_STEP = "gpu.GpuStep.time_step"
GPU_STEP_PARAMS = ("strategy", "size", "layout", "mode")
BENCH_DEVICE_READ = "gpu.track_device_read_bandwidth"
BENCH_H2D = "gpu.track_h2d_bandwidth"


# -- result files ---------------------------------------------------------------------------

def portable_env_name():
    """The environment's name in the results: the Python version, not the path of
    the interpreter on the machine that ran it."""
    return f"existing-py{sys.version_info[0]}.{sys.version_info[1]}"


def portable_result_name(commit):
    """The name of a commit's result file once the study has made it portable."""
    return f"{commit[:8]}-{portable_env_name()}.json"


# -- the machine sidecar --------------------------------------------------------------------

# lrperf's machine description of one asv result file lies beside it
# (``<commit[:8]>-<env>.lrperf-machine.jsonl``): asv reads only ``*.json``.
SIDECAR_SUFFIX = ".lrperf-machine.jsonl"
# Its format: a JSON object of machine_info's keys, "tuning" and the study's
# "study" entry; "format" says which version of that wrote it (absent before 1).
SIDECAR_FORMAT = 1
SIDECAR_FORMAT_KEY = "format"


def sidecar_path(result_file):
    """Where the machine description of one asv result file lives."""
    result_file = Path(result_file)
    return result_file.with_name(result_file.stem + SIDECAR_SUFFIX)


def write_sidecar(result_file, info):
    """Record lrperf's machine description beside one asv result file (atomically)."""
    from .atomic import write_text
    info = {**info, SIDECAR_FORMAT_KEY: SIDECAR_FORMAT}
    write_text(sidecar_path(result_file), json.dumps(info, sort_keys=True) + "\n")


# -- progress -------------------------------------------------------------------------------

# asv reports a parametrized benchmark only when all its points are done
# (minutes for the grid benchmarks), so each point's process appends one line
# to the file the study names here: one line is one point.
PROGRESS_ENV = "LRPERF_PROGRESS_FILE"
# One line per point process as it starts: "<unix time> <family>\n".  The
# study counts the lines (its bar of points) and, from the times, what each
# benchmark family cost in wall time, process start-up and setup included
# (asv's own duration of a benchmark counts one round of several).
_FAMILY = re.compile(r"[^A-Za-z0-9_.]")


def announce_point(family="point", environ=None, clock=time.time):
    """Append one line to the study's progress file, if it named one."""
    path = (os.environ if environ is None else environ).get(PROGRESS_ENV)
    if not path:
        return
    line = f"{clock():.3f} {_FAMILY.sub('_', str(family))[:60] or 'point'}\n"
    _append_line(path, line)  # progress is a courtesy: never fail a measurement over it


def _append_line(path, line):
    """Append one line with one write (O_APPEND: the point processes of a pass share
    the file); an OSError is swallowed, the caller's line is a courtesy."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)
    except OSError:
        pass


def _progress_bytes(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except (OSError, TypeError):
        return b""


def announced_points(path):
    """How many points have announced themselves in the progress file ``path``."""
    return _progress_bytes(path).count(b"\n")


def family_seconds(path, end):
    """{family: wall seconds} from the progress file ``path``: each point's
    time runs from its line to the next one (the last to ``end``, a unix
    time), so the families add up to the pass.  Lines that do not parse are
    ignored."""
    marks = []
    for raw in _progress_bytes(path).splitlines():
        parts = raw.decode("ascii", "replace").split()
        if len(parts) != 2:
            continue
        try:
            t = float(parts[0])
        except ValueError:
            continue
        if math.isfinite(t):
            marks.append((t, parts[1]))
    marks.sort()
    out = {}
    for (t, family), (t_next, _) in zip(marks, marks[1:] + [(max(end, marks[-1][0]), "")]
                                        if marks else []):
        out[family] = out.get(family, 0.0) + max(0.0, t_next - t)
    return out


# -- the reference workload -----------------------------------------------------------------

# A shared machine runs faster or slower from one second to the next (a 2-core
# VM flipped between two speeds 1.9x apart inside one process), so a point's
# processes land in one speed or the other, and a 1.3x change hides in the
# spread.  Each process of the step also times a fixed pure-Python loop before
# each of its samples (``lrperf.measure.reference_seconds``) and appends one
# line to the file the study names here: {"point": [asv's param strings],
# "s": its slowness, the median of its reference times, divided, for a step
# that runs on the calling thread alone, by the share of a core that thread
# got (a neighbour taking turns on the core: benchmarks/step.py)}.  A compare
# divides each process's samples by its own (``lrperf.samples.at_reference_speed``);
# the times the report shows stay as measured.
REFERENCE_ENV = "LRPERF_REFERENCE_FILE"
# What the reference is: a change of it makes earlier references incomparable.
REFERENCE_WORKLOAD = "python-float-loop-10000/core-share"
_MAX_PARAM_CHARS = 200


def record_reference(point, seconds, *, process, count, environ=None):
    """Append one process's reference time so far (the median of its ``count``
    references) to the study's file, if it named one.  ``process``: a token of
    the process (its last line counts)."""
    path = (os.environ if environ is None else environ).get(REFERENCE_ENV)
    if not path:
        return
    # Lost, the compare judges this process's point as measured.
    _append_line(path, json.dumps({"point": [str(p) for p in point], "process": str(process),
                                   "count": int(count), "s": float(seconds)}) + "\n")


def _point(point):
    if (isinstance(point, list) and point and all(
            isinstance(p, str) and len(p) <= _MAX_PARAM_CHARS for p in point)):
        return tuple(point)
    return None


def _positive(s):
    if isinstance(s, bool) or not isinstance(s, (int, float)) or not (math.isfinite(s) and s > 0):
        return None
    return float(s)


def read_references(path):
    """[(point, seconds)] from a reference file: each process's last line, in the
    order the processes began (asv's order of their samples).  Lines that do not
    parse are left out."""
    last, order = {}, []
    for raw in _progress_bytes(path).splitlines():
        try:
            entry = json.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            continue
        if not isinstance(entry, dict):
            continue
        point, s, proc = _point(entry.get("point")), _positive(entry.get("s")), entry.get("process")
        count = entry.get("count")
        if point is None or s is None or not isinstance(proc, str) or len(proc) > 64 or (
                isinstance(count, bool) or not isinstance(count, int)):
            continue
        key = (point, proc)
        if key not in last:
            order.append(key)
        if key not in last or count >= last[key][0]:
            last[key] = (count, s)
    return [(key[0], last[key][1]) for key in order]


def reference_entry(passes, again=()):
    """The sidecar's "reference" entry: ``passes`` ([[(point, seconds)], ...], in
    pass order) each add their processes to a point; ``again`` (the re-measure
    pass's records, whose samples replace the first ones) replaces them."""
    def by_point(records):
        got = {}
        for point, s in records:
            got.setdefault(point, []).append(s)
        return got

    found = by_point(r for records in passes for r in records)
    found.update(by_point(again))
    return {"workload": REFERENCE_WORKLOAD,
            "points": [[list(point), got] for point, got in sorted(found.items())]}


def references_of(description):
    """{point (asv's param strings): [seconds per process]} from a sidecar's "study"
    entry; {} when it has none, or of another workload."""
    study = description.get("study") if isinstance(description, dict) else None
    entry = study.get("reference") if isinstance(study, dict) else None
    if not isinstance(entry, dict) or entry.get("workload") != REFERENCE_WORKLOAD:
        return {}
    out = {}
    for item in entry.get("points") if isinstance(entry.get("points"), list) else []:
        if not (isinstance(item, list) and len(item) == 2 and isinstance(item[1], list)):
            continue
        point, got = _point(item[0]), [_positive(s) for s in item[1]]
        if point is not None and got and None not in got:
            out[point] = got
    return out


# -- the noise rule -------------------------------------------------------------------------

# A point is flagged noisy when asv's 99% interval is wider than the median
# itself, or the interquartile range exceeds this share of the median: both
# happen when a second thread pool steals the core and the samples split in two.
NOISE_CI_SHARE = 1.0
NOISE_IQR_SHARE = 0.5


def noise_score(value, ci_low, ci_high, q_25, q_75):
    """How far past the noise rule a point is (NOISE_CI_SHARE, NOISE_IQR_SHARE):
    noisy when over 1.  Scalars or arrays; a spread asv did not give counts 0."""
    ci = np.nan_to_num(np.divide(np.subtract(ci_high, ci_low),
                                 NOISE_CI_SHARE * np.asarray(value, float)))
    iqr = np.nan_to_num(np.divide(np.subtract(q_75, q_25),
                                  NOISE_IQR_SHARE * np.asarray(value, float)))
    return np.maximum(ci, iqr)


# -- the sample rule ------------------------------------------------------------------------
# How many samples a claim needs (the process is the unit), and the compare's test:
# lrperf.samples, re-exported here for the report and the study.
from .samples import (MIN_PROCESSES, PROCESSES, SAMPLES_PER_PROCESS,  # noqa: E402,F401
                      enough, interval, per_process, verdict)
