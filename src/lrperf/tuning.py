"""numba_fused's planner and wisdom under their older name: ``lrperf.numba_fused`` owns them.

Kept so that ``lrperf.tuning.plan``, ``tuning_record`` and friends keep working
for the study, the report's callers and scripts."""
from .numba_fused import plan_points, tune_here  # noqa: F401
from .numba_fused.planner import *  # noqa: F401,F403
from .numba_fused.planner import (MARGIN, MODE_ENV, MODES, PATH_ENV, Choice, Params,  # noqa: F401
                                  TuningWarning, candidates, choose, default_choice, describe,
                                  entry_choice, key, load_wisdom, machine_id, mode, plan, reset,
                                  resolve, save_wisdom, tune, tuning_record, wisdom_path)
