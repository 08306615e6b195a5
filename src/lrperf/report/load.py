"""asv results folder -> one tidy pandas DataFrame, through asv's own results API.

Each ``<machine>/<commit[:8]>-<env>.json`` is read with
``asv.results.Results.load``, which checks the file's format version (asv's
``api_version``) and refuses files it cannot read.  ``benchmarks.json`` gives
each benchmark's ``param_names`` and ``unit``.  The machine description that
``lrperf study`` measures is a sidecar ``<commit[:8]>-<env>.lrperf-machine.jsonl``
beside the result file (asv only reads ``*.json``).  Nothing in the folder is
written.  A damaged file, folder or field is skipped with a ReportWarning that
names it; it never fails the whole report.
"""
import ast
import json
import math
import re
import stat
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .. import grid, samples
# The sidecar is the results format's: the study writes it.
from ..results_format import SIDECAR_SUFFIX, sidecar_path, write_sidecar  # noqa: F401

GRID_PARAMS = list(grid.AXES)
# Results from before the dtype axis existed measured float64 X.
AXIS_DEFAULTS = {"dtype": "float64"}
INT_AXES = ("n_x", "m", "threads", "nbytes")
COLUMNS = ["machine", "commit", "date", "environment", "benchmark", "type", *GRID_PARAMS,
           "nbytes", "params", "value", "unit", "ci_low", "ci_high", "q_25", "q_75", "repeat",
           "processes", "process_medians", "status", "renamed_from", "file"]
# A full study's result file is a few MB; anything far beyond is not one, and
# is not read whole.
MAX_FILE_BYTES = 64 << 20
# Integer axes (sizes, threads, bytes) are counts: at least 1, and exact in the
# float64 that tables and figures use.
INT_RANGE = (1, 2 ** 53)
# A strategy name as the registry allows it; anything else in a result file is damage.
_STRATEGY_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_DAMAGE = (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError,
           IndexError)


class ReportWarning(UserWarning):
    """Input the report skipped or interpreted (a damaged file, a renamed benchmark)."""


class NoResultsError(ValueError):
    """The results folder holds nothing a report can be made from."""


def _warn(message):
    warnings.warn(message, ReportWarning, stacklevel=3)


def _check_file(path):
    """A regular file of at most MAX_FILE_BYTES, or ValueError saying why not."""
    info = Path(path).stat()
    # A FIFO or device named *.json would block the read forever.
    if not stat.S_ISREG(info.st_mode):
        raise ValueError("not a regular file")
    if info.st_size > MAX_FILE_BYTES:
        raise ValueError(f"{info.st_size} bytes, larger than the {MAX_FILE_BYTES >> 20} MiB "
                         "a result file can be: not read")


def _read_json(path):
    path = Path(path)
    _check_file(path)
    with open(path, "rb") as f:
        data = f.read(MAX_FILE_BYTES + 1)  # bounded even if it grew since the check
    if len(data) > MAX_FILE_BYTES:
        raise ValueError(f"larger than the {MAX_FILE_BYTES >> 20} MiB a result file can be")
    return json.loads(data.decode("utf-8"))


def _param_value(text):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text


def _finite(x):
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) \
        and math.isfinite(x) else math.nan


def load_benchmarks(results_dir):
    """benchmarks.json as {name: description}; {} (with a warning) if unusable."""
    path = Path(results_dir) / "benchmarks.json"
    try:
        data = _read_json(path)
    except FileNotFoundError:
        _warn(f"{path} not found: parameter names and units are guessed from the results")
        return {}
    except _DAMAGE as exc:
        _warn(f"skipping {path}: not valid JSON ({type(exc).__name__}: {exc})")
        return {}
    if not isinstance(data, dict):
        _warn(f"skipping {path}: expected a JSON object")
        return {}
    return {k: v for k, v in data.items() if isinstance(v, dict) and isinstance(
        v.get("name"), str) and isinstance(v.get("param_names", []), list)}


def _kind(name):
    last = name.rsplit(".", 1)[-1]
    for prefix in ("timeraw", "time", "peakmem", "mem", "track"):
        if last.startswith(prefix + "_"):
            return prefix if prefix != "timeraw" else "time"
    return "unknown"


def _describe(name, params, benchmarks, renames, present):
    """(param_names, unit, type, renamed_from) of a result's benchmark."""
    if name in benchmarks:
        b = benchmarks[name]
        return b.get("param_names") or [], b.get("unit", ""), b.get("type", _kind(name)), None
    key = (name, tuple(present))
    if key in renames:
        return renames[key]
    # Renamed since: the current benchmark of the same kind and parameter
    # lists that this file lacks is the same measurement under its new name.
    kind = _kind(name)
    same = [b for b in benchmarks.values()
            if b.get("params") == params and b.get("type", _kind(b["name"])) == kind
            and b["name"] not in present]
    if len(same) == 1:
        b = same[0]
        _warn(f"benchmark {name!r} is not in benchmarks.json: read as {b['name']!r} "
              "(same kind and parameters; renamed)")
        renames[key] = (b.get("param_names") or [], b.get("unit", ""), kind, b["name"])
    else:
        old_axes = [a for a in GRID_PARAMS if a not in AXIS_DEFAULTS]
        names = (GRID_PARAMS if len(params) == len(GRID_PARAMS) else
                 old_axes if len(params) == len(old_axes) else
                 [f"param{i + 1}" for i in range(len(params))])
        _warn(f"benchmark {name!r} is not in benchmarks.json and matches no current "
              f"benchmark: kept, parameters read as {names}")
        unit = {"time": "seconds", "peakmem": "bytes", "mem": "bytes"}.get(kind, "")
        renames[key] = (names, unit, kind, None)
    return renames[key]


def _check_header(res):
    if not isinstance(res.commit_hash, str) or not re.fullmatch(r"[0-9a-fA-F]{4,64}",
                                                                 res.commit_hash):
        raise ValueError(f"commit_hash must be a hex string, got {res.commit_hash!r}")
    if not isinstance(res.env_name, str):
        raise ValueError(f"env_name must be a string, got {res.env_name!r}")
    if res.date is not None and not isinstance(res.date, (int, float)):
        raise ValueError(f"date must be milliseconds since the epoch, got {res.date!r}")
    if not isinstance(res.params, dict):
        raise ValueError(f"params must be an object, got {type(res.params).__name__}")


def env_label(env_name):
    """asv's name of an environment without the interpreter's path in it.

    asv names ``--python=same`` environments after the interpreter's absolute
    path (``existing-py_root_.pyenv_versions_3.11.7_bin_python3.11``); a
    report must not show paths of the machine that ran it.
    """
    if env_name.startswith("existing-py_"):
        version = re.search(r"python(\d+\.\d+)$", env_name)
        return f"existing-py{version.group(1)}" if version else "existing-python"
    return env_name


def _grid_values(named, path, name):
    """The axes of one point, checked: ints are ints, a strategy is a name."""
    out = {}
    for axis in (*GRID_PARAMS, "nbytes"):
        value = named.get(axis)
        if value is None and "strategy" in named:
            value = AXIS_DEFAULTS.get(axis)
        if value is not None and axis in INT_AXES and (
                isinstance(value, bool) or not isinstance(value, int)):
            raise ValueError(f"{name}: parameter {axis}={value!r} is not an integer")
        if value is not None and axis in INT_AXES and not INT_RANGE[0] <= value <= INT_RANGE[1]:
            raise ValueError(f"{name}: parameter {axis}={value} is outside "
                             f"{INT_RANGE[0]}..2**53, not a size or count")
        if axis == "strategy" and value is not None and not (
                isinstance(value, str) and _STRATEGY_NAME.match(value)):
            raise ValueError(f"{name}: strategy {value!r} is not a strategy name")
        out[axis] = value
    return out


def _rows_of_file(path, machine_name, benchmarks, renames, durations=None):
    from asv.results import Results
    from asv.util import UserError
    _check_file(path)
    try:
        res = Results.load(str(path))
    except UserError as exc:  # asv's own refusal: wrong format version, missing keys
        raise ValueError(str(exc).replace(str(Path(path).resolve()), str(path))) from None
    _check_header(res)
    machine = res.params.get("machine") or machine_name
    if not isinstance(machine, str):
        raise ValueError(f"params.machine must be a string, got {machine!r}")
    date = pd.to_datetime(res.date, unit="ms", utc=True) if res.date else pd.NaT
    base = {"machine": machine, "commit": res.commit_hash, "date": date,
            "environment": env_label(res.env_name), "file": str(path)}
    if durations is not None and isinstance(res.duration, dict):  # asv's seconds per benchmark
        durations[(machine, res.commit_hash, base["environment"])] = dict(res.duration)
    present = list(res.get_all_result_keys())
    rows = []
    for name in present:
        params = res.get_result_params(name) or []
        param_names, unit, kind, renamed = _describe(name, params, benchmarks, renames, present)
        values = res.get_result_value(name, params)
        stats = res.get_result_stats(name, params)
        recorded = res.get_result_samples(name, params) if kind == "time" else None
        if not isinstance(values, list):  # asv gives a list, one per point
            values = [values]
        points = list(_product(params))
        if len(values) != len(points):
            _warn(f"{path}: {name} has {len(values)} values for {len(points)} "
                  "parameter combinations: skipped")
            continue
        recorded = recorded if isinstance(recorded, list) and len(recorded) == len(points) \
            else [None] * len(points)
        for point, value, st, got in zip(points, values, stats or [None] * len(points),
                                         recorded):
            named = dict(zip(param_names, (_param_value(p) for p in point)))
            try:
                axes = _grid_values(named, path, name)
            except ValueError as exc:
                _warn(f"{path}: point skipped: {exc}")
                continue
            if value is None:
                status, value = "failed", math.nan
            elif isinstance(value, float) and math.isnan(value):
                status = "skipped"
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                status = "ok"
                impossible = _impossible(value, kind)
                if impossible:
                    _warn(f"{path}: {name} {named}: {impossible}: point skipped")
                    continue
            else:
                _warn(f"{path}: {name} has a non-numeric value {value!r}: point skipped")
                continue
            st = st if isinstance(st, dict) else {}
            row = {
                **base, "benchmark": renamed or name, "type": kind, **axes,
                "params": json.dumps(named, sort_keys=True, default=str),
                "value": _finite(value), "unit": unit,
                "ci_low": _finite(st.get("ci_99_a")), "ci_high": _finite(st.get("ci_99_b")),
                "q_25": _finite(st.get("q_25")), "q_75": _finite(st.get("q_75")),
                "repeat": _finite(st.get("repeat")), "status": status,
                "renamed_from": name if renamed else None,
                "processes": math.nan, "process_medians": None,
            }
            if status == "ok":
                row.update(_by_process(got))
            rows.append(row)
    return rows


def _by_process(got):
    """The point's number and interval from its processes (``lrperf.samples``), when
    its samples were recorded and split into enough of them: the median of the
    per-process medians, their range as the interval, the quartiles of those
    medians.  {} otherwise: asv's own statistics stay, and the point stands on
    them alone (``points.confirmed``)."""
    if not isinstance(got, list):
        return {}
    meds = samples.per_process(got)
    found = samples.interval(got)
    if found is None:
        return {"processes": float(len(meds))} if meds else {}
    median, low, high, _ = found
    q25, q75 = np.percentile(meds, [25, 75])
    return {"value": median, "ci_low": low, "ci_high": high, "q_25": float(q25),
            "q_75": float(q75), "repeat": float(len(got)), "processes": float(len(meds)),
            "process_medians": tuple(meds)}


def _impossible(value, kind):
    """Why a measured value cannot be a measurement, or None."""
    if not math.isfinite(value):
        return f"value {value!r} is not finite"
    if kind == "time" and value <= 0:
        return f"time {value!r} s is not positive"
    return None


def _product(params):
    import itertools
    return itertools.product(*params)


def _machine_folders(results_dir):
    for folder in sorted(p for p in Path(results_dir).iterdir() if p.is_dir()):
        try:
            files = sorted(p for p in folder.glob("*.json") if p.name != "machine.json")
        except OSError as exc:
            _warn(f"skipping machine folder {folder}: cannot be read ({exc.strerror or exc})")
            continue
        name, data = folder.name, {}  # each result file names its machine anyway
        try:
            data = _read_json(folder / "machine.json")
            value = data["machine"]
            if isinstance(value, str) and value:
                name = value
            else:
                _warn(f"{folder / 'machine.json'}: machine is {value!r}, not a name: "
                      f"the folder name {folder.name!r} is used")
        except FileNotFoundError:
            pass
        except _DAMAGE as exc:
            _warn(f"{folder / 'machine.json'} is damaged ({type(exc).__name__}: "
                  f"{str(exc)[:200]}): the folder "
                  f"name {folder.name!r} is used")
        data = {k: v for k, v in data.items() if isinstance(v, (str, int, float))} \
            if isinstance(data, dict) else {}
        yield folder, name, files, data


@dataclass
class Loaded:
    """What a results folder holds: the points, and what each machine is."""
    frame: pd.DataFrame
    asv_machines: dict      # {machine: asv's machine.json fields}
    descriptions: dict      # {(machine, commit, environment): lrperf's machine description}
    durations: dict = None  # {(machine, commit, environment): {benchmark: seconds}} (asv's)


def load(results_dir):
    """The results folder as a Loaded record (see ``load_results`` for the frame)."""
    durations = {}
    frame, folders = _load(results_dir, durations)
    machines = {name: data for _, name, _, data in folders}
    return Loaded(frame, machines, machine_descriptions(frame), durations)


def load_results(results_dir):
    """Every result file under ``results_dir`` as one tidy DataFrame.

    One row per benchmark point: machine, commit, date, environment,
    benchmark, type, the grid axes (``grid.AXES``, plus ``nbytes`` of the
    ceiling benchmark; None where a benchmark lacks one), all parameters as
    JSON, value, unit, asv's 99% confidence bounds (ci_low, ci_high) and
    quartiles (q_25, q_75) and number of samples (repeat), NaN when asv gave
    none, status: "ok", "failed" (asv's null) or "skipped" (NaN), and the
    file it came from.  Unreadable files, folders and fields are skipped with
    a ReportWarning naming them; a folder with nothing usable raises
    NoResultsError.
    """
    return _load(results_dir)[0]


def _load(results_dir, durations=None):
    results_dir = Path(results_dir)
    if not results_dir.exists():
        raise NoResultsError(f"results folder {str(results_dir)!r} does not exist "
                             "(run `lrperf study` or `asv run` first)")
    if not results_dir.is_dir():
        raise NoResultsError(f"--results must be a folder of asv results, "
                             f"got the file {str(results_dir)!r}")
    try:
        folders = list(_machine_folders(results_dir))
    except OSError as exc:
        raise NoResultsError(f"results folder {str(results_dir)!r} cannot be read "
                             f"({exc.strerror or exc})") from None
    files = [(path, machine) for _, machine, paths, _ in folders for path in paths]
    if not files:
        raise NoResultsError(f"no asv result files in {str(results_dir)!r} (expected "
                             "<machine>/<commit>-<env>.json: run `lrperf study` or `asv run`)")
    benchmarks = load_benchmarks(results_dir)
    renames = {}
    rows = []
    for path, machine in files:
        try:
            rows.extend(_rows_of_file(path, machine, benchmarks, renames, durations))
        except _DAMAGE as exc:
            _warn(f"skipping {path}: not a readable asv result file "
                  f"({type(exc).__name__}: {str(exc)[:200]})")
    frame = pd.DataFrame(rows, columns=COLUMNS)
    if not (frame["status"] == "ok").any():
        raise NoResultsError(f"no usable benchmark results in {str(results_dir)!r} "
                             f"({len(frame)} points read, none measured)")
    for col in INT_AXES:
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("Int64")
    return frame, folders


def machine_descriptions(frame):
    """{(machine, commit, environment): dict}: the sidecar of each result file.

    Older results carried the description as the parameter value of
    ``hardware.track_machine_info``; those are read too.
    """
    found = {}
    legacy = frame[frame["benchmark"] == "hardware.track_machine_info"]
    for _, r in legacy.iterrows():
        for text in json.loads(r["params"]).values():
            try:
                info = json.loads(text) if isinstance(text, str) else None
            except ValueError:
                continue
            if isinstance(info, dict) and info:
                found[(r["machine"], r["commit"], r["environment"])] = info
    for (machine, commit, env, file), _ in frame.groupby(
            ["machine", "commit", "environment", "file"]):
        path = sidecar_path(file)
        try:
            info = _read_json(path)
        except FileNotFoundError:
            continue
        except _DAMAGE as exc:
            _warn(f"skipping {path}: not a readable machine description "
                  f"({type(exc).__name__}: {str(exc)[:200]})")
            continue
        if isinstance(info, dict):
            found[(machine, commit, env)] = info
        else:
            _warn(f"skipping {path}: expected a JSON object")
    return found
