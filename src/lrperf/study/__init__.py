"""``lrperf study``: run the asv suite on the working tree, then build the report.

The suite (``benchmarks/``, configured by ``asv.conf.json``) runs in the
current Python against the lrperf importable here (the working tree, for an
editable install); results are recorded under the commit hash of HEAD.

Results never mix and are never lost:

- each grid and mode has a results folder of its own, ``RESULTS/<kind>``
  (``full``, ``quick``, ``tiny``, with ``-quick`` for asv's ``--quick``), so a
  tiny run cannot replace a full one;
- a run that would replace results of the same commit, kind and machine
  stops before it starts unless ``replace`` is given;
- asv writes into a staging folder; its files are moved in only when asv
  has finished (``store``).

asv's own output goes to ``RESULTS/<kind>/asv.log``; the terminal shows one
line per benchmark and a progress bar with an ETA (``progress``).

One job per module:

- ``config``: the checkout, its git commit, asv's configuration and machine;
- ``store``: the results store (staging, portable names, the machine sidecar);
- ``progress``: what the terminal shows while asv runs (rich);
- ``supervise``: asv in a session of its own, ended whole on a signal;
- ``remeasure``: which points the second pass measures again;
- ``run``: the run in phases (preflight, plan, first pass, re-measure, commit);
- ``html``: asv's own HTML pages.

What the run calls at run time is looked up in its module, so a test replaces
it there: ``study.supervise.run_supervised``, ``study.remeasure.REMEASURE_MAX``.
"""
from ..results_format import PROGRESS_ENV, portable_env_name
from .config import find_repo_root, machine_name, run_kind, write_config
from .html import publish_html
from .progress import Progress, point_counts
from .remeasure import noisy_points
from .run import StudyBusy, SuiteRun, run_suite
from .store import (LOCK_NAME, LOG_NAME, ResultsExist, asv_result_name, describe_machine,
                    existing_results)

__all__ = ["LOCK_NAME", "LOG_NAME", "PROGRESS_ENV", "Progress", "ResultsExist", "StudyBusy",
           "SuiteRun", "asv_result_name", "describe_machine", "existing_results",
           "find_repo_root", "machine_name", "noisy_points", "point_counts",
           "portable_env_name", "publish_html", "run_kind", "run_suite", "write_config"]
