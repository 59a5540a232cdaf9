"""Statements per page do not grow with the number of items shown (page cache off: the real work)."""

from __future__ import annotations

import pytest

from forum.accounts import services as accounts
from forum.community import services as forums


@pytest.fixture(autouse=True)
def _cache_off(no_page_cache):
    return no_page_cache


def _statements(client, count_statements, path, expected=200):
    client.get(path)  # first view stores the HTML
    with count_statements() as counter:
        response = client.get(path)
    assert response.status_code == expected, path
    return counter.count


def test_product_page_and_api(client, product, add_reviews, count_statements):
    add_reviews(product, 2, prefix="A")
    few = {
        p: _statements(client, count_statements, p)
        for p in ("/products/CAB-USB-C-2M", "/api/products/CAB-USB-C-2M/reviews", "/products")
    }
    add_reviews(product, 12, prefix="B")
    many = {
        p: _statements(client, count_statements, p)
        for p in ("/products/CAB-USB-C-2M", "/api/products/CAB-USB-C-2M/reviews", "/products")
    }
    assert few == many


def test_forum_pages(app, client, add_topic, category, make_user, count_statements):
    app.config["FORUM_POSTS_PER_PAGE"] = 50
    small = add_topic(replies=1)
    few = {
        "topic": _statements(client, count_statements, f"/forums/topics/{small.id}"),
        "category": _statements(client, count_statements, "/forums/cables"),
        "index": _statements(client, count_statements, "/forums"),
    }
    big = add_topic(replies=8, title="Long one")
    for n in range(6):  # topics by different authors: the category page must not load each author alone
        add_topic(title=f"Topic {n}", author=make_user("moderator"))
    forums.add_category("Second")
    many = {
        "topic": _statements(client, count_statements, f"/forums/topics/{big.id}"),
        "category": _statements(client, count_statements, "/forums/cables"),
        "index": _statements(client, count_statements, "/forums"),
    }
    assert few == many


def test_blog_pages(client, blog_post, editor, make_user, moderator, count_statements):
    from forum.blog import services as blog
    from moderation import services as moderation

    def comment(n):
        c = blog.add_comment(make_user(), blog_post.slug, f"Comment {n}")
        moderation.approve_submission("blog_comment", c.id, moderator)

    comment(0)
    pages = ("/blog", "/blog/hello-world", "/blog/feed.atom")
    few = {p: _statements(client, count_statements, p) for p in pages}
    for n in range(1, 6):
        comment(n)
        blog.create_post(editor, f"Post {n}", f"Body **{n}**", publish=True)
    many = {p: _statements(client, count_statements, p) for p in pages}
    assert few == many


def test_account_export_is_constant_in_forum_posts(app, add_topic, staff_author, count_statements):
    from forum.extensions import db

    def export_statements():
        db.session.expire_all()
        with count_statements() as counter:
            data = accounts.export_account_data(staff_author)
        assert data
        return counter.count

    topic = add_topic(replies=1)
    forums.edit_post(staff_author, topic.opening.id, "Which cable? (edited)", "Edited once")
    few = export_statements()
    for n in range(5):
        t = add_topic(replies=2, title=f"More {n}")
        forums.edit_post(staff_author, t.opening.id, f"More {n} (edited)", "Edited")
    assert export_statements() == few


def test_review_page_is_constant_in_votes(client, product, add_reviews, make_user, count_statements):
    from forum.catalog import engagement

    review = add_reviews(product, 1)[0]
    few = _statements(client, count_statements, f"/reviews/{review.id}")
    for _ in range(6):
        engagement.vote_helpful(make_user(), review.id)
    assert _statements(client, count_statements, f"/reviews/{review.id}") == few


def test_search_results_are_constant_in_the_number_shown(app, client, product, add_reviews, count_statements):
    from forum.extensions import db
    from forum.search import indexing

    def searched():
        db.session.info.pop("search_outbox_committed", None)
        indexing.drain_all()
        return _statements(client, count_statements, "/search?q=title")

    add_reviews(product, 2, prefix="A")
    few = searched()
    add_reviews(product, 12, prefix="B")  # by 12 more authors
    assert searched() == few
    page = client.get("/search?q=title").text
    assert "14 results" in page and page.count("<mark>title</mark>") >= 10  # a full page shown
