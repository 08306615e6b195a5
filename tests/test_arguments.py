"""One shared set of argument types (lrperf.argtypes): every bad value is refused
naming the argument, what it expects and what was given, in the lrperf command
and in the scripts alike."""
import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from lrperf import argtypes

REPO = Path(__file__).resolve().parents[1]

BAD = [
    (argtypes.positive_int, "0", "an integer >= 1"),
    (argtypes.positive_int, "-3", "an integer >= 1"),
    (argtypes.positive_int, "2.5", "an integer >= 1"),
    (argtypes.positive_int, "many", "an integer >= 1"),
    (argtypes.non_negative_int, "-1", "an integer >= 0"),
    (argtypes.non_negative_float, "nan", "a finite number >= 0"),
    (argtypes.non_negative_float, "inf", "a finite number >= 0"),
    (argtypes.non_negative_float, "-0.1", "a finite number >= 0"),
    (argtypes.ratio, "0.5", "a finite ratio >= 1"),
    (argtypes.ratio, "inf", "a finite ratio >= 1"),
    (argtypes.pause_seconds, "61", "a number of seconds from 0 to 60"),
    (argtypes.pause_seconds, "-1", "a number of seconds from 0 to 60"),
    (argtypes.shape, "4096", "a shape N_XxM with both >= 1"),
    (argtypes.shape, "0x5", "a shape N_XxM with both >= 1"),
    (argtypes.shape, "3x4x5", "a shape N_XxM with both >= 1"),
    (argtypes.shape, "axb", "a shape N_XxM with both >= 1"),
    (argtypes.regex, "(", "a regular expression"),
]


@pytest.mark.parametrize("kind, text, expected", BAD, ids=[f"{k.__name__}-{t}" for k, t, _ in BAD])
def test_each_type_names_what_it_expects_and_what_it_got(kind, text, expected):
    with pytest.raises(argparse.ArgumentTypeError, match="^expected " + expected) as err:
        kind(text)
    assert f"got {text!r}" in str(err.value)


def test_good_values_pass():
    assert argtypes.positive_int("3") == 3 and argtypes.non_negative_int("0") == 0
    assert argtypes.shape(" 12288X209 ") == (12288, 209)
    assert argtypes.ratio("1") == 1.0 and argtypes.pause_seconds("0.3") == 0.3
    assert argtypes.non_negative_float("0") == 0.0 and argtypes.regex("step\\.") == "step\\."


def test_argparse_puts_the_option_name_in_front(capsys):
    parser = argparse.ArgumentParser(prog="x")
    parser.add_argument("--rounds", type=argtypes.positive_int)
    with pytest.raises(SystemExit):
        parser.parse_args(["--rounds", "0"])
    assert "argument --rounds: expected an integer >= 1, got '0'" in capsys.readouterr().err


def test_parse_names_a_value_read_elsewhere():
    with pytest.raises(ValueError, match=r"^--sizes item: expected a shape N_XxM.*got '7'"):
        argtypes.parse(argtypes.shape, "--sizes item", "7")


# The three scripts' N_XxM options once parsed shapes three ways, and one
# accepted "3x4x5" or said only "invalid _size value".
SCRIPTS = [("bench_jax.py", "--sizes", "3x4x5"), ("bench_columns.py", "--shapes", "0x7"),
           ("bench_gpu.py", "--sizes", "12x")]


@pytest.mark.parametrize("script, option, value", SCRIPTS, ids=[s for s, _, _ in SCRIPTS])
def test_the_scripts_shapes_name_the_option(script, option, value):
    out = subprocess.run([sys.executable, str(REPO / "scripts" / script), option, value],
                         cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 2, out.stdout + out.stderr
    assert "Traceback" not in out.stderr, out.stderr
    assert f"expected a shape N_XxM with both >= 1, e.g. 4096x50000, got {value!r}" in out.stderr
    assert option in out.stderr


# Every option of the lrperf command that takes a number or a pattern: each once
# took a bare int/float (nan, -1 and 0.5 passed, or failed later without the
# option's name) or a regular expression asv failed on minutes later.
CLI_BAD = [
    (["train", "--iterations", "-1"], "--iterations", "an integer >= 0", "-1"),
    (["train", "--iterations", "ten"], "--iterations", "an integer >= 0", "ten"),
    (["train", "--learning-rate", "nan"], "--learning-rate", "a finite number >= 0", "nan"),
    (["train", "--learning-rate", "-0.5"], "--learning-rate", "a finite number >= 0", "-0.5"),
    (["train", "--seed", "-1"], "--seed", "an integer >= 0", "-1"),
    (["tune", "--shapes", "64"], "--shapes", "a shape N_XxM with both >= 1, e.g. 4096x50000", "64"),
    (["tune", "--threads", "1", "0"], "--threads", "an integer >= 1", "0"),
    (["compare", "a", "b", "--threshold", "0.5"], "--threshold", "a finite ratio >= 1", "0.5"),
    (["compare", "a", "b", "--threshold", "inf"], "--threshold", "a finite ratio >= 1", "inf"),
    (["study", "--bench", "step.("], "--bench", "a regular expression", "step.("),
]


@pytest.mark.parametrize("argv, option, what, given", CLI_BAD, ids=[" ".join(a) for a, *_ in CLI_BAD])
def test_every_command_option_names_itself_its_expectation_and_the_value(capsys, argv, option,
                                                                         what, given):
    from lrperf import cli
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {option}: expected {what}, got {given!r}" in err, err


def test_the_neighbour_script_refuses_bad_spans_and_stops_when_told():
    script = str(REPO / "scripts" / "neighbour.py")
    for bad in (["--on", "3,1"], ["--off", "x"], ["--processes", "0"]):
        out = subprocess.run([sys.executable, script, *bad], capture_output=True, text=True,
                             timeout=60)
        assert out.returncode == 2 and bad[0] in out.stderr, (bad, out.stderr)
    out = subprocess.run([sys.executable, script, "--processes", "1", "--on", "0.05,0.05",
                          "--off", "0.05,0.05", "--seconds", "0.2"], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
