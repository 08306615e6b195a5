"""Interrupts and faults at the entry points: one line, a documented exit status, nothing lost.

The table of these promises is docs/faults.md.
"""
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import lrperf
from lrperf import api, cli, registry

SRC = Path(lrperf.__file__).resolve().parents[1]


def _env(**extra):
    env = dict(os.environ, PYTHONPATH=str(SRC) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.update(extra)
    return env


# -- Ctrl-C inside compiled code ------------------------------------------------------------

def _numba_style_interrupt(w, b, X, Y):
    # What CPython raises when a Numba dispatcher returns with the KeyboardInterrupt set.
    try:
        raise KeyboardInterrupt
    except KeyboardInterrupt as exc:
        raise SystemError("CPUDispatcher(<function step>) returned a result with an "
                          "exception set") from exc


def _other_system_error(w, b, X, Y):
    raise SystemError("a genuine internal error")


@pytest.fixture
def fake_strategy(monkeypatch):
    def install(step):
        record = registry.Strategy(name="fake_step", step=step, description="test double",
                                   order=99)
        monkeypatch.setitem(registry.STRATEGIES, "fake_step", record)
        return "fake_step"
    return install


def _call(entry, name):
    X = np.ones((3, 4))
    Y = np.array([[0.0, 1.0, 1.0, 0.0]])
    w = np.zeros((3, 1))
    if entry == "propagate":
        return api.propagate(w, 0.0, X, Y, strategy=name)
    if entry == "optimize":
        return api.optimize(w, 0.0, X, Y, 5, 0.1, strategy=name)
    return api.model(X, Y, X, Y, 5, 0.1, strategy=name)


@pytest.mark.parametrize("entry", ["propagate", "optimize", "model"])
def test_numba_interrupt_surfaces_as_keyboard_interrupt(fake_strategy, entry):
    name = fake_strategy(_numba_style_interrupt)
    with pytest.raises(KeyboardInterrupt) as info:
        _call(entry, name)
    assert type(info.value) is KeyboardInterrupt


@pytest.mark.parametrize("entry", ["propagate", "optimize", "model"])
def test_other_system_errors_are_not_disguised(fake_strategy, entry):
    name = fake_strategy(_other_system_error)
    with pytest.raises(SystemError, match="genuine internal error"):
        _call(entry, name)


def test_interruptible_keeps_the_signature_and_docs():
    assert api.propagate.__name__ == "propagate"
    assert "forward and backward" in api.propagate.__doc__


# -- one line and an exit status for every failure -------------------------------------------

def _raises(exc):
    def cmd(args):
        raise exc
    return cmd


def _numba_style():
    try:
        _numba_style_interrupt(None, None, None, None)
    except SystemError as exc:
        return exc


@pytest.mark.parametrize("exc, code, words", [
    (KeyboardInterrupt(), 130, "interrupted"),
    (cli.Terminated(), 143, "terminated"),
    (_numba_style(), 130, "interrupted"),
    (ValueError("n must be 3, got 4"), 2, "error: n must be 3, got 4"),
    (PermissionError(13, "Permission denied", "/x"), 2, "Permission denied"),
    (NotADirectoryError(20, "Not a directory", "/f/x"), 2, "Not a directory"),
    (RuntimeError("asv run failed"), 1, "error: asv run failed"),
    (OSError(28, "No space left on device"), 1, "No space left"),
    (KeyError("oops"), 1, "internal error: KeyError"),
])
def test_every_failure_is_one_line_and_a_status(monkeypatch, capsys, exc, code, words):
    monkeypatch.setattr(cli.strategies, "run", _raises(exc))
    assert cli.main(["strategies"]) == code
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("lrperf strategies: "), err
    assert words in err and "Traceback" not in err


def test_debug_shows_the_traceback(monkeypatch):
    monkeypatch.setattr(cli.strategies, "run", _raises(KeyError("oops")))
    monkeypatch.setenv("LRPERF_DEBUG", "1")
    with pytest.raises(KeyError):
        cli.main(["strategies"])


def test_sigterm_handler_is_restored(monkeypatch):
    before = signal.getsignal(signal.SIGTERM)
    monkeypatch.setattr(cli.strategies, "run", lambda args: 0)
    assert cli.main(["strategies"]) == 0
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_closed_output_pipe_is_quiet():
    # `lrperf strategies | head -0`: the reader is gone before lrperf writes.
    proc = subprocess.Popen([sys.executable, "-m", "lrperf.cli", "strategies"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env())
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=120) == 1
    assert err == "", err


# A child started from a shell without job control (`.ci/run &` in a script) inherits
# SIGINT ignored, and Python then installs no KeyboardInterrupt handler. The child
# restores the handler a terminal user's process has, itself: a preexec_fn would run
# the parent's fork hooks, and JAX's (once imported by an earlier test) warns, which
# pytest turns into an error.
DEFAULT_SIGINT = "import signal; signal.signal(signal.SIGINT, signal.default_int_handler)\n"


def _cli(*args):
    """argv that runs ``lrperf <args>`` in a child with the usual SIGINT handler."""
    code = (DEFAULT_SIGINT + "import runpy, sys; sys.argv[0] = 'lrperf'; "
            "runpy.run_module('lrperf.cli', run_name='__main__', alter_sys=True)")
    return [sys.executable, "-c", code, *args]


def _end(proc):
    """Kill ``proc`` if it still runs, and close its pipes (no ResourceWarning later)."""
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


def _wait_for(stream, text, timeout=120.0):
    """Read ``stream`` line by line until a line contains ``text``; return what was read."""
    seen = []
    deadline = time.monotonic() + timeout
    for line in stream:
        seen.append(line)
        if text in line:
            return "".join(seen)
        if time.monotonic() > deadline:
            break
    raise AssertionError(f"{text!r} never appeared in:\n{''.join(seen)[-2000:]}")


@pytest.mark.parametrize("signum, code, words", [(signal.SIGINT, 130, "interrupted"),
                                                 (signal.SIGTERM, 143, "terminated")])
def test_train_stops_with_one_line(signum, code, words):
    # numba: an interrupt inside compiled code is the case that used to give a SystemError.
    proc = subprocess.Popen(
        _cli("train", "--strategy", "numba", "--iterations", "100000000"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
    try:
        _wait_for(proc.stdout, "Cost after iteration 0")
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=60)
    finally:
        _end(proc)
    assert proc.returncode == code, err
    assert err.count("\n") == 1 and words in err and "Traceback" not in err, err


# -- the study ends asv and every process asv started -----------------------------------------

FAKE_ASV = textwrap.dedent("""
    import os, subprocess, sys, time
    # Like asv's forkserver: a child in a process group of its own; this one even
    # ignores SIGTERM, so that only the SIGKILL after the grace period ends it.
    child = subprocess.Popen(
        [sys.executable, "-c",
         "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
         "print('ready', flush=True); time.sleep(120)"],
        preexec_fn=lambda: os.setpgid(0, 0), stdout=subprocess.PIPE, text=True)
    child.stdout.readline()
    print("pids", os.getpid(), child.pid, flush=True)
    time.sleep(120)
""")

SUPERVISOR = DEFAULT_SIGINT + textwrap.dedent("""
    import signal, sys
    from lrperf import cli, study
    signal.signal(signal.SIGTERM, cli._terminate)
    try:
        study.supervise.run_supervised([sys.executable, "-c", sys.argv[1]], cwd=".", env=None,
                                       on_line=lambda line: print(line, end="", flush=True))
    except KeyboardInterrupt as exc:
        print("stopped", type(exc).__name__, flush=True)
        sys.exit(130)
""")


def _alive(pid):
    import psutil
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_study_leaves_no_process_behind(signum):
    pytest.importorskip("psutil")
    proc = subprocess.Popen([sys.executable, "-c", SUPERVISOR, FAKE_ASV],
                            stdout=subprocess.PIPE, text=True, env=_env())
    try:
        line = _wait_for(proc.stdout, "pids").split()
        pids = [int(p) for p in line[line.index("pids") + 1:]]
        assert all(_alive(p) for p in pids)
        proc.send_signal(signum)
        # A second one during the cleanup (the child ignores SIGTERM: 3 s of grace).
        time.sleep(1.0)
        proc.send_signal(signum)
        out, _ = proc.communicate(timeout=60)
    finally:
        _end(proc)
    assert proc.returncode == 130 and "stopped" in out
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [p for p in pids if _alive(p)], "asv or its forkserver outlived the study"


# -- the cat loader names the file and what it should hold ----------------------------------

def _cat_file(path, prefix, x_name=None, y_name=None, m=4, y=None):
    h5py = pytest.importorskip("h5py")
    with h5py.File(path, "w") as f:
        f[x_name or f"{prefix}_set_x"] = np.zeros((m, 2, 2, 3), dtype=np.uint8)
        f[y_name or f"{prefix}_set_y"] = np.array(y if y is not None else [0, 1] * (m // 2))


@pytest.fixture
def cat_dir(tmp_path):
    _cat_file(tmp_path / "train_catvnoncat.h5", "train")
    _cat_file(tmp_path / "test_catvnoncat.h5", "test")
    return tmp_path


def test_a_good_small_cat_folder_loads(cat_dir):
    data = lrperf.datasets.load_catvnoncat(cat_dir)
    assert data.X_train.shape == (12, 4) and data.Y_test.shape == (1, 4)


def _damage(cat_dir, how):
    import h5py
    path = cat_dir / "test_catvnoncat.h5"
    if how == "truncated":
        raw = path.read_bytes()
        path.write_bytes(raw[: len(raw) // 2])
    elif how == "not HDF5":
        path.write_text("<html>404 not found</html>")
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "wrong names":
        _cat_file(path, "test", x_name="test_x", y_name="test_y")
    elif how == "a group":
        with h5py.File(path, "w") as f:
            f.create_group("test_set_x")
            f["test_set_y"] = np.array([0, 1])
    elif how == "labels not 0/1":
        _cat_file(path, "test", y=[0, 1, 2, 1])
    elif how == "count mismatch":
        with h5py.File(path, "w") as f:
            f["test_set_x"] = np.zeros((4, 2, 2, 3), dtype=np.uint8)
            f["test_set_y"] = np.array([0, 1, 1])
    return path


DAMAGES = ["truncated", "not HDF5", "empty", "wrong names", "a group", "labels not 0/1",
           "count mismatch"]


@pytest.mark.parametrize("how", DAMAGES)
def test_a_damaged_cat_file_is_a_value_error_naming_it(cat_dir, how):
    path = _damage(cat_dir, how)
    with pytest.raises(ValueError) as info:
        lrperf.datasets.load_catvnoncat(cat_dir)
    text = str(info.value)
    assert str(path) in text and "test_set_" in text, text


@pytest.mark.parametrize("how", ["truncated", "wrong names"])
def test_train_on_a_damaged_cat_file_is_one_line_and_exit_2(cat_dir, how):
    path = _damage(cat_dir, how)
    out = subprocess.run([sys.executable, "-m", "lrperf.cli", "train", "--data", str(cat_dir)],
                         capture_output=True, text=True, env=_env(), timeout=300)
    assert out.returncode == 2, out.stderr
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
    assert out.stderr.startswith("lrperf train: error: ") and str(path) in out.stderr


# -- bad --out and --results: one line, exit 2, before any work -----------------------------

FIXTURE_RESULTS = Path(__file__).resolve().parent / "fixtures" / "asv_results"


def _read_only(folder):
    """Make ``folder`` unwritable, also for root (immutable); skip where neither works."""
    folder.chmod(0o555)
    if os.access(folder, os.W_OK):
        if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
            pytest.skip("cannot make a folder read-only for this user here")
    return lambda: subprocess.run(["chattr", "-i", str(folder)], capture_output=True)


@pytest.mark.parametrize("case", ["read-only", "a file", "a file as parent"])
def test_report_refuses_a_bad_out(tmp_path, capsys, case):
    undo = lambda: None  # noqa: E731
    if case == "read-only":
        (tmp_path / "ro").mkdir()
        undo = _read_only(tmp_path / "ro")
        out = tmp_path / "ro" / "reports"
    elif case == "a file":
        out = tmp_path / "reports"
        out.write_text("not a folder")
    else:
        (tmp_path / "file").write_text("x")
        out = tmp_path / "file" / "reports"
    try:
        code = cli.main(["report", "--results", str(FIXTURE_RESULTS), "--out", str(out)])
    finally:
        undo()
        if (tmp_path / "ro").exists():
            (tmp_path / "ro").chmod(0o755)
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert err.startswith("lrperf report: error: --out") and "Traceback" not in err
    assert {"read-only": "not writable", "a file": "which is a file",
            "a file as parent": "is a file, not a folder"}[case] in err


@pytest.mark.parametrize("case", ["unreadable", "a file", "missing"])
def test_report_refuses_a_bad_results(tmp_path, capsys, monkeypatch, case):
    results = tmp_path / "results"
    if case == "unreadable":
        results.mkdir()
        results.chmod(0)
        if os.access(results, os.R_OK):
            # root reads anything: let access() answer as it would for another user.
            real = os.access
            monkeypatch.setattr(os, "access", lambda p, mode, **kw:
                                False if Path(p) == results else real(p, mode, **kw))
    elif case == "a file":
        results.write_text("{}")
    try:
        code = cli.main(["report", "--results", str(results), "--out", str(tmp_path / "r")])
    finally:
        if results.exists():
            results.chmod(0o755)
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert err.startswith("lrperf report: error: --results") and "Traceback" not in err
    assert {"unreadable": "cannot be read", "a file": "which is a file",
            "missing": "does not exist"}[case] in err
    assert not (tmp_path / "r").exists()
