"""``lrperf study``: run the asv suite on the working tree, then build the report.

The suite (``benchmarks/``, configured by ``asv.conf.json``) runs in the
current Python against the lrperf importable here (the working tree, for an
editable install); results are recorded under the commit hash of HEAD.
"""
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from .grid import GRIDS


def find_repo_root(start=None):
    """The source checkout holding asv.conf.json: from ``start`` (cwd) upwards, else beside lrperf."""
    here = Path(start or os.getcwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "asv.conf.json").is_file() and (folder / "benchmarks").is_dir():
            return folder
    raise FileNotFoundError(
        "lrperf study needs a source checkout of lrperf (asv.conf.json and benchmarks/), "
        f"none found in {here} or its parents: run it inside a clone of the repository"
    )


def _asv():
    try:
        import asv  # noqa: F401
        import psutil  # noqa: F401
        from asv import util
    except ImportError as exc:
        raise ImportError(f"lrperf study needs asv and psutil ({exc}): "
                          "pip install 'lrperf[bench]'") from None
    return util


def _git(repo_root, *args):
    try:
        out = subprocess.run(["git", *args], cwd=repo_root, check=True,
                             capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise FileNotFoundError(
            f"lrperf study records results under a git commit: `git {' '.join(args)}` "
            f"failed in {repo_root} ({exc})") from None
    return out.stdout.strip()


def write_config(repo_root, results_dir, folder):
    """A copy of asv.conf.json with absolute paths and ``results_dir``; returns its path."""
    util = _asv()
    conf = util.load_json(str(repo_root / "asv.conf.json"), js_comments=True)
    for key in ("env_dir", "html_dir"):
        conf[key] = str((repo_root / conf[key]).resolve())
    conf["repo"] = str(repo_root)
    conf["benchmark_dir"] = str(repo_root / conf.get("benchmark_dir", "benchmarks"))
    conf["results_dir"] = str(Path(results_dir).resolve())
    path = Path(folder) / "asv.conf.json"
    path.write_text(json.dumps(conf, indent=2))
    return path


def ensure_machine_file(env):
    """asv refuses to run before ``asv machine`` has described the machine."""
    if not (Path(env.get("HOME", Path.home())) / ".asv-machine.json").is_file():
        subprocess.run([sys.executable, "-m", "asv", "machine", "--yes"], env=env, check=True,
                       stdout=subprocess.DEVNULL)


class _Heartbeat:
    """Copies asv's output; says the run is alive when asv is silent for a minute.

    asv reports a benchmark when all its grid points are done, minutes apart.
    """

    def __init__(self, stream, every=60.0):
        self.stream = stream
        self.start = time.perf_counter()
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.last = self.start
        self.thread = threading.Thread(target=self._run, args=(every,), daemon=True)
        self.thread.start()

    def write(self, line):
        with self.lock:
            self.stream.write(line)
            self.stream.flush()
            self.last = time.perf_counter()

    def _run(self, every):
        while not self.done.wait(5.0):
            now = time.perf_counter()
            if now - self.last >= every:
                self.write(f"      ... still running, {(now - self.start) / 60:.1f} min elapsed\n")

    def stop(self):
        self.done.set()
        self.thread.join()


def run_suite(repo_root=None, results_dir=None, *, quick=False, grid="full", bench=None,
              show_stderr=False, stream=None):
    """Run the asv suite on the working tree; returns the results folder.

    ``grid`` is LRPERF_BENCH_GRID ("full", "quick" or "tiny"); ``bench`` an asv
    ``-b`` regular expression; ``show_stderr`` shows the benchmarks' output
    (why points were skipped).  asv's own output (its progress) goes to
    ``stream`` (stdout).
    """
    if grid not in GRIDS:
        raise ValueError(f"grid must be one of {GRIDS}, got {grid!r}")
    stream = stream if stream is not None else sys.stdout
    repo_root = Path(repo_root) if repo_root is not None else find_repo_root()
    results_dir = Path(results_dir) if results_dir is not None else repo_root / ".asv" / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    commit = _git(repo_root, "rev-parse", "HEAD")
    if _git(repo_root, "status", "--porcelain", "--untracked-files=no"):
        print(f"note: the working tree has uncommitted changes; its results are recorded "
              f"under HEAD {commit[:8]}", file=stream, flush=True)
    env = dict(os.environ, LRPERF_BENCH_GRID=grid)
    ensure_machine_file(env)
    with tempfile.TemporaryDirectory(prefix="lrperf-study-") as tmp:
        config = write_config(repo_root, results_dir, tmp)
        cmd = [sys.executable, "-m", "asv", "run", "--config", str(config), "--python=same",
               "--set-commit-hash", commit, "--launch-method", "forkserver"]
        if quick:
            cmd.append("--quick")
        if bench:
            cmd += ["--bench", bench]
        if show_stderr:
            cmd.append("--show-stderr")
        print(f"running the benchmark suite ({grid} grid{', quick' if quick else ''}) "
              f"on the working tree at {repo_root}", file=stream, flush=True)
        beat = _Heartbeat(stream)
        try:
            code = run_supervised(cmd, cwd=repo_root, env=env, on_line=beat.write)
        finally:
            beat.stop()
    # asv exits non-zero when some benchmark failed; the others are saved.
    if not any(results_dir.glob(f"*/{commit[:8]}-*.json")):
        raise RuntimeError(f"asv run failed (exit status {code}) and wrote no results "
                           f"to {results_dir}")
    if code != 0:
        print(f"warning: asv run exited with status {code}: some benchmarks failed "
              f"(see above); the others are saved", file=stream, flush=True)
    return results_dir


def _session_members(sid):
    """Live processes of session ``sid``: asv and everything it started, whatever
    process group they moved to (asv puts each forkserver in a group of its own)."""
    import psutil
    members = []
    for proc in psutil.process_iter():
        try:
            if os.getsid(proc.pid) == sid:
                members.append(proc)
        except (OSError, psutil.Error):  # gone meanwhile
            continue
    return members


def stop_session(proc, grace=3.0):
    """End ``proc`` (started with ``start_new_session``) and every process of its session.

    SIGTERM first, SIGKILL after ``grace`` seconds; repeated while the session
    still has members, so a child forked during the sweep is caught too.
    """
    import psutil
    sid = proc.pid
    for signum in (signal.SIGTERM, signal.SIGKILL, signal.SIGKILL):
        members = _session_members(sid)
        if not members:
            break
        for member in members:
            with contextlib.suppress(psutil.Error):
                member.send_signal(signum)
        psutil.wait_procs(members, timeout=grace)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace)


def run_supervised(cmd, *, cwd, env, on_line):
    """Run ``cmd`` in a session of its own, passing each output line to ``on_line``;
    return its exit status.

    Its own session keeps the terminal's Ctrl-C from reaching asv half-way;
    on any exception here (KeyboardInterrupt, SIGTERM raised as one) the whole
    session is ended before the exception goes on, so no asv or forkserver
    outlives lrperf.
    """
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True,
                            bufsize=1, start_new_session=True)
    try:
        for line in proc.stdout:
            on_line(line)
        return proc.wait()
    except BaseException:
        stop_session(proc)
        raise
    finally:
        proc.stdout.close()


def publish_html(repo_root, results_dir):
    """asv's own HTML pages (``asv preview`` serves them); returns the folder."""
    with tempfile.TemporaryDirectory(prefix="lrperf-study-") as tmp:
        config = write_config(repo_root, results_dir, tmp)
        subprocess.run([sys.executable, "-m", "asv", "publish", "--config", str(config)],
                       cwd=repo_root, check=True, stdout=subprocess.DEVNULL)
        return Path(json.loads(Path(config).read_text())["html_dir"])
