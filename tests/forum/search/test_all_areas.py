"""Reviews, forum posts and blog posts in one index: grouped, filtered, and gone when they go."""

from __future__ import annotations

import re

import pytest

from forum.extensions import db

community = pytest.importorskip("forum.community.services")
blog = pytest.importorskip("forum.blog.services")


@pytest.fixture
def everything(app, publish, moderator, make_user, drain):
    editor = make_user("editor", display_name="Eddie Editor")
    cameras = community.add_category("Cameras", "Lenses and bodies", admin=make_user("admin"))
    topic = community.create_topic(moderator, cameras, "Which lens for birds?", "A long **lens** question.")
    post = blog.create_post(editor, "Lens care", "Keep every lens clean.", publish=True)
    review = publish("Sharp lens", "This lens is sharp.")
    drain()
    return {"topic": topic, "post": post, "review": review, "category": cameras, "editor": editor}


def _kinds(html: str) -> list[str]:
    return re.findall(r'<span class="kind-badge kind-(\w+)">', html)


def test_one_search_finds_every_area_and_groups_filter(client, everything):
    html = client.get("/search?q=lens").get_data(as_text=True)
    assert sorted(_kinds(html)) == ["blog", "forum", "reviews"]
    for group in ("reviews", "forum", "blog"):
        html = client.get(f"/search?q=lens&group={group}").get_data(as_text=True)
        assert _kinds(html) == [group], group
    html = client.get(f"/search?q=lens&category={everything['category'].slug}").get_data(as_text=True)
    assert _kinds(html) == ["forum"] and "Cameras" in html
    # The forum body is Markdown: the snippet shows its text, not its markup.
    html = client.get("/search?q=lens&group=forum").get_data(as_text=True)
    snippet = re.search(r'class="snippet user-text">(.*?)</p>', html, re.S).group(1)
    assert "long <mark>lens</mark> question" in snippet and "*" not in snippet


def test_withdrawn_topic_and_unpublished_post_are_gone(client, everything, moderator, drain, backend):
    community.withdraw_post(moderator, everything["topic"].opening.id)
    blog.unpublish_post(everything["editor"], everything["post"].id)
    drain()
    html = client.get("/search?q=lens").get_data(as_text=True)
    assert _kinds(html) == ["reviews"]
    assert {d.split(":")[0] for d in backend.doc_ids()} == {"review"}
    db.session.rollback()
