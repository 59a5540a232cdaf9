"""The blog in the shared machinery: the one queue, flags, suspensions, removal requests."""

from __future__ import annotations

from datetime import timedelta

import pytest

from forum.accounts.suspensions import suspend_member
from forum.blog import services as blog
from forum.blog.models import BlogComment
from forum.errors import PermissionDenied
from forum.extensions import db
from forum.timeutil import utcnow
from moderation.audit import verify_chain
from moderation.models import ModerationLog
from tests.conftest import login


@pytest.fixture
def client_for(app):
    def make(user):
        client = app.test_client()
        assert login(client, user.email).status_code == 302
        return client

    return make


def test_queue_shows_the_comment_and_decides_it_through_the_shared_pages(client_for, member, moderator, post):
    comment = blog.add_comment(member, post.slug, "Exactly <these> words\n  kept.")
    mod = client_for(moderator)
    page = mod.get("/moderation?kind=blog_comment").get_data(as_text=True)
    assert "Exactly &lt;these&gt; words kept." in page and "Blog comments" in page  # the list: an excerpt
    item = mod.get(f"/moderation/items/blog_comment/{comment.id}").get_data(as_text=True)
    assert "Exactly &lt;these&gt; words\n  kept." in item and post.title in item  # its page: the exact text
    prefix = f"blog_comment-{comment.id}-"
    response = mod.post(
        f"/moderation/items/blog_comment/{comment.id}/approve", data={f"{prefix}version": comment.version}
    )
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:2000]
    db.session.expire_all()
    assert db.session.get(BlogComment, comment.id).status == "published"
    assert "Exactly &lt;these&gt; words" in client_for(member).get(f"/blog/{post.slug}").get_data(
        as_text=True
    )


def test_members_only_see_403_on_the_queue(client_for, member, post):
    blog.add_comment(member, post.slug, "Let me in")
    assert client_for(member).get("/moderation?kind=blog_comment").status_code == 403


def test_flags_hide_a_comment_until_a_moderator_decides(
    app, client_for, make_user, member, post, make_comment
):
    comment = make_comment(member, post, "Call me on 555-0100, I'm Mia.", state="published")
    page = client_for(make_user("member")).get(f"/blog/{post.slug}").get_data(as_text=True)
    assert f"/flag/blog_comment/{comment.id}" in page
    own_page = client_for(member).get(f"/blog/{post.slug}").get_data(as_text=True)
    assert f"/flag/blog_comment/{comment.id}" not in own_page  # nobody flags their own comment
    threshold = app.config["FLAG_HIDE_THRESHOLD"]
    for _ in range(threshold):
        flagger = client_for(make_user("member"))
        response = flagger.post(f"/flag/blog_comment/{comment.id}", data={"reason": "personal_information"})
        assert response.status_code == 302
        assert response.headers["Location"].endswith(f"/blog/{post.slug}#comment-{comment.id}")
    db.session.expire_all()
    assert db.session.get(BlogComment, comment.id).status == "hidden"
    assert "555-0100" not in client_for(member).get(f"/blog/{post.slug}").get_data(as_text=True)
    actions = [row.action for row in ModerationLog.query.filter_by(subject_kind="blog_comment")]
    assert actions.count("flag") == threshold and actions[-1] == "hide"
    assert verify_chain().ok


def test_suspended_member_cannot_comment_and_is_told_why(client_for, member, moderator, post):
    suspend_member(moderator, member.id, "Repeated spam links.", (utcnow() + timedelta(days=3)).date())
    client = client_for(member)
    page = client.get(f"/blog/{post.slug}").get_data(as_text=True)
    assert "Repeated spam links." in page and 'name="body"' not in page
    response = client.post(f"/blog/{post.slug}/comments", data={"body": "Still here"})
    assert response.status_code == 403 and "Repeated spam links." in response.get_data(as_text=True)
    assert BlogComment.query.count() == 0
    with pytest.raises(PermissionDenied):
        blog.add_comment(member, post.slug, "Via the service")


def test_removal_requests_resolve_links_to_comments(app, member, post, make_comment):
    from moderation.removal.services import LinkProblem, resolve_link

    comment = make_comment(member, post, "Please remove me later", state="published")
    with app.test_request_context("/removal-request"):
        for link in (
            f"/blog/comments/{comment.id}",
            f"http://localhost/blog/{post.slug}#comment-{comment.id}",
        ):
            kind, item_id = resolve_link(link)
            assert (kind.name, item_id) == ("blog_comment", comment.id)
        with pytest.raises(LinkProblem):
            resolve_link(f"/blog/{post.slug}")  # a whole post is staff content, not a comment
