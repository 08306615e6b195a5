"""The lrperf command as a user runs it."""
import re
import subprocess
import sys

import pytest

import lrperf
from conftest import DATA_DIR


def run(*args):
    return subprocess.run([sys.executable, "-m", "lrperf.cli", *args],
                          capture_output=True, text=True, timeout=300)


def test_strategies_lists_the_registry():
    out = run("strategies")
    assert out.returncode == 0
    listed = [line.split()[0] for line in out.stdout.splitlines()]
    assert listed == list(lrperf.STRATEGIES)


def test_strategies_says_where_each_lives():
    out = run("strategies")
    for line, (name, record) in zip(out.stdout.splitlines(), lrperf.STRATEGIES.items()):
        assert line.startswith(name) and f" in {record.module}" in line, line
    assert " in lrperf.strategies.vectorized" in out.stdout


def test_train_builtin_data():
    out = run("train", "--iterations", "201", "--strategy", "numba")
    assert out.returncode == 0, out.stderr
    assert "built-in synthetic data" in out.stdout
    assert re.findall(r"Cost after iteration (\d+):", out.stdout) == ["0", "100", "200"]
    assert re.search(r"test accuracy:\s+\d+\.\d+ %", out.stdout)
    assert re.search(r"first call \(JIT compile or cache load\)", out.stdout)


def test_train_on_cat_data():
    if not (DATA_DIR / "train_catvnoncat.h5").is_file():
        pytest.skip("course data missing")
    out = run("train", "--data", str(DATA_DIR), "--strategy", "numba",
              "--iterations", "2000", "--learning-rate", "0.005")
    assert out.returncode == 0, out.stderr
    train = float(re.search(r"train accuracy:\s+([\d.]+) %", out.stdout).group(1))
    test = float(re.search(r"test accuracy:\s+([\d.]+) %", out.stdout).group(1))
    assert train >= 98.0 and test >= 68.0


def test_missing_data_dir_is_a_clear_error(tmp_path):
    out = run("train", "--data", str(tmp_path / "nope"))
    assert out.returncode == 2
    assert "cat/non-cat data not found" in out.stderr and "Traceback" not in out.stderr


def test_unknown_strategy_lists_choices():
    out = run("train", "--strategy", "fortran")
    assert out.returncode == 2
    assert "invalid choice: 'fortran'" in out.stderr and "numpy" in out.stderr


def test_help_explains():
    out = run("train", "--help")
    assert out.returncode == 0
    for option in ("--data", "--strategy", "--iterations", "--learning-rate"):
        assert option in out.stdout


def test_import_from_the_checkouts_parent_folder(tmp_path):
    # A user's clone is a folder named lrperf beside ../shared; from that parent
    # folder a flat layout imported the clone itself as an empty namespace package.
    from conftest import REPO_ROOT
    (tmp_path / "lrperf").symlink_to(REPO_ROOT, target_is_directory=True)
    out = subprocess.run([sys.executable, "-c", "import lrperf; print(lrperf.propagate.__name__)"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "propagate"
