"""Members' community layer: handles and profiles, watched topics and read marks,
likes, quotes between posts, notifications and mail preferences.

Models describe data and guard invariants; they never commit.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from forum.community.models import ForumPost
from forum.extensions import db
from forum.models import User
from forum.timeutil import UTCDateTime, utcnow

HANDLE_MAX = 30
# Kinds of notification. "moderation" is a decision on your own submission (already mailed
# by moderation.notify.DecisionMail); every other kind is about a published forum post.
NOTIFICATION_KINDS = ("mention", "quote", "reply", "watched", "like", "moderation")
MAIL_MODES = ("immediate", "digest", "never")
# mail_state of a notification: nothing to send, waiting for the digest, queued/sent, or
# dropped (its content left "published" before the digest went out).
MAIL_STATES = ("none", "digest", "sent", "dropped")


def _in(values) -> str:
    return ", ".join(f"'{v}'" for v in values)


class MemberProfile(db.Model):  # type: ignore[name-defined]  # db.Model is dynamic
    """A member's public handle (for @mentions and /members/<handle>) and profile setting."""

    __tablename__ = "member_profile"
    __table_args__ = (CheckConstraint("length(handle) > 0", name="handle_not_empty"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True)
    handle: Mapped[str] = mapped_column(String(HANDLE_MAX))
    # Lower-cased handle: one handle whatever its spelling.
    handle_key: Mapped[str] = mapped_column(String(HANDLE_MAX), unique=True)
    activity_hidden: Mapped[bool] = mapped_column(Boolean, default=False)

    user: Mapped[User] = relationship(foreign_keys=[user_id])


class TopicState(db.Model):  # type: ignore[name-defined]  # db.Model is dynamic
    """What one member does with one topic: watching it, and how far they have read."""

    __tablename__ = "forum_topic_state"

    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True)
    topic_id: Mapped[int] = mapped_column(
        ForeignKey("forum_topic.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    # None: never chose (posting watches automatically); False: they chose Unwatch.
    watching: Mapped[bool | None] = mapped_column(Boolean)
    # Published posts up to this moment have been seen.
    read_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PostLike(db.Model):  # type: ignore[name-defined]  # db.Model is dynamic
    __tablename__ = "forum_post_like"

    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True)
    post_id: Mapped[int] = mapped_column(
        ForeignKey("forum_post.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PostQuote(db.Model):  # type: ignore[name-defined]  # db.Model is dynamic
    """Post `post_id` quotes post `quoted_post_id` (written when it is published or edited)."""

    __tablename__ = "forum_post_quote"

    post_id: Mapped[int] = mapped_column(ForeignKey("forum_post.id", ondelete="CASCADE"), primary_key=True)
    quoted_post_id: Mapped[int] = mapped_column(
        ForeignKey("forum_post.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Notification(db.Model):  # type: ignore[name-defined]  # db.Model is dynamic
    __tablename__ = "notification"
    __table_args__ = (
        CheckConstraint(f"kind IN ({_in(NOTIFICATION_KINDS)})", name="kind_known"),
        CheckConstraint(f"mail_state IN ({_in(MAIL_STATES)})", name="mail_state_known"),
        # Everything but a moderation decision is about a post.
        CheckConstraint("kind = 'moderation' OR post_id IS NOT NULL", name="post_unless_decision"),
        Index("ix_notification_user_created", "user_id", "created_at"),
        Index("ix_notification_mail_state", "mail_state"),
        # One notification per member and post (likes are grouped into it).
        Index(
            "uq_notification_user_post",
            "user_id",
            "post_id",
            unique=True,
            sqlite_where=text("post_id IS NOT NULL"),
            postgresql_where=text("post_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    post_id: Mapped[int | None] = mapped_column(ForeignKey("forum_post.id", ondelete="CASCADE"), index=True)
    # A moderation decision: what was decided about which of your items, and where to look.
    subject_kind: Mapped[str | None] = mapped_column(String(40))
    subject_id: Mapped[int | None] = mapped_column(Integer)
    decision: Mapped[str | None] = mapped_column(String(20))  # published, rejected, removed
    reason: Mapped[str | None] = mapped_column(String(40))
    link: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    mail_state: Mapped[str] = mapped_column(String(10), default="none")
    # The queued mail of an "at once" notification, deleted if the post goes before it is sent.
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("mail_outbox.id", ondelete="SET NULL"))

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    actor: Mapped[User | None] = relationship(foreign_keys=[actor_id])
    post: Mapped[ForumPost | None] = relationship(foreign_keys=[post_id])


class NotificationPreference(db.Model):  # type: ignore[name-defined]  # db.Model is dynamic
    __tablename__ = "notification_preference"
    __table_args__ = (CheckConstraint(f"mode IN ({_in(MAIL_MODES)})", name="mode_known"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    mode: Mapped[str] = mapped_column(String(10))
