"""Argument types shared by the ``lrperf`` command and the scripts.

Each refuses a bad value with what it expects and what it got; argparse puts
the option's name in front ("argument --rounds: expected an integer >= 1, got
'0'"), and ``parse`` does the same for a value read elsewhere (an environment
variable, a list item).  Nothing heavy is imported here.
"""
import argparse
import math
import re


def _fail(what, text):
    raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")


def _integer(text, lowest, what):
    try:
        value = int(text)
    except (TypeError, ValueError):
        _fail(what, text)
    if value < lowest:
        _fail(what, text)
    return value


def positive_int(text):
    """An integer >= 1 (rounds, calls, repeats, thread counts)."""
    return _integer(text, 1, "an integer >= 1")


def non_negative_int(text):
    """An integer >= 0 (a seed)."""
    return _integer(text, 0, "an integer >= 0")


def _real(text, what, ok):
    try:
        value = float(text)
    except (TypeError, ValueError):
        _fail(what, text)
    if not (math.isfinite(value) and ok(value)):
        _fail(what, text)
    return value


def non_negative_float(text):
    """A finite number >= 0 (a learning rate)."""
    return _real(text, "a finite number >= 0", lambda v: v >= 0.0)


def ratio(text):
    """A finite ratio >= 1 (a change threshold)."""
    return _real(text, "a finite ratio >= 1", lambda v: v >= 1.0)


def pause_seconds(text):
    """A pause before a timed turn: 0 to 60 seconds."""
    return _real(text, "a number of seconds from 0 to 60", lambda v: 0.0 <= v <= 60.0)


def shape(text):
    """``N_XxM`` (e.g. 4096x50000) -> (n_x, m), both >= 1."""
    what = "a shape N_XxM with both >= 1, e.g. 4096x50000"
    parts = str(text).strip().lower().split("x")
    if len(parts) != 2:
        _fail(what, text)
    try:
        n_x, m = (int(p) for p in parts)
    except ValueError:
        _fail(what, text)
    if n_x < 1 or m < 1:
        _fail(what, text)
    return n_x, m


def regex(text):
    """A regular expression, compiled here so a bad one is refused before any work."""
    try:
        re.compile(text)
    except re.error as exc:
        raise argparse.ArgumentTypeError(f"expected a regular expression, got {text!r} "
                                         f"({exc})") from None
    return text


def parse(kind, name, text):
    """``kind(text)`` for a value not read by argparse; ValueError naming ``name``."""
    try:
        return kind(text)
    except argparse.ArgumentTypeError as exc:
        raise ValueError(f"{name}: {exc}") from None
