"""asv's own HTML pages of one results folder."""
import sys
import tempfile
from pathlib import Path

from . import supervise
from .config import write_config


def publish_html(repo_root, results_dir, log=None):
    """asv's own HTML pages of one results folder (``asv preview`` serves them), in
    ``.asv/html/<kind>``; returns that folder."""
    results_dir = Path(results_dir)
    html = Path(repo_root) / ".asv" / "html" / results_dir.name
    with tempfile.TemporaryDirectory(prefix="lrperf-study-") as tmp:
        config = write_config(repo_root, results_dir, tmp, html_dir=html)
        lines = []
        code = supervise.run_supervised(
            [sys.executable, "-m", "asv", "publish", "--config", str(config)],
            cwd=repo_root, env=None, on_line=lines.append)
        if log is not None:
            with open(log, "a", encoding="utf-8") as f:
                f.writelines(lines)
        if code != 0:
            raise RuntimeError(f"asv publish failed (exit status {code}): "
                               f"{''.join(lines)[-300:].strip()}")
    return html
