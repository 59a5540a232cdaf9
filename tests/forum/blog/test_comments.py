"""Member comments: pre-moderated through the one queue, mailed outcomes, gone means gone."""

from __future__ import annotations

import pytest
from flask import render_template
from sqlalchemy import func, select

from forum.blog import services as blog
from forum.blog.models import BlogComment
from forum.errors import NotFound, ValidationFailed
from forum.extensions import db
from forum.fingerprint import content_fingerprint
from moderation import services as moderation
from moderation.audit import verify_chain
from moderation.kinds import KINDS
from moderation.models import ImmutableRowError, ModerationLog

from .conftest import mail_to


def _comments() -> list[BlogComment]:
    return db.session.scalars(select(BlogComment).order_by(BlogComment.id)).all()


def test_comment_waits_for_moderation_then_shows(client, login_as, member, moderator, post):
    login_as(member)
    text = "Great news!\nSee https://shop.example.com/sale for more <3"
    response = client.post(f"/blog/{post.slug}/comments", data={"body": text})
    assert response.status_code == 302
    (comment,) = _comments()
    assert (comment.status, comment.body, comment.author_id) == ("pending", text, member.id)
    assert comment.fingerprint == content_fingerprint("", text)

    page = client.get(f"/blog/{post.slug}").get_data(as_text=True)
    assert "Great news!" not in page and "0 comments" in page
    assert client.get(f"/blog/comments/{comment.id}").status_code == 404
    assert ("blog_comment", comment.id) in [(k.name, i.id) for k, i in moderation.queue_items()]

    moderation.approve_submission("blog_comment", comment.id, moderator)
    page = client.get(f"/blog/{post.slug}").get_data(as_text=True)
    assert "Great news!" in page and "1 comment<" in page
    assert "&lt;3" in page and '<a href="https://shop.example.com/sale" rel="nofollow ugc noopener">' in page
    assert "Mia Member" in page
    location = client.get(f"/blog/comments/{comment.id}").headers["Location"]
    assert location.endswith(f"/blog/{post.slug}#comment-{comment.id}")

    (mail,) = mail_to(member.email)
    assert mail.subject == "Your comment is published"
    assert post.title in mail.body_text and f"/blog/comments/{comment.id}" in mail.body_text
    assert [r.action for r in ModerationLog.query.order_by(ModerationLog.seq)] == ["submitted", "approve"]
    assert verify_chain().ok


def test_rejection_mails_the_reason_and_never_shows(client, member, moderator, post):
    comment = blog.add_comment(member, post.slug, "Buy cheap stuff at spam.example")
    moderation.reject_submission("blog_comment", comment.id, moderator, reason="spam", note="Advertising.")
    (mail,) = mail_to(member.email)
    assert mail.subject == "Your comment was not published"
    assert "Reason: Spam or advertising" in mail.body_text and "Advertising." in mail.body_text
    assert "Buy cheap stuff" in mail.body_text and f"/blog/{post.slug}" in mail.body_text
    page = client.get(f"/blog/{post.slug}").get_data(as_text=True)
    assert "Buy cheap stuff" not in page and "0 comments" in page


def test_reject_needs_a_reason_from_the_list(member, moderator, post):
    comment = blog.add_comment(member, post.slug, "Hmm")
    for reason in ("", "negative", None):
        with pytest.raises(ValidationFailed):
            moderation.reject_submission("blog_comment", comment.id, moderator, reason=reason)
    assert db.session.get(BlogComment, comment.id).status == "pending"


@pytest.mark.parametrize("state", ["pending", "rejected", "withdrawn", "hidden", "removed"])
def test_gone_means_gone(client, member, post, make_comment, state):
    kept = make_comment(member, post, "The visible one.", state="published")
    gone = make_comment(member, post, f"The {state} one.", state=state)
    page = client.get(f"/blog/{post.slug}").get_data(as_text=True)
    assert "The visible one." in page and f"The {state} one." not in page
    assert "1 comment<" in page
    assert "1 comment" in client.get("/blog").get_data(as_text=True)
    assert client.get(f"/blog/comments/{gone.id}").status_code == 404
    assert client.get(f"/blog/comments/{kept.id}").status_code == 302
    assert b"The " not in client.get("/blog/feed.atom").data.split(b"<entry>")[0]
    if state == "removed":
        db.session.expire_all()
        assert db.session.get(BlogComment, gone.id).body is None  # erased, a tombstone is left


def test_anonymous_cannot_comment(client, post):
    page = client.get(f"/blog/{post.slug}").get_data(as_text=True)
    assert "Log in to comment" in page and 'name="body"' not in page
    response = client.post(f"/blog/{post.slug}/comments", data={"body": "Hello"})
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert _comments() == []


def test_cannot_comment_on_drafts_or_unpublished_posts(client, login_as, member, make_post):
    draft = make_post("Draft", "x", state="draft")
    gone = make_post("Gone", "x", state="unpublished")
    login_as(member)
    for post in (draft, gone):
        assert client.post(f"/blog/{post.slug}/comments", data={"body": "Hi"}).status_code == 404
        with pytest.raises(NotFound):
            blog.add_comment(member, post.slug, "Hi")
    assert _comments() == []


@pytest.mark.parametrize(
    "body, message",
    [
        ("", "Write a comment."),
        (" \n\t", "Write a comment."),
        ("x" * 5001, "the limit is 5000"),
        ("nul \x00 byte", "NUL character"),
    ],
)
def test_bad_comments_get_a_clear_422(client, login_as, member, post, body, message):
    login_as(member)
    response = client.post(f"/blog/{post.slug}/comments", data={"body": body})
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and message in page
    assert 'aria-invalid="true"' in page
    assert _comments() == []


def test_comment_text_never_changes(member, post):
    comment = blog.add_comment(member, post.slug, "Original words")
    comment.body = "Edited words"
    with pytest.raises(ImmutableRowError):
        db.session.commit()
    db.session.rollback()


def test_moderators_comments_publish_at_once(client, login_as, moderator, post):
    login_as(moderator)
    response = client.post(f"/blog/{post.slug}/comments", data={"body": "Staff answer."})
    assert response.status_code == 302
    (comment,) = _comments()
    assert comment.status == "published"
    assert "Staff answer." in client.get(f"/blog/{post.slug}").get_data(as_text=True)
    assert [r.action for r in ModerationLog.query.order_by(ModerationLog.seq)] == [
        "submitted",
        "auto_publish",
    ]


def test_posting_is_rate_limited_per_member(posting_limited, client, login_as, member, make_user, post):
    login_as(member)
    for n in range(2):
        assert client.post(f"/blog/{post.slug}/comments", data={"body": f"Comment {n}"}).status_code == 302
    assert client.post(f"/blog/{post.slug}/comments", data={"body": "One too many"}).status_code == 429
    assert len(_comments()) == 2
    client.post("/logout")
    login_as(make_user("member"))  # another member from the same address is not blocked
    assert client.post(f"/blog/{post.slug}/comments", data={"body": "Mine"}).status_code == 302


def test_comment_form_needs_csrf(csrf_enabled, client, member, post):
    from tests.conftest import csrf_token_from

    html = client.get("/login").get_data(as_text=True)
    client.post(
        "/login",
        data={
            "email": member.email,
            "password": "correct horse battery staple",
            "csrf_token": csrf_token_from(html),
        },
    )
    assert client.post(f"/blog/{post.slug}/comments", data={"body": "No token"}).status_code == 400
    page = client.get(f"/blog/{post.slug}").get_data(as_text=True)
    assert '<label for="body">' in page
    response = client.post(
        f"/blog/{post.slug}/comments", data={"body": "With token", "csrf_token": csrf_token_from(page)}
    )
    assert response.status_code == 302
    assert len(_comments()) == 1


def test_comments_are_paginated_and_permalinks_find_the_page(client, member, post, make_comment, monkeypatch):
    monkeypatch.setattr(blog, "COMMENTS_PER_PAGE", 3)
    comments = [make_comment(member, post, f"Comment number {n}", state="published") for n in range(5)]
    first = client.get(f"/blog/{post.slug}").get_data(as_text=True)
    assert "5 comments" in first and "Comment number 2" in first and "Comment number 3" not in first
    second = client.get(f"/blog/{post.slug}?page=2").get_data(as_text=True)
    assert "Comment number 3" in second and "Comment number 4" in second and "Comment number 0" not in second
    location = client.get(f"/blog/comments/{comments[4].id}").headers["Location"]
    assert location.endswith(f"/blog/{post.slug}?page=2#comment-{comments[4].id}")
    location = client.get(f"/blog/comments/{comments[0].id}").headers["Location"]
    assert location.endswith(f"/blog/{post.slug}#comment-{comments[0].id}")


# --- the moderated kind ----------------------------------------------------------------


def test_kind_is_registered_with_queue_partial(app, member, post):
    kind = KINDS["blog_comment"]
    assert kind.queue_template == "moderation/items/blog_comment.html"
    assert kind.url_endpoints["blog.comment"] == "comment_id"
    assert kind.url_endpoints["blog.post"]({"slug": post.slug, "_fragment": "comment-12"}) == 12
    assert kind.url_endpoints["blog.post"]({"slug": post.slug, "_fragment": ""}) is None
    comment = blog.add_comment(member, post.slug, "Exact <b>text</b>\n  kept")
    with app.test_request_context("/moderation"):
        html = render_template(kind.queue_template, item=comment, kind=kind)
    assert "Exact &lt;b&gt;text&lt;/b&gt;\n  kept" in html
    assert post.title in html and f"/blog/{post.slug}" in html


# --- My account --------------------------------------------------------------------------


def test_my_account_lists_and_deletes_my_comments(client, login_as, member, make_user, post, make_comment):
    pending = make_comment(member, post, "Still waiting", state="pending")
    published = make_comment(member, post, "Out there", state="published")
    rejected = make_comment(member, post, "Turned down", state="rejected")
    someone_else = make_comment(make_user("member"), post, "Not mine", state="published")
    login_as(member)
    page = client.get("/account").get_data(as_text=True)
    assert "My blog comments" in page
    for text, status in (
        ("Still waiting", "Awaiting moderation"),
        ("Out there", "Published"),
        ("Turned down", "Not published"),
    ):
        assert text in page and status in page
    assert "Spam or advertising" in page and "Not mine" not in page

    for comment in (pending, published):
        response = client.post(f"/blog/comments/{comment.id}/delete")
        assert response.status_code == 302
        db.session.expire_all()
        assert db.session.get(BlogComment, comment.id).status == "withdrawn"
    assert "Out there" not in client.get(f"/blog/{post.slug}").get_data(as_text=True)
    assert client.post(f"/blog/comments/{someone_else.id}/delete").status_code == 404
    assert client.post(f"/blog/comments/{rejected.id}/delete").status_code == 409
    db.session.expire_all()
    assert db.session.get(BlogComment, someone_else.id).status == "published"


def test_export_and_account_deletion(client, login_as, member, post, make_comment):
    comment = make_comment(member, post, "Mine to take away", state="published")
    login_as(member)
    data = client.get("/account/export.json").get_json()
    (exported,) = data["blog_comments"]
    assert exported["body"] == "Mine to take away" and exported["status"] == "published"
    assert exported["sha256"] == content_fingerprint("", "Mine to take away")

    assert "blog comments" in client.get("/account/delete").get_data(as_text=True)
    response = client.post(
        "/account/delete", data={"password": "correct horse battery staple", "confirm": "y"}
    )
    assert response.status_code == 302
    db.session.expire_all()
    stored = db.session.get(BlogComment, comment.id)
    assert (stored.status, stored.body, stored.author_id) == ("removed", None, None)
    assert "Mine to take away" not in client.get(f"/blog/{post.slug}").get_data(as_text=True)
    assert verify_chain().ok


def test_deleted_editor_leaves_posts_without_a_name(client, editor, post):
    from forum.accounts import services as accounts

    accounts.delete_account(editor, "correct horse battery staple")
    page = client.get(f"/blog/{post.slug}").get_data(as_text=True)
    assert post.title in page and "Shop Community staff" in page
    assert db.session.scalar(select(func.count(BlogComment.id))) == 0
