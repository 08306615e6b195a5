"""The dask strategy from the command line: a LocalCluster started on first use and
closed at exit, a Zarr store for ``train --data``, a lost scheduler ending in one
line, and the strategy's absence without dask.  Every child has a deadline."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import lrperf
from lrperf import datasets

if not lrperf.STRATEGIES["dask"].available:
    pytest.skip(lrperf.STRATEGIES["dask"].unavailable, allow_module_level=True)

ROOT = Path(__file__).resolve().parents[1]
DEADLINE = 120  # seconds: any child process of these tests


def _env(**extra):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)]))
    env.update(extra)
    return env


def _lrperf(*args, **env):
    return subprocess.run([sys.executable, "-m", "lrperf.cli", *args], capture_output=True,
                          text=True, timeout=DEADLINE, env=_env(**env), cwd=ROOT,
                          start_new_session=True)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return datasets.write_zarr(tmp_path_factory.mktemp("zarr") / "s.zarr", 20, 3000, 600,
                               chunk=500)


def _no_process_left(pgid):
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.2)
    os.killpg(pgid, signal.SIGKILL)
    return False


def test_train_from_a_store_on_a_local_cluster_started_and_closed(store):
    child = subprocess.Popen([sys.executable, "-m", "lrperf.cli", "train", "--data", str(store),
                              "--strategy", "dask", "--iterations", "30",
                              "--learning-rate", "0.5"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=_env(), cwd=ROOT, start_new_session=True)
    out, err = child.communicate(timeout=DEADLINE)
    assert child.returncode == 0, err
    assert "the Zarr store" in out and "6 chunks" in out and "train accuracy" in out
    assert "Traceback" not in err
    # The cluster's worker processes went with it (closed at exit, none left).
    assert _no_process_left(child.pid)


def test_a_store_with_an_in_memory_strategy_is_one_line(store):
    result = _lrperf("train", "--data", str(store), "--strategy", "numpy", "--iterations", "1")
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "chunked array" in lines[0] and "dask" in lines[0], result.stderr


def test_without_distributed_the_strategy_is_unavailable_with_the_reason():
    code = ("import sys; sys.modules['distributed'] = None\n"
            "import lrperf; print(lrperf.STRATEGIES['dask'].unavailable)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=DEADLINE, env=_env(), check=True).stdout
    assert "distributed" in out and "pip install 'lrperf[dask]'" in out


def test_a_lost_scheduler_ends_with_one_line(tmp_path):
    scheduler_file = tmp_path / "scheduler.json"
    procs = []
    try:
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_scheduler", "--port", "0",
             "--dashboard-address", ":0", "--scheduler-file", str(scheduler_file)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_env(),
            start_new_session=True))
        deadline = time.monotonic() + DEADLINE
        while not scheduler_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        import json
        time.sleep(0.2)
        address = json.loads(scheduler_file.read_text())["address"]
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1",
             "--nworkers", "1", "--no-dashboard"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_env(),
            start_new_session=True))
        train = subprocess.Popen(
            [sys.executable, "-m", "lrperf.cli", "train", "--strategy", "dask",
             "--iterations", "1000000"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
            env=_env(DASK_SCHEDULER_ADDRESS=address, DASK_LRPERF__STEP_TIMEOUT="30",
                     DASK_LRPERF__START_TIMEOUT="60"),
            start_new_session=True)
        procs.append(train)
        line = ""
        while "Cost after iteration" not in line and time.monotonic() < deadline:
            line = train.stdout.readline()
            if not line and train.poll() is not None:
                break
        assert "Cost after iteration" in line, train.stderr.read()
        os.killpg(procs[0].pid, signal.SIGKILL)
        t0 = time.monotonic()
        _, err = train.communicate(timeout=DEADLINE)
        waited = time.monotonic() - t0
        lines = err.strip().splitlines()
        assert train.returncode != 0
        assert len(lines) == 1 and "scheduler" in lines[0], err
        assert waited < 60
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=DEADLINE)
            for stream in (p.stdout, p.stderr):
                if stream is not None:
                    stream.close()


def test_train_keeps_only_distributeds_warnings_unless_the_user_set_its_level(monkeypatch):
    """An INFO record begun in distributed's thread as the scheduler dies could print
    after the command's one line of error: train keeps distributed's warnings only."""
    import logging

    pytest.importorskip("distributed")
    from lrperf.cli import train
    log = logging.getLogger("distributed")
    before = log.level
    try:
        log.setLevel(logging.INFO)
        monkeypatch.setenv("DASK_LOGGING__DISTRIBUTED", "info")
        train._quiet_cluster_logs("dask")
        assert log.level == logging.INFO          # the user's own choice stays
        monkeypatch.delenv("DASK_LOGGING__DISTRIBUTED")
        train._quiet_cluster_logs("numpy")
        assert log.level == logging.INFO          # no cluster, nothing touched
        train._quiet_cluster_logs("dask")
        assert log.level == logging.WARNING
    finally:
        log.setLevel(before)
