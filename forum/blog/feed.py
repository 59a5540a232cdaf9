"""The Atom 1.0 feed of published blog posts (RFC 4287), built with ElementTree
so that every title and every piece of HTML is escaped by the serialiser."""

from __future__ import annotations

import re
from datetime import datetime
from xml.etree import ElementTree as ET

from forum.timeutil import utcnow
from forum.urls import external_url

from . import services

ATOM_NS = "http://www.w3.org/2005/Atom"
FEED_ENTRIES = 20
# Characters XML 1.0 cannot carry at all, even escaped (C0 controls except tab,
# newline and carriage return; lone surrogates; U+FFFE and U+FFFF).
XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _text(value: str | None) -> str:
    return XML_ILLEGAL.sub("\ufffd", value or "")


def _timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _add(parent, tag: str, text: str | None = None, **attributes) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}", attributes)
    if text is not None:
        element.text = _text(text)
    return element


def build_feed(site_name: str) -> bytes:
    posts = services.published_posts(page=1, per_page=FEED_ENTRIES).items
    from forum.speed import rendered

    rendered.prefetch("blog_post", posts)  # every entry's stored HTML in one query
    ET.register_namespace("", ATOM_NS)
    feed = ET.Element(f"{{{ATOM_NS}}}feed")
    blog_url = external_url("blog.index")
    _add(feed, "id", blog_url)
    _add(feed, "title", f"{site_name} blog")
    newest = max((post.updated_at for post in posts), default=None)
    _add(feed, "updated", _timestamp(newest or utcnow()))
    _add(feed, "link", rel="self", type="application/atom+xml", href=external_url("blog.feed"))
    _add(feed, "link", rel="alternate", type="text/html", href=blog_url)
    author = _add(feed, "author")
    _add(author, "name", site_name)
    for post in posts:
        post_url = external_url("blog.post", slug=post.slug)
        entry = _add(feed, "entry")
        # The slug never changes after publication, so the address is a stable id.
        _add(entry, "id", post_url)
        _add(entry, "title", post.title)
        _add(entry, "published", _timestamp(post.published_at))
        _add(entry, "updated", _timestamp(max(post.updated_at, post.published_at)))
        entry_author = _add(entry, "author")
        _add(entry_author, "name", post.author.display_name if post.author else f"{site_name} staff")
        _add(entry, "link", rel="alternate", type="text/html", href=post_url)
        _add(entry, "content", str(services.render_post_body(post)), type="html")
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)
