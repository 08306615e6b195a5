"""The jax_xla strategy: JAX's reverse-mode gradient against the course's derivation.

The shared ``strategy`` fixture already puts jax_xla through every equivalence
and validation test; here: the gradient proven two ways (the 50-digit
reference and the hand-derived dw = X (A - Y)^T / m of every other strategy),
the API end to end, x64 kept local, X put on the device once per call, the
HLO summary, and the unavailable path.
"""
import dataclasses
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import lrperf
from lrperf import registry
from lrperf.strategies import jax_xla
from reference import reference_step

RECORD = lrperf.STRATEGIES["jax_xla"]
needs_jax = pytest.mark.skipif(not RECORD.available,
                               reason=f"jax_xla is unavailable: {RECORD.unavailable}")
SRC = Path(__file__).resolve().parents[1] / "src"
RTOL = 1e-9


def _problem(n_x=5, m=8, seed=0, order="C"):
    rng = np.random.default_rng(seed)
    X = np.asarray(rng.normal(size=(n_x, m)), order=order)
    w = rng.normal(size=(n_x, 1)) / np.sqrt(n_x)
    Y = (rng.random((1, m)) < 0.5).astype(np.float64)
    return w, 0.2, X, Y


def _reference(w, b, X, Y):
    return reference_step(np.reshape(w, -1).tolist(), float(b), X.tolist(),
                          np.reshape(Y, -1).tolist())


def _hand_derived(w, b, X, Y):
    """dw = X (A - Y)^T / m, db = mean(A - Y) in the test's own float64 arithmetic."""
    n_x, m = X.shape
    dz = []
    for i in range(m):
        z = b + math.fsum(float(w[j]) * float(X[j, i]) for j in range(n_x))
        a = 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))
        dz.append(a - float(Y[i]))
    dw = [math.fsum(float(X[j, i]) * dz[i] for i in range(m)) / m for j in range(n_x)]
    return dw, math.fsum(dz) / m


def _reverse_mode(w, b, X, Y):
    """jax.grad of the jitted mean cost (no hand-written derivative anywhere)."""
    import jax

    m = X.shape[1]
    with jax_xla.x64():
        def cost(w, b):
            return jax_xla.total_loss(w, b, X, Y) / m
        gw, gb = jax.grad(jax.jit(cost), argnums=(0, 1))(np.asarray(w, dtype=np.float64),
                                                          np.float64(b))
        return np.asarray(gw), float(gb)


@st.composite
def problems(draw):
    n_x = draw(st.integers(1, 6))
    m = draw(st.integers(1, 9))
    finite = dict(allow_nan=False, allow_infinity=False)
    X = draw(arrays(np.float64, (n_x, m), elements=st.floats(-5, 5, **finite)))
    w = draw(arrays(np.float64, (n_x,), elements=st.floats(-3, 3, **finite)))
    b = draw(st.floats(-3, 3, **finite))
    Y = draw(arrays(np.float64, (m,), elements=st.sampled_from([0.0, 1.0])))
    return w, b, X, Y


@needs_jax
@settings(max_examples=30, deadline=None)
@given(problem=problems())
def test_reverse_mode_gradient_is_the_course_derivation(problem):
    w, b, X, Y = problem
    gw, gb = _reverse_mode(w, b, X, Y)
    ref_dw, ref_db, _ = _reference(w, b, X, Y)
    hand_dw, hand_db = _hand_derived(w, b, X, Y)
    atol = 1e-12 * (1.0 + float(np.max(np.abs(X))))
    np.testing.assert_allclose(gw, ref_dw, rtol=RTOL, atol=atol)
    np.testing.assert_allclose(gw, hand_dw, rtol=RTOL, atol=atol)
    assert math.isclose(gb, ref_db, rel_tol=RTOL, abs_tol=1e-12)
    assert math.isclose(gb, hand_db, rel_tol=RTOL, abs_tol=1e-12)
    # ... and equals the hand-derived gradient every other strategy computes.
    for other in lrperf.available():
        if other == "jax_xla":
            continue
        grads, _ = lrperf.propagate(w, b, X, Y, strategy=other)
        np.testing.assert_allclose(gw, grads["dw"], rtol=RTOL, atol=atol, err_msg=other)
        assert math.isclose(gb, grads["db"], rel_tol=RTOL, abs_tol=1e-12), other


@needs_jax
@pytest.mark.parametrize("order", ["C", "F"])
def test_strategy_matches_reference_and_grad(order):
    w, b, X, Y = _problem(order=order)
    grads, cost = lrperf.propagate(w, b, X, Y, strategy="jax_xla")
    ref_dw, ref_db, ref_cost = _reference(w, b, X, Y)
    np.testing.assert_allclose(grads["dw"].ravel(), ref_dw, rtol=RTOL, atol=1e-12)
    assert math.isclose(grads["db"], ref_db, rel_tol=RTOL, abs_tol=1e-12)
    assert math.isclose(cost, ref_cost, rel_tol=RTOL, abs_tol=1e-12)
    gw, gb = _reverse_mode(w.ravel(), b, X, Y.ravel())
    np.testing.assert_allclose(grads["dw"].ravel(), gw, rtol=RTOL, atol=1e-12)


@needs_jax
def test_zero_logits_give_half_minus_label():
    # z = 0 for every example (w = 0, b = 0, the course's start): autodiff of
    # the literal max(t, 0) + log1p(exp(-|t|)) gave dZ = 0 here.
    X = np.array([[1.0, 2.0, -3.0, 4.0]])
    Y = np.array([[1.0, 0.0, 0.0, 1.0]])
    grads, cost = lrperf.propagate(np.zeros((1, 1)), 0.0, X, Y, strategy="jax_xla")
    # dZ = 0.5 - Y = [-0.5, 0.5, 0.5, -0.5]; dw = (-0.5 + 1 - 1.5 - 2) / 4
    assert grads["dw"].tolist() == [[-0.75]]
    assert grads["db"] == 0.0
    assert cost == pytest.approx(math.log(2.0), rel=1e-15)


@needs_jax
def test_optimize_and_model_match_numpy_and_leave_inputs_alone():
    w, b, X, Y = _problem(6, 40, seed=1, order="F")
    X_test = np.random.default_rng(2).normal(size=(6, 10))
    Y_test = (np.arange(10) % 2).astype(np.float64).reshape(1, -1)
    for arr in (w, X, Y, X_test, Y_test):
        arr.flags.writeable = False
    before = [a.copy() for a in (w, X, Y, X_test, Y_test)]

    got = lrperf.optimize(w, b, X, Y, 201, 0.1, strategy="jax_xla")
    want = lrperf.optimize(w, b, X, Y, 201, 0.1, strategy="numpy")
    np.testing.assert_allclose(got[0]["w"], want[0]["w"], rtol=1e-9, atol=1e-12)
    assert math.isclose(got[0]["b"], want[0]["b"], rel_tol=1e-9, abs_tol=1e-12)
    np.testing.assert_allclose(got[2], want[2], rtol=1e-9)
    assert len(got[2]) == 3 and got[0]["w"].shape == w.shape

    m_got = lrperf.model(X, Y, X_test, Y_test, 150, 0.5, strategy="jax_xla")
    m_want = lrperf.model(X, Y, X_test, Y_test, 150, 0.5, strategy="numpy")
    np.testing.assert_allclose(m_got["costs"], m_want["costs"], rtol=1e-9)
    np.testing.assert_allclose(m_got["w"], m_want["w"], rtol=1e-9, atol=1e-12)
    for key in ("Y_prediction_train", "Y_prediction_test"):
        np.testing.assert_array_equal(m_got[key], m_want[key])

    for a, b_ in zip((w, X, Y, X_test, Y_test), before):
        np.testing.assert_array_equal(a, b_)
    assert not np.shares_memory(got[0]["w"], w)


@needs_jax
def test_x_goes_to_the_device_once_per_call(monkeypatch):
    seen = {"prepare": 0, "steps": 0, "kinds": set()}

    def prepare(X, Y):
        seen["prepare"] += 1
        return jax_xla.prepare(X, Y)

    def step(w, b, X, Y):
        seen["steps"] += 1
        seen["kinds"].add(type(X))
        return jax_xla.step(w, b, X, Y)

    monkeypatch.setitem(registry.STRATEGIES, "jax_xla",
                        dataclasses.replace(RECORD, prepare=prepare, step=step))
    w, b, X, Y = _problem()
    lrperf.optimize(w, b, X, Y, 9, 0.1, strategy="jax_xla")
    assert seen == {"prepare": 1, "steps": 9, "kinds": {jax_xla.OnDevice}}


def _aligned(shape, order):
    """A float64 array at a 64-byte aligned address (what XLA can alias)."""
    n = int(np.prod(shape))
    raw = np.empty(n + 8)
    start = (-raw.ctypes.data % 64) // 8
    flat = raw[start:start + n]
    a = flat.reshape(shape, order=order)
    a[...] = np.arange(n).reshape(shape) / n
    return a


@needs_jax
@pytest.mark.parametrize("order", ["C", "F"])
def test_prepare_hands_aligned_X_over_without_a_copy(order):
    X = _aligned((7, 11), order)
    Xd, Yd = jax_xla.prepare(X, np.zeros(11))
    assert Xd.transposed == (order == "F") and Xd.shape == (7, 11)
    assert Xd.data.unsafe_buffer_pointer() == X.ctypes.data
    assert np.array_equal(np.asarray(Xd.data).T if Xd.transposed else np.asarray(Xd.data), X)


@needs_jax
def test_x64_stays_inside_the_strategy():
    import jax
    import jax.numpy as jnp

    before = jax.config.jax_enable_x64
    lrperf.propagate(*_problem(), strategy="jax_xla")
    assert jax.config.jax_enable_x64 == before
    if not before:
        assert jnp.ones(2).dtype == jnp.float32


@needs_jax
def test_warm_up_compiles_what_the_call_then_uses():
    n_x, m = 3, 29  # a shape no other test uses
    fn = jax_xla.jitted()
    before = fn._cache_size()
    jax_xla.warm_up(n_x, m, transposed=True)
    compiled = fn._cache_size()
    assert compiled == before + 1
    lrperf.propagate(*_problem(n_x, m, order="F"), strategy="jax_xla")
    assert fn._cache_size() == compiled


# A hand-written optimized module: two dots reading X (parameter 2), one fusion.
HLO = """HloModule jit_step, entry_computation_layout={...}

%fused_computation (param_0: f64[4], param_1: f64[]) -> f64[4] {
  %param_0 = f64[4]{0} parameter(0)
  %param_1 = f64[] parameter(1)
  %broadcast = f64[4]{0} broadcast(%param_1), dimensions={}
  %add = f64[4]{0} add(%param_0, %broadcast)
  ROOT %exponential = f64[4]{0} exponential(%add)
}

ENTRY %main.3 (w.1: f64[3], b.1: f64[], X.1: f64[3,4], Y.1: f64[4]) -> (f64[3], f64[]) {
  %w.1 = f64[3]{0} parameter(0), metadata={op_name="w"}
  %b.1 = f64[] parameter(1), metadata={op_name="b"}
  %X.1 = f64[3,4]{1,0} parameter(2), metadata={op_name="X"}
  %Y.1 = f64[4]{0} parameter(3), metadata={op_name="Y"}
  %dot = f64[4]{0} dot(%w.1, %X.1), lhs_contracting_dims={0}, rhs_contracting_dims={0}
  %exp_fusion = f64[4]{0} fusion(%dot, %b.1), kind=kLoop, calls=%fused_computation
  %dot.1 = f64[3]{0} dot(%X.1, %exp_fusion), lhs_contracting_dims={1}, rhs_contracting_dims={0}
  ROOT %tuple = (f64[3]{0}, f64[]) tuple(%dot.1, %b.1)
}
"""


def test_summarize_hlo_counts_dots_fusions_and_reads_of_x():
    s = jax_xla.summarize_hlo(HLO)
    assert s["dots"] == 2
    assert s["x_reads"] == [{"name": "dot", "op": "dot"}, {"name": "dot.1", "op": "dot"}]
    assert s["fusions"] == [{"name": "exp_fusion", "kind": "kLoop",
                             "ops": {"broadcast": 1, "add": 1, "exponential": 1}}]
    assert s["entry_ops"] == {"parameter": 4, "dot": 2, "fusion": 1, "tuple": 1}


@needs_jax
@pytest.mark.parametrize("transposed", [False, True])
def test_hlo_summary_of_the_compiled_step(transposed):
    s = jax_xla.hlo_summary(16, 40, transposed)
    assert (s["n_x"], s["m"], s["layout"]) == (16, 40, "F" if transposed else "C")
    # The program reads X somewhere, and only through instructions the summary names.
    assert s["dots"] >= 1 and s["x_reads"]
    assert all(r["op"] in ("dot", "fusion", "convolution", "copy", "transpose", "bitcast")
               for r in s["x_reads"])
    assert s["entry_ops"]["parameter"] == 4
    assert all(f["ops"] and f["kind"] for f in s["fusions"])


def _run(code, **env):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env=dict(os.environ, PYTHONPATH=str(SRC), **env))


def test_import_lrperf_does_not_import_jax():
    out = _run("import sys, numpy as np, lrperf\n"
               "lrperf.propagate(np.zeros(2), 0.0, np.ones((2, 3)), np.ones(3))\n"
               "print('jax' in sys.modules)")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_missing_jax_is_an_unavailable_strategy_with_its_reason():
    # None in sys.modules: import jax fails and find_spec says it is absent.
    code = ("import sys\n"
            "sys.modules['jax'] = sys.modules['jaxlib'] = None\n"
            "import numpy as np, lrperf\n"
            "r = lrperf.STRATEGIES['jax_xla']\n"
            "print(r.available, r.unavailable, 'jax_xla' in lrperf.available())\n"
            "try:\n"
            "    lrperf.propagate(np.zeros(2), 0.0, np.ones((2, 3)), np.ones(3), strategy='jax_xla')\n"
            "except ValueError as e:\n"
            "    print(e)\n")
    out = _run(code)
    assert out.returncode == 0, out.stderr
    first, second = out.stdout.strip().splitlines()
    assert first == "False needs jax and jaxlib: pip install 'lrperf[jax]' False"
    assert second.startswith("strategy 'jax_xla' is unavailable here: needs jax and jaxlib")


def test_fixture_skips_an_unavailable_strategy_with_its_reason():
    tests = Path(__file__).resolve().parent
    code = ("import sys\n"
            "sys.modules['jax'] = sys.modules['jaxlib'] = None\n"
            "import pytest\n"
            f"sys.exit(pytest.main([{str(tests / 'test_worked_examples.py')!r}, '-q', '-rs',"
            " '-p', 'no:cacheprovider', '-k', 'zero_weights_by_hand']))\n")
    out = _run(code)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SKIPPED" in out.stdout
    assert "strategy 'jax_xla' is unavailable: needs jax and jaxlib" in out.stdout


def _offset(shape, order, offset_bytes):
    """A float64 array ``offset_bytes`` past a 64-byte boundary (NumPy's large
    arrays start 16 bytes into their pages)."""
    n = int(np.prod(shape))
    raw = np.empty(n * 8 + 128, dtype=np.uint8)
    start = -raw.ctypes.data % 64 + offset_bytes
    a = raw[start:start + n * 8].view(np.float64).reshape(shape, order=order)
    a[...] = np.arange(n).reshape(shape) / n
    return a


@needs_jax
@pytest.mark.parametrize("make, copies", [
    (lambda: _offset((7, 11), "C", 0), 0), (lambda: _offset((7, 11), "F", 0), 0),
    (lambda: _offset((7, 11), "C", 16), 1), (lambda: _offset((7, 11), "F", 16), 1),
    (lambda: _offset((7, 22), "C", 0)[:, ::2], 1),
    (lambda: _offset((7, 11), "C", 0).astype(np.float32), 1),
    (lambda: _offset((7, 11), "F", 8).astype(">f8", order="F"), 1)],
    ids=["C-aligned", "F-aligned", "C-unaligned", "F-unaligned", "strided", "float32",
         "big-endian"])
def test_x_reaches_xla_with_at_most_one_copy(make, copies, monkeypatch):
    """An aligned X is aliased; any other is copied once: by XLA when it is
    contiguous float64, else converted by NumPy into memory XLA then aliases
    (astype and then device_put would copy twice)."""
    import jax

    X = make()
    before = X.copy()
    handed = []
    real = jax.device_put

    def device_put(x, *args, **kwargs):
        handed.append(x)
        return real(x, *args, **kwargs)

    monkeypatch.setattr(jax, "device_put", device_put)
    Xd, _ = jax_xla.prepare(X, np.zeros(X.shape[1]))
    host = handed[0]
    numpy_copies = 0 if np.shares_memory(host, X) else 1
    xla_copies = 0 if Xd.data.unsafe_buffer_pointer() == host.ctypes.data else 1
    assert numpy_copies + xla_copies == copies
    if numpy_copies:
        assert jax_xla.is_aliasable(host) and not xla_copies
    got = np.asarray(Xd.data)
    np.testing.assert_array_equal(got.T if Xd.transposed else got, before.astype(np.float64))
    np.testing.assert_array_equal(X, before)


@needs_jax
@pytest.mark.parametrize("order", ["C", "F"])
def test_aligned_keeps_layout_and_values_and_then_aliases(order):
    X = _offset((6, 9), order, 16)
    A = jax_xla.aligned(X)
    assert A is not X and A.ctypes.data % 64 == 0
    assert A.flags.f_contiguous if order == "F" else A.flags.c_contiguous
    np.testing.assert_array_equal(A, X)
    assert jax_xla.aligned(A) is A
    Xd, _ = jax_xla.prepare(A, np.zeros(9))
    host = A.T if Xd.transposed else A
    assert Xd.data.unsafe_buffer_pointer() == host.ctypes.data
