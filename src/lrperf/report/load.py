"""asv results folder -> one tidy pandas DataFrame.

Reads asv's documented result format (api version 2): each
``<machine>/<commit[:8]>-<env>.json`` has ``result_columns`` naming the
columns of every benchmark's row, ``params`` listing each parameter's values
(as ``repr`` strings), and ``result`` holding one value per point of the
parameter product in ``itertools.product`` order.  ``null`` means the point
failed, NaN that it was skipped.  ``benchmarks.json`` gives each benchmark's
``param_names``, ``unit`` and ``type``.  Nothing in the folder is written.
"""
import ast
import itertools
import json
import math
import warnings
from pathlib import Path

import pandas as pd

from ..grid import AXES

GRID_PARAMS = list(AXES)
# Results from before the dtype axis existed measured float64 X.
AXIS_DEFAULTS = {"dtype": "float64"}
COLUMNS = ["machine", "commit", "date", "environment", "benchmark", "type", *GRID_PARAMS,
           "params", "value", "unit", "ci_low", "ci_high",
           "status", "renamed_from"]


class ReportWarning(UserWarning):
    """Input the report skipped or interpreted (a damaged file, a renamed benchmark)."""


class NoResultsError(ValueError):
    """The results folder holds nothing a report can be made from."""


def _warn(message):
    warnings.warn(message, ReportWarning, stacklevel=3)


def _read_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _param_value(text):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _finite(x):
    return float(x) if isinstance(x, (int, float)) and math.isfinite(x) else math.nan


def load_benchmarks(results_dir):
    """benchmarks.json as {name: description}; {} (with a warning) if unusable."""
    path = Path(results_dir) / "benchmarks.json"
    try:
        data = _read_json(path)
    except FileNotFoundError:
        _warn(f"{path} not found: parameter names and units are guessed from the results")
        return {}
    except (OSError, ValueError) as exc:
        _warn(f"skipping {path}: not valid JSON ({exc})")
        return {}
    if not isinstance(data, dict):
        _warn(f"skipping {path}: expected a JSON object")
        return {}
    return {k: v for k, v in data.items() if isinstance(v, dict) and "name" in v}


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
    if (name, tuple(present)) in renames:
        return renames[(name, tuple(present))]
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
        renames[(name, tuple(present))] = (b.get("param_names") or [], b.get("unit", ""),
                                           kind, b["name"])
    else:
        old_axes = [a for a in GRID_PARAMS if a not in AXIS_DEFAULTS]
        names = GRID_PARAMS if len(params) == len(GRID_PARAMS) else old_axes if len(
            params) == len(old_axes) else [
            f"param{i + 1}" for i in range(len(params))]
        _warn(f"benchmark {name!r} is not in benchmarks.json and matches no current "
              f"benchmark: kept, parameters read as {names}")
        unit = {"time": "seconds", "peakmem": "bytes", "mem": "bytes"}.get(kind, "")
        renames[(name, tuple(present))] = (names, unit, kind, None)
    return renames[(name, tuple(present))]


def _rows_of_file(path, machine_name, benchmarks, renames):
    data = _read_json(path)
    columns = data["result_columns"]
    machine = (data.get("params") or {}).get("machine") or machine_name
    date = pd.to_datetime(data["date"], unit="ms", utc=True) if data.get("date") else pd.NaT
    base = {"machine": machine, "commit": data["commit_hash"], "date": date,
            "environment": data.get("env_name", "")}
    rows = []
    for name, values in data["results"].items():
        row = dict(itertools.zip_longest(columns, values))
        params = row.get("params") or []
        points = list(itertools.product(*params))
        result = row.get("result")
        if result is None:  # the whole benchmark failed (e.g. an import error)
            result = [None] * len(points)
        if len(result) != len(points):
            _warn(f"{path}: {name} has {len(result)} values for {len(points)} "
                  "parameter combinations: skipped")
            continue
        lows = row.get("stats_ci_99_a") or [None] * len(points)
        highs = row.get("stats_ci_99_b") or [None] * len(points)
        param_names, unit, kind, renamed = _describe(name, params, benchmarks, renames,
                                                     data["results"].keys())
        for point, value, lo, hi in zip(points, result, lows, highs):
            named = dict(zip(param_names, (_param_value(p) for p in point)))
            if value is None:
                status, value = "failed", math.nan
            elif isinstance(value, (int, float)) and math.isnan(value):
                status = "skipped"
            else:
                status = "ok"
            rows.append({
                **base, "benchmark": renamed or name, "type": kind,
                **{p: named.get(p, AXIS_DEFAULTS.get(p) if "strategy" in named else None)
                   for p in GRID_PARAMS},
                "params": json.dumps(named, sort_keys=True, default=str),
                "value": _finite(value), "unit": unit, "ci_low": _finite(lo),
                "ci_high": _finite(hi), "status": status,
                "renamed_from": name if renamed else None,
            })
    return rows


def _machine_folders(results_dir):
    for folder in sorted(p for p in Path(results_dir).iterdir() if p.is_dir()):
        try:
            name = _read_json(folder / "machine.json")["machine"]
        except (OSError, ValueError, KeyError, TypeError):
            name = folder.name  # each result file names its machine anyway
        yield folder, name


def load_results(results_dir):
    """Every result file under ``results_dir`` as one tidy DataFrame.

    One row per benchmark point: machine, commit, date, environment,
    benchmark, type, the grid parameters (strategy, n_x, m, layout, threads;
    None where a benchmark lacks one), all parameters as JSON, value, unit,
    asv's 99% confidence bounds (ci_low, ci_high; NaN when asv gave none),
    and status: "ok", "failed" (asv's null; value NaN) or "skipped" (NaN).
    Unreadable files are skipped with a ReportWarning naming them; a folder
    with nothing usable raises NoResultsError.
    """
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise NoResultsError(f"results folder {str(results_dir)!r} does not exist "
                             "(run `asv run` or `lrperf study` first)")
    files = [(path, machine) for folder, machine in _machine_folders(results_dir)
             for path in sorted(folder.glob("*.json")) if path.name != "machine.json"]
    if not files:
        raise NoResultsError(f"no asv result files in {str(results_dir)!r} (expected "
                             "<machine>/<commit>-<env>.json: run `asv run` or `lrperf study`)")
    benchmarks = load_benchmarks(results_dir)
    renames = {}
    rows = []
    for path, machine in files:
        try:
            rows.extend(_rows_of_file(path, machine, benchmarks, renames))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            _warn(f"skipping {path}: not a readable asv result file "
                  f"({type(exc).__name__}: {exc})")
    frame = pd.DataFrame(rows, columns=COLUMNS)
    if not (frame["status"] == "ok").any():
        raise NoResultsError(f"no usable benchmark results in {str(results_dir)!r} "
                             f"({len(frame)} points read, none measured)")
    for col in ("n_x", "m", "threads"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("Int64")
    return frame


def machine_description(frame, results_dir=None):
    """{(machine, commit, environment): dict} from the suite's machine_info benchmark.

    The suite records ``json.dumps(lrperf.machine.machine_info())`` as the one
    parameter value of ``hardware.track_machine_info``.
    """
    found = {}
    rows = frame[frame["benchmark"].str.contains("machine_info", regex=False)]
    for _, r in rows.iterrows():
        params = json.loads(r["params"])
        for text in params.values():
            try:
                info = json.loads(text) if isinstance(text, str) else None
            except ValueError:
                continue
            if isinstance(info, dict) and info:
                found[(r["machine"], r["commit"], r["environment"])] = info
    return found


def asv_machines(results_dir):
    """{machine: asv's machine.json (arch, cpu, num_cpu, os, ram)} where readable."""
    found = {}
    for folder, name in _machine_folders(results_dir):
        try:
            found[name] = _read_json(folder / "machine.json")
        except (OSError, ValueError):
            pass
    return found
