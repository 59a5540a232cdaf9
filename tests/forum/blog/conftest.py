"""Fixtures for the blog tests: an editor, posts in each state, comments."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from forum.blog import services as blog
from forum.blog.models import BlogComment, BlogPost
from forum.extensions import db
from moderation import services as moderation
from tests.forum.catalog.conftest import VOID_TAGS


def end_of_request() -> None:
    """Service calls made straight from a test share the test's app context, where a real
    server would end a request after each: apply what was committed (mail, search index)
    the way the end of a request does, before the next call."""
    from forum.mail import deliver_committed
    from forum.search.indexing import drain_committed

    deliver_committed()
    drain_committed()


@pytest.fixture
def editor(make_user):
    return make_user("editor", email="editor@example.com", display_name="Eddie Editor")


@pytest.fixture
def make_post(editor):
    def make(title="Hello world", body="First **post**.", state="published", author=None):
        post = blog.create_post(author or editor, title, body, publish=state != "draft")
        if state == "unpublished":
            blog.unpublish_post(author or editor, post.id)
        end_of_request()
        return db.session.get(BlogPost, post.id)

    return make


@pytest.fixture
def post(make_post):
    return make_post()


@pytest.fixture
def make_comment(moderator):
    """A comment through the service, then moved to `state` through the moderation services."""

    def make(author, post, body="Nice post!", state="pending"):
        comment = blog.add_comment(author, post.slug, body)
        if state in ("published", "hidden", "removed"):
            moderation.approve_submission("blog_comment", comment.id, moderator)
            end_of_request()
        if state == "rejected":
            moderation.reject_submission("blog_comment", comment.id, moderator, reason="spam")
        if state == "hidden":
            moderation.transition(
                db.session.get(BlogComment, comment.id), "hide", None, system=True, reason="flagged"
            )
            db.session.commit()
        if state == "removed":
            moderation.transition(
                db.session.get(BlogComment, comment.id), "remove", moderator, reason="abusive"
            )
            db.session.commit()
        if state == "withdrawn":
            blog.withdraw_comment(author, comment.id)
        end_of_request()
        return db.session.get(BlogComment, comment.id)

    return make


@pytest.fixture
def csrf_enabled(app_config):
    """List before `client`: the app must be created with CSRF protection on."""
    app_config["WTF_CSRF_ENABLED"] = True
    return app_config


@pytest.fixture
def posting_limited(app_config):
    app_config.update(RATELIMIT_ENABLED=True, RATELIMIT_POSTING="2 per hour")
    return app_config


def mail_to(address: str):
    """Mail queued for an address (delivered after commit; the outbox row is the record)."""
    from forum.models import OutboxMessage

    return db.session.scalars(
        db.select(OutboxMessage).where(OutboxMessage.to_address == address).order_by(OutboxMessage.id)
    ).all()


class _TextsById(HTMLParser):
    """Text content of every element whose id starts with a prefix, in one pass."""

    def __init__(self, prefix: str):
        super().__init__(convert_charrefs=True)
        self.prefix = prefix
        self.stack: list[list] = []  # [element id, depth, parts]
        self.texts: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        if tag in VOID_TAGS:
            return
        for entry in self.stack:
            entry[1] += 1
        element_id = dict(attrs).get("id") or ""
        if element_id.startswith(self.prefix):
            self.stack.append([element_id, 1, []])

    def handle_endtag(self, tag):
        if tag in VOID_TAGS:
            return
        for entry in list(self.stack):
            entry[1] -= 1
            if entry[1] == 0:
                self.stack.remove(entry)
                self.texts[entry[0]] = "".join(entry[2])

    def handle_data(self, data):
        for entry in self.stack:
            entry[2].append(data)


def texts_by_id(html: str, prefix: str, suffix: str = "") -> dict[str, str]:
    parser = _TextsById(prefix)
    parser.feed(html)
    parser.close()
    return {key: text for key, text in parser.texts.items() if key.endswith(suffix)}
