"""Where the study runs: the checkout, its git commit, asv's configuration and machine."""
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

from ..grid import GRIDS


def find_repo_root(start=None):
    """The source checkout holding asv.conf.json: ``start`` (the cwd) or a folder above it."""
    here = Path(start or os.getcwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "asv.conf.json").is_file() and (folder / "benchmarks").is_dir():
            return folder
    raise FileNotFoundError(
        "lrperf study needs a source checkout of lrperf (asv.conf.json and benchmarks/), "
        f"none found in {here} or its parents: run it inside a clone of the repository"
    )


def require_asv():
    """asv's util module; ImportError naming the extra to install when asv is missing."""
    try:
        import asv  # noqa: F401
        import psutil  # noqa: F401
        from asv import util
    except ImportError as exc:
        raise ImportError(f"lrperf study needs asv and psutil ({exc}): "
                          "pip install 'lrperf[bench]'") from None
    return util


def git(repo_root, *args):
    """The output of ``git ARGS`` in ``repo_root``; FileNotFoundError saying why it failed."""
    try:
        out = subprocess.run(["git", *args], cwd=repo_root, check=True,
                             capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise FileNotFoundError(
            f"lrperf study records results under a git commit: `git {' '.join(args)}` "
            f"failed in {repo_root} ({exc})") from None
    return out.stdout.strip()


def run_kind(grid, quick):
    """Name of the results folder of a grid and mode: runs of one kind compare."""
    if grid not in GRIDS:
        raise ValueError(f"grid must be one of {list(GRIDS)}, got {grid!r}")
    return f"{grid}-quick" if quick else grid


def write_config(repo_root, results_dir, folder, html_dir=None):
    """A copy of asv.conf.json with absolute paths and ``results_dir``; returns its path."""
    util = require_asv()
    conf = util.load_json(str(repo_root / "asv.conf.json"), js_comments=True)
    for key in ("env_dir", "html_dir"):
        conf[key] = str((repo_root / conf[key]).resolve())
    if html_dir is not None:
        conf["html_dir"] = str(Path(html_dir).resolve())
    conf["repo"] = str(repo_root)
    conf["benchmark_dir"] = str(repo_root / conf.get("benchmark_dir", "benchmarks"))
    conf["results_dir"] = str(Path(results_dir).resolve())
    path = Path(folder) / "asv.conf.json"
    path.write_text(json.dumps(conf, indent=2))
    return path


def ensure_machine_file(env):
    """asv refuses to run before ``asv machine`` has described the machine."""
    if not (Path(env.get("HOME", Path.home())) / ".asv-machine.json").is_file():
        out = subprocess.run([sys.executable, "-m", "asv", "machine", "--yes"], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"`asv machine --yes` failed (exit status {out.returncode}): "
                               f"{out.stdout.strip()[-300:]}")


def machine_name(env):
    """The machine name asv will record results under (as asv picks it), or None."""
    try:
        data = json.loads((Path(env.get("HOME", Path.home())) / ".asv-machine.json")
                          .read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    names = [k for k, v in data.items() if k != "version" and isinstance(v, dict)]
    node = platform.uname().node
    if node in names:
        return str(data[node].get("machine", node))
    if len(names) == 1:
        return str(data[names[0]].get("machine", names[0]))
    return None
