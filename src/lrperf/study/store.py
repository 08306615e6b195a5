"""The results store: where a run's files are staged, renamed and moved in.

asv writes into a staging folder beside the results; its files are moved in
(one ``os.replace`` each) only when asv has finished, so an interrupted,
killed or failed run leaves the earlier results as they were.  The
environment is named by the Python version (``existing-py3.11``), not by the
interpreter's path as asv names it, so no result, report or file name
carries a path of the machine that ran it.
"""
import glob
import json
import os
import shutil
import sys
import time
from pathlib import Path

from ..results_format import (SIDECAR_SUFFIX, portable_env_name, portable_result_name,
                              write_sidecar)

LOG_NAME = "asv.log"
LOCK_NAME = ".lrperf-study.lock"


class ResultsExist(ValueError):
    """A run would replace earlier results; bad input until ``replace`` is asked for."""


def existing_results(kind_dir, commit, machine=None):
    """Result files of ``commit`` in ``kind_dir`` (of ``machine``, or of any machine)."""
    # asv names the folder after the machine as it is; a name is matched literally
    # (``a*`` or ``[ab]`` must not find another machine's results).
    pattern = f"{glob.escape(machine) if machine else '*'}/{commit[:8]}-*.json"
    return sorted(p for p in Path(kind_dir).glob(pattern) if p.name != "machine.json")


def count_points(path):
    """Measured values in an asv result file (for the replace warning)."""
    try:
        data = json.loads(Path(path).read_text())
        total = 0
        for entry in data.get("results", {}).values():
            value = entry[0] if isinstance(entry, list) and entry else entry
            values = value if isinstance(value, list) else [value]
            total += sum(v is not None for v in values)
        return total
    except (OSError, ValueError, TypeError, AttributeError, IndexError):
        return None


def asv_result_name(machine, commit):
    """The file name asv itself gives results of ``--python=same`` (its environment
    is named after the interpreter's absolute path), by asv's own functions."""
    from asv import util
    from asv.environment import get_env_name
    from asv.results import get_filename
    exe = os.path.abspath(util.which(sys.executable))
    env = get_env_name("existing", exe.replace(os.path.sep, "_"), {}, {})
    return Path(get_filename(machine, commit, env)).name


def stage_existing(files, kind_dir, stage, commit):
    """Copy a commit's earlier result files into the staging folder under the names
    asv looks for: asv merges new results into them, so benchmarks not re-run keep
    their values.  Returns {copy: its stamp}."""
    staged = {}
    for path in files:
        dest = stage / path.relative_to(kind_dir)
        if path.name == portable_result_name(commit):
            dest = dest.with_name(asv_result_name(path.parent.name, commit))
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, dest)
        staged[dest] = _stamp(dest)
    return staged


def _stamp(path):
    st = path.stat()
    return st.st_mtime_ns, st.st_size, st.st_ino


def written(stage, staged):
    """Result files asv wrote in ``stage``: new ones, or staged copies it rewrote."""
    return [p for p in stage.glob("*/*.json")
            if p.name != "machine.json" and staged.get(p) != _stamp(p)]


def snapshot(stage, commit, folder):
    """Copies of this commit's result files in ``stage``: {file: copy}."""
    folder.mkdir()
    copies = {}
    for i, path in enumerate(stage.glob(f"*/{commit[:8]}-*.json")):
        copies[path] = folder / f"{i}.json"
        shutil.copy2(path, copies[path])
    return copies


def restore(copies):
    """Put back the files ``snapshot`` copied."""
    for path, copy in copies.items():
        os.replace(copy, path)


def describe_machine():
    """What the report says of the machine: CPU, SIMD flags, caches, versions, and the
    tuner's choices for numba_fused."""
    from ..grid import DTYPES, thread_counts
    from ..machine import machine_info
    from ..tuning import plan
    return {**machine_info(), "tuning": plan(thread_counts(), DTYPES)}


def make_portable(stage, commit, run_info=None):
    """Rename asv's result files of this run to the portable environment name and
    drop the interpreter's path from them (a report must not show the paths of
    the machine that ran it).  A file asv named otherwise than predicted is left
    as asv wrote it.  ``run_info`` (what this study did, e.g. its re-measure
    pass) goes into the sidecar as its "study" entry."""
    for path in stage.glob(f"*/{commit[:8]}-*.json"):
        if path.name != asv_result_name(path.parent.name, commit):
            continue
        data = json.loads(path.read_text(encoding="utf-8"))
        version = f"{sys.version_info[0]}.{sys.version_info[1]}"
        data["env_name"] = portable_env_name()
        data["python"] = version
        if isinstance(data.get("params"), dict) and "python" in data["params"]:
            data["params"]["python"] = version
        target = path.with_name(portable_result_name(commit))
        target.write_text(json.dumps(data), encoding="utf-8")
        path.unlink()
    t0 = time.perf_counter()
    info = describe_machine()
    if run_info is not None:
        # The machine's facts and the tuner's plan are measured here, after the
        # suite: part of the plan's cost, beside numba_fused's planning before it.
        seconds = run_info.setdefault("seconds", {})
        seconds["plan"] = round(seconds.get("plan", 0.0) + time.perf_counter() - t0, 1)
        info["study"] = run_info
    for path in stage.glob(f"*/{commit[:8]}-*.json"):
        write_sidecar(path, info)


def move_results(stage, kind_dir):
    """Move every file asv wrote into ``kind_dir``, one atomic rename each."""
    moved = []
    for path in sorted([*stage.rglob("*.json"), *stage.rglob(f"*{SIDECAR_SUFFIX}")]):
        dest = kind_dir / path.relative_to(stage)
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, dest)
        moved.append(dest)
    return moved
