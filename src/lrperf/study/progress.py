"""What the terminal shows while asv runs: one line per benchmark and a rich bar of
points with an ETA; asv's own output goes to its log file."""
import json
import re
import threading
from pathlib import Path

from ..results_format import announced_points


def point_counts(results_dir, bench=None):
    """{benchmark: number of points asv will run}, from the benchmarks.json asv
    writes after discovery, selected as asv selects (``--bench`` regexes also
    match ``name(param, ...)``); None until that file exists."""
    from types import SimpleNamespace

    from asv.benchmarks import Benchmarks
    try:
        data = json.loads((Path(results_dir) / "benchmarks.json").read_text(encoding="utf-8"))
        found = [v for k, v in data.items() if k != "version" and isinstance(v, dict)]
        chosen = Benchmarks(SimpleNamespace(benchmark_dir=""), found, regex=bench)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return {name: 1 if sel is None else len(sel)
            for name, sel in chosen.benchmark_selection.items() if name in chosen}


class Progress:
    """asv's output -> its log file; the terminal gets one line per benchmark and a
    rich bar of points with an ETA.

    asv reports a parametrized benchmark only when all its points are done, so
    points are counted from the progress file each benchmark process appends
    to (``results_format.PROGRESS_ENV``), polled twice a second, against the
    total from asv's benchmarks.json.  asv's own lines are
    ``[ 42.86%] ... NAME status``.
    """
    LINE = re.compile(r"^\s*\[\s*(\d+(?:\.\d+)?)%\]\s*[\u00b7.]*\s*(.*?)\s*$")
    RUNNING = re.compile(r"^Running \((\S+?)-*\)")
    NAME = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)+$")
    POLL_S = 0.5

    def __init__(self, log, stream=None, *, results_dir=None, points_file=None, bench=None,
                 title="asv"):
        from rich.console import Console
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                   TimeElapsedColumn, TimeRemainingColumn)
        self.log = log
        self.console = Console(file=stream, highlight=False) if stream else Console(
            highlight=False)
        self.bar = Progress(TextColumn("{task.description}"), BarColumn(),
                            MofNCompleteColumn(), TextColumn("points"), TimeElapsedColumn(),
                            TextColumn("eta"), TimeRemainingColumn(),
                            console=self.console, transient=True)
        self.task = self.bar.add_task(f"starting {title}", total=None)
        self.results_dir, self.points_file, self.bench = results_dir, points_file, bench
        self.counts = None
        self.done = 0
        self.failed = 0
        self.done_points = 0
        self.lines_at_done = 0
        self.points = (None, None)
        self.families = {}   # {benchmark family: wall seconds}, once the pass ends
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self):
        self.bar.start()
        self._poller.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._poller.join()
        self._refresh()
        self.bar.stop()
        total = sum(self.counts.values()) if self.counts is not None else None
        # (points announced by their processes, points selected; None if unknown),
        # kept: the progress file goes with the run's temporary folder.
        self.points = (self._lines(), total)

    def _lines(self):
        return announced_points(self.points_file)

    def _refresh(self):
        with self._lock:
            if self.counts is None and self.results_dir is not None:
                self.counts = point_counts(self.results_dir, self.bench)
            if self.counts is None:
                return
            total = sum(self.counts.values())
            running = max(0, min(self._lines() - self.lines_at_done, total - self.done_points))
            self.bar.update(self.task, total=total,
                            completed=min(total, self.done_points + running))

    def _poll(self):
        while not self._stop.wait(self.POLL_S):
            self._refresh()

    def feed(self, line):
        """One line of asv's output: to the log, and to the terminal if it tells."""
        self.log.write(line)
        self.log.flush()
        match = self.LINE.match(line)
        if not match:
            return
        percent, text = float(match.group(1)), match.group(2)
        running = self.RUNNING.match(text)
        words = text.split()
        if running:
            self.bar.update(self.task, description=running.group(1))
        elif len(words) >= 2 and self.NAME.match(words[0]):
            self._benchmark_done(percent, words[0], " ".join(words[1:]))
        elif words:
            self.bar.update(self.task, description=text[:60])

    def _benchmark_done(self, percent, name, status):
        self.done += 1
        self.failed += status.startswith("failed")
        with self._lock:
            if self.counts is None and self.results_dir is not None:
                self.counts = point_counts(self.results_dir, self.bench)
            self.done_points += (self.counts or {}).get(name, 0)
            self.lines_at_done = self._lines()
        self._refresh()
        self.bar.console.print(f"  [{percent:3.0f}%] {name}  {status}")
        self.bar.update(self.task, description=f"done {name}")
