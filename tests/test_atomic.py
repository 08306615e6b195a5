"""lrperf.atomic: whole files and folders or nothing, turns taken, killed runs cleaned up."""
import concurrent.futures
import multiprocessing
import os
import stat
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

import lrperf
from lrperf import atomic

SRC = Path(lrperf.__file__).resolve().parents[1]


@pytest.fixture
def umask():
    """Set the process umask for one test, then restore it."""
    old = os.umask(0o022)
    os.umask(old)
    yield lambda mask: os.umask(mask)
    os.umask(old)


def _mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def test_write_text_replaces_the_whole_file(tmp_path):
    path = tmp_path / "README.md"
    atomic.write_text(path, "first\n")
    atomic.write_text(path, "second\n")
    assert path.read_text() == "second\n"
    assert [p.name for p in tmp_path.iterdir()] == ["README.md"]


def test_write_bytes(tmp_path):
    atomic.write_bytes(tmp_path / "x.bin", b"\x00\x01")
    assert (tmp_path / "x.bin").read_bytes() == b"\x00\x01"


@pytest.mark.parametrize("mask, file_mode, dir_mode", [(0o022, 0o644, 0o755),
                                                       (0o002, 0o664, 0o775),
                                                       (0o077, 0o600, 0o700)])
def test_files_and_folders_get_the_umask(tmp_path, umask, mask, file_mode, dir_mode):
    umask(mask)
    atomic.write_text(tmp_path / "index.md", "x")
    with atomic.replacing_folder(tmp_path / "vm") as tmp:
        (tmp / "a.txt").write_text("a")
    assert _mode(tmp_path / "index.md") == file_mode
    assert _mode(tmp_path / "vm") == dir_mode
    assert _mode(tmp_path / "vm" / "a.txt") == file_mode


def test_a_replaced_file_keeps_its_mode(tmp_path, umask):
    umask(0o022)
    path = tmp_path / "shared.md"
    path.write_text("old")
    path.chmod(0o664)
    atomic.write_text(path, "new")
    assert _mode(path) == 0o664 and path.read_text() == "new"


def test_an_error_in_the_block_keeps_the_old_file_and_folder(tmp_path):
    atomic.write_text(tmp_path / "f.txt", "old")
    with atomic.replacing_folder(tmp_path / "vm") as tmp:
        (tmp / "a.txt").write_text("old")
    with pytest.raises(RuntimeError, match="half-way"):
        with atomic.replacing_file(tmp_path / "f.txt") as f:
            f.write("new, but")
            raise RuntimeError("half-way")
    with pytest.raises(RuntimeError, match="half-way"):
        with atomic.replacing_folder(tmp_path / "vm") as tmp:
            (tmp / "a.txt").write_text("new")
            raise RuntimeError("half-way")
    assert (tmp_path / "f.txt").read_text() == "old"
    assert (tmp_path / "vm" / "a.txt").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.txt", "vm"]


def test_a_folder_replaces_a_folder_and_drops_what_is_gone(tmp_path):
    with atomic.replacing_folder(tmp_path / "vm") as tmp:
        (tmp / "old.png").write_text("x")
    with atomic.replacing_folder(tmp_path / "vm") as tmp:
        (tmp / "new.png").write_text("y")
    assert [p.name for p in (tmp_path / "vm").iterdir()] == ["new.png"]


def test_leftovers_of_killed_runs_are_cleaned_on_the_next_write(tmp_path):
    # What a run killed at each step leaves: a half-built folder, the old folder
    # of a swap, a half-written file.
    (tmp_path / ".vm.tmp-dead1").mkdir()
    (tmp_path / ".vm.tmp-dead1" / "results.csv").write_text("half")
    (tmp_path / ".vm.old-dead2").mkdir()
    (tmp_path / ".README.md.tmp-dead3").write_text("half")
    (tmp_path / ".other.tmp-keep").mkdir()  # another name: not ours to clean
    with atomic.replacing_folder(tmp_path / "vm") as tmp:
        (tmp / "a").write_text("a")
    atomic.write_text(tmp_path / "README.md", "index")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.tmp-keep", "README.md", "vm"]


def test_clean_stale_keeps_a_live_writers_temp(tmp_path):
    with atomic.replacing_folder(tmp_path / "vm") as live:
        (tmp_path / ".vm.tmp-dead").mkdir()
        removed = atomic.clean_stale(tmp_path, "vm")
        assert removed == [tmp_path / ".vm.tmp-dead"]
        assert live.is_dir()
        (live / "a").write_text("a")
    assert (tmp_path / "vm" / "a").read_text() == "a"


def test_a_killed_writer_leaves_a_temp_that_the_next_write_removes(tmp_path):
    # A real kill -9 in the middle of building the folder.
    code = textwrap.dedent(f"""
        import os, signal
        from lrperf import atomic
        with atomic.replacing_folder({str(tmp_path / 'vm')!r}) as tmp:
            (tmp / "half.csv").write_text("half")
            os.kill(os.getpid(), signal.SIGKILL)
    """)
    out = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=str(SRC)),
                         timeout=120)
    assert out.returncode == -9
    assert [p.name for p in tmp_path.glob(".vm.tmp-*")], "the kill left nothing to clean"
    with atomic.replacing_folder(tmp_path / "vm") as tmp:
        (tmp / "full.csv").write_text("full")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vm"]


def _swap_many(args):
    target, writer, rounds = args
    for i in range(rounds):
        with atomic.replacing_folder(target) as tmp:
            # Two files that must always come from the same writer and round.
            (tmp / "a.txt").write_text(f"{writer}:{i}")
            (tmp / "b.txt").write_text(f"{writer}:{i}")
    return rounds


def _read(folder_fd, name):
    fd = os.open(name, os.O_RDONLY, dir_fd=folder_fd)
    with os.fdopen(fd) as f:
        return f.read()


def _check_consistent(target):
    # Both files read from one open folder: a snapshot even if a swap happens between.
    folder = os.open(target, os.O_RDONLY)
    try:
        a, b = _read(folder, "a.txt"), _read(folder, "b.txt")
    finally:
        os.close(folder)
    assert a == b, (a, b)


def test_concurrent_swaps_in_threads_never_fail(tmp_path):
    target = tmp_path / "vm"
    errors = []
    stop = threading.Event()

    def reader():
        while not stop.is_set():
            if target.exists():
                try:
                    _check_consistent(target)
                except FileNotFoundError:
                    pass  # between the two renames of a swap: absent, never mixed
                except AssertionError as exc:
                    errors.append(exc)

    watcher = threading.Thread(target=reader)
    watcher.start()
    try:
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            done = list(pool.map(_swap_many, [(target, w, 40) for w in range(4)]))
    finally:
        stop.set()
        watcher.join()
    assert done == [40] * 4 and not errors
    _check_consistent(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vm"]


def test_concurrent_swaps_in_processes_never_fail(tmp_path):
    target = tmp_path / "vm"
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(3, mp_context=ctx) as pool:
        done = list(pool.map(_swap_many, [(target, w, 40) for w in range(3)]))
    assert done == [40] * 3
    _check_consistent(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vm"]


def test_replacing_file_refuses_other_modes(tmp_path):
    with pytest.raises(ValueError, match="mode must be 'w' or 'wb', got 'a'"):
        with atomic.replacing_file(tmp_path / "x", "a"):
            pass
