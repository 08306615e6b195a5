"""One fixture parametrizes every strategy: adding a module to
lrperf/strategies puts it through every test that takes ``strategy``; one
whose library is missing (``unavailable``) is skipped with that reason."""
import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

# The tests must not depend on what `lrperf tune` stored on this machine: on a
# developer's machine and on a clean CI they see the same (empty) wisdom and
# numba_fused takes its defaults.  An explicit LRPERF_WISDOM wins.
if "LRPERF_WISDOM" not in os.environ:
    _wisdom_dir = tempfile.mkdtemp(prefix="lrperf-test-wisdom-")
    atexit.register(shutil.rmtree, _wisdom_dir, ignore_errors=True)
    os.environ["LRPERF_WISDOM"] = os.path.join(_wisdom_dir, "wisdom.json")
# ... and never time anything themselves: with no wisdom, optimize/model would
# plan numba_fused on first use (timings: slow, and a choice that depends on
# the machine's load).  The planner's logic is tested with injected timings.
os.environ.setdefault("LRPERF_TUNING", "off")

import lrperf  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(params=list(lrperf.STRATEGIES), scope="session")
def strategy(request):
    record = lrperf.STRATEGIES[request.param]
    if not record.available:
        pytest.skip(f"strategy {request.param!r} is unavailable: {record.unavailable}")
    return request.param


@pytest.fixture(scope="session")
def cat_data():
    from lrperf.datasets import load_catvnoncat

    if not (DATA_DIR / "train_catvnoncat.h5").is_file():
        pytest.skip(f"course data not found in {DATA_DIR}")
    return load_catvnoncat(DATA_DIR)
