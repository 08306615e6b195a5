"""A report's Markdown as one self-contained HTML page (``index.html``).

The page is made from the same text as README.md (markdown-it-py, CommonMark
and tables, raw HTML in the text shown as text), with every figure embedded as
a ``data:`` URI: it opens from a ``file://`` URL with no server, no network and
no CDN.  An image that is not one of the report's own PNG files is shown as its
alt text, never fetched, and the page's Content-Security-Policy allows nothing
but inline styles and ``data:`` images, so a browser makes no request for it
even if some markup slipped through.
"""
import base64
from pathlib import Path, PurePosixPath

from .escape import html_text

IMAGE_TYPES = {".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg",
               ".jpeg": "image/jpeg"}
MAX_IMAGE_BYTES = 16 << 20
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

STYLE = """
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0;
       color: #1f2328; background: #fff; }
main { max-width: 1120px; margin: 0 auto; padding: 24px 32px 64px; }
h1 { font-size: 1.8em; border-bottom: 1px solid #d1d9e0; padding-bottom: .3em; }
h2 { font-size: 1.4em; border-bottom: 1px solid #d1d9e0; padding-bottom: .3em; margin-top: 1.6em; }
h3 { font-size: 1.15em; margin-top: 1.4em; }
table { border-collapse: collapse; margin: 12px 0; display: block; overflow-x: auto; }
th, td { border: 1px solid #d1d9e0; padding: 4px 10px; }
th { background: #f6f8fa; }
tr:nth-child(2n) td { background: #f9fafb; }
td[style*="right"], th[style*="right"] { font-variant-numeric: tabular-nums; }
code { font: 0.9em ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
       background: #eff1f3; padding: .1em .3em; border-radius: 4px; }
pre { background: #f6f8fa; padding: 12px 16px; overflow-x: auto; border-radius: 6px; }
pre code { background: none; padding: 0; }
img { max-width: 100%; height: auto; border: 1px solid #eee; }
.missing-figure { color: #9a6700; font-style: italic; }
"""


def _parser():
    from markdown_it import MarkdownIt
    return MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])


def _local_file(folder, src):
    """The file ``src`` names inside ``folder`` (a plain relative name), or None."""
    if not src or "://" in src or src.startswith(("/", "\\", "data:")) or "\\" in src:
        return None
    rel = PurePosixPath(src)
    if rel.is_absolute() or any(part in ("..", "") for part in rel.parts):
        return None
    path = Path(folder, *rel.parts)
    try:
        if path.suffix.lower() in IMAGE_TYPES and path.is_file() and \
                path.stat().st_size <= MAX_IMAGE_BYTES:
            return path
    except OSError:
        return None
    return None


def data_uri(path):
    """A file as a ``data:`` URI."""
    kind = IMAGE_TYPES[Path(path).suffix.lower()]
    return f"data:{kind};base64,{base64.b64encode(Path(path).read_bytes()).decode('ascii')}"


def render(markdown, folder, links=None):
    """The HTML body of ``markdown``: images found in ``folder`` embedded, any other
    shown as its alt text; relative links renamed by ``links`` ({name: name},
    e.g. README.md -> index.html)."""
    md = _parser()
    links = links or {}

    def image(self, tokens, idx, options, env):
        token = tokens[idx]
        alt = self.renderInlineAsText(token.children or [], options, env)
        path = _local_file(folder, token.attrGet("src"))
        if path is None:
            return f'<span class="missing-figure">[figure not embedded: {html_text(alt)}]</span>'
        return f'<img src="{data_uri(path)}" alt="{html_text(alt)}" loading="eager">'

    def link_open(self, tokens, idx, options, env):
        token = tokens[idx]
        href = token.attrGet("href") or ""
        if "://" not in href and not href.startswith(("#", "mailto:")):
            head, _, last = href.rpartition("/")
            if last in links:
                token.attrSet("href", f"{head}/{links[last]}" if head else links[last])
        return self.renderToken(tokens, idx, options, env)

    md.add_render_rule("image", image)
    md.add_render_rule("link_open", link_open)
    return md.render(markdown)


def page(markdown, folder, title, links=None):
    """A complete HTML document of ``markdown`` (see ``render``)."""
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html_text(title)}</title>", f"<style>{STYLE}</style>", "</head>",
        "<body><main>", render(markdown, folder, links), "</main></body>", "</html>", ""])
