"""What a removal request stores: the request, the items it names, its timeline.

The request row holds the requester's email and words (personal data, shown
only to moderators and to the requester through the private status link).
Tokens are stored as SHA-256 hashes only. The moderation log gets ids, codes
and the reference, never the requester's text.

"No silent refusal" is enforced by the database too: an item row whose
decision is "refused" must carry a known reason code and a non-blank
explanation (CHECK constraint, mirrored in migration 0004).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from forum.extensions import db
from forum.models import User
from forum.timeutil import UTCDateTime, utcnow

# --- request states -----------------------------------------------------------
UNCONFIRMED = "unconfirmed"  # waiting for the email confirmation (purged after it expires)
OPEN = "open"  # confirmed: moderators decide before due_at
COMPLETED = "completed"  # every item removed
PARTIALLY_COMPLETED = "partially_completed"
REFUSED = "refused"  # every item refused, each with a reason
CLOSED = "closed"  # nothing to remove (no existing item), closed with a reason
REQUEST_STATES = (UNCONFIRMED, OPEN, COMPLETED, PARTIALLY_COMPLETED, REFUSED, CLOSED)
CLOSED_STATES = (COMPLETED, PARTIALLY_COMPLETED, REFUSED, CLOSED)

STATUS_LABELS = {
    UNCONFIRMED: "Waiting for you to confirm your email address",
    OPEN: "Being reviewed by our moderators",
    COMPLETED: "Completed: everything you asked about was removed",
    PARTIALLY_COMPLETED: "Partially completed: some content was removed, some was not",
    REFUSED: "Refused: we did not remove the content (reasons below)",
    CLOSED: "Closed: there was nothing we could remove",
}

# --- what is asked ---------------------------------------------------------------
SCOPE_LINKS = "links"
SCOPE_EVERYTHING = "everything"
SCOPES = {
    SCOPE_LINKS: "The pages I link to below",
    SCOPE_EVERYTHING: "Everything posted with this email address",
}
REMOVAL_WHOLE = "whole"
REMOVAL_PERSONAL = "personal_info"
REMOVAL_KINDS = {
    REMOVAL_WHOLE: "Remove the whole post",
    REMOVAL_PERSONAL: "Remove my personal information in it",
}

# --- per-item decisions --------------------------------------------------------------
DECISION_REMOVED = "removed"
DECISION_REFUSED = "refused"
REFUSAL_REASONS = {
    "not_requester_content": "It is not your content and contains no personal data of yours",
    "legal_obligation": "We must keep it by law",
    "legal_claims": "It is needed to establish, exercise or defend legal claims",
    "public_interest": "Public interest or freedom of expression outweighs removal",
    "identity_unverified": "We could not verify that the content is yours or about you",
}
# Closing a request that names no existing item (nothing to decide item by item).
CLOSE_REASONS = {
    "nothing_found": "We found no content posted with this email address or at the links you gave",
    "duplicate": "It repeats another request of yours that we are already handling",
}

WHITESPACE = " \t\r\n"


def _sql_list(values) -> str:
    return ", ".join(f"'{v}'" for v in values)


class RemovalRequest(db.Model):  # type: ignore[name-defined]  # db.Model is dynamic
    __tablename__ = "removal_request"
    __table_args__ = (
        CheckConstraint(f"status IN ({_sql_list(REQUEST_STATES)})", name="status_known"),
        CheckConstraint(f"scope IN ({_sql_list(SCOPES)})", name="scope_known"),
        CheckConstraint(f"removal_kind IN ({_sql_list(REMOVAL_KINDS)})", name="removal_kind_known"),
        CheckConstraint("extension_days BETWEEN 0 AND 60", name="extension_at_most_60_days"),
        # A request closed with nothing to remove says why, like a refusal.
        CheckConstraint(
            f"status <> 'closed' OR (close_reason IS NOT NULL AND close_reason IN ({_sql_list(CLOSE_REASONS)}) "
            f"AND close_explanation IS NOT NULL AND length(trim(close_explanation, '{WHITESPACE}')) > 0)",
            name="closed_with_reason",
        ),
        CheckConstraint(
            "status = 'unconfirmed' OR (confirmed_at IS NOT NULL AND due_at IS NOT NULL)",
            name="confirmed_has_due_date",
        ),
        Index("ix_removal_request_status_due", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Human-friendly and not secret, e.g. RR-2026-7K3MQ9 (quoted in mail and in the log).
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    email: Mapped[str] = mapped_column(String(254), index=True)
    scope: Mapped[str] = mapped_column(String(20))
    removal_kind: Mapped[str] = mapped_column(String(20))
    links_text: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default=UNCONFIRMED, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    confirm_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    confirm_expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)

    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    extension_days: Mapped[int] = mapped_column(Integer, default=0)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    close_reason: Mapped[str | None] = mapped_column(String(40))
    close_explanation: Mapped[str | None] = mapped_column(Text)
    # The requester was told once that we missed the deadline.
    overdue_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Email and free text erased after REMOVAL_RETENTION_DAYS (reference, dates, decisions kept).
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    items: Mapped[list[RemovalItem]] = relationship(
        back_populates="request",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="RemovalItem.id",
    )
    events: Mapped[list[RemovalEvent]] = relationship(
        back_populates="request",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="RemovalEvent.id",
    )
    closed_by: Mapped[User | None] = relationship(foreign_keys=[closed_by_id])

    @property
    def is_open(self) -> bool:
        return self.status == OPEN

    @property
    def is_closed(self) -> bool:
        return self.status in CLOSED_STATES

    @property
    def is_overdue(self) -> bool:
        return self.status == OPEN and self.due_at is not None and self.due_at < utcnow()

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]

    @property
    def scope_label(self) -> str:
        return SCOPES[self.scope]

    @property
    def removal_kind_label(self) -> str:
        return REMOVAL_KINDS[self.removal_kind]

    @property
    def close_reason_label(self) -> str:
        return CLOSE_REASONS.get(self.close_reason or "", "")


class RemovalItem(db.Model):  # type: ignore[name-defined]  # db.Model is dynamic
    """One piece of content a request names, and the moderator's decision on it."""

    __tablename__ = "removal_request_item"
    __table_args__ = (
        UniqueConstraint("request_id", "kind", "item_id", name="uq_removal_request_item_one_row_per_item"),
        CheckConstraint("decision IS NULL OR decision IN ('removed', 'refused')", name="decision_known"),
        # Promise 3: a refusal always has a reason code and an explanation for the requester.
        CheckConstraint(
            f"decision IS NULL OR decision <> 'refused' OR ("
            f"refusal_reason IS NOT NULL AND refusal_reason IN ({_sql_list(REFUSAL_REASONS)}) AND refusal_explanation IS NOT NULL "
            f"AND length(trim(refusal_explanation, '{WHITESPACE}')) > 0)",
            name="refusal_has_reason",
        ),
        CheckConstraint("(decision IS NULL) = (decided_at IS NULL)", name="decided_at_with_decision"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("removal_request.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    item_id: Mapped[int] = mapped_column(Integer)
    # The link exactly as the requester gave it (None for "everything" and moderator additions).
    source_url: Mapped[str | None] = mapped_column(Text)
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    decision: Mapped[str | None] = mapped_column(String(20))
    refusal_reason: Mapped[str | None] = mapped_column(String(40))
    refusal_explanation: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))

    request: Mapped[RemovalRequest] = relationship(back_populates="items")
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])

    @property
    def refusal_reason_label(self) -> str:
        return REFUSAL_REASONS.get(self.refusal_reason or "", "")


class RemovalEvent(db.Model):  # type: ignore[name-defined]  # db.Model is dynamic
    """The requester-facing timeline (the audit copy lives in the moderation log)."""

    __tablename__ = "removal_request_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("removal_request.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    action: Mapped[str] = mapped_column(String(30))
    # Shown to the requester: outcome of an item, reason for an extension...
    message: Mapped[str] = mapped_column(Text, default="")

    request: Mapped[RemovalRequest] = relationship(back_populates="events")
