"""Staff posts: who may write, drafts, preview, publish/unpublish, slugs, edits."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from forum.blog import services as blog
from forum.blog.models import BlogPost
from forum.errors import Conflict, PermissionDenied, ValidationFailed
from forum.extensions import db


def _count_posts() -> int:
    return db.session.scalar(select(func.count(BlogPost.id)))


# --- visibility ---------------------------------------------------------------------


@pytest.mark.parametrize("state", ["draft", "unpublished"])
def test_non_public_posts_are_404_and_absent_from_lists(client, make_post, login_as, member, state):
    shown = make_post("Shown to all", "Public words.")
    hidden = make_post("Secret plans", "Not for the public.", state=state)
    for who in (None, member):
        if who:
            login_as(who)
        assert client.get(f"/blog/{hidden.slug}").status_code == 404
        index = client.get("/blog").get_data(as_text=True)
        assert "Shown to all" in index and "Secret plans" not in index
        assert client.get(f"/blog/{shown.slug}").status_code == 200


def test_unpublished_post_keeps_its_comments_out_of_sight(client, post, member, make_comment, editor):
    comment = make_comment(member, post, "Visible while the post is.", state="published")
    assert client.get(f"/blog/comments/{comment.id}").status_code == 302
    blog.unpublish_post(editor, post.id)
    assert client.get(f"/blog/{post.slug}").status_code == 404
    assert client.get(f"/blog/comments/{comment.id}").status_code == 404


def test_index_lists_newest_first_with_pagination(client, make_post):
    for n in range(12):
        make_post(f"Post number {n:02d}", f"Body {n}")
    first = client.get("/blog").get_data(as_text=True)
    assert first.index("Post number 11") < first.index("Post number 10")
    assert "Post number 01" not in first
    second = client.get("/blog?page=2").get_data(as_text=True)
    assert "Post number 01" in second and "Post number 00" in second
    assert client.get("/blog?page=99").status_code == 200
    assert client.get("/blog?page=-3").status_code == 200


def test_post_page_shows_rendered_markdown_author_and_date(client, make_post):
    post = make_post("Markdown test", "Some **bold** and a [link](https://shop.example/x).\n\n- one\n- two")
    page = client.get(f"/blog/{post.slug}").get_data(as_text=True)
    assert "<strong>bold</strong>" in page
    assert 'href="https://shop.example/x"' in page and 'rel="nofollow ugc noopener"' in page
    assert "<li>one</li>" in page
    assert "Eddie Editor" in page
    assert post.published_at.strftime("%Y-%m-%d") in page


# --- who may write -----------------------------------------------------------------------


@pytest.mark.parametrize("role", ["member", "moderator"])
def test_only_editors_and_admins_write(client, make_user, login_as, make_post, role):
    draft = make_post("A draft", "Words.", state="draft")
    login_as(make_user(role))
    assert client.get("/blog/manage").status_code == 403
    assert client.get("/blog/manage/new").status_code == 403
    assert (
        client.post("/blog/manage/new", data={"title": "Mine", "body": "x", "action": "publish"}).status_code
        == 403
    )
    assert client.get(f"/blog/manage/{draft.id}/edit").status_code == 403
    assert client.get(f"/blog/manage/{draft.id}/preview").status_code == 403
    assert client.post(f"/blog/manage/{draft.id}/publish").status_code == 403
    assert client.post(f"/blog/manage/{draft.id}/delete").status_code == 403
    assert db.session.get(BlogPost, draft.id).status == "draft"
    assert _count_posts() == 1
    with pytest.raises(PermissionDenied):
        blog.create_post(make_user(role), "Via service", "x")


def test_anonymous_writer_pages_ask_to_log_in(client, post):
    response = client.get("/blog/manage")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.post(f"/blog/manage/{post.id}/unpublish").status_code == 302
    assert db.session.get(BlogPost, post.id).status == "published"


@pytest.mark.parametrize("role", ["editor", "admin"])
def test_staff_publish_through_the_form(client, make_user, login_as, role):
    login_as(make_user(role))
    assert client.get("/blog/manage/new").status_code == 200
    response = client.post(
        "/blog/manage/new", data={"title": "Opening hours", "body": "We open at *nine*.", "action": "publish"}
    )
    assert response.status_code == 302
    post = db.session.scalar(select(BlogPost))
    assert (post.status, post.slug) == ("published", "opening-hours")
    assert response.headers["Location"].endswith("/blog/opening-hours")
    assert "<em>nine</em>" in client.get("/blog/opening-hours").get_data(as_text=True)


def test_save_draft_then_publish_then_unpublish(client, editor, login_as):
    login_as(editor)
    response = client.post(
        "/blog/manage/new", data={"title": "Work in progress", "body": "", "action": "save"}
    )
    assert response.status_code == 302
    post = db.session.scalar(select(BlogPost))
    assert post.status == "draft" and post.published_at is None
    manage = client.get("/blog/manage").get_data(as_text=True)
    assert "Work in progress" in manage and "Drafts (1)" in manage

    # Publishing an empty post is refused with a message; the draft stays.
    response = client.post(
        f"/blog/manage/{post.id}/edit",
        data={"title": "Work in progress", "body": "", "version": post.version, "action": "publish"},
    )
    assert response.status_code == 422 and "Write the post before publishing" in response.get_data(
        as_text=True
    )

    response = client.post(
        f"/blog/manage/{post.id}/edit",
        data={"title": "Work in progress", "body": "Done.", "version": post.version, "action": "publish"},
    )
    assert response.status_code == 302
    db.session.expire_all()
    post = db.session.get(BlogPost, post.id)
    assert post.status == "published" and post.published_at is not None
    first_published = post.published_at
    assert client.get(f"/blog/{post.slug}").status_code == 200

    response = client.post(f"/blog/manage/{post.id}/unpublish", data={"version": post.version})
    assert response.status_code == 302
    assert client.get(f"/blog/{post.slug}").status_code == 404
    db.session.expire_all()
    assert db.session.get(BlogPost, post.id).status == "unpublished"

    # Publishing again keeps the original publish date and address.
    client.post(f"/blog/manage/{post.id}/publish", data={})
    db.session.expire_all()
    post = db.session.get(BlogPost, post.id)
    assert (post.status, post.published_at, post.slug) == ("published", first_published, "work-in-progress")


def test_preview_renders_without_saving(client, editor, login_as, post):
    login_as(editor)
    response = client.post(
        "/blog/manage/new",
        data={"title": "Preview me", "body": "# Heading\n\nText with `code`.", "action": "preview"},
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<h1>Heading</h1>" in page and "<code>code</code>" in page and "nothing is saved yet" in page
    assert 'value="Preview me"' in page  # the form keeps what was typed
    assert _count_posts() == 1

    response = client.post(
        f"/blog/manage/{post.id}/edit",
        data={"title": "Changed?", "body": "**New**", "version": post.version, "action": "preview"},
    )
    assert response.status_code == 200 and "<strong>New</strong>" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(BlogPost, post.id).title == "Hello world"


def test_staff_preview_page_of_a_draft(client, editor, login_as, make_post):
    draft = make_post("Draft title", "Draft _body_", state="draft")
    login_as(editor)
    page = client.get(f"/blog/manage/{draft.id}/preview").get_data(as_text=True)
    assert "Draft title" in page and "<em>body</em>" in page


def test_unknown_action_is_a_bad_request(client, editor, login_as):
    login_as(editor)
    assert (
        client.post("/blog/manage/new", data={"title": "x", "body": "y", "action": "explode"}).status_code
        == 400
    )
    assert _count_posts() == 0


# --- slugs --------------------------------------------------------------------------------


def test_slugs_are_made_from_titles_and_unique(editor):
    assert blog.slugify("Café & Co. — 2026!") == "cafe-co-2026"
    assert blog.slugify("日本語") == "post"
    assert len(blog.slugify("word " * 100)) <= 80
    first = blog.create_post(editor, "Same title", "a")
    second = blog.create_post(editor, "Same title", "b")
    manage = blog.create_post(editor, "Manage", "c")
    assert (first.slug, second.slug, manage.slug) == ("same-title", "same-title-2", "manage-2")


def test_slug_follows_title_until_published_then_stays(editor, make_post):
    draft = make_post("First idea", "x", state="draft")
    draft = blog.update_post(editor, draft.id, "Better idea", "x")
    assert draft.slug == "better-idea"
    blog.publish_post(editor, draft.id)
    post = blog.update_post(editor, draft.id, "Renamed after publishing", "x")
    assert post.slug == "better-idea" and post.title == "Renamed after publishing"
    blog.unpublish_post(editor, post.id)
    post = blog.update_post(editor, post.id, "Renamed while unpublished", "x")
    assert post.slug == "better-idea"


def test_editing_a_published_post_changes_it_in_place(client, editor, login_as, post):
    login_as(editor)
    response = client.post(
        f"/blog/manage/{post.id}/edit",
        data={"title": "Hello again", "body": "Updated _text_.", "version": post.version, "action": "save"},
    )
    assert response.status_code == 302
    page = client.get(f"/blog/{post.slug}").get_data(as_text=True)
    assert "Hello again" in page and "<em>text</em>" in page


def test_concurrent_edit_is_refused_and_keeps_the_text(client, editor, login_as, post):
    stale_version = post.version
    blog.update_post(editor, post.id, "Someone else's title", "Their body.", expected_version=stale_version)
    login_as(editor)
    response = client.post(
        f"/blog/manage/{post.id}/edit",
        data={
            "title": "My title",
            "body": "My long careful body.",
            "version": stale_version,
            "action": "save",
        },
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "Someone else changed this post" in page and "My long careful body." in page
    db.session.expire_all()
    assert db.session.get(BlogPost, post.id).title == "Someone else's title"
    # A second, deliberate save (the form now carries the current version) replaces it.
    fresh_version = re.search(r'name="version" type="hidden" value="(\d+)"', page).group(1)
    response = client.post(
        f"/blog/manage/{post.id}/edit",
        data={
            "title": "My title",
            "body": "My long careful body.",
            "version": fresh_version,
            "action": "save",
        },
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(BlogPost, post.id).title == "My title"
    with pytest.raises(Conflict):
        blog.unpublish_post(editor, post.id, expected_version=stale_version)


def test_delete_only_never_published_drafts(client, editor, login_as, make_post, post):
    draft = make_post("Throwaway", "x", state="draft")
    login_as(editor)
    assert client.post(f"/blog/manage/{draft.id}/delete", data={"version": draft.version}).status_code == 302
    assert db.session.scalar(select(BlogPost.id).where(BlogPost.id == draft.id)) is None
    assert client.post(f"/blog/manage/{post.id}/delete", data={"version": post.version}).status_code == 409
    assert db.session.get(BlogPost, post.id) is not None


# --- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "title, body, field, message",
    [
        ("", "x", "title", "Write a title."),
        ("   \n", "x", "title", "Write a title."),
        ("x" * 201, "x", "title", "the limit is 200"),
        ("Nul \x00 title", "x", "title", "NUL character"),
        ("Fine", "Nul \x00 body", "body", "NUL character"),
        ("Fine", "x" * 100_001, "body", "the limit is 100000"),
    ],
)
def test_bad_post_fields_get_a_clear_422(client, editor, login_as, title, body, field, message):
    login_as(editor)
    response = client.post("/blog/manage/new", data={"title": title, "body": body, "action": "save"})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert _count_posts() == 0
    with pytest.raises(ValidationFailed) as info:
        blog.create_post(editor, title, body)
    assert field in info.value.field_errors


def test_post_form_has_labels_and_csrf(csrf_enabled, client, editor, post):
    from tests.conftest import csrf_token_from

    html = client.get("/login").get_data(as_text=True)
    client.post(
        "/login",
        data={
            "email": editor.email,
            "password": "correct horse battery staple",
            "csrf_token": csrf_token_from(html),
        },
    )
    page = client.get("/blog/manage/new").get_data(as_text=True)
    assert '<label for="title">' in page and '<label for="body">' in page
    assert (
        client.post(
            "/blog/manage/new", data={"title": "No token", "body": "x", "action": "publish"}
        ).status_code
        == 400
    )
    assert client.post(f"/blog/manage/{post.id}/unpublish").status_code == 400
    assert _count_posts() == 1
    response = client.post(
        "/blog/manage/new",
        data={"title": "With token", "body": "x", "action": "publish", "csrf_token": csrf_token_from(page)},
    )
    assert response.status_code == 302
