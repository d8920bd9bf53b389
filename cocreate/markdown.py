"""Markdown from brands and consumers: rendered without raw HTML, then sanitised by nh3."""

from __future__ import annotations

import html as html_lib

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

_md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")

ALLOWED_TAGS = {
    "p",
    "br",
    "strong",
    "em",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "a",
    "h2",
    "h3",
    "h4",
    "hr",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}


def render_markdown(text: str) -> Markup:
    """Safe HTML for a template; links get rel="nofollow noopener ugc" (user content)."""
    html = _md.render(text or "")
    clean = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="nofollow noopener ugc",
    )
    return Markup(clean)  # noqa: S704  (sanitised by nh3 just above)


def plain_text(text: str, limit: int = 200) -> str:
    """A one-line plain excerpt (meta descriptions, share text): real characters, not HTML
    entities, so that the template escapes it exactly once."""
    html = _md.render(text or "")
    stripped = " ".join(html_lib.unescape(nh3.clean(html, tags=set())).split())
    return stripped if len(stripped) <= limit else stripped[: limit - 1].rstrip() + "…"


def summary_html(text: str, limit: int = 600) -> Markup:
    """The start of a description for a list (the ballot): rendered in full when short, else
    its plain text cut at `limit // 2` characters, so that no cut leaves a raw `**`."""
    if len(text or "") <= limit:
        return render_markdown(text)
    return Markup("<p>{}</p>").format(plain_text(text, limit // 2))
