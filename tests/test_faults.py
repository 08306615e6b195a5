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
    monkeypatch.setattr(cli, "cmd_strategies", _raises(exc))
    assert cli.main(["strategies"]) == code
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("lrperf strategies: "), err
    assert words in err and "Traceback" not in err


def test_debug_shows_the_traceback(monkeypatch):
    monkeypatch.setattr(cli, "cmd_strategies", _raises(KeyError("oops")))
    monkeypatch.setenv("LRPERF_DEBUG", "1")
    with pytest.raises(KeyError):
        cli.main(["strategies"])


def test_sigterm_handler_is_restored(monkeypatch):
    before = signal.getsignal(signal.SIGTERM)
    monkeypatch.setattr(cli, "cmd_strategies", lambda args: 0)
    assert cli.main(["strategies"]) == 0
    assert signal.getsignal(signal.SIGTERM) is before


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
        [sys.executable, "-m", "lrperf.cli", "train", "--strategy", "numba",
         "--iterations", "100000000"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
    try:
        _wait_for(proc.stdout, "Cost after iteration 0")
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == code, err
    assert err.count("\n") == 1 and words in err and "Traceback" not in err, err


# -- the study ends asv and every process asv started -----------------------------------------

FAKE_ASV = textwrap.dedent("""
    import os, subprocess, sys, time
    # Like asv's forkserver: a child in a process group of its own.
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"],
                             preexec_fn=lambda: os.setpgid(0, 0))
    print("pids", os.getpid(), child.pid, flush=True)
    time.sleep(120)
""")

SUPERVISOR = textwrap.dedent("""
    import signal, sys
    from lrperf import cli, study
    signal.signal(signal.SIGTERM, cli._terminate)
    try:
        study.run_supervised([sys.executable, "-c", sys.argv[1]], cwd=".", env=None,
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
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130 and "stopped" in out
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [p for p in pids if _alive(p)], "asv or its forkserver outlived the study"
