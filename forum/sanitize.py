"""The one module that uses bleach (in its final release): keep it behind these functions.

- `linkify_plain_text`: customer plain text (reviews) -> escaped HTML with
  clickable links; the words themselves are untouched.
- `render_markdown`: Markdown (forum posts, blog) -> sanitised HTML: raw HTML
  disabled in the parser, then an allow-list clean as a second line of defence.
Every link we generate from user content gets rel="nofollow ugc noopener".
"""

from __future__ import annotations

from functools import lru_cache

import bleach
from bleach.linkifier import Linker
from markdown_it import MarkdownIt
from markupsafe import Markup, escape

# Bump this whenever the output of `render_markdown` or `linkify_plain_text` may change
# (bleach or markdown-it upgrade, allow-list or link-scheme change): HTML stored
# for speed (forum.speed.rendered) under an older version is then re-rendered on first view.
SANITIZER_POLICY_VERSION = 1

LINK_REL = "nofollow ugc noopener"
ALLOWED_PROTOCOLS = ["http", "https", "mailto"]
# No images, scripts, styles, forms, iframes or event attributes.
ALLOWED_TAGS = [
    "a", "abbr", "b", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6",
    "hr", "i", "li", "ol", "p", "pre", "s", "strong", "sub", "sup", "table", "tbody", "td", "th",
    "thead", "tr", "ul",
]
ALLOWED_ATTRIBUTES = {"a": ["href", "title", "rel"], "abbr": ["title"], "th": ["align"], "td": ["align"]}


def _set_rel(attrs, new=False):
    href_key = (None, "href")
    href = attrs.get(href_key, "")
    if href.startswith("mailto:") or href.startswith("#"):
        return attrs
    attrs[(None, "rel")] = LINK_REL
    return attrs


@lru_cache(maxsize=1)
def _linker() -> Linker:
    return Linker(callbacks=[_set_rel], skip_tags=["pre", "code"], parse_email=False)


def linkify_plain_text(text: str | None) -> Markup:
    """Escape plain text and make http(s) links clickable. Line breaks are kept by CSS (pre-wrap)."""
    if not text:
        return Markup("")
    return Markup(_linker().linkify(str(escape(text))))


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    # "js-default" is CommonMark with raw HTML off; tables and strikethrough on.
    return MarkdownIt("js-default", {"html": False, "linkify": False, "typographer": False}).enable(
        ["table", "strikethrough"]
    )


def sanitize_html(html: str) -> Markup:
    cleaned = bleach.clean(
        html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, protocols=ALLOWED_PROTOCOLS, strip=True,
        strip_comments=True,
    )
    return Markup(_linker().linkify(cleaned))


def render_markdown(source: str | None) -> Markup:
    if not source:
        return Markup("")
    return sanitize_html(_markdown().render(source))


def count_links(source: str | None) -> int:
    """How many links a Markdown text would show (for holding link-heavy posts from new members)."""
    return str(render_markdown(source)).count("<a ")


def render_markdown_tokens(source: str | None, transform, env: dict | None = None) -> Markup:
    """`render_markdown`, with `transform(tokens)` changing the parsed tokens first
    (forum @mentions and quotes: forum/members/markup.py). Same parser, same clean."""
    if not source:
        return Markup("")
    md = _markdown()
    env = {} if env is None else env
    tokens = md.parse(source, env)
    transform(tokens)
    return sanitize_html(md.renderer.render(tokens, md.options, env))
