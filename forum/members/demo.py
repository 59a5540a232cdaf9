"""Demo: a conversation with @mentions, a quote, likes and watched topics, made through the
real services (so the demo members have notifications waiting). Loading twice changes nothing:
the conversation is recognised by its title."""

from __future__ import annotations

from sqlalchemy import select

from forum.community import services as forums
from forum.community.models import ForumCategory, ForumPost, ForumTopic
from forum.demo import DEMO_DOMAIN
from forum.extensions import db
from forum.models import User

from . import services
from .models import MemberProfile

TITLE = "Show us your desk setup"


def _user(local: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == f"{local}@{DEMO_DOMAIN}"))


def _handle(user: User) -> str:
    return db.session.get(MemberProfile, user.id).handle  # type: ignore[union-attr]


def load_members(rng):
    if db.session.scalar(select(ForumPost.id).where(ForumPost.title == TITLE)) is not None:
        return
    category = db.session.scalar(select(ForumCategory).order_by(ForumCategory.position).limit(1))
    moderator = _user("moderator")
    # The forum demo's trusted members (their posts publish at once).
    people = [u for u in (_user(f"member{n}") for n in range(13, 17)) if u is not None]
    if category is None or moderator is None or len(people) < 4:
        return
    a, b, c, d = people[:4]
    topic = forums.create_topic(
        moderator,
        category,
        TITLE,
        f"Post a short description of your desk. @{_handle(a)} and @{_handle(b)}, "
        "you mentioned new monitors last week: how do they work out?",
    )
    first = forums.create_reply(a, topic.id, 'Two 27" screens on arms, a USB-C dock and far too many cables.')
    quote = services.quote_source(b, first.id)
    forums.create_reply(b, topic.id, quote + f"Same here! @{_handle(a)}, which dock do you use?")
    for liker in (b, c, d, moderator):
        services.like(liker, first.id)
    services.set_watching(c, topic.id, True)
    forums.create_reply(a, topic.id, f"A Thunderbolt 4 one. @{_handle(c)} has the same, I think.")
    # One more watcher on an older topic, so "new posts" show in its category list.
    older = db.session.scalar(
        select(ForumTopic).where(ForumTopic.id != topic.id).order_by(ForumTopic.id).limit(1)
    )
    if older is not None and older.opening is not None and older.opening.status == "published":
        services.set_watching(d, older.id, True)
    db.session.commit()
    yield "Members: a conversation with mentions, a quote, likes and watchers; notifications are waiting."
