"""Every naughty string in every blog field: stored and shown back exactly, or a clear 422; never a 500.

Post titles and bodies go through the editor's form, comments through the
member's form and then the moderation service. Pages are compared as a
browser parses them (CR LF becomes LF); the database keeps every byte.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from forum.blog import services as blog
from forum.blog.models import POST_TITLE_MAX, BlogComment, BlogPost
from forum.errors import ValidationFailed
from forum.extensions import db
from moderation import services as moderation
from tests.conftest import naughty_strings
from tests.forum.catalog.conftest import as_browser_sees, element_text

from .conftest import end_of_request, texts_by_id

PASSWORD = "correct horse battery staple"


def _login(client, user):
    client.post("/logout")
    assert client.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 302


def test_naughty_post_titles_and_bodies(app, client, editor):
    _login(client, editor)
    accepted, refused = [], []
    for n, text in enumerate(naughty_strings("blog post form")):
        title = text if len(text) <= POST_TITLE_MAX else f"Long string {n}"
        # Saved as drafts through the form (blank bodies are fine in a draft)...
        response = client.post("/blog/manage/new", data={"title": title, "body": text, "action": "save"})
        if response.status_code == 302:
            accepted.append((title, text))
            continue
        assert response.status_code == 422, (text, response.status_code)
        assert not text.strip(), f"refused unexpectedly: {text!r}"
        assert "Write a title." in response.get_data(as_text=True)
        refused.append(text)
    assert len(refused) <= 30, refused

    posts = db.session.scalars(select(BlogPost).order_by(BlogPost.id)).all()
    assert [(p.title, p.body) for p in posts] == accepted  # every byte kept
    assert len({p.slug for p in posts}) == len(posts)
    # ...then published, as one editor's session would (one search index update at the end).
    with app.test_request_context():
        for post in posts:
            if not post.body.strip():
                with pytest.raises(ValidationFailed):
                    blog.publish_post(editor, post.id)
                continue
            blog.publish_post(editor, post.id)
    end_of_request()
    posts = [p for p in posts if p.status == "published"]
    assert len(posts) >= len(accepted) - 30
    for post in posts:
        response = client.get(f"/blog/{post.slug}")
        assert response.status_code == 200, post.title
        assert element_text(response.get_data(as_text=True), "post-title") == as_browser_sees(post.title)
    assert client.get("/blog/manage").status_code == 200
    for page in range(1, len(posts) // 10 + 2):
        assert client.get(f"/blog?page={page}").status_code == 200
    assert client.get("/blog/feed.atom").status_code == 200


def test_naughty_comments(app, client, member, moderator, post):
    _login(client, member)
    accepted, refused = [], []
    for text in naughty_strings("blog comment form"):
        response = client.post(f"/blog/{post.slug}/comments", data={"body": text})
        if response.status_code == 302:
            accepted.append(text)
            continue
        assert response.status_code == 422, (text, response.status_code)
        assert not text.strip() and "Write a comment." in response.get_data(as_text=True)
        refused.append(text)
    assert len(refused) <= 30, refused

    comments = db.session.scalars(select(BlogComment).order_by(BlogComment.id)).all()
    assert [c.body for c in comments] == accepted
    shown = texts_by_id(client.get("/account").get_data(as_text=True), "my-comment-", "-body")
    assert shown == {f"my-comment-{c.id}-body": as_browser_sees(c.body) for c in comments}
    with app.test_request_context():  # like one bulk decision in the queue
        for comment in comments:
            moderation.approve_submission("blog_comment", comment.id, moderator)
    end_of_request()

    seen: dict[str, str] = {}
    for page_number in range(1, len(comments) // 50 + 2):
        response = client.get(f"/blog/{post.slug}?page={page_number}")
        assert response.status_code == 200
        seen.update(texts_by_id(response.get_data(as_text=True), "comment-", "-body"))
    assert seen == {f"comment-{c.id}-body": as_browser_sees(c.body) for c in comments}
