"""What makes reviews trustworthy and useful: orders, invitations, votes, photos, company replies.

Kept apart from `models.py` (the review itself never changes): everything here
is about a review, never inside it. Models never commit; the services in
orders.py, invitations.py, photos.py and engagement.py do.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from forum.extensions import db
from forum.timeutil import UTCDateTime, utcnow

INVITATION_SENT = "sent"
INVITATION_STATUSES = ("sent", "opted_out", "no_products", "too_old")


class Order(db.Model):  # type: ignore[name-defined]  # db.Model is dynamic
    """An order from the shop (CSV import or webhook). Personal data: erased with the
    account, by removal requests and after ORDERS_RETENTION_DAYS."""

    __tablename__ = "shop_order"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_ref: Mapped[str] = mapped_column(String(64), unique=True)  # the shop's order_id
    email: Mapped[str] = mapped_column(String(254), index=True)
    ordered_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    items: Mapped[list[OrderItem]] = relationship(
        back_populates="order", cascade="all, delete-orphan", passive_deletes=True, order_by="OrderItem.id"
    )


class OrderItem(db.Model):  # type: ignore[name-defined]  # db.Model is dynamic
    __tablename__ = "shop_order_item"
    __table_args__ = (UniqueConstraint("order_id", "sku", name="uq_shop_order_item_sku"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("shop_order.id", ondelete="CASCADE"), index=True)
    sku: Mapped[str] = mapped_column(String(64), index=True)

    order: Mapped[Order] = relationship(back_populates="items")


class EmailConfirmation(db.Model):  # type: ignore[name-defined]  # db.Model is dynamic
    """Proof that a member controls their account address (a mailed link, or an invitation link)."""

    __tablename__ = "email_confirmation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(254))
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ReviewInvitation(db.Model):  # type: ignore[name-defined]  # db.Model is dynamic
    """One per order, ever (unique order): sent, or why not. Counts survive the order's erasure."""

    __tablename__ = "review_invitation"
    __table_args__ = (
        CheckConstraint("status IN ('sent', 'opted_out', 'no_products', 'too_old')", name="status_known"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int | None] = mapped_column(
        ForeignKey("shop_order.id", ondelete="SET NULL"), unique=True
    )
    # SHA-256 of the address: enough to honour an opt-out; NULL once the order is erased.
    email_hash: Mapped[str | None] = mapped_column(String(64))
    opt_out_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    links: Mapped[list[InvitationLink]] = relationship(
        back_populates="invitation", cascade="all, delete-orphan", passive_deletes=True
    )


class InvitationLink(db.Model):  # type: ignore[name-defined]  # db.Model is dynamic
    """A single-use link to the review form of one product of the order."""

    __tablename__ = "review_invitation_link"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    invitation_id: Mapped[int] = mapped_column(
        ForeignKey("review_invitation.id", ondelete="CASCADE"), index=True
    )
    sku: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    invitation: Mapped[ReviewInvitation] = relationship(back_populates="links")


class InvitationOptOut(db.Model):  # type: ignore[name-defined]  # db.Model is dynamic
    __tablename__ = "invitation_opt_out"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReviewFacts(db.Model):  # type: ignore[name-defined]  # db.Model is dynamic
    """Facts about a review decided at submission (verified purchase, invitation) and the
    maintained helpful-vote count. One row per review; the review's own columns never change."""

    __tablename__ = "review_facts"
    __table_args__ = (CheckConstraint("helpful_count >= 0", name="helpful_count_not_negative"),)

    review_id: Mapped[int] = mapped_column(ForeignKey("review.id", ondelete="CASCADE"), primary_key=True)
    verified_purchase: Mapped[bool] = mapped_column(Boolean, default=False)
    from_invitation: Mapped[bool] = mapped_column(Boolean, default=False)
    photo_count: Mapped[int] = mapped_column(Integer, default=0)
    helpful_count: Mapped[int] = mapped_column(Integer, default=0)


class HelpfulVote(db.Model):  # type: ignore[name-defined]  # db.Model is dynamic
    __tablename__ = "review_helpful_vote"
    __table_args__ = (UniqueConstraint("review_id", "user_id", name="uq_review_helpful_vote_once"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("review.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReviewPhoto(db.Model):  # type: ignore[name-defined]  # db.Model is dynamic
    """A photo as published: re-encoded without metadata; `sha256` is over the stored bytes."""

    __tablename__ = "review_photo"
    __table_args__ = (UniqueConstraint("review_id", "position", name="uq_review_photo_position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("review.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    file_name: Mapped[str] = mapped_column(String(80))
    content_type: Mapped[str] = mapped_column(String(20))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(Integer)


class CompanyReply(db.Model):  # type: ignore[name-defined]  # db.Model is dynamic
    """The company's public answer to a published review: one per review, editable; every
    earlier text is kept in CompanyReplyRevision. Deleted with its review."""

    __tablename__ = "company_reply"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("review.id", ondelete="CASCADE"), unique=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    author = relationship("User", foreign_keys=[author_id])
    revisions: Mapped[list[CompanyReplyRevision]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, order_by="CompanyReplyRevision.id"
    )


class CompanyReplyRevision(db.Model):  # type: ignore[name-defined]  # db.Model is dynamic
    __tablename__ = "company_reply_revision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reply_id: Mapped[int] = mapped_column(ForeignKey("company_reply.id", ondelete="CASCADE"), index=True)
    body: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    written_at: Mapped[datetime] = mapped_column(UTCDateTime)
    replaced_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
