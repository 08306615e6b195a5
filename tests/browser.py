"""A headless Chromium driven over the DevTools protocol on a pipe (stdlib only).

``--remote-debugging-pipe``: Chromium reads commands from its fd 3 and writes
replies and events to its fd 4, each a JSON message ended by a NUL byte.  The
browser runs with every host name unresolvable and a proxy on a dead port, so
nothing a page asks for can leave the machine; every request the page makes is
recorded from the Network domain, so a test can also count them.
"""
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find():
    """The Chromium executable, or None."""
    return next((p for p in map(shutil.which, NAMES) if p), None)


class Browser:
    def __init__(self, executable, timeout=60.0):
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="lrperf-chromium-")
        cmd_r, self._cmd_w = os.pipe()
        self._res_r, res_w = os.pipe()
        # The child's ends above fd 9, so moving them to 3 and 4 overwrites neither.
        high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (cmd_r, res_w)]
        os.close(cmd_r)
        os.close(res_w)
        cmd_r, res_w = high
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
                 "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-default-apps", "--mute-audio",
                 "--disable-dev-shm-usage", f"--user-data-dir={self.profile}",
                 "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
                 "--host-resolver-rules=MAP * ~NOTFOUND", "--window-size=1280,1600"]
        # bash moves the pipes to fds 3 and 4 (no preexec_fn: it would run
        # the fork hooks of libraries loaded in this process).
        script = f'exec "$0" "$@" 3<&{cmd_r} 4>&{res_w} {cmd_r}<&- {res_w}>&-'
        # Chromium's chatter goes to a file: a full pipe would stall it.
        self._log = open(Path(self.profile) / "chromium.log", "wb")
        self.proc = subprocess.Popen(["bash", "-c", script, executable, *flags, "about:blank"],
                                     pass_fds=(cmd_r, res_w), stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=self._log)
        os.close(cmd_r)
        os.close(res_w)
        self._buffer = b""
        self._next = 0
        self.events = []

    def _read_message(self, deadline):
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("Chromium did not answer in time")
            ready, _, _ = select.select([self._res_r], [], [], left)
            if ready:
                chunk = os.read(self._res_r, 1 << 20)
                if not chunk:
                    raise RuntimeError(f"Chromium closed its pipe: {self.log()[-2000:]}")
                self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        return json.loads(message)

    def log(self):
        self._log.flush()
        return (Path(self.profile) / "chromium.log").read_text(errors="replace")

    def send(self, method, session=None, **params):
        """Send one command and wait for its reply; events meanwhile are kept."""
        self._next += 1
        msg = {"id": self._next, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        os.write(self._cmd_w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method, session=None):
        deadline = time.monotonic() + self.timeout
        seen = 0
        while True:
            for event in self.events[seen:]:
                if event.get("method") == method and event.get("sessionId", None) == session:
                    return event
            seen = len(self.events)
            self.events.append(self._read_message(deadline))

    def open(self, url):
        """A new page with Network and Page events on, navigated to ``url`` and loaded;
        returns its session id."""
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        session = self.send("Target.attachToTarget", targetId=target,
                            flatten=True)["sessionId"]
        for domain in ("Network", "Page", "Runtime"):
            self.send(f"{domain}.enable", session)
        self.send("Page.navigate", session, url=url)
        self.wait_for("Page.loadEventFired", session)
        return session

    def requests(self, session):
        """URLs of every request the page started (Network.requestWillBeSent)."""
        return [e["params"]["request"]["url"] for e in self.events
                if e.get("method") == "Network.requestWillBeSent"
                and e.get("sessionId") == session]

    def failed(self, session):
        return [e["params"] for e in self.events
                if e.get("method") == "Network.loadingFailed" and e.get("sessionId") == session]

    def evaluate(self, session, expression):
        reply = self.send("Runtime.evaluate", session, expression=expression,
                          awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in reply:
            raise RuntimeError(f"page script failed: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    def screenshot(self, session, path):
        data = self.send("Page.captureScreenshot", session, format="png",
                         captureBeyondViewport=False)["data"]
        import base64
        Path(path).write_bytes(base64.b64decode(data))
        return Path(path)

    def close(self):
        try:
            if self.proc.poll() is None:
                try:
                    self.send("Browser.close")
                except (RuntimeError, TimeoutError, OSError):
                    pass
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
        finally:
            for fd in (self._cmd_w, self._res_r):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self._log.close()
            shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
