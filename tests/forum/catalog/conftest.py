"""Fixtures and helpers for the catalog tests: products, published reviews, HTML text extraction."""

from __future__ import annotations

import sqlite3
from html.parser import HTMLParser

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from forum.catalog import services as catalog
from forum.catalog.models import Product, Review
from forum.extensions import db
from moderation import services as moderation

VOID_TAGS = {
    "area",
    "base",
    "br",
    "col",
    "embed",
    "hr",
    "img",
    "input",
    "link",
    "meta",
    "source",
    "track",
    "wbr",
}


@pytest.fixture(autouse=True)
def _no_wait_for_disk_on_commit():
    """These tests commit thousands of times (every naughty string is submitted and approved):
    waiting for the disk on each commit would dominate their run time and proves nothing here.
    (A listener on the Engine class, so the app fixture is not created early: tests may still
    change app_config first.)"""

    def relax(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        if isinstance(dbapi_connection, sqlite3.Connection):
            cursor.execute("PRAGMA synchronous = OFF")
        else:
            cursor.execute("SET synchronous_commit = off")
        cursor.close()

    event.listen(Engine, "connect", relax)
    yield
    event.remove(Engine, "connect", relax)


@pytest.fixture
def product(app):
    product = Product(sku="CAB-USB-C-2M", name="USB-C cable, 2 m", description="Braided.\nCharges at 100 W.")
    db.session.add(product)
    db.session.commit()
    return product


@pytest.fixture
def publish(moderator):
    """Submit through the service and approve: a published review."""

    def do(user, product, rating=4, title="Good cable", body="Works well."):
        review = catalog.submit_review(user, product, rating, title, body)
        moderation.approve_submission("review", review.id, moderator)
        return db.session.get(Review, review.id)

    return do


class _ElementText(HTMLParser):
    """Text content of the element with a given id, as a browser's parser would unescape it."""

    def __init__(self, element_id: str):
        super().__init__(convert_charrefs=True)
        self.element_id = element_id
        self.depth = 0
        self.found = False
        self.parts: list[str] = []

    def handle_starttag(self, tag, attrs):
        if self.depth:
            if tag not in VOID_TAGS:
                self.depth += 1
        elif dict(attrs).get("id") == self.element_id:
            self.found = True
            self.depth = 1

    def handle_endtag(self, tag):
        if self.depth and tag not in VOID_TAGS:
            self.depth -= 1

    def handle_data(self, data):
        if self.depth:
            self.parts.append(data)


def element_text(html: str, element_id: str) -> str:
    # Parse from the element's opening tag only: whole pages make the (pure Python) parser slow.
    start = html.find(f'id="{element_id}"')
    assert start != -1, f"no element with id {element_id!r}"
    parser = _ElementText(element_id)
    parser.feed(html[html.rfind("<", 0, start) :])
    parser.close()
    assert parser.found, f"no element with id {element_id!r}"
    return "".join(parser.parts)


def as_browser_sees(text: str) -> str:
    """HTML parsing turns CR LF and lone CR into LF; the stored text keeps them (see the API tests)."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


class _Scripts(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.current = None
        self.scripts: list[tuple[dict, str]] = []

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self.current = (dict(attrs), [])

    def handle_endtag(self, tag):
        if tag == "script" and self.current is not None:
            attrs, parts = self.current
            self.scripts.append((attrs, "".join(parts)))
            self.current = None

    def handle_data(self, data):
        if self.current is not None:
            self.current[1].append(data)


def scripts_in(html: str) -> list[tuple[dict, str]]:
    """Scripts on the page other than the site's own static files (static/site.js, desk.js)."""
    parser = _Scripts()
    parser.feed(html)
    parser.close()
    return [
        (attrs, body)
        for attrs, body in parser.scripts
        if not ((attrs.get("src") or "").startswith("/static/") and not body.strip())
    ]
