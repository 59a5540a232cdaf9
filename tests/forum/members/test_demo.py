"""The demo has members' content (issue 13): notifications waiting, likes, watched topics and
@mentions, made by the loaders `flask demo` runs; loading twice adds nothing."""

from __future__ import annotations

import random

from sqlalchemy import func, select

from forum.community.demo import load_forums
from forum.community.models import ForumPost
from forum.demo import DEMO_DOMAIN, DEMO_SEED, load_staff_and_members
from forum.extensions import db
from forum.members import demo, services
from forum.members.models import MemberProfile, Notification, PostLike, PostQuote, TopicState
from forum.models import User
from tests.conftest import STRONG_PASSWORD


def _count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def _load(app):
    """The accounts, forum and members loaders, in `flask demo`'s order and set-up."""
    for loader in (load_staff_and_members, load_forums, demo.load_members):
        with app.test_request_context("/"):
            lines = list(loader(random.Random(DEMO_SEED)))
            db.session.commit()
    return lines


def test_demo_has_notifications_likes_watched_topics_and_mentions(app, client, login_as):
    lines = _load(app)
    assert lines and lines[-1].startswith("Members:")

    kinds = set(db.session.scalars(select(Notification.kind)))
    assert {"mention", "like"} <= kinds and kinds & {"reply", "watched"}
    assert _count(PostLike) >= 4
    assert _count(PostQuote) >= 1  # (its notification is a mention: the stronger reason wins)
    assert _count(TopicState, TopicState.watching.is_(True)) >= 2

    topic_id, opening_body = db.session.execute(
        select(ForumPost.topic_id, ForumPost.body).where(ForumPost.title == demo.TITLE)
    ).one()
    mentioned = db.session.scalar(select(User).where(User.email == f"member13@{DEMO_DOMAIN}"))
    handle = db.session.get(MemberProfile, mentioned.id).handle
    assert f"@{handle}" in opening_body
    # The mention is a link to the profile, and the likes show, on the public topic page.
    page = client.get(f"/forums/topics/{topic_id}").text
    assert f'href="/members/{handle}"' in page and "4 likes" in page

    # The mentioned member finds it waiting in their notifications.
    assert services.unread_count(mentioned) >= 1
    from forum.accounts.services import hash_password

    mentioned.password_hash = hash_password(STRONG_PASSWORD)
    db.session.commit()
    login_as(mentioned)
    notifications = client.get("/notifications").text
    assert "mentioned you" in notifications and "liked your post" in notifications

    counts = [_count(model) for model in (Notification, PostLike, PostQuote, TopicState, ForumPost)]
    assert _load(app) == []  # the second run recognises the conversation and adds nothing
    assert counts == [_count(model) for model in (Notification, PostLike, PostQuote, TopicState, ForumPost)]
