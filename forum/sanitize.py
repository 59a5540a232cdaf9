"""The one module that uses bleach (in its final release): keep it behind these functions.

- `linkify_plain_text`: customer plain text (reviews) -> escaped HTML with
  clickable links; the words themselves are untouched.
- `render_markdown`: Markdown (forum posts, blog) -> sanitised HTML: raw HTML
  disabled in the parser, then an allow-list clean as a second line of defence.
Every link we generate from user content gets rel="nofollow ugc noopener".
Links are made inside the sanitiser (bleach's LinkifyFilter in the Cleaner) and
only for the schemes in ALLOWED_PROTOCOLS, the same list the cleaner applies to
links written in Markdown; nothing changes the HTML after it has been cleaned.
"""

from __future__ import annotations

import re
from functools import lru_cache, partial
from urllib.parse import urlsplit

from bleach.linkifier import Linker, LinkifyFilter, build_url_re
from bleach.sanitizer import Cleaner
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
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "code",
    "del",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "li",
    "ol",
    "p",
    "pre",
    "s",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "ul",
]
ALLOWED_ATTRIBUTES = {"a": ["href", "title", "rel"], "abbr": ["title"], "th": ["align"], "td": ["align"]}


# Only text that starts with one of these schemes (or looks like a bare domain, which
# becomes http://) is turned into a link. The look-behind keeps "ftp://x.com" from
# becoming "ftp://" followed by a link to http://x.com.
_BLEACH_URL_RE = build_url_re(protocols=ALLOWED_PROTOCOLS)
_URL_RE = re.compile(r"(?<![/:])" + _BLEACH_URL_RE.pattern, _BLEACH_URL_RE.flags)


def _allowed_scheme(attrs, new=False):
    """Drop any link (found in text or written) whose scheme is not allowed."""
    href = attrs.get((None, "href"), "")
    scheme = urlsplit(href).scheme.lower() if ":" in href.split("/", 1)[0] else ""
    if scheme and scheme not in ALLOWED_PROTOCOLS:
        return None
    return attrs


def _set_rel(attrs, new=False):
    href_key = (None, "href")
    href = attrs.get(href_key, "")
    if href.startswith("mailto:") or href.startswith("#"):
        return attrs
    attrs[(None, "rel")] = LINK_REL
    return attrs


_CALLBACKS = [_allowed_scheme, _set_rel]


@lru_cache(maxsize=1)
def _linker() -> Linker:
    return Linker(callbacks=_CALLBACKS, skip_tags=["pre", "code"], parse_email=False, url_re=_URL_RE)


@lru_cache(maxsize=1)
def _cleaner() -> Cleaner:
    return Cleaner(
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        protocols=ALLOWED_PROTOCOLS,
        strip=True,
        strip_comments=True,
        filters=[
            partial(
                LinkifyFilter,
                callbacks=_CALLBACKS,
                skip_tags=["pre", "code"],
                parse_email=False,
                url_re=_URL_RE,
            )
        ],
    )


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
    """Clean and linkify in one pass: bleach's Cleaner with its LinkifyFilter."""
    return Markup(_cleaner().clean(html))


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
