"""Demo forums: every state, made through the real services; loading twice changes nothing."""

from __future__ import annotations

from sqlalchemy import func, select

from forum.community.demo import load_forums
from forum.community.models import ForumCategory, ForumPost, ForumTopic
from forum.demo import DEMO_SEED, load_staff_and_members
from forum.extensions import db
from moderation.audit import verify_chain
from moderation.flags import Flag


def test_demo_forums_have_every_state_and_load_once(app, client):
    import random

    rng = random.Random(DEMO_SEED)
    list(load_staff_and_members(rng))
    db.session.commit()
    lines = list(load_forums(rng))
    assert lines and "Forums:" in lines[-1]
    states = set(db.session.scalars(select(ForumPost.status)))
    assert {"published", "pending", "hidden", "removed", "rejected", "withdrawn"} <= states
    assert db.session.scalar(select(func.count()).select_from(Flag)) >= 3
    assert (
        db.session.scalar(select(func.count()).select_from(ForumTopic).where(ForumTopic.pinned.is_(True)))
        == 1
    )
    assert (
        db.session.scalar(select(func.count()).select_from(ForumTopic).where(ForumTopic.locked.is_(True)))
        == 1
    )
    assert (
        db.session.scalar(select(func.count()).select_from(ForumPost).where(ForumPost.edited_at.isnot(None)))
        >= 1
    )
    counts = (
        db.session.scalar(select(func.count()).select_from(ForumCategory)),
        db.session.scalar(select(func.count()).select_from(ForumPost)),
    )
    assert "already there" in list(load_forums(rng))[-1]
    assert counts == (
        db.session.scalar(select(func.count()).select_from(ForumCategory)),
        db.session.scalar(select(func.count()).select_from(ForumPost)),
    )
    assert verify_chain().ok
    assert client.get("/forums").status_code == 200
    for category in db.session.scalars(select(ForumCategory)):
        assert client.get(f"/forums/{category.slug}").status_code == 200
    for topic_id in db.session.scalars(select(ForumTopic.id)):
        assert client.get(f"/forums/topics/{topic_id}").status_code in (200, 404)
