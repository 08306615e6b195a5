"""Machine names from result files: one folder each, never a file the report
writes, and inert wherever the report writes them (README.md, the index)."""
import json
import shutil

import pytest
from markdown_it import MarkdownIt

from lrperf.report import build_report

from test_report import FIXTURE


def _results_of(tmp_path, machines, cpu=None):
    """A results folder with the fixture's run under each name in ``machines``."""
    root = tmp_path / "results"
    root.mkdir()
    shutil.copy(FIXTURE / "benchmarks.json", root)
    for i, name in enumerate(machines):
        folder = root / f"m{i}"
        shutil.copytree(FIXTURE / "vm", folder)
        for path in folder.glob("*.json"):
            data = json.loads(path.read_text())
            (data["params"] if "params" in data else data)["machine"] = name
            if cpu is not None:
                (data["params"] if "params" in data else data)["cpu"] = cpu
            path.write_text(json.dumps(data))
    return root


def _tokens(text):
    out = []

    def walk(tokens):
        for t in tokens:
            out.append(t)
            walk(t.children or [])
    walk(MarkdownIt("commonmark").enable(["table", "strikethrough"]).parse(text))
    return out


def _links(text):
    return [t.attrGet("href") for t in _tokens(text) if t.type == "link_open"]


def test_names_the_sanitiser_would_merge_get_a_folder_each(tmp_path):
    out = build_report(_results_of(tmp_path, ["a/b", "a b", "a_b"]), tmp_path / "out",
                       figures=False)
    index = (out / "README.md").read_text()
    targets = _links(index)
    assert len(targets) == 3 and len(set(targets)) == 3, targets
    for target in targets:
        assert (out / target).is_file()
    titles = {(out / t).read_text().splitlines()[0] for t in targets}
    assert titles == {"# lrperf study: machine `a/b`", "# lrperf study: machine `a b`",
                      "# lrperf study: machine `a_b`"}


@pytest.mark.parametrize("name", ["README.md", "index.html", ".", "..", ".hidden"])
def test_a_machine_named_like_a_file_of_the_report_cannot_replace_it(tmp_path, name):
    results = _results_of(tmp_path, [name])
    for _ in range(2):  # a second report into the same folder works too
        out = build_report(results, tmp_path / "out", figures=False)
        assert (out / "README.md").is_file()
        assert (out / "README.md").read_text().startswith("# lrperf reports")
        (target,) = _links((out / "README.md").read_text())
        assert (out / target).resolve().parent.parent == out.resolve()
        assert (out / target).is_file()


HOSTILE = "<img src=x onerror=alert(1)>\n# pwned [click](http://evil.example) `x` | y"


def test_names_and_fields_from_result_files_are_inert_in_the_markdown(tmp_path):
    out = build_report(_results_of(tmp_path, [HOSTILE], cpu=HOSTILE), tmp_path / "out",
                       figures=False)
    index = (out / "README.md").read_text()
    (target,) = _links(index)
    readme = (out / target).read_text()
    for text in (index, readme):
        kinds = {t.type for t in _tokens(text)}
        assert not kinds & {"html_inline", "html_block", "image"}, kinds
        assert not [h for h in _links(text) if "://" in (h or "")]
        assert "\n# pwned" not in text
    headings = [t for t in _tokens(readme) if t.type == "heading_open" and t.tag == "h1"]
    assert len(headings) == 1
    cells = [t for t in _tokens(readme) if t.type == "inline" and "onerror" in t.content]
    assert cells, "the name is shown, as text"
