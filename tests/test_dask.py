"""The dask strategy on a small LocalCluster: equal to numpy, deterministic, from a
Zarr store larger than a worker's memory, and through a lost worker.

Every wait is bounded (lrperf.step-timeout, the fixtures' timeouts); each cluster
is closed by its fixture, so no process or thread outlives the module."""
import os
import signal
import time

import numpy as np
import pytest

import lrperf
from lrperf import datasets

if not lrperf.STRATEGIES["dask"].available:
    pytest.skip(lrperf.STRATEGIES["dask"].unavailable, allow_module_level=True)

import dask  # noqa: E402
import dask.array as da  # noqa: E402
import distributed  # noqa: E402

RTOL = 1e-9
TIMEOUT = 60  # seconds: any wait of these tests


def _cluster(**kwargs):
    return distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                    scheduler_port=0, dashboard_address=":0",
                                    silence_logs=50, **kwargs)


class _PeakManaged(distributed.WorkerPlugin):
    """The most data (bytes distributed manages) a worker held at once."""

    def setup(self, worker):
        self.worker = worker
        worker.peak_managed = 0

    def transition(self, key, start, finish, **kwargs):
        w = self.worker
        w.peak_managed = max(w.peak_managed, w.state.nbytes)


LIMIT = 4 << 20  # bytes a worker may hold: well under the larger-than-memory X below


@pytest.fixture(scope="module")
def client():
    # The limit binds the data distributed manages (spilled past its target);
    # the process-memory thresholds are off, as a Python worker with Numba
    # loaded has a larger resident size (~200 MB) than this test's limit.
    off = {f"distributed.worker.memory.{k}": False for k in ("spill", "pause", "terminate")}
    with dask.config.set({**off, "lrperf.step-timeout": TIMEOUT}):
        with _cluster(memory_limit=LIMIT) as cluster, \
                distributed.Client(cluster, timeout=TIMEOUT) as c:
            c.wait_for_workers(2, timeout=TIMEOUT)
            c.register_plugin(_PeakManaged(), name="peak")
            yield c


def _problem(n_x=40, m=3000, order="F", seed=3):
    X, Y = datasets.synthetic(n_x, m, order=order, seed=seed)
    w = np.random.default_rng(seed).standard_normal((n_x, 1)) * 0.1
    return w, 0.2, X, Y


@pytest.mark.parametrize("order", ["F", "C"])
def test_step_matches_numpy_and_repeats_bit_for_bit(client, order):
    w, b, X, Y = _problem(order=order)
    g, cost = lrperf.propagate(w, b, X, Y, strategy="dask")
    g0, cost0 = lrperf.propagate(w, b, X, Y, strategy="numpy")
    np.testing.assert_allclose(g["dw"], g0["dw"], rtol=RTOL)
    np.testing.assert_allclose([g["db"], cost], [g0["db"], cost0], rtol=RTOL)
    again, cost_again = lrperf.propagate(w, b, X, Y, strategy="dask")
    assert np.array_equal(again["dw"], g["dw"]) and again["db"] == g["db"] and cost_again == cost


def test_dask_array_chunks_match_numpy(client, tmp_path):
    store = datasets.write_zarr(tmp_path / "s.zarr", 30, 2500, 500, chunk=300)
    split = datasets.open_zarr(store)
    assert split.X_train.chunks[1][0] == 300
    X = np.asarray(split.X_train.compute())
    w = np.linspace(-0.1, 0.1, 30)
    p, _, costs = lrperf.optimize(w, 0.0, split.X_train, split.Y_train, 20, 0.5, strategy="dask")
    p0, _, costs0 = lrperf.optimize(w, 0.0, X, split.Y_train, 20, 0.5, strategy="numpy")
    np.testing.assert_allclose(p["w"], p0["w"], rtol=RTOL)
    np.testing.assert_allclose(costs, costs0, rtol=RTOL)


def test_chunks_along_the_features_are_refused(client, tmp_path):
    split = datasets.open_zarr(datasets.write_zarr(tmp_path / "s.zarr", 20, 400, 1, chunk=100))
    X = split.X_train.rechunk((10, 100))
    with pytest.raises(ValueError, match=r"chunked along the examples only.*rechunk\(\{0: -1\}\)"):
        lrperf.propagate(np.zeros(20), 0.0, X, split.Y_train, strategy="dask")


def test_an_in_memory_strategy_refuses_a_dask_array(client):
    X = da.zeros((3, 8), chunks=(3, 4))
    with pytest.raises(TypeError, match=r"chunked array.*'numpy'.*X.compute\(\)"):
        lrperf.propagate(np.zeros(3), 0.0, X, np.zeros(8), strategy="numpy")


def test_zarr_larger_than_a_workers_memory(client, tmp_path):
    n_x, m, chunk = 100, 24_000, 1_000        # X: 19.2 MB in 24 chunks of 0.8 MB
    store = datasets.write_zarr(tmp_path / "big.zarr", n_x, m, 2_000, chunk=chunk)
    split = datasets.open_zarr(store)
    assert split.X_train.nbytes > 4 * LIMIT
    client.run(lambda dask_worker: setattr(dask_worker, "peak_managed", 0))
    result = lrperf.model(split.X_train, split.Y_train, split.X_test, split.Y_test,
                          num_iterations=8, learning_rate=0.5, strategy="dask")
    peaks = client.run(lambda dask_worker: dask_worker.peak_managed)
    spilled = client.run(lambda dask_worker: dask_worker.data.spilled_total.memory)
    held = client.run(lambda dask_worker: dask_worker.state.nbytes)
    # Each chunk is read inside the task that uses it: the workers hold the
    # labels and partials, never a chunk of X.
    assert max(peaks.values()) < chunk * n_x * 8 < LIMIT, peaks
    assert not any(spilled.values()) and max(held.values()) < chunk * n_x * 8, (spilled, held)
    X = np.asarray(split.X_train.compute())
    expected = lrperf.model(X, split.Y_train, np.asarray(split.X_test.compute()),
                            split.Y_test, num_iterations=8, learning_rate=0.5,
                            strategy="numpy")
    np.testing.assert_allclose(result["w"], expected["w"], rtol=RTOL)
    np.testing.assert_allclose(result["costs"], expected["costs"], rtol=RTOL)
    assert np.array_equal(result["Y_prediction_test"], expected["Y_prediction_test"])


@pytest.mark.parametrize("form", ["numpy", "zarr"])
def test_a_worker_killed_mid_optimize_costs_time_not_results(client, tmp_path, form):
    w, b, X, Y = _problem(n_x=50, m=6000)
    if form == "zarr":
        split = datasets.open_zarr(datasets.write_zarr(tmp_path / "s.zarr", 50, 6000, 1,
                                                       chunk=1000))
        X, Y = split.X_train, split.Y_train
    steps = 12
    calm, _, calm_costs = lrperf.optimize(w, b, X, Y, steps, 0.5, strategy="dask")
    pids = client.run(os.getpid)
    victim = max(pids.values())
    seen = []

    def kill_one(i, cost):
        seen.append(i)
        if i == 3:
            os.kill(victim, signal.SIGKILL)

    hit, _, hit_costs = lrperf.optimize(w, b, X, Y, steps, 0.5, strategy="dask",
                                        callback=kill_one)
    assert seen == list(range(steps))
    assert np.array_equal(hit["w"], calm["w"]) and hit["b"] == calm["b"]
    assert hit_costs == calm_costs
    # The kill did happen: the nanny brought up a new worker process.
    client.wait_for_workers(2, timeout=TIMEOUT)
    deadline = time.monotonic() + TIMEOUT
    while victim in client.run(os.getpid).values() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert victim not in client.run(os.getpid).values()


def test_a_step_past_its_timeout_ends_with_one_clear_error(client):
    w, b, X, Y = _problem(m=200)
    lrperf.propagate(w, b, X, Y, strategy="dask")
    # Both workers' only threads busy: the step cannot start before the timeout.
    release = distributed.Event()
    busy = [client.submit(release.wait, TIMEOUT, pure=False, workers=[a],
                          allow_other_workers=False)
            for a in client.scheduler_info()["workers"]]
    try:
        with dask.config.set({"lrperf.step-timeout": 1}):
            t0 = time.monotonic()
            with pytest.raises(RuntimeError, match=r"did not finish within 1 s.*lrperf.step-timeout"):
                lrperf.propagate(w, b, X, Y, strategy="dask")
            assert time.monotonic() - t0 < 20
    finally:
        release.set()
        distributed.wait(busy, timeout=TIMEOUT)
