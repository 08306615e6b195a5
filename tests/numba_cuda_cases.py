"""The numba_cuda kernel, under Numba's CUDA simulator or on a GPU.

Not collected by the main pytest run (the name does not start with test_):
tests/test_gpu.py runs this file in a subprocess, with NUMBA_ENABLE_CUDASIM=1
always and once more without it where there is a GPU, so that the simulator
never leaks into the rest of the suite, which runs in one process.  The
simulator runs every GPU thread as a Python thread: sizes stay tiny.
Expected values come from the 50-digit reference (tests/reference.py).
"""
import math

import numpy as np
import pytest

import lrperf
from lrperf.strategies import gpu_numba_cuda as gpu
from reference import reference_step

if not lrperf.STRATEGIES["numba_cuda"].available:
    pytest.skip(f"numba_cuda is unavailable: {lrperf.STRATEGIES['numba_cuda'].unavailable}",
                allow_module_level=True)

from numba import cuda  # noqa: E402  (after the check: NUMBA_ENABLE_CUDASIM is read here)

DEFAULT_BLOCK = gpu.SIMULATED_BLOCK if gpu.simulator_enabled() else gpu.BLOCK

RTOL = 1e-9


def problem(n_x, m, order="F", seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = np.asarray(rng.standard_normal((n_x, m)), dtype=dtype, order=order)
    Y = (rng.random(m) < 0.5).astype(np.float64)
    Y[:2] = (0.0, 1.0)  # both labels, whatever the seed
    w = rng.standard_normal(n_x) / math.sqrt(n_x)
    return w, 0.25, X, Y


def assert_matches_reference(dw, db, cost, w, b, X, Y):
    Xh = X.copy_to_host() if hasattr(X, "copy_to_host") else X
    ref_dw, ref_db, ref_cost = reference_step(
        np.reshape(w, -1).tolist(), b, np.asarray(Xh, dtype=np.float64).tolist(),
        np.reshape(Y, -1).tolist())
    atol = 1e-12 * (1.0 + float(np.max(np.abs(Xh))))
    np.testing.assert_allclose(np.reshape(dw, -1), ref_dw, rtol=RTOL, atol=atol)
    assert math.isclose(db, ref_db, rel_tol=RTOL, abs_tol=1e-12)
    assert math.isclose(cost, ref_cost, rel_tol=RTOL, abs_tol=1e-12)


def direct(w, b, X, Y, **launch):
    """One step through the module with an explicit launch configuration."""
    Xd, Yd = gpu.prepare(X, Y, **launch)
    return Xd, gpu.step(w, b, Xd, Yd)


@pytest.mark.parametrize("order", ["C", "F"])
def test_propagate_matches_reference(order):
    w, b, X, Y = problem(12, 30, order)
    grads, cost = lrperf.propagate(w.reshape(-1, 1), b, X, Y.reshape(1, -1),
                                   strategy="numba_cuda")
    assert grads["dw"].shape == (12, 1) and isinstance(cost, float)
    assert_matches_reference(grads["dw"], grads["db"], cost, w, b, X, Y)


@pytest.mark.parametrize("order", ["C", "F"])
def test_several_blocks_and_tiles_deterministic(order):
    # 8 tiles of 4 examples (the last one of 2) over 3 blocks: uneven shares.
    w, b, X, Y = problem(13, 30, order, seed=1)
    Xd, first = direct(w, b, X, Y, blocks=3, tile=4)
    assert Xd.config() == {"block": DEFAULT_BLOCK, "blocks": 3, "tile": 4,
                           "layout": order}
    second = gpu.step(w, b, Xd, Xd.Y)
    assert first[0].tobytes() == second[0].tobytes()
    assert (first[1], first[2]) == (second[1], second[2])
    assert_matches_reference(*first, w, b, X, Y)


@pytest.mark.parametrize("order", ["C", "F"])
def test_full_size_block(order):
    # The block size used on a GPU; a tile wider than m.
    w, b, X, Y = problem(5, 9, order, seed=2)
    Xd, got = direct(w, b, X, Y, block=gpu.BLOCK, tile=16)
    assert (Xd.block, Xd.blocks) == (gpu.BLOCK, 1)
    assert_matches_reference(*got, w, b, X, Y)


def test_float32_read_natively_and_strided_copied_once():
    w, b, X, Y = problem(7, 11, "F", seed=3, dtype=np.float32)
    Xd, got = direct(w, b, X, Y)
    assert Xd.X.dtype == np.float32 and Xd.moved == X.nbytes + Y.nbytes
    assert_matches_reference(*got, w, b, X.astype(np.float64), Y)

    big = np.asarray(np.random.default_rng(4).standard_normal((15, 23)), order="C")
    strided = big[1::2, 2::2]
    assert not (strided.flags.c_contiguous or strided.flags.f_contiguous)
    w = np.linspace(-0.5, 0.5, strided.shape[0])
    Y = (np.arange(strided.shape[1]) % 2).astype(np.float64)
    Xd, got = direct(w, 0.1, strided, Y)
    assert Xd.config()["layout"] == "C"
    assert_matches_reference(*got, w, 0.1, strided, Y)


def test_saturated_examples_stay_finite():
    # |z| ~ 1e4: sigmoid saturates to 0 or 1; the loss is |z| for the wrong label.
    X = np.array([[1e4, -1e4, 1e4, -1e4], [0.5, 0.5, -0.5, -0.5]], order="F")
    Y = np.array([1.0, 1.0, 0.0, 0.0])
    w = np.array([1.0, 1.0])
    grads, cost = lrperf.propagate(w, 0.0, X, Y, strategy="numba_cuda")
    assert_matches_reference(grads["dw"], grads["db"], cost, w, 0.0, X, Y)


@pytest.fixture
def transfers(monkeypatch):
    """Shapes of the arrays that numba_cuda copies to the device."""
    shapes = []
    module = gpu._load_cuda()
    to_device = module.to_device

    def counting(ary, *args, **kwargs):
        shapes.append(np.shape(ary))
        return to_device(ary, *args, **kwargs)

    monkeypatch.setattr(module, "to_device", counting)
    return shapes


def test_host_X_moved_once_per_call_not_per_step(transfers):
    w, b, X, Y = problem(6, 10, "F", seed=5)
    got = lrperf.optimize(w, b, X, Y, num_iterations=3, learning_rate=0.1,
                          strategy="numba_cuda")
    assert transfers.count(X.shape) == 1
    want = lrperf.optimize(w, b, X, Y, num_iterations=3, learning_rate=0.1, strategy="numpy")
    np.testing.assert_allclose(got[0]["w"], want[0]["w"], rtol=RTOL, atol=1e-14)
    assert math.isclose(got[0]["b"], want[0]["b"], rel_tol=RTOL, abs_tol=1e-14)
    np.testing.assert_allclose(got[2], want[2], rtol=RTOL)


@pytest.fixture
def copies_back(monkeypatch):
    """Shapes of the device arrays copied to the host."""
    shapes = []
    device_array = type(cuda.device_array(1))
    copy_to_host = device_array.copy_to_host

    def counting(self, *args, **kwargs):
        shapes.append(tuple(self.shape))
        return copy_to_host(self, *args, **kwargs)

    monkeypatch.setattr(device_array, "copy_to_host", counting)
    return shapes


def test_device_arrays_used_where_they_are(transfers, copies_back):
    w, b, X, Y = problem(6, 10, "C", seed=6)
    X_dev, Y_dev = cuda.to_device(X), cuda.to_device(Y.reshape(1, -1))
    transfers.clear()
    grads, cost = lrperf.propagate(w, b, X_dev, Y_dev, strategy="numba_cuda")
    params, _, costs = lrperf.optimize(w, b, X_dev, Y_dev, num_iterations=2,
                                       learning_rate=0.1, strategy="numba_cuda")
    assert X.shape not in transfers and X.shape not in copies_back
    assert_matches_reference(grads["dw"], grads["db"], cost, w, b, X, Y)
    want = lrperf.optimize(w, b, X, Y, num_iterations=2, learning_rate=0.1, strategy="numpy")
    np.testing.assert_allclose(params["w"], want[0]["w"], rtol=RTOL, atol=1e-14)


def test_device_arrays_checked_like_host_arrays():
    w, b, X, Y = problem(4, 6, "F", seed=7)
    bad_X = X.copy(order="F")
    bad_X[2, 3] = np.nan
    with pytest.raises(ValueError, match=r"X must contain only finite values, got nan at X\[2, 3\]"):
        lrperf.propagate(w, b, cuda.to_device(bad_X), Y, strategy="numba_cuda")
    # z = -inf, a = 0, dz = 0 for label 0: inf * 0 in the kernel, with no
    # warning (a GPU gives none either), then the api's own error.
    bad_X[2, 3] = -np.inf * np.sign(w[2])
    Y0 = Y.copy()
    Y0[3] = 0.0
    with pytest.raises(ValueError, match=r"X must contain only finite values, got -?inf at X\[2, 3\]"):
        lrperf.propagate(w, b, bad_X, Y0, strategy="numba_cuda")
    bad_Y = Y.copy()
    bad_Y[1] = 2.0
    with pytest.raises(ValueError, match="Y must contain only labels 0 and 1, got also"):
        lrperf.propagate(w, b, cuda.to_device(X), cuda.to_device(bad_Y), strategy="numba_cuda")
    with pytest.raises(ValueError, match=r"w must have n_x = 4 entries"):
        lrperf.propagate(np.zeros(5), b, cuda.to_device(X), Y, strategy="numba_cuda")
    with pytest.raises(TypeError, match="strategy 'numpy' runs on the cpu"):
        lrperf.propagate(w, b, cuda.to_device(X), Y, strategy="numpy")


def test_step_refuses_unprepared_X():
    w, b, X, Y = problem(3, 4)
    with pytest.raises(TypeError, match=r"as its prepare\(\) returns it"):
        gpu.step(w, b, X, Y)


@pytest.mark.parametrize("order", ["C", "F"])
def test_benchmark_data_made_on_the_device(order):
    from lrperf import gpu_measure

    X, Y = gpu_measure.device_problem(5, 37, order, seed=3)
    Xh = X.copy_to_host()
    assert Xh.flags[f"{'C' if order == 'C' else 'F'}_CONTIGUOUS"]
    assert np.all((Xh >= -1.0) & (Xh < 1.0)) and np.unique(Xh).size == Xh.size
    again, _ = gpu_measure.device_problem(5, 37, "C", seed=3)
    assert np.array_equal(again.copy_to_host(), Xh)  # same values in either layout
    assert set(np.unique(Y)) == {0.0, 1.0}
