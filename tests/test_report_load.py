"""The loader's bounds: a result file far beyond any study's size is not read,
and impossible values (time <= 0, not finite, a count outside 1..2**53) skip
their point with a warning naming the file."""
import importlib
import json
import os
import warnings

import pytest

from lrperf.report import ReportWarning, load, load_results

load_module = importlib.import_module("lrperf.report.load")  # lrperf.report.load is a function

from test_report import STEP, results  # noqa: F401  (a private copy of the asv fixture)


def _result_file(results):
    return next(p for p in sorted((results / "vm").glob("*.json")) if p.name != "machine.json")


def _loaded(results):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame = load_results(results)
    return frame, [str(w.message) for w in caught if issubclass(w.category, ReportWarning)]


def _set_step(path, index, value):
    data = json.loads(path.read_text())
    cols = data["result_columns"]
    row = data["results"][STEP]
    row[cols.index("result")][index] = value
    path.write_text(json.dumps(data))
    return dict(zip(cols, row))


def _point(row, index):
    """The parameter values (as the loader names them) of a result's ``index``-th point."""
    import itertools
    return list(itertools.product(*row["params"]))[index]


def _steps(frame):
    return frame[(frame["benchmark"] == STEP) & (frame["status"] == "ok")]


@pytest.mark.parametrize("value", [-1e-3, 0.0, float("inf"), float("-inf")])
def test_an_impossible_time_skips_its_point_with_a_warning_naming_the_file(results, value):
    path = _result_file(results)
    before = len(_steps(load_results(results)))
    row = _set_step(path, 0, value)
    assert row["result"][0] == value or value != value
    frame, messages = _loaded(results)
    assert len(_steps(frame)) == before - 1
    assert any(str(path) in m and "point skipped" in m for m in messages), messages
    times = frame[(frame["type"] == "time") & (frame["status"] == "ok")]["value"]
    assert (times > 0).all()


@pytest.mark.parametrize("bad", ["0", "-4", str(2 ** 70)])
def test_a_shape_outside_the_integer_range_skips_its_points(results, bad):
    path = _result_file(results)
    data = json.loads(path.read_text())
    cols = data["result_columns"]
    params = data["results"][STEP][cols.index("params")]
    old = params[1][0]          # n_x's first value
    params[1][0] = bad
    path.write_text(json.dumps(data))
    frame, messages = _loaded(results)
    assert any(str(path) in m and f"n_x={int(bad)}" in m for m in messages), messages
    steps = _steps(frame)
    assert not steps.empty and int(old) not in set(steps["n_x"]) and int(bad) not in set(
        steps["n_x"].dropna())


def test_a_result_file_beyond_the_size_bound_is_not_read(results, monkeypatch):
    path = _result_file(results)
    big = path.with_name("ffffffff-existing-py3.11.json")
    with open(big, "wb") as f:            # sparse: no disk used
        f.truncate(load_module.MAX_FILE_BYTES + 1)
    opened = []
    real_open = open

    def spy(file, *args, **kwargs):
        opened.append(os.fspath(file) if isinstance(file, (str, os.PathLike)) else file)
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr("builtins.open", spy)
    frame, messages = _loaded(results)
    assert any(str(big) in m and "MiB" in m for m in messages), messages
    assert str(big) not in opened
    assert not _steps(frame).empty


def test_machine_json_and_sidecars_are_bounded_too(results):
    machine = results / "vm" / "machine.json"
    with open(machine, "wb") as f:
        f.truncate(load_module.MAX_FILE_BYTES + 1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = load(results)
    assert any("machine.json" in str(w.message) and "MiB" in str(w.message) for w in caught), \
        [str(w.message) for w in caught]
    assert "vm" in set(loaded.frame["machine"])
