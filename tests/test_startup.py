"""The lrperf command from its first instruction: Ctrl-C or SIGTERM while it
imports NumPy, Numba and the strategies, or a bad environment variable, ends in
one line and its exit status, never a traceback (docs/faults.md)."""
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import lrperf

SRC = Path(lrperf.__file__).resolve().parents[1]

# What the `lrperf` console script runs (`from lrperf.cli import main`), with a
# pause at the first import of one module: the signal is sent while the child
# is inside that import, whatever the machine's speed -- no delay is guessed.
# SIGINT's usual handler is put back by the child itself: CI may start it
# ignored, and a preexec_fn would run JAX's fork hook (a warning, an error here).
CHILD = textwrap.dedent("""
    import signal, sys, time
    signal.signal(signal.SIGINT, signal.default_int_handler)
    pause_at = sys.argv.pop(1)

    class PauseAt:
        def find_spec(self, name, path=None, target=None):
            if name == pause_at:
                sys.meta_path.remove(self)
                print("importing", name, flush=True)
                time.sleep(600)
            return None

    sys.meta_path.insert(0, PauseAt())
    sys.argv[0] = "lrperf"
    from lrperf.cli import main
    sys.exit(main())
""")


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if k != "LRPERF_DEBUG"}
    env["PYTHONPATH"] = str(SRC) + os.pathsep + os.environ.get("PYTHONPATH", "")
    env.update(extra)
    return env


# (module whose first import is interrupted, command): every heavy import of the
# start-up, under different commands.
PAUSES = [("numpy", ["--help"]), ("numba", ["strategies"]), ("lrperf.strategies", ["train"]),
          ("lrperf.cli.report", ["report", "--results", "nowhere"])]
SIGNALS = [(signal.SIGINT, 130, "lrperf: interrupted (Ctrl-C)"),
           (signal.SIGTERM, 143, "lrperf: terminated (SIGTERM)")]


@pytest.mark.parametrize("signum, code, line", SIGNALS, ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("module, argv", PAUSES, ids=[m for m, _ in PAUSES])
def test_a_signal_during_start_up_is_one_line_and_its_status(module, argv, signum, code, line):
    proc = subprocess.Popen([sys.executable, "-c", CHILD, module, *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=_env())
    try:
        first = proc.stdout.readline()  # blocks until the child is inside that import
        assert first == f"importing {module}\n", (first, proc.communicate(timeout=120))
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == code, err
    assert err == line + "\n", err
    assert out == ""


BAD_ENV = [
    ("NUMBA_NUM_THREADS", "0", ["--help"], "NUMBA_NUM_THREADS must be an integer >= 1"),
    ("NUMBA_NUM_THREADS", "many", ["strategies"], "NUMBA_NUM_THREADS must be an integer >= 1"),
    ("LRPERF_TUNING", "sometimes", ["strategies"], "LRPERF_TUNING must be one of on, off, auto"),
    ("LRPERF_BENCH_GRID", "huge", ["--help"], "LRPERF_BENCH_GRID must be one of"),
    ("LRPERF_BENCH_TIME_BOUND", "maybe", ["train"], "LRPERF_BENCH_TIME_BOUND must be 'on' or 'off'"),
]


@pytest.mark.parametrize("var, value, argv, words", BAD_ENV, ids=[f"{v}={x}" for v, x, *_ in BAD_ENV])
def test_a_bad_environment_variable_is_one_line_and_exit_2(var, value, argv, words):
    out = subprocess.run([sys.executable, "-m", "lrperf.cli", *argv], capture_output=True,
                         text=True, env=_env(**{var: value}), timeout=300)
    assert out.returncode == 2, out.stderr
    assert out.stderr.startswith(f"lrperf: error: {words}") and out.stderr.count("\n") == 1, \
        out.stderr
    assert repr(value) in out.stderr and out.stdout == ""


def test_importing_the_entry_point_loads_nothing_heavy():
    # What the console script imports before main() runs must not be NumPy or
    # Numba: Ctrl-C there could only give a traceback.
    code = ("import sys; from lrperf.cli import main; "
            "print(sorted(m for m in ('numpy', 'numba', 'lrperf.strategies', 'lrperf.api') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=_env(), timeout=120, check=True)
    assert out.stdout == "[]\n"


def test_sigterm_during_tune_is_terminated_not_ctrl_c(tmp_path):
    # tune ends its own interrupts (it says what it saved); the status comes from
    # lrperf.signals, as for every command: 143, not Ctrl-C's 130.
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, "no.such.module", "tune", "--shapes", "64x64", "128x128",
         "--threads", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=_env(LRPERF_WISDOM=str(tmp_path / "wisdom.json")))
    try:
        seen = []
        for text in proc.stderr:  # the first key planned: tune's loop is running
            seen.append(text)
            if text.startswith("  ") and "s)" in text:
                break
        else:
            raise AssertionError("".join(seen))
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    last = err.strip().splitlines()[-1]
    assert proc.returncode == 143, err
    assert last.startswith("lrperf tune: terminated (SIGTERM); ") and "Traceback" not in err, err
