"""Every strategy, registered explicitly (see ``lrperf.registry``).

A strategy module holds plain functions on prepared arrays; this file says
what each one is.  Adding a strategy: write the module, add one ``register``
call here.
"""
from ..registry import Strategy, register
from .. import numba_fused
from . import (dask_cluster, dask_step, example_loop, gpu_cupy, gpu_numba_cuda, jax_xla,
               numba_loops, python_loops, vectorized)

register(Strategy(
    name="python_loops", step=python_loops.step, order=10, module=python_loops.__name__,
    description="pure-Python double loop (examples, then features), math module only"))
register(Strategy(
    name="example_loop", step=example_loop.step, order=20, module=example_loop.__name__,
    description="Python loop over examples, NumPy dot/axpy over features"))
register(Strategy(
    name="numpy", step=vectorized.step, order=30, parallel=True,
    dtypes=("float64", "float32"), accumulates={"float64": "float64", "float32": "float32"},
    prepare=vectorized.prepare, module=vectorized.__name__, passes=2,
    description="fully vectorized NumPy (w @ X, then X @ dZ: two passes over X)"))
register(Strategy(
    name="numba", step=numba_loops.step, order=40, module=numba_loops.__name__,
    description="the double loop, compiled with Numba (nopython, cache=True)"))
register(Strategy(
    name="numba_fused", step=numba_fused.step, descend=numba_fused.descend, order=50,
    parallel=True,
    # float32 X is read as it is; every sum (z, dw, db, cost) runs in float64.
    dtypes=("float64", "float32"), accumulates={"float64": "float64", "float32": "float64"},
    module=numba_fused.__name__,
    description="fused one-pass Numba kernel (reads X once), multi-threaded"))
register(Strategy(
    name="jax_xla", step=jax_xla.step, order=60, parallel=True, prepare=jax_xla.prepare,
    unavailable=jax_xla.unavailable_reason(), module=jax_xla.__name__,
    fixed_pool=jax_xla.pool_cores, compiles_per_shape=True, peer="numba_fused",
    imports=("jax",),
    passes=2,  # XLA's forward and backward dots (benchmarks/xla.py counts them)
    description="the cost differentiated by jax.value_and_grad, jitted by XLA (float64); "
                "X is aliased when 64-byte aligned (jax_xla.aligned(X) once), else copied per call"))
register(Strategy(
    name="numba_cuda", step=gpu_numba_cuda.step, order=70, parallel=True, device="gpu",
    dtypes=gpu_numba_cuda.DTYPES, accumulates={"float64": "float64", "float32": "float64"},
    prepare=gpu_numba_cuda.prepare, unavailable=gpu_numba_cuda.unavailable_reason(),
    module=gpu_numba_cuda.__name__, peer="numba_fused",
    description="fused one-pass Numba CUDA kernel (reads X once), per-block partial dw "
                "summed in a fixed order; X moved to the GPU once per call"))
register(Strategy(
    name="cupy", step=gpu_cupy.step, order=65, parallel=True, device="gpu",
    prepare=gpu_cupy.prepare, unavailable=gpu_cupy.unavailable_reason(),
    module=gpu_cupy.__name__, peer="numpy", passes=2,
    description="vectorized CuPy on the GPU (two cuBLAS gemv, one element-wise kernel): "
                "the GPU twin of numpy; X moved to the GPU once per call"))
register(Strategy(
    name="dask", step=dask_step.step, order=80, parallel=True, chunked=True,
    dtypes=("float64", "float32"), accumulates={"float64": "float64", "float32": "float64"},
    prepare=dask_step.prepare, unavailable=dask_cluster.unavailable_reason(),
    module=dask_step.__name__, peer="numba_fused",
    description="numba_fused's one-pass kernel per chunk of examples on Dask's distributed "
                "scheduler (the active Client, else a LocalCluster), partials summed in a "
                "fixed tree; X a NumPy or dask array chunked along the examples"))
