"""Listing descriptions: Markdown rendered to safe HTML, and plain text for cards and excerpts.

The renderer is markdown-it-py (CommonMark, plus GFM tables), whose time grows linearly with the
input; Python-Markdown, used before, took quadratic time on runs of ``[``, ``[a](`` or ``<a `` and
raised RecursionError on deeply nested lists (a 500): see docs/performance.md, "Markdown rendering",
and ``bench/markdown_bench.py``. Nesting is capped by markdown-it's ``maxNesting`` (deeper
blocks render as text), and every input is cut to :data:`MAX_RENDER_CHARS` before rendering (the
description itself is refused beyond ``MAX_DESCRIPTION`` when saved and when previewed).
"""
import html
import re

import nh3
from markdown_it import MarkdownIt

from .vocab import MAX_DESCRIPTION

MAX_RENDER_CHARS = MAX_DESCRIPTION  # no path renders more than this (a description is refused beyond it)
MAX_NESTING = 20  # blocks and inline tokens nested deeper than this are left as text

_ALLOWED_TAGS = {"p", "br", "strong", "em", "b", "i", "ul", "ol", "li", "blockquote", "code", "pre", "h3", "h4",
                 "h5", "hr", "a", "table", "thead", "tbody", "tr", "th", "td", "sup", "sub"}
# Inline raw HTML is passed to nh3 (as Python-Markdown did), which keeps only the tags above and safe URLs.
# CommonMark's HTML *blocks* are off: a paragraph that starts with a tag (``<script>… **ok**``) stays a
# paragraph whose Markdown is rendered, and nh3 removes the tag.
_MD = MarkdownIt("commonmark", {"html": True, "maxNesting": MAX_NESTING}).enable("table").disable("html_block")
# Every link is made a link and nh3 drops an unsafe href (``javascript:`` …), as before: markdown-it's own
# check would leave "[x](javascript:…)" on the page as text.
_MD.validateLink = lambda url: True


def _render(text):
    return _MD.render((text or "")[:MAX_RENDER_CHARS])


def render_markdown(text):
    """Markdown → HTML that is safe to show: nh3 removes scripts, handlers, styles and unsafe URLs."""
    out = _render(text)
    # Headings are demoted so a description never outranks the page's own headings.
    out = re.sub(r"<(/?)h[12]\b", r"<\1h3", out)
    return nh3.clean(out, tags=_ALLOWED_TAGS, attributes={"a": {"href", "title"}},
                     url_schemes={"http", "https", "mailto"}, link_rel="nofollow noopener noreferrer")


def plain_text(text, limit=None):
    """The description as plain text (for cards and search excerpts)."""
    plain = nh3.clean(_render(text), tags=set())
    plain = re.sub(r"\s+", " ", html.unescape(plain)).strip()
    if limit and len(plain) > limit:
        plain = plain[: limit - 1] + "…"
    return plain
