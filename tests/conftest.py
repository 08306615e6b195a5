"""One fixture parametrizes every strategy: adding a module to
lrperf/strategies puts it through every test that takes ``strategy``."""
from pathlib import Path

import pytest

import lrperf

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(params=list(lrperf.STRATEGIES), scope="session")
def strategy(request):
    record = lrperf.STRATEGIES[request.param]
    if not record.available:
        pytest.skip(f"{request.param} is unavailable here: {record.unavailable}")
    return request.param


@pytest.fixture(scope="session")
def cat_data():
    from lrperf.datasets import load_catvnoncat

    if not (DATA_DIR / "train_catvnoncat.h5").is_file():
        pytest.skip(f"course data not found in {DATA_DIR}")
    return load_catvnoncat(DATA_DIR)
