"""asv benchmark suite of lrperf (``asv run``, ``lrperf study``).

Modules: ``step`` (one ``propagate``: time, peak memory, bandwidth; 100-step
``optimize``), ``first_call`` (compilation / cache-load cost), ``hardware``
(memory read bandwidth and the machine description), ``accuracy`` (errors against the exact step),
``xla`` (what XLA compiled for jax_xla), ``common`` (grid, threads,
data, skip estimates; no benchmarks).

Contracts that readers of the results (``lrperf.report``) rely on
-----------------------------------------------------------------
* Grid benchmarks have ``param_names`` ``["strategy", "n_x", "m", "layout",
  "threads"]``; strategies are ``list(lrperf.STRATEGIES)`` at import time, so
  a new strategy module is benchmarked with no change here.  ``layout`` is
  "C" or "F" (X's memory order); ``threads`` is 1 and the core count
  (``numba.config.NUMBA_NUM_THREADS``): Numba's threads and the BLAS/OpenMP
  pools (threadpoolctl) are set together.  asv stores param values as
  ``repr`` strings (``"'numba'"``, ``"12288"``): read them with
  ``ast.literal_eval``.
* ``step.Step.time_propagate`` (s, one call), ``step.Optimize.time_optimize``
  (s, 100 iterations), ``step.Step.peakmem_propagate`` (bytes, peak RSS of the
  benchmark process: includes X and the interpreter),
  ``step.Step.track_bandwidth`` (unit "GB/s": bytes of X / median time of one
  call).
* ``hardware.track_read_bandwidth`` (``grid.BENCH_READ_BANDWIDTH``, unit
  "GB/s", params ``grid.READ_PARAMS`` = ``nbytes``, ``threads``): the ceiling
  B(size, threads), the fastest plain read of a working set of ``nbytes``
  (best of a vectorized sum and BLAS gemv streams, ``lrperf.ceiling``), over
  ``lrperf.ceiling.ladder()``: sizes from inside L1 to 4x the last-level
  cache of the running machine.  Name a point's level with
  ``lrperf.ceiling.level_of``; a step's share uses ``ceiling_at``.
* The machine description (``lrperf.machine.machine_info()``: CPU, SIMD flags,
  caches, cores, versions) with the tuner's plan (``lrperf.tuning.plan``) is
  not a benchmark: ``lrperf study`` writes it beside each result file as
  ``<commit[:8]>-<env>.lrperf-machine.jsonl`` (asv reads only ``*.json``).
* ``first_call.FirstCall.timeraw_first_call`` (s), params ``strategy`` and
  ``cache`` ("cold": empty Numba cache dir, "warm": filled by a previous
  process): the first ``propagate`` in a fresh interpreter.
* ``xla.Program.track_dots`` / ``track_x_reads`` / ``track_dot_fusions``
  (``grid.BENCH_XLA_*``, params ``grid.XLA_PARAMS`` = ``n_x``, ``m``,
  ``layout``, at the cat shape, else the grid's largest): what XLA compiled for jax_xla's
  step, counted in its optimized HLO (dots, passes over X, fused dots).
* ``accuracy.Accuracy.track_error_dw`` / ``track_error_cost`` (relative error
  against the 50-digit step, params ``grid.ACCURACY_PARAMS``).
* Skipped points (estimated call time over a bound, see ``common.MAX_CALL_S``
  and ``MAX_OPTIMIZE_CALL_S``) are NaN in the results; failures are null.
  Which points the bound skips depends on the machine and its load;
  ``LRPERF_BENCH_TIME_BOUND=off`` (unset or "on": the bound) measures every
  point, as the tests that check which points were measured do.
* ``LRPERF_BENCH_GRID`` selects the grid: unset or "full" (n_x 12..12288,
  m 13..3344, the cat data's 12288 x 209 included), "quick" (n_x 12, 12288 x
  m 13, 209: what ``lrperf study --quick`` runs) or "tiny" (2 x 2 small
  sizes, seconds to run: CI and the report's fixture).

Numba compilation never falls in a timing: setup runs the step once first.
At 2 or more threads setup ends with a pause of ``measure.DEFAULT_GAP_S``
(0.3 s) and one untimed call: the correctness check below ran numpy, whose
BLAS threads spin after a call and would steal a core from the first samples.
Setup also checks the point's result against the ``numpy`` strategy (as
perfplot does): a strategy that computes the wrong thing fails (null), it is
not timed.
"""
