"""What moderation stores: the columns every moderated item carries, and the log.

The moderation log is append-only and hash-chained: each row's hash covers the
previous row's hash and its own fields, so an edited, deleted or reordered row
is detected by `flask audit verify`. It holds ids, codes and fingerprints, never
the content itself, so erasing personal data later leaves the chain intact.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, event
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from forum.extensions import db
from forum.timeutil import UTCDateTime, utcnow

from .states import PENDING


class ImmutableRowError(RuntimeError):
    """Raised when code tries to change something that must never change."""


class ModeratedMixin:
    """Columns of any content that goes through the moderation queue."""

    status: Mapped[str] = mapped_column(String(20), default=PENDING, index=True)
    # Incremented by every transition: a decision names the version it saw, so
    # of two moderators deciding at once exactly one succeeds.
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_reason: Mapped[str | None] = mapped_column(String(40))
    decision_note: Mapped[str | None] = mapped_column(Text)
    # SHA-256 of the content as submitted (see forum.fingerprint).
    fingerprint: Mapped[str] = mapped_column(String(64))

    @declared_attr
    def author_id(cls) -> Mapped[int | None]:
        return mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"), index=True)

    @declared_attr
    def decided_by_id(cls) -> Mapped[int | None]:
        return mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))


class ModerationLog(db.Model):  # type: ignore[name-defined]  # db.Model is dynamic
    __tablename__ = "moderation_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # 1, 2, 3...: a gap means a deleted row.
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(Integer)  # not a FK: accounts may be deleted
    actor_role: Mapped[str] = mapped_column(String(20))
    subject_kind: Mapped[str] = mapped_column(String(30))
    subject_id: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(30))
    from_state: Mapped[str | None] = mapped_column(String(20))
    to_state: Mapped[str | None] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(String(40))
    fingerprint: Mapped[str | None] = mapped_column(String(64))
    reference: Mapped[str | None] = mapped_column(String(40))
    prev_hash: Mapped[str] = mapped_column(String(64))
    row_hash: Mapped[str] = mapped_column(String(64), unique=True)

    __table_args__ = (db.Index("ix_moderation_log_subject", "subject_kind", "subject_id"),)


class ModerationLogHead(db.Model):  # type: ignore[name-defined]  # db.Model is dynamic
    """One row: the last sequence number and hash. Updating it first serialises appends."""

    __tablename__ = "moderation_log_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    last_hash: Mapped[str] = mapped_column(String(64))


@event.listens_for(ModerationLog, "before_update")
def _log_rows_never_change(mapper, connection, target):
    raise ImmutableRowError("moderation log rows are append-only")


@event.listens_for(ModerationLog, "before_delete")
def _log_rows_never_go(mapper, connection, target):
    raise ImmutableRowError("moderation log rows are append-only")


class ModerationClaim(db.Model):  # type: ignore[name-defined]  # db.Model is dynamic
    """ "Being reviewed by X": set when a moderator opens an item's decision page.

    Purely informative for the other moderators (the queue shows it for a few
    minutes); it never blocks a decision: the version check decides races.
    """

    __tablename__ = "moderation_claim"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject_kind: Mapped[str] = mapped_column(String(30))
    subject_id: Mapped[int] = mapped_column(Integer)
    moderator_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (db.UniqueConstraint("subject_kind", "subject_id"),)
