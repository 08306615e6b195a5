"""Names from result files -> file and folder names, and escaping into Markdown/HTML."""
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from lrperf import escape, names

HOSTILE = ["a/b", "a b", "a_b", "README.md", "readme.MD", "index.html", "results.csv",
           "speedup.png", ".", "..", "", ".hidden", "-rf", "x" * 300, "x" * 64, "x" * 65,
           "a\nb", "a`b", "<script>alert(1)</script>", "[x](http://evil.example)",
           "é", "e\u0301", "Box", "box", "a~b", "con", "a\x00b"]


def test_ordinary_names_are_kept_as_they_are():
    for name in ("vm", "my-laptop", "ci_runner.2", "EPYC-7B13"):
        assert names.safe_name(name) == name


@pytest.mark.parametrize("name", HOSTILE)
def test_every_safe_name_is_a_plain_bounded_name_never_written_by_the_report(name):
    got = names.safe_name(name)
    assert re.fullmatch(r"[A-Za-z0-9._~-]+", got), got
    assert got not in (".", "..") and not got.startswith((".", "-"))
    assert len(got) <= names.MAX_LENGTH
    assert not got.lower().endswith(names.RESERVED_SUFFIXES), got


def test_names_the_sanitiser_changes_never_share_a_folder():
    got = [names.safe_name(n) for n in HOSTILE]
    assert len(set(got)) == len(HOSTILE), sorted(got)
    assert names.safe_name("a/b") != names.safe_name("a b") != names.safe_name("a_b")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=80), min_size=2, max_size=6, unique=True))
def test_safe_name_is_injective(texts):
    got = [names.safe_name(t) for t in texts]
    assert len(set(got)) == len(got)


def test_assign_separates_names_that_differ_only_in_case():
    got = names.assign(["Box", "box", "vm"])
    assert got["vm"] == "vm"
    assert got["Box"].casefold() != got["box"].casefold()


def test_joined_names_are_injective_in_the_tuple():
    a = names.joined_name(["p-vs-q", "r"], prefix="compare-", suffix=".png")
    b = names.joined_name(["p", "q-vs-r"], prefix="compare-", suffix=".png")
    assert a != b and a.endswith(".png") and b.endswith(".png")
    assert names.joined_name(["vm:ab12cd34", "vm:ef56ab78"], prefix="compare-", suffix=".png") \
        != names.joined_name(["vm_ab12cd34", "vm_ef56ab78"], prefix="compare-", suffix=".png")


def _tokens(text):
    md = MarkdownIt("commonmark").enable(["table", "strikethrough"])
    out = []

    def walk(tokens):
        for t in tokens:
            out.append(t)
            walk(t.children or [])
    walk(md.parse(text))
    return out


def _inert(markdown):
    kinds = {t.type for t in _tokens(markdown)}
    return kinds.isdisjoint({"link_open", "image", "html_inline", "html_block", "code_inline",
                             "em_open", "strong_open", "s_open", "autolink", "fence",
                             "heading_open", "bullet_list_open"})


ATTACKS = ["evil\n# heading", "`code`", "<img src=x onerror=alert(1)>", "[a](http://evil)",
           "![i](http://evil/x.png)", "*em* __strong__ ~~s~~", "<http://evil>", "a | b",
           "line\r\n- item", "www.evil.example", "http://evil.example", "x@evil.example",
           "a\u2028b", "\\", "&lt;b&gt;", "$x$"]


@pytest.mark.parametrize("attack", ATTACKS)
def test_escaped_text_stays_text_in_a_line_and_in_a_table_cell(attack):
    text = escape.md(attack)
    assert "\n" not in text and "\r" not in text
    assert _inert(f"machine {text} here")
    table = f"| k | v |\n| --- | --- |\n| name | {text} |\n"
    cells = [t for t in _tokens(table) if t.type == "td_open"]
    assert len(cells) == 2 and _inert(table)


@pytest.mark.parametrize("attack", ATTACKS)
def test_a_code_span_holds_any_value_whole(attack):
    span = escape.md_code(attack)
    toks = [t for t in _tokens(f"env {span} end") if t.type == "code_inline"]
    assert len(toks) == 1
    assert toks[0].content == escape.one_line(attack)


def test_html_text_escapes_markup():
    assert escape.html_text('<a href="x">&</a>') == "&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;"
    assert escape.html_text("a\nb") == "a b"


@pytest.mark.parametrize("machine", ["a*", "[ab]", "?"])
def test_the_study_finds_earlier_results_of_its_own_machine_only(tmp_path, machine):
    """A machine name is matched literally, never as a pattern over other machines."""
    from lrperf.study import store
    other = tmp_path / "ab" / "abcdef12-existing-py3.11.json"
    other.parent.mkdir()
    other.write_text("{}")
    assert store.existing_results(tmp_path, "abcdef12" * 5, machine) == []
    own = tmp_path / machine / "abcdef12-existing-py3.11.json"
    own.parent.mkdir()
    own.write_text("{}")
    assert store.existing_results(tmp_path, "abcdef12" * 5, machine) == [own]
