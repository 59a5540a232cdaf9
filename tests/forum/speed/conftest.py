"""Fixtures for the speed tests: a small store built through the services, and a statement counter."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from forum.blog import services as blog
from forum.catalog import services as catalog
from forum.catalog.models import Product
from forum.community import services as forums
from forum.extensions import db
from moderation import services as moderation


class StatementCounter:
    def __init__(self, engine):
        self.engine = engine
        self.count = 0

    def _count(self, *args, **kwargs):
        self.count += 1

    def __enter__(self):
        self.count = 0
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._count)


@pytest.fixture
def count_statements(app):
    def make():
        return StatementCounter(db.engine)

    return make


@pytest.fixture
def no_page_cache(app):
    app.config["PAGE_CACHE_ENABLED"] = False
    return app


@pytest.fixture
def product(app):
    product = Product(sku="CAB-USB-C-2M", name="USB-C cable, 2 m", description="Braided.")
    db.session.add(product)
    db.session.commit()
    return product


@pytest.fixture
def add_reviews(make_user, moderator):
    """n published reviews of `product` by n new members; returns them."""

    def add(product, n, rating=4, prefix="Review"):
        reviews = []
        for i in range(n):
            author = make_user("member", display_name=f"{prefix} author {i}")
            review = catalog.submit_review(
                author, product, rating, f"{prefix} title {i}", f"{prefix} body {i} https://example.com/{i}"
            )
            moderation.approve_submission("review", review.id, moderator)
            reviews.append(review)
        return reviews

    return add


@pytest.fixture
def category(app):
    return forums.add_category("Cables", "All about cables.")


@pytest.fixture
def staff_author(moderator):
    """Moderators' posts publish at once: quick to build topics with."""
    return moderator


@pytest.fixture
def add_topic(staff_author, category):
    def add(replies=0, title="Which cable?", cat=None, author=None):
        who = author or staff_author
        topic = forums.create_topic(who, cat or category, title, "Opening **post**.")
        for i in range(replies):
            forums.create_reply(who, topic.id, f"Reply *number* {i}")
        return topic

    return add


@pytest.fixture
def editor(make_user):
    return make_user("editor", email="editor@example.com", display_name="Eddie Editor")


@pytest.fixture
def blog_post(editor):
    from forum.blog.models import BlogPost

    post = blog.create_post(editor, "Hello world", "First **post** with https://example.com.", publish=True)
    return db.session.get(BlogPost, post.id)
