"""Blog posts (staff content with its own draft/published/unpublished states)
and member comments (a moderated kind, like reviews).

Models describe data and guard invariants; services commit.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, event, inspect
from sqlalchemy.orm import Mapped, mapped_column, relationship

from forum.extensions import db
from forum.models import User
from forum.timeutil import UTCDateTime, utcnow
from moderation.models import ImmutableRowError, ModeratedMixin
from moderation.states import REMOVED

POST_TITLE_MAX = 200
POST_BODY_MAX = 100_000
SLUG_MAX = 80
COMMENT_BODY_MAX = 5_000

DRAFT, PUBLISHED, UNPUBLISHED = "draft", "published", "unpublished"
POST_STATES = (DRAFT, PUBLISHED, UNPUBLISHED)


class BlogPost(db.Model):  # type: ignore[name-defined]  # db.Model is dynamic
    __tablename__ = "blog_post"
    __table_args__ = (
        CheckConstraint("status IN ('draft', 'published', 'unpublished')", name="status_known"),
        # A post that was ever published has a publish date; its slug is then frozen.
        CheckConstraint("status = 'draft' OR published_at IS NOT NULL", name="published_has_date"),
        Index("ix_blog_post_status_published", "status", "published_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(SLUG_MAX), unique=True)
    title: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default=DRAFT)
    # Bumped by every save: an editor's form names the version it was loaded
    # from, so two editors cannot silently overwrite each other.
    version: Mapped[int] = mapped_column(Integer, default=1)
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # First publication; kept when a post is unpublished and published again.
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    author: Mapped[User | None] = relationship(foreign_keys=[author_id])

    # Every UPDATE says WHERE version = <the one we read> and bumps it.
    __mapper_args__ = {"version_id_col": version}

    @property
    def is_public(self) -> bool:
        return self.status == PUBLISHED

    @property
    def slug_is_frozen(self) -> bool:
        """Once a post has been published its address is out there: it never changes."""
        return self.published_at is not None


class BlogComment(ModeratedMixin, db.Model):  # type: ignore[name-defined]  # db.Model is dynamic
    __tablename__ = "blog_comment"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'published', 'rejected', 'withdrawn', 'hidden', 'removed', 'superseded')",
            name="status_known",
        ),
        # Text is only ever absent on a removed comment (erased personal data).
        CheckConstraint("body IS NOT NULL OR status = 'removed'", name="text_kept_unless_removed"),
        Index("ix_blog_comment_post_status_published", "post_id", "status", "published_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("blog_post.id"), index=True)
    body: Mapped[str | None] = mapped_column(Text)

    post: Mapped[BlogPost] = relationship()
    author: Mapped[User | None] = relationship(foreign_keys="BlogComment.author_id")
    decided_by: Mapped[User | None] = relationship(foreign_keys="BlogComment.decided_by_id")

    @property
    def is_erased(self) -> bool:
        return self.body is None


@event.listens_for(BlogComment, "before_update")
def _comment_text_is_immutable(mapper, connection, target):
    """A comment is published exactly as submitted (its fingerprint says so); only erasure after removal."""
    state = inspect(target)
    for name in ("body", "fingerprint"):
        if not state.attrs[name].history.has_changes():
            continue
        if not (name == "body" and target.status == REMOVED and target.body is None):
            raise ImmutableRowError(f"blog comment {target.id}: {name} cannot change after submission")
