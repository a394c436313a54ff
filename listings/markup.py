"""Listing descriptions: Markdown rendered to safe HTML, and plain text for cards and excerpts."""
import re

import markdown as markdown_lib
import nh3

_ALLOWED_TAGS = {"p", "br", "strong", "em", "b", "i", "ul", "ol", "li", "blockquote", "code", "pre", "h3", "h4",
                 "h5", "hr", "a", "table", "thead", "tbody", "tr", "th", "td", "sup", "sub"}


def render_markdown(text):
    """Markdown → HTML that is safe to show: nh3 removes scripts, handlers, styles and unsafe URLs."""
    html = markdown_lib.markdown(text or "", extensions=["tables", "sane_lists"])
    # Headings are demoted so a description never outranks the page's own headings.
    html = re.sub(r"<(/?)h[12]\b", r"<\1h3", html)
    return nh3.clean(html, tags=_ALLOWED_TAGS, attributes={"a": {"href", "title"}},
                     url_schemes={"http", "https", "mailto"}, link_rel="nofollow noopener noreferrer")


def plain_text(text, limit=None):
    """The description as plain text (for cards and search excerpts)."""
    html = markdown_lib.markdown(text or "")
    plain = nh3.clean(html, tags=set())
    plain = re.sub(r"\s+", " ", _unescape(plain)).strip()
    if limit and len(plain) > limit:
        plain = plain[: limit - 1] + "…"
    return plain


def _unescape(text):
    import html

    return html.unescape(text)

