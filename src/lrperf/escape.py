"""Text from a result file (a machine's name, its CPU, an environment, a path)
made inert where lrperf writes it: Markdown (README.md, the index) and HTML.

Nothing a result file holds may start a line, a link, an image, a table cell,
an autolink, raw HTML or code in what the report writes: line breaks and other
control characters become spaces, and every character with a meaning in
CommonMark or GitHub's Markdown mid-line is backslash-escaped.
"""
import html
import re
import unicodedata

# ASCII punctuation that CommonMark/GFM can act on inside a line; a backslash
# before any ASCII punctuation is always a literal.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&:@$])")
# GFM's www. autolink needs "www." literally.
_WWW = re.compile(r"(?i)(www)\.")
MAX_LENGTH = 200


def one_line(value, limit=MAX_LENGTH):
    """``value`` as a str on one line: control, format and line-separator
    characters become spaces; longer than ``limit`` is cut with an ellipsis."""
    text = "".join(" " if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co")
                   else c for c in str(value))
    text = re.sub(r" {2,}", " ", text).strip()
    return text if len(text) <= limit else text[:limit - 1] + "…"


def md(value, limit=MAX_LENGTH):
    """``value`` as literal text inside a Markdown line or table cell."""
    return _WWW.sub(r"\1\\.", _MD_SPECIAL.sub(r"\\\1", one_line(value, limit)))


def md_code(value, limit=MAX_LENGTH):
    """``value`` as an inline code span (outside tables): fenced by more backticks
    than it holds, so nothing in it ends the span."""
    text = one_line(value, limit)
    runs = [len(r) for r in re.findall(r"`+", text)]
    fence = "`" * (max(runs, default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def html_text(value, limit=MAX_LENGTH):
    """``value`` as HTML text or an attribute value."""
    return html.escape(one_line(value, limit), quote=True)
