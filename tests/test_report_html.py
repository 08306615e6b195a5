"""The report's index.html in a real browser: headless Chromium (Debian's
package; .ci/run installs it) opens it from a file:// URL with the network
unreachable, every figure must have loaded and no request may have left."""
import os
import re
import shutil
import warnings
from pathlib import Path
from urllib.parse import urlparse

import pytest

from lrperf import htmlpage
from lrperf.report import build_report

import browser
from test_report import FIXTURE

CHROMIUM = browser.find()
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium here: .ci/run installs it (apt-get install chromium, "
    "as root on Debian); without it the page is checked as text only")
IMAGES = ("Promise.all([...document.images].map(i => i.decode().catch(() => null)))"
          ".then(() => [...document.images].map(i => ({src: i.src.slice(0, 30), "
          "complete: i.complete, width: i.naturalWidth})))")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("html") / "out"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        build_report(FIXTURE, out)
    return out


def _outside(urls):
    return [u for u in urls if urlparse(u).scheme not in ("file", "data")]


def test_each_page_is_made_of_the_readme_and_embeds_every_figure(report):
    for folder in (report, report / "vm"):
        page = (folder / "index.html").read_text()
        readme = (folder / "README.md").read_text()
        figures = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", readme)
        assert page.count('<img src="data:image/png;base64,') == len(figures)
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
        first = readme.splitlines()[0].lstrip("# ")
        assert re.sub("<[^>]+>", "", page.split("<h1>")[1].split("</h1>")[0]) == \
            first.replace("`", "")
    assert len(re.findall(r"!\[", (report / "vm" / "README.md").read_text())) >= 3


def test_an_image_that_is_not_a_local_figure_is_never_fetched(tmp_path):
    (tmp_path / "fig.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    html = htmlpage.page("![a](fig.png) ![b](http://evil.example/x.png) ![c](../fig.png) "
                         "<img src=http://evil.example/y.png>", tmp_path, "t")
    assert html.count("<img ") == 1 and "data:image/png;base64," in html
    assert "evil.example/x.png" not in html and "&lt;img" in html


@needs_chromium
def test_the_page_loads_every_figure_offline_in_chromium(report, tmp_path):
    with browser.Browser(CHROMIUM) as b:
        session = b.open((report / "vm" / "index.html").as_uri())
        images = b.evaluate(session, IMAGES)
        shot = b.screenshot(session, tmp_path / "report.png")
        b.evaluate(session, "document.images[0].scrollIntoView()")
        figure = b.screenshot(session, tmp_path / "figure.png")
        requests = b.requests(session)
        index = b.open((report / "index.html").as_uri())
        links = b.evaluate(index, "[...document.links].map(a => a.href)")
        index_requests = b.requests(index)
    assert len(images) >= 3
    assert all(i["complete"] and i["width"] > 0 for i in images), images
    assert _outside(requests + index_requests) == [], requests
    assert links and all(urlparse(u).scheme == "file" and u.endswith("/index.html")
                         for u in links), links
    assert all(Path(urlparse(u).path).is_file() for u in links)
    assert shot.stat().st_size > 10_000 and figure.stat().st_size > 10_000
    print(f"screenshots: {shot}, {figure}")
    if os.environ.get("LRPERF_SCREENSHOTS"):  # a folder to keep them in
        for path in (shot, figure):
            shutil.copy(path, Path(os.environ["LRPERF_SCREENSHOTS"]) / path.name)


@needs_chromium
def test_the_harness_sees_a_request_that_tries_to_leave(tmp_path):
    """The check above can fail: a page with an external image and stylesheet
    is seen asking for both, and its image does not load."""
    page = tmp_path / "leaky.html"
    page.write_text('<!DOCTYPE html><html><head><link rel="stylesheet" '
                    'href="https://cdn.example.com/x.css"></head><body>'
                    '<img src="http://images.example.com/x.png"></body></html>')
    with browser.Browser(CHROMIUM) as b:
        session = b.open(page.as_uri())
        images = b.evaluate(session, IMAGES)
        outside = _outside(b.requests(session))
    assert sorted(urlparse(u).hostname for u in outside) == ["cdn.example.com",
                                                             "images.example.com"]
    assert images == [{"src": "http://images.example.com/x.png"[:30], "complete": True,
                       "width": 0}]
