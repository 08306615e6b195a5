"""The GPU strategies: availability, device-array validation, launch choices,
and the numba_cuda kernel under Numba's simulator.

The kernel's cases live in tests/numba_cuda_cases.py and run in one
subprocess with NUMBA_ENABLE_CUDASIM=1 (and in another without it where
numba_cuda can run on a GPU): the variable is read when numba.cuda is first
imported, and this suite runs in one process, so setting it here would turn
the simulator on (or fail to) for every test after this one.
"""
import ast
import importlib.util
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import numpy as np
import pytest

import lrperf
from lrperf.strategies import gpu_numba_cuda as gpu

TESTS = Path(__file__).resolve().parent
CASES = TESTS / "numba_cuda_cases.py"
SRC = Path(lrperf.__file__).resolve().parents[1]
HAS_NUMBA_CUDA = importlib.util.find_spec("numba_cuda") is not None


def _case_names():
    tree = ast.parse(CASES.read_text())
    return [node.name for node in tree.body
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")]


@pytest.fixture(scope="module", params=["simulator", "gpu"])
def kernel_run(request, tmp_path_factory):
    """{test function: [(case id, failure text or None), ...]} from one run of the cases."""
    if not HAS_NUMBA_CUDA:
        pytest.skip("needs the numba-cuda package (pip install 'lrperf[gpu]')")
    env = dict(os.environ,
               PYTHONPATH=os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")])))
    if request.param == "simulator":
        env["NUMBA_ENABLE_CUDASIM"] = "1"
    else:
        env.pop("NUMBA_ENABLE_CUDASIM", None)
        record = lrperf.STRATEGIES["numba_cuda"]
        if gpu.simulator_enabled() or not record.available:
            pytest.skip(f"no GPU for numba_cuda: {record.unavailable or 'simulator mode'}")
    report = tmp_path_factory.mktemp(request.param) / "junit.xml"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(CASES),
         f"--junitxml={report}"],
        cwd=TESTS.parent, env=env, capture_output=True, text=True, timeout=600)
    if not report.is_file():
        pytest.fail(f"the {request.param} run wrote no report (exit {done.returncode}):\n"
                    f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
    cases = {}
    for case in ElementTree.parse(report).iter("testcase"):
        name = case.get("name")
        problem = next((child for child in case if child.tag in ("failure", "error", "skipped")),
                       None)
        text = None if problem is None else f"{problem.tag}: {problem.get('message')}\n{problem.text}"
        cases.setdefault(name.split("[")[0], []).append((name, text))
    return cases


@pytest.mark.parametrize("name", _case_names())
def test_numba_cuda(kernel_run, name):
    assert name in kernel_run, f"{name} did not run"
    failed = [f"{case}: {text}" for case, text in kernel_run[name] if text is not None]
    assert not failed, "\n\n".join(failed)


# --- availability ----------------------------------------------------------

@pytest.mark.parametrize("value, on", [("1", True), ("2", True), ("0", False), ("", False),
                                       ("yes", False)])
def test_simulator_switch_read_as_numba_reads_it(value, on):
    assert gpu.simulator_enabled({"NUMBA_ENABLE_CUDASIM": value}) is on
    assert gpu.simulator_enabled({}) is False


def test_unavailable_strategies_are_listed_with_a_reason():
    record = lrperf.STRATEGIES["numba_cuda"]
    assert record.device == "gpu"
    if record.available:
        pytest.skip("numba_cuda can run here (a GPU or the simulator)")
    assert "numba_cuda" not in lrperf.available()
    with pytest.raises(ValueError, match=re.escape(f"unavailable here: {record.unavailable}")):
        lrperf.propagate(np.zeros(2), 0.0, np.ones((2, 3)), np.array([0, 1, 1]),
                         strategy="numba_cuda")


def test_simulator_makes_numba_cuda_available(monkeypatch):
    if not HAS_NUMBA_CUDA:
        pytest.skip("needs the numba-cuda package")
    monkeypatch.setenv("NUMBA_ENABLE_CUDASIM", "1")
    assert gpu.unavailable_reason() is None


def test_an_empty_device_list_is_a_reason(monkeypatch):
    if not HAS_NUMBA_CUDA:
        pytest.skip("needs the numba-cuda package")
    monkeypatch.delenv("NUMBA_ENABLE_CUDASIM", raising=False)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert "no GPU is visible" in gpu.unavailable_reason()


# --- launch configuration --------------------------------------------------

H100 = dict(sms=132, l2_bytes=50 * 2**20)


@pytest.mark.parametrize("n_x, m, itemsize, want", [
    # 528 blocks x 64 features x 32 examples x 8 B = 8.6 MB <= 25 MiB: the widest tile.
    (64, 100_000, 8, (528, 32)),
    # 528 x 4096 x 4 x 8 B = 69 MB > 25 MiB even at the narrowest tile: MIN_TILE.
    (4096, 50_000, 8, (528, 4)),
    # float32: 528 x 1024 x 8 x 4 B = 17.3 MB fits, 16 examples (34.6 MB) do not.
    (1024, 50_000, 4, (528, 8)),
    # Fewer tiles than resident blocks: one tile a block.
    (12288, 209, 8, (53, 4)),
])
def test_launch_config_fits_tiles_in_half_of_L2(n_x, m, itemsize, want):
    assert gpu.launch_config(n_x, m, itemsize, **H100) == want


def test_tile_and_block_sizes_are_checked():
    with pytest.raises(ValueError, match="block must be a power of two >= 8, got 48"):
        gpu.kernels(48)


# --- api: GPU arrays, validated without touching their data -----------------

class FakeDeviceArray:
    """Only ``__cuda_array_interface__``: any access to the data would fail."""

    def __init__(self, shape, typestr="<f8"):
        self.__cuda_array_interface__ = {"shape": shape, "typestr": typestr, "data": (0, False),
                                         "version": 3, "strides": None}


def test_cpu_strategies_refuse_gpu_arrays():
    with pytest.raises(TypeError, match="X is a GPU array .*FakeDeviceArray.* but strategy "
                                        "'numpy' runs on the cpu"):
        lrperf.propagate(np.zeros(3), 0.0, FakeDeviceArray((3, 5)), np.zeros(5))


@pytest.mark.parametrize("shape, typestr, error, message", [
    ((3, 5, 2), "<f8", ValueError, r"X must be 2-D with shape \(n_x, m\).*got 3-D shape"),
    ((3, 0), "<f8", ValueError, r"X must hold at least one example"),
    ((3, 5), "<c16", TypeError, "X must have a real numeric dtype .* got dtype complex128"),
    ((3, 5), "<f16", TypeError, "X must be float64 or float32"),
])
def test_gpu_arrays_validated_from_their_interface(shape, typestr, error, message):
    with pytest.raises(error, match=message):
        lrperf.propagate(np.zeros(3), 0.0, FakeDeviceArray(shape, typestr), np.zeros(5))


def test_predict_and_model_need_host_arrays():
    with pytest.raises(TypeError, match="X must be a host numpy.ndarray here, got the GPU array"):
        lrperf.predict(np.zeros(3), 0.0, FakeDeviceArray((3, 5)))
    with pytest.raises(TypeError, match="X_train must be a host numpy.ndarray here"):
        lrperf.model(FakeDeviceArray((3, 5)), np.zeros(5), np.zeros((3, 2)), np.zeros(2))


# --- cupy: only where CuPy and a GPU are ------------------------------------

@pytest.fixture
def cupy_module():
    record = lrperf.STRATEGIES["cupy"]
    if not record.available:
        pytest.skip(f"cupy is unavailable here: {record.unavailable}")
    return pytest.importorskip("cupy")


def test_cupy_is_listed_with_its_reason_when_unavailable():
    record = lrperf.STRATEGIES["cupy"]
    assert record.device == "gpu"
    if importlib.util.find_spec("cupy") is None:
        assert "needs CuPy" in record.unavailable and "cupy" not in lrperf.available()


@pytest.mark.parametrize("order", ["C", "F"])
def test_cupy_matches_reference(cupy_module, order):
    from reference import reference_step

    rng = np.random.default_rng(8)
    X = np.asarray(rng.standard_normal((40, 70)), order=order)
    Y = (rng.random(70) < 0.5).astype(np.float64)
    w = rng.standard_normal(40) / 8
    grads, cost = lrperf.propagate(w, 0.3, X, Y, strategy="cupy")
    ref_dw, ref_db, ref_cost = reference_step(w.tolist(), 0.3, X.tolist(), Y.tolist())
    np.testing.assert_allclose(grads["dw"], ref_dw, rtol=1e-9, atol=1e-12)
    assert grads["db"] == pytest.approx(ref_db, rel=1e-9, abs=1e-12)
    assert cost == pytest.approx(ref_cost, rel=1e-9)


def test_cupy_reads_a_device_X_where_it_is(cupy_module):
    from lrperf.strategies import gpu_cupy

    X = cupy_module.asarray(np.arange(12.0).reshape(3, 4) / 12)
    Y = np.array([0.0, 1.0, 0.0, 1.0])
    Xd, _ = gpu_cupy.prepare(X, Y)
    assert Xd.X.data.ptr == X.data.ptr and Xd.moved == Y.nbytes
    on_device, _ = lrperf.propagate(np.ones(3), 0.0, X, Y, strategy="cupy")
    on_host, _ = lrperf.propagate(np.ones(3), 0.0, X.get(), Y, strategy="numpy")
    np.testing.assert_allclose(on_device["dw"], on_host["dw"], rtol=1e-12)


# --- the GPU benchmarks and script: only their refusals can run here ------

REPO = TESTS.parent


def _load_file(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench_gpu():
    return _load_file(REPO / "scripts" / "bench_gpu.py", "bench_gpu")


def test_bench_sizes_are_parsed(bench_gpu):
    assert bench_gpu.parse_sizes("4096x50000, quarter,12X3") == [(4096, 50000), "quarter", (12, 3)]
    assert bench_gpu.parse_layouts("f,C") == ["F", "C"]


@pytest.mark.parametrize("argv, message", [
    (["--sizes", "12x"], "argument --sizes: expected a shape N_XxM with both >= 1, e.g. 4096x50000, got '12x'"),
    (["--sizes", "0x5"], "argument --sizes: expected a shape N_XxM with both >= 1, e.g. 4096x50000, got '0x5'"),
    (["--layouts", "C,K"], "layouts must be C, F or C,F, got 'C,K'"),
    (["--repeats", "0"], "argument --repeats: expected an integer >= 1, got '0'"),
    (["--bogus"], "unrecognized arguments: --bogus"),
    (["--json", "/nonexistent-dir/out.json"], "--json: directory /nonexistent-dir does not exist"),
])
def test_bench_script_refuses_bad_arguments_in_one_line(bench_gpu, capsys, argv, message):
    assert bench_gpu.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err


def test_bench_script_quick_settings(bench_gpu):
    args = bench_gpu.parse_args(["--quick"])
    assert (args.sizes, args.repeats, args.iterations) == ([(1024, 20000)], 5, 200)
    assert bench_gpu.parse_args([]).sizes == [(4096, 50000), "quarter"]


@pytest.mark.parametrize("simulator", [False, True])
def test_bench_script_refuses_without_a_gpu(simulator):
    from lrperf import gpu_measure

    env = dict(os.environ,
               PYTHONPATH=os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")])))
    env.pop("NUMBA_ENABLE_CUDASIM", None)
    if simulator:
        env["NUMBA_ENABLE_CUDASIM"] = "1"
    elif gpu_measure.no_gpu_reason() is None:
        pytest.skip("there is a GPU here")
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "bench_gpu.py"), "--quick"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "bench_gpu.py: needs an NVIDIA GPU: " in done.stderr
    if simulator:
        assert "simulator" in done.stderr


def _bench_module():
    """benchmarks/gpu.py as asv imports it: a module of the benchmarks package."""
    sys.path.insert(0, str(REPO))
    try:
        return importlib.import_module("benchmarks.gpu")
    finally:
        sys.path.remove(str(REPO))


def test_gpu_benchmarks_skip_without_a_gpu():
    from lrperf import gpu_measure

    if gpu_measure.no_gpu_reason() is not None and not gpu.simulator_enabled():
        bench = _bench_module()
        assert bench.GPU_STRATEGIES == ["cupy", "numba_cuda"]
        with pytest.raises(NotImplementedError, match="skipped: no GPU: "):
            bench.GpuStep().setup("numba_cuda", "cat", "F", "resident")
        for track, arg in ((bench.track_device_read_bandwidth, 2**20),
                           (bench.track_h2d_bandwidth, "pinned")):
            with pytest.raises(NotImplementedError, match="skipped: no GPU: "):
                track(arg)
            with pytest.raises(NotImplementedError, match="skipped: no GPU: "):
                track.setup(arg)
    else:
        pytest.skip("there is a GPU here")


def test_gpu_benchmark_names_follow_the_schema():
    from lrperf import grid

    bench = _bench_module()
    assert grid.BENCH_GPU_STEP == f"gpu.{bench.GpuStep.__name__}.time_step"
    assert bench.GpuStep.param_names == list(grid.GPU_STEP_PARAMS)
    assert grid.BENCH_DEVICE_READ == f"gpu.{bench.track_device_read_bandwidth.__name__}"
    assert grid.BENCH_H2D == f"gpu.{bench.track_h2d_bandwidth.__name__}"
