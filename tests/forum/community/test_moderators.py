"""Moderators' tools: lock, pin, move (logged), remove with a reason, suspend members."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from forum.accounts import suspensions
from forum.community import services
from forum.community.models import ForumPost, ForumTopic
from forum.errors import PermissionDenied, ValidationFailed
from forum.extensions import db
from forum.timeutil import utcnow
from moderation.audit import verify_chain
from moderation.models import ModerationLog


def _topic_log(topic_id):
    return [
        (r.action, r.reference)
        for r in db.session.scalars(
            select(ModerationLog)
            .where(ModerationLog.subject_kind == "forum_topic", ModerationLog.subject_id == topic_id)
            .order_by(ModerationLog.seq)
        )
    ]


def test_lock_pin_and_move_are_logged(client_for, moderator, published_topic, category):
    other = services.add_category("Monitors", "")
    mod = client_for(moderator)
    assert mod.post(f"/forums/topics/{published_topic.id}/tools", data={"action": "lock"}).status_code == 302
    assert mod.post(f"/forums/topics/{published_topic.id}/tools", data={"action": "pin"}).status_code == 302
    assert (
        mod.post(
            f"/forums/topics/{published_topic.id}/move", data={"move-category": str(other.id)}
        ).status_code
        == 302
    )
    assert (
        mod.post(f"/forums/topics/{published_topic.id}/tools", data={"action": "unlock"}).status_code == 302
    )
    db.session.expire_all()
    topic = db.session.get(ForumTopic, published_topic.id)
    assert (topic.locked, topic.pinned, topic.category_id) == (False, True, other.id)
    assert _topic_log(topic.id) == [
        ("lock", None),
        ("pin", None),
        ("move", f"category {category.id} -> {other.id}"),
        ("unlock", None),
    ]
    entry = db.session.scalar(select(ModerationLog).where(ModerationLog.action == "move"))
    assert entry.actor_id == moderator.id and entry.actor_role == "moderator"
    assert verify_chain().ok
    assert mod.post(f"/forums/topics/{topic.id}/tools", data={"action": "explode"}).status_code == 400
    assert mod.post(f"/forums/topics/{topic.id}/move", data={"move-category": "999"}).status_code == 422


def test_moving_reindexes_the_topics_posts_for_search(moderator, published_topic, make_trusted):
    from forum.search.models import SearchOutbox

    reply = services.create_reply(make_trusted(), published_topic.id, "a reply")
    db.session.execute(SearchOutbox.__table__.delete())
    db.session.commit()
    services.move_topic(moderator, published_topic.id, services.add_category("Audio", "").id)
    queued = {(row.kind, row.item_id) for row in db.session.scalars(select(SearchOutbox))}
    assert {("forum_post", published_topic.opening.id), ("forum_post", reply.id)} <= queued


def test_topic_tools_are_for_moderators_only(client_for, make_user, published_topic, category):
    member = client_for(make_user())
    for action in ("lock", "pin"):
        assert (
            member.post(f"/forums/topics/{published_topic.id}/tools", data={"action": action}).status_code
            == 403
        )
    assert (
        member.post(
            f"/forums/topics/{published_topic.id}/move", data={"move-category": str(category.id)}
        ).status_code
        == 403
    )
    with pytest.raises(PermissionDenied):
        services.set_locked(make_user(), published_topic.id, True)
    assert "Moderator tools" not in member.get(f"/forums/topics/{published_topic.id}").text
    assert _topic_log(published_topic.id) == []


def test_moderator_sees_tools_and_removes_a_post_with_a_reason(
    client, client_for, moderator, published_topic, make_trusted, sent_mail
):
    reply = services.create_reply(make_trusted(), published_topic.id, "Buy cheap cables at spam.example")
    mod = client_for(moderator)
    page = mod.get(f"/forums/topics/{published_topic.id}").text
    assert "Moderator tools" in page and f"/moderation/flags/forum_post/{reply.id}/remove" in page
    form = mod.get(f"/moderation/flags/forum_post/{reply.id}/remove")
    assert form.status_code == 200 and "Buy cheap cables" in form.text
    done = mod.post(
        f"/moderation/flags/forum_post/{reply.id}/remove",
        data={"reason": "spam", "note": "No ads, please.", "version": str(reply.version)},
    )
    assert done.status_code == 302
    db.session.expire_all()
    assert db.session.get(ForumPost, reply.id).status == "removed"
    assert "Buy cheap cables" not in client.get(f"/forums/topics/{published_topic.id}").text
    from forum.models import OutboxMessage

    mail = db.session.scalars(select(OutboxMessage)).all()[-1]
    assert (
        "removed" in mail.subject
        and "Spam or advertising" in mail.body_text
        and "No ads, please." in mail.body_text
    )


def test_rejected_held_post_mails_its_author_the_reason(member, category, moderator):
    from forum.models import OutboxMessage
    from moderation import services as moderation

    topic = services.create_topic(member, category, "Held", "text")
    moderation.reject_submission(
        "forum_post", topic.opening.id, moderator, reason="off_topic", note="Try the blog."
    )
    mail = db.session.scalars(select(OutboxMessage)).all()[-1]
    assert mail.to_address == member.email and "not published" in mail.subject
    assert "Not about the product or topic" in mail.body_text and "Try the blog." in mail.body_text


# --- suspension ---------------------------------------------------------------------


def test_suspended_member_cannot_post_and_is_told_why_and_until_when(
    client_for, moderator, make_trusted, published_topic, category
):
    member = make_trusted(display_name="Sam Suspended")
    until = utcnow().date() + timedelta(days=7)
    suspensions.suspend_member(moderator, member.id, "Repeated insults <b>in</b> replies", until)
    with pytest.raises(suspensions.Suspended) as info:
        services.create_reply(member, published_topic.id, "I'm back")
    assert "Repeated insults <b>in</b> replies" in info.value.message
    with pytest.raises(suspensions.Suspended):
        services.create_topic(member, category, "New", "topic")
    with pytest.raises(suspensions.Suspended):
        services.edit_post(
            member,
            db.session.scalar(select(ForumPost.id).where(ForumPost.author_id == member.id)),
            "t",
            "edit",
        )
    client = client_for(member)
    response = client.post(f"/forums/topics/{published_topic.id}/reply", data={"body": "I'm back"})
    assert response.status_code == 403
    assert "Repeated insults &lt;b&gt;in&lt;/b&gt; replies" in response.text
    assert until.strftime("%-d %B %Y") in response.text
    form_page = client.get(f"/forums/{category.slug}/new")
    assert form_page.status_code == 200 and "suspended until the end of" in form_page.text
    assert 'name="title"' not in form_page.text
    assert client.post(f"/forums/{category.slug}/new", data={"title": "t", "body": "b"}).status_code == 403
    assert "suspended" in client.get(f"/forums/topics/{published_topic.id}").text
    assert db.session.scalar(select(ForumPost).where(ForumPost.body == "I'm back")) is None
    # Logged, with a fingerprint of the reason but never its words.
    entry = db.session.scalar(select(ModerationLog).where(ModerationLog.action == "suspend"))
    assert (entry.subject_kind, entry.subject_id, entry.actor_id) == ("member", member.id, moderator.id)
    assert entry.reference == f"until {until.isoformat()}" and entry.reason is None


def test_suspension_ends_and_can_be_lifted(moderator, make_trusted, published_topic):
    member = make_trusted()
    suspension = suspensions.suspend_member(moderator, member.id, "Cool off", utcnow().date())
    assert suspensions.active_suspension(member) is not None
    suspensions.lift_suspension(moderator, suspension.id)
    assert suspensions.active_suspension(member) is None
    assert services.create_reply(member, published_topic.id, "thanks").status == "published"
    assert [
        r.action
        for r in db.session.scalars(select(ModerationLog).where(ModerationLog.subject_kind == "member"))
    ] == ["suspend", "lift_suspension"]
    # An expired suspension does not block.
    expired = suspensions.MemberSuspension(
        user_id=member.id, reason="old", ends_at=utcnow() - timedelta(seconds=1), created_by_id=moderator.id
    )
    db.session.add(expired)
    db.session.commit()
    suspensions.check_can_post(member)


def test_suspension_rules(moderator, make_user, admin):
    member = make_user()
    with pytest.raises(PermissionDenied):
        suspensions.suspend_member(make_user(), member.id, "x", date.today() + timedelta(days=1))
    with pytest.raises(PermissionDenied):
        suspensions.suspend_member(moderator, admin.id, "x", date.today() + timedelta(days=1))
    with pytest.raises(PermissionDenied):
        suspensions.suspend_member(moderator, moderator.id, "x", date.today() + timedelta(days=1))
    for reason, until in (
        ("", date.today() + timedelta(days=1)),
        ("   ", date.today() + timedelta(days=1)),
        ("why", date.today() - timedelta(days=1)),
        ("why", date.today() + timedelta(days=9999)),
        ("a\x00b", date.today()),
        ("x" * 1001, date.today()),
        ("why", None),
    ):
        with pytest.raises(ValidationFailed):
            suspensions.suspend_member(moderator, member.id, reason, until)
    assert suspensions.active_suspension(member) is None


def test_suspension_pages(client_for, moderator, make_user, sent_mail):
    member = make_user(display_name="Pat Poster")
    mod = client_for(moderator)
    assert mod.get(f"/moderation/members/{member.id}/suspend").status_code == 200
    bad = mod.post(f"/moderation/members/{member.id}/suspend", data={"reason": "", "until": "not a date"})
    assert bad.status_code == 422
    until = (utcnow().date() + timedelta(days=3)).isoformat()
    ok = mod.post(
        f"/moderation/members/{member.id}/suspend", data={"reason": "Spamming links", "until": until}
    )
    assert ok.status_code == 302
    listing = mod.get("/moderation/suspensions")
    assert "Pat Poster" in listing.text and "Spamming links" in listing.text
    from forum.models import OutboxMessage

    mail = db.session.scalars(select(OutboxMessage).where(OutboxMessage.to_address == member.email)).one()
    assert "Spamming links" in mail.body_text
    suspension = suspensions.active_suspension(member)
    assert mod.post(f"/moderation/suspensions/{suspension.id}/lift").status_code == 302
    assert suspensions.active_suspension(member) is None
    other = client_for(make_user())
    assert other.get(f"/moderation/members/{member.id}/suspend").status_code == 403
    assert other.get("/moderation/suspensions").status_code == 403
    assert other.post(f"/moderation/suspensions/{suspension.id}/lift").status_code == 403


def test_suspension_reason_is_required_by_the_database(moderator, member):
    from sqlalchemy.exc import IntegrityError

    db.session.add(
        suspensions.MemberSuspension(user_id=member.id, reason="", ends_at=utcnow() + timedelta(days=1))
    )
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_approved_held_post_mails_its_author_once(member, category, moderator, published_topic):
    from forum.models import OutboxMessage
    from moderation import services as moderation

    topic = services.create_topic(member, category, "Held", "text")
    moderation.approve_submission("forum_post", topic.opening.id, moderator)
    mails = db.session.scalars(select(OutboxMessage).where(OutboxMessage.to_address == member.email)).all()
    assert len(mails) == 1 and "published" in mails[0].subject
    assert f"/forums/posts/{topic.opening.id}" in mails[0].body_text
