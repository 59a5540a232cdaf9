"""Notifications: what makes one, what the list shows, mail at once or in the digest, and
gone means gone (a notification about content that leaves "published" vanishes and is never mailed)."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select

from forum.accounts import suspensions
from forum.community import services as forums
from forum.extensions import db
from forum.members import services
from forum.members.models import MemberProfile, Notification
from forum.models import OutboxMessage
from moderation import services as moderation


def handle(user) -> str:
    return db.session.get(MemberProfile, user.id).handle


def visible(user, decisions=False):
    """What the member's notifications page lists (without the approvals that made them trusted)."""
    return [
        item
        for item in services.list_notifications(user)[1]
        if decisions or item["note"].kind != "moderation"
    ]


def outbox(user, unsent_only=False):
    query = select(OutboxMessage).where(OutboxMessage.to_address == user.email).order_by(OutboxMessage.id)
    if unsent_only:
        query = query.where(OutboxMessage.sent_at.is_(None))
    return [m for m in db.session.scalars(query) if m.headers]  # notification mail, not decision mail


def test_mention_notifies_at_once_with_unsubscribe_headers(app, alice, bob, category):
    topic = forums.create_topic(alice, category, "Docks", f"What do you think, @{handle(bob)}?")
    items = visible(bob)
    assert [i["note"].kind for i in items] == ["mention"]
    assert items[0]["sentence"] == "Alice Archer mentioned you" and items[0]["topic_title"] == "Docks"
    assert services.unread_count(bob) == 1
    mail = outbox(bob)
    assert len(mail) == 1 and mail[0].subject == "You were mentioned in the community forums"
    assert mail[0].headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = mail[0].headers["List-Unsubscribe"].strip("<>")
    assert "/notifications/unsubscribe/" in link and link in mail[0].body_text
    assert f"/forums/posts/{topic.opening.id}" in mail[0].body_text
    # The author is not notified about their own post.
    assert visible(alice) == []


def test_pending_posts_notify_nobody_until_published(
    app, alice, bob, make_user, moderator, category, sent_mail
):
    topic = forums.create_topic(alice, category, "Docks", "Opening")
    newcomer = make_user(display_name="Nina New")
    reply = forums.create_reply(newcomer, topic.id, f"Hello @{handle(bob)} and @{handle(alice)}")
    assert reply.status == "pending"
    assert visible(alice) == [] and visible(bob) == []
    assert (
        db.session.scalar(
            select(func.count()).select_from(Notification).where(Notification.post_id == reply.id)
        )
        == 0
    )
    moderation.approve_submission("forum_post", reply.id, moderator)
    kinds = {n["note"].user_id: n["note"].kind for n in visible(alice) + visible(bob)}
    assert kinds == {alice.id: "mention", bob.id: "mention"}  # a mention beats "reply in your topic"
    # The newcomer learns of the decision in-site too (it was mailed already).
    decisions = visible(newcomer, decisions=True)
    assert [d["note"].kind for d in decisions] == ["moderation"]
    assert decisions[0]["sentence"] == "Your forum post is published."


def test_mentions_of_suspended_or_unknown_members_do_nothing_and_ten_at_most(
    app, alice, bob, make_user, moderator, category
):
    suspensions.suspend_member(moderator, bob.id, "Spamming", date.today() + timedelta(days=3))
    others = [make_user(display_name=f"Reader {n:02d}") for n in range(12)]
    body = f"@{handle(bob)} @nobody_here " + " ".join(f"@{handle(u)}" for u in others)
    topic = forums.create_topic(alice, category, "Many", body)
    assert visible(bob) == []
    notified = [u for u in others if visible(u)]
    assert notified == others[:10]  # the first ten handles written (bob's was first but does nothing)
    page = forums.topic_posts(None, topic).items[0]
    from forum.members.markup import render_post

    html = str(render_post(page))
    assert f'href="/members/{handle(others[0])}"' in html
    assert f"/members/{handle(bob)}" not in html and "/members/nobody_here" not in html


def test_mentions_inside_code_and_links_are_not_linked(app, alice, bob, category):
    from forum.members.markup import render_post

    topic = forums.create_topic(
        alice, category, "Code", f"`@{handle(bob)}` and [@{handle(bob)}](https://x.example)"
    )
    html = str(render_post(topic.opening))
    assert "/members/" not in html


def test_watched_topic_reply_waits_for_the_digest(app, runner, alice, bob, member_with_trust, category):
    topic = forums.create_topic(alice, category, "Cables", "Opening")
    carol = member_with_trust("Carol Cook")
    services.set_watching(carol, topic.id, True)
    forums.create_reply(bob, topic.id, "First reply, about hubs")  # bob now watches it too
    assert services.is_watching(bob, topic.id)
    assert [n["note"].kind for n in visible(alice)] == ["reply"]
    assert [n["note"].kind for n in visible(carol)] == ["watched"]
    assert outbox(carol) == []  # default for watched topics: the digest
    assert len(outbox(alice)) == 1  # default for replies in your own topic: at once
    result = runner.invoke(args=["notifications", "send-digest"])
    assert result.exit_code == 0 and "1 digest queued" in result.output
    db.session.expire_all()
    digest = outbox(carol)
    assert len(digest) == 1 and digest[0].subject == "Your daily community digest"
    assert "about hubs" in digest[0].body_text and "List-Unsubscribe" in digest[0].headers
    # Sent once: the next run has nothing for her.
    assert services.send_daily_digests() == 0


def test_removed_post_vanishes_from_notifications_mail_and_digest(
    app, alice, bob, member_with_trust, moderator, category
):
    topic = forums.create_topic(alice, category, "Cables", "Opening")
    carol = member_with_trust("Carol Cook")
    services.set_watching(carol, topic.id, True)
    reply = forums.create_reply(bob, topic.id, f"secret-ish words, @{handle(alice)}")
    assert services.unread_count(alice) == 1 and services.unread_count(carol) == 1
    # Not sent yet (the mail server is slow): alice's mention is mailed at once, carol's waits.
    assert len(outbox(alice, unsent_only=True)) == 1 and outbox(carol) == []
    moderation.remove_submission("forum_post", reply.id, moderator, reason="abusive")
    assert visible(alice) == [] and visible(carol) == []
    assert services.unread_count(alice) == 0
    assert outbox(alice, unsent_only=True) == []  # withdrawn before it went out
    assert services.send_daily_digests() == 0
    assert not db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.body_text.contains("secret-ish"))
    ).all()


def test_hidden_topic_takes_its_notifications_along(app, alice, bob, make_user, moderator, category):
    app.config["FLAG_HIDE_THRESHOLD"] = 1
    from moderation import flags

    topic = forums.create_topic(alice, category, "Cables", "Opening")
    forums.create_reply(bob, topic.id, "A reply")
    assert len(visible(alice)) == 1
    flags.flag_item("forum_post", topic.opening.id, make_user(), "abusive")
    assert visible(alice) == [] and services.unread_count(alice) == 0


def test_notifications_page_lists_newest_first_and_marks_read(client, app, alice, bob, category, login_as):
    for n in range(3):
        forums.create_topic(bob, category, f"Topic {n}", f"Hey @{handle(alice)} number {n}")
    login_as(alice)
    page = client.get("/notifications").text
    assert page.index("Topic 2") < page.index("Topic 1") < page.index("Topic 0")
    assert 'class="badge">3' in page
    first = visible(alice)[0]["note"]
    response = client.post(f"/notifications/{first.id}/read")
    assert response.status_code == 302
    assert services.unread_count(alice) == 2
    opened = client.get(f"/notifications/{visible(alice)[1]['note'].id}")
    assert opened.status_code == 302 and "/forums/posts/" in opened.location
    assert services.unread_count(alice) == 1
    client.post("/notifications/read-all")
    assert services.unread_count(alice) == 0
    assert 'class="badge"' not in client.get("/notifications").text
    assert client.post("/notifications/999999/read").status_code == 404


def test_notifications_page_is_paginated(client, app, alice, bob, category, login_as):
    for n in range(23):
        forums.create_topic(bob, category, f"Topic {n:02d}", f"@{handle(alice)}")
    login_as(alice)
    assert "Topic 22" in client.get("/notifications").text
    second = client.get("/notifications?page=2").text
    assert "Topic 00" in second and "Topic 22" not in second


def test_notifications_need_login(client):
    assert client.get("/notifications").status_code == 302


def test_other_members_notifications_cannot_be_opened(client, app, alice, bob, category, login_as):
    forums.create_topic(bob, category, "T", f"@{handle(alice)}")
    note = visible(alice)[0]["note"]
    login_as(bob)
    assert client.get(f"/notifications/{note.id}").status_code == 404
    assert client.post(f"/notifications/{note.id}/read").status_code == 404
