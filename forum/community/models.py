"""Forums: categories, topics and their posts (a topic's opening post and its replies).

A topic is a container; its words live in its posts. The opening post carries
the title. Every post is the moderated kind "forum_post": the topic is visible
exactly when its opening post is published, and a reply exactly when it is.
Authors may edit their posts; each edit keeps the earlier text as a revision.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, and_, text
from sqlalchemy.orm import Mapped, foreign, mapped_column, relationship

from forum.extensions import db
from forum.models import User
from forum.timeutil import UTCDateTime, utcnow
from moderation.models import ModeratedMixin

CATEGORY_NAME_MAX = 80
CATEGORY_DESCRIPTION_MAX = 1000
SLUG_MAX = 80
TITLE_MAX = 150
BODY_MAX = 20_000
# States whose text has been erased or taken back by the author.
TEXTLESS_STATES = ("removed", "withdrawn")


class ForumCategory(db.Model):  # type: ignore[name-defined]  # db.Model is dynamic
    __tablename__ = "forum_category"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(CATEGORY_NAME_MAX))
    slug: Mapped[str] = mapped_column(String(SLUG_MAX), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    # Where the category appears on /forums (lowest first).
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # What /forums shows, over public topics only; kept by the transitions of
    # forum posts and by topic moves (forum.community.aggregates); `flask recount` rebuilds them.
    topic_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    post_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_activity_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ForumTopic(db.Model):  # type: ignore[name-defined]  # db.Model is dynamic
    __tablename__ = "forum_topic"
    __table_args__ = (
        Index("ix_forum_topic_category_pinned", "category_id", "pinned"),
        Index("ix_forum_topic_category_listing", "category_id", "pinned", "last_activity_at"),
        # The liveliest public topics of every category (home page).
        Index("ix_forum_topic_public_activity", "is_public", "last_activity_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("forum_category.id"), index=True)
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    # Kept by the transitions of its posts (forum.community.aggregates): whether the
    # opening post is published, published posts and replies, the latest published post.
    is_public: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    post_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    reply_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_activity_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_author_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))

    category: Mapped[ForumCategory] = relationship()
    last_author: Mapped[User | None] = relationship(foreign_keys=[last_author_id])
    author: Mapped[User | None] = relationship(foreign_keys=[author_id])
    opening: Mapped[ForumPost] = relationship(
        primaryjoin=lambda: and_(
            foreign(ForumPost.topic_id) == ForumTopic.id, ForumPost.is_opening.is_(True)
        ),
        viewonly=True,
        uselist=False,
    )

    @property
    def title(self) -> str | None:
        return self.opening.title if self.opening is not None else None


class ForumPost(ModeratedMixin, db.Model):  # type: ignore[name-defined]  # db.Model is dynamic
    __tablename__ = "forum_post"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'published', 'rejected', 'withdrawn', 'hidden', 'removed', 'superseded')",
            name="status_known",
        ),
        # Text is absent only once erased (removed) or deleted by its author (withdrawn).
        CheckConstraint(
            "body IS NOT NULL OR status IN ('removed', 'withdrawn')", name="text_kept_unless_gone"
        ),
        # Only an opening post has a title, and it always has one while it has text.
        CheckConstraint(
            "(NOT is_opening AND title IS NULL) OR (is_opening AND (title IS NOT NULL OR status IN ('removed', 'withdrawn')))",
            name="title_on_opening_only",
        ),
        Index(
            "uq_forum_post_one_opening",
            "topic_id",
            unique=True,
            sqlite_where=text("is_opening"),
            postgresql_where=text("is_opening"),
        ),
        Index("ix_forum_post_topic_status_created", "topic_id", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("forum_topic.id"), index=True)
    is_opening: Mapped[bool] = mapped_column(Boolean, default=False)
    title: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str | None] = mapped_column(Text)
    # Set by the author's last edit: the post then shows "edited".
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Why the post waited for a moderator ("new_member", "links"), shown in the queue.
    held_because: Mapped[str | None] = mapped_column(String(40))

    topic: Mapped[ForumTopic] = relationship(foreign_keys=[topic_id])
    author: Mapped[User | None] = relationship(foreign_keys="ForumPost.author_id")
    decided_by: Mapped[User | None] = relationship(foreign_keys="ForumPost.decided_by_id")
    revisions: Mapped[list[ForumPostRevision]] = relationship(
        back_populates="post",
        order_by="ForumPostRevision.edited_at, ForumPostRevision.id",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )

    @property
    def is_erased(self) -> bool:
        return self.body is None

    @property
    def anchor(self) -> str:
        return f"post-{self.id}"


class ForumPostRevision(db.Model):  # type: ignore[name-defined]  # db.Model is dynamic
    """The text a post had before one of its author's edits (moderators see these)."""

    __tablename__ = "forum_post_revision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("forum_post.id", ondelete="CASCADE"), index=True)
    title: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    fingerprint: Mapped[str] = mapped_column(String(64))
    # When this text was replaced by the edit.
    edited_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    post: Mapped[ForumPost] = relationship(back_populates="revisions")
