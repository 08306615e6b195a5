"""A dependency-free progress bar for long runs (stderr; redraws only on a terminal)."""
import sys
import time


class Progress:
    def __init__(self, total, label="", stream=None, width=30):
        self.total = max(int(total), 1)
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.start = time.perf_counter()
        self.live = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._last_draw = 0.0
        self.done = 0

    def update(self, done, note=""):
        self.done = done
        now = time.perf_counter()
        if not self.live or (now - self._last_draw < 0.1 and done < self.total):
            return
        self._last_draw = now
        frac = min(done / self.total, 1.0)
        filled = int(frac * self.width)
        elapsed = now - self.start
        eta = elapsed / frac - elapsed if frac > 0 else float("nan")
        bar = "#" * filled + "-" * (self.width - filled)
        self.stream.write(f"\r{self.label} [{bar}] {done}/{self.total} "
                          f"{elapsed:5.1f}s eta {eta:5.1f}s {note}\x1b[K")
        self.stream.flush()

    def print(self, line):
        """Print a line above the bar without garbling it."""
        if self.live:
            self.stream.write("\r\x1b[K")
        print(line, flush=True)
        self._last_draw = 0.0
        self.update(self.done)

    def close(self):
        if self.live:
            self.update(self.total)
            self.stream.write("\n")
            self.stream.flush()
