"""First-call cost of each strategy (Numba compilation or on-disk cache load).

Timed in a fresh interpreter (asv ``timeraw_``): imports and data creation are
in the untimed setup, the timed statement is the first ``propagate`` on a tiny
problem.  ``cold``: an empty Numba cache directory; ``warm``: one already
filled by a previous process, as a user's second run finds it.  The same
directory is JAX's persistent compilation cache (jax_xla's first call also
imports jax: lrperf imports it lazily).
"""
import shutil
import subprocess
import sys
import tempfile

import lrperf

from .common import STRATEGY_NAMES, announce

_SETUP = """
import os, tempfile
os.environ["NUMBA_CACHE_DIR"] = {cache_dir}
# JAX's persistent compilation cache in the same folder: cold and warm for jax_xla too.
os.environ["JAX_COMPILATION_CACHE_DIR"] = os.environ["NUMBA_CACHE_DIR"]
os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
os.environ["JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"] = "-1"
import numpy as np
import lrperf
w = np.zeros(4)
X = np.arange(12.0).reshape(4, 3) / 12.0
Y = np.array([0.0, 1.0, 0.0])
"""
_STMT = "lrperf.propagate(w, 0.0, X, Y, strategy={strategy!r})"


class FirstCall:
    params = [STRATEGY_NAMES, ["cold", "warm"]]
    param_names = ["strategy", "cache"]
    number = 1
    repeat = 3
    warmup_time = 0.0
    rounds = 1
    timeout = 300

    def setup(self, strategy, cache):
        announce("first_call")
        record = lrperf.STRATEGIES[strategy]
        if not record.available:
            raise NotImplementedError(f"skipped: {strategy} is unavailable: {record.unavailable}")
        self.root = tempfile.mkdtemp(prefix="lrperf-numba-cache-")
        if cache == "cold":
            # A new empty directory in every timed process.
            self.cache_dir = f"tempfile.mkdtemp(dir={self.root!r})"
        else:
            self.cache_dir = repr(self.root)
            code = _SETUP.format(cache_dir=self.cache_dir) + _STMT.format(strategy=strategy)
            subprocess.run([sys.executable, "-c", code], check=True)

    def teardown(self, strategy, cache):
        if getattr(self, "root", None):  # not set when setup skipped
            shutil.rmtree(self.root, ignore_errors=True)

    def timeraw_first_call(self, strategy, cache):
        return _STMT.format(strategy=strategy), _SETUP.format(cache_dir=self.cache_dir)
