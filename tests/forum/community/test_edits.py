"""Authors edit their own posts: earlier text kept as revisions for moderators, "edited" shown, states kept."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from forum.community import services
from forum.community.models import ForumPost, ForumPostRevision
from forum.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from forum.extensions import db
from forum.fingerprint import content_fingerprint
from moderation import services as moderation
from moderation.audit import verify_chain
from moderation.models import ModerationLog


def test_edit_keeps_the_earlier_revision_and_shows_edited(client, published_topic, client_for, moderator):
    post = published_topic.opening
    author = post.author
    old_fingerprint = post.fingerprint
    services.edit_post(author, post.id, "Which USB-C cable for 240 W?", "Edited **body**")
    db.session.expire_all()
    post = db.session.get(ForumPost, post.id)
    assert (post.title, post.body, post.status) == (
        "Which USB-C cable for 240 W?",
        "Edited **body**",
        "published",
    )
    assert post.fingerprint == content_fingerprint("Which USB-C cable for 240 W?", "Edited **body**")
    assert post.edited_at is not None
    [revision] = post.revisions
    assert (revision.title, revision.body, revision.fingerprint) == (
        "Which USB-C cable for 100 W?",
        "I need a **long** one.",
        old_fingerprint,
    )

    page = client.get(f"/forums/topics/{published_topic.id}").text
    assert "edited" in page and "<strong>body</strong>" in page
    assert "I need a" not in page  # the public sees only the current text
    # Moderators see the earlier text in the item's history.
    mod = client_for(moderator)
    history = mod.get(f"/forums/posts/{post.id}/history").text
    assert "I need a **long** one." in history and old_fingerprint in history
    assert [
        r.action
        for r in db.session.scalars(
            select(ModerationLog)
            .where(ModerationLog.subject_id == post.id, ModerationLog.subject_kind == "forum_post")
            .order_by(ModerationLog.seq)
        )
    ][-1] == "edit"
    assert verify_chain().ok


def test_history_page_is_for_moderators_only(client, client_for, published_topic, make_user):
    post_id = published_topic.opening.id
    assert client_for(make_user()).get(f"/forums/posts/{post_id}/history").status_code == 403
    assert client.get(f"/forums/posts/{post_id}/history").status_code == 302  # log in first


def test_moderation_item_page_shows_revisions(client_for, moderator, published_topic):
    post = published_topic.opening
    services.edit_post(post.author, post.id, post.title, "second text")
    services.edit_post(post.author, post.id, post.title, "third text")
    page = client_for(moderator).get(f"/moderation/items/forum_post/{post.id}")
    if page.status_code == 404:
        pytest.skip("no moderation item page in this build")
    assert (
        "I need a **long** one." in page.text
        and "second text" in page.text
        and "Earlier versions (2)" in page.text
    )


def test_editing_a_pending_post_keeps_it_pending(member, category, moderator):
    topic = services.create_topic(member, category, "Held", "first words")
    post = services.edit_post(member, topic.opening.id, "Held", "better words")
    assert post.status == "pending" and post.body == "better words"
    # The moderator approves what they see now: the new text.
    moderation.approve_submission("forum_post", post.id, moderator)
    assert db.session.get(ForumPost, post.id).body == "better words"


def test_a_decision_on_text_that_was_edited_since_is_refused(member, category, moderator):
    topic = services.create_topic(member, category, "Held", "first words")
    seen_version = topic.opening.version
    services.edit_post(member, topic.opening.id, "Held", "switched after the moderator looked")
    with pytest.raises(Conflict):
        moderation.approve_submission(
            "forum_post", topic.opening.id, moderator, expected_version=seen_version
        )
    assert db.session.get(ForumPost, topic.opening.id).status == "pending"


def test_stale_edit_form_is_refused(published_topic):
    post = published_topic.opening
    version = post.version
    services.edit_post(post.author, post.id, post.title, "first edit", expected_version=version)
    with pytest.raises(Conflict):
        services.edit_post(post.author, post.id, post.title, "edit from an old tab", expected_version=version)
    assert db.session.get(ForumPost, post.id).body == "first edit"


def test_unchanged_edit_makes_no_revision(published_topic):
    post = published_topic.opening
    services.edit_post(post.author, post.id, post.title, post.body)
    assert db.session.scalar(select(func.count()).select_from(ForumPostRevision)) == 0
    assert db.session.get(ForumPost, post.id).edited_at is None


def test_only_the_author_edits_and_moderators_never_edit(published_topic, moderator, make_user, client_for):
    post = published_topic.opening
    with pytest.raises(NotFound):
        services.edit_post(make_user(), post.id, "x", "hijack")
    with pytest.raises(NotFound):
        services.edit_post(moderator, post.id, "x", "moderators never edit anyone's text")
    assert client_for(moderator).get(f"/forums/posts/{post.id}/edit").status_code == 404
    assert (
        client_for(moderator)
        .post(f"/forums/posts/{post.id}/edit", data={"title": "x", "body": "y"})
        .status_code
        == 404
    )
    assert db.session.get(ForumPost, post.id).body == "I need a **long** one."


def test_untrusted_edit_of_a_published_post_stays_published_but_may_not_add_many_links(
    member, category, moderator
):
    topic = services.create_topic(member, category, "Mine", "plain")
    moderation.approve_submission("forum_post", topic.opening.id, moderator)
    post = services.edit_post(member, topic.opening.id, "Mine", "fixed a typo, see https://a.example")
    assert post.status == "published"
    with pytest.raises(ValidationFailed):
        services.edit_post(member, post.id, "Mine", "https://a.com https://b.com https://c.com")
    assert db.session.get(ForumPost, post.id).body == "fixed a typo, see https://a.example"


def test_reply_edit_through_the_page(client_for, make_trusted, published_topic):
    author = make_trusted()
    reply = services.create_reply(author, published_topic.id, "original reply")
    client = client_for(author)
    form = client.get(f"/forums/posts/{reply.id}/edit")
    assert form.status_code == 200 and "original reply" in form.text and 'name="title"' not in form.text
    preview = client.post(
        f"/forums/posts/{reply.id}/edit",
        data={"body": "*new*", "preview": "1", "version": str(reply.version)},
    )
    assert preview.status_code == 200 and "<em>new</em>" in preview.text
    assert db.session.get(ForumPost, reply.id).body == "original reply"
    saved = client.post(
        f"/forums/posts/{reply.id}/edit", data={"body": "*new*", "version": str(reply.version)}
    )
    assert saved.status_code == 302
    db.session.expire_all()
    assert db.session.get(ForumPost, reply.id).body == "*new*"
    bad = client.post(f"/forums/posts/{reply.id}/edit", data={"body": "", "version": str(reply.version + 1)})
    assert bad.status_code == 422


def test_no_edits_in_a_locked_topic(published_topic, moderator):
    services.set_locked(moderator, published_topic.id, True)
    post = published_topic.opening
    with pytest.raises(PermissionDenied):
        services.edit_post(post.author, post.id, post.title, "changed")


def test_removal_erases_text_and_every_revision(published_topic, moderator):
    post = published_topic.opening
    services.edit_post(post.author, post.id, post.title, "second")
    moderation.remove_submission("forum_post", post.id, moderator, reason="spam")
    db.session.expire_all()
    post = db.session.get(ForumPost, post.id)
    assert (post.status, post.title, post.body) == ("removed", None, None)
    assert db.session.scalar(select(func.count()).select_from(ForumPostRevision)) == 0
    with pytest.raises(PermissionDenied):
        services.edit_post(post.author, post.id, "back", "from the dead")
