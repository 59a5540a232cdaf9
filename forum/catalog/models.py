"""Products and their reviews.

A review's title, body and rating never change after submission. A guard here
refuses any such UPDATE from the ORM, and a database trigger (see the
migration) refuses it from anywhere else. The one exception is erasure on
removal: text may be set to NULL once the review is removed (a tombstone).
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    event,
    inspect,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from forum.extensions import db
from forum.models import User
from moderation.models import ImmutableRowError, ModeratedMixin
from moderation.states import REMOVED

REVIEW_TITLE_MAX = 150
REVIEW_BODY_MAX = 10_000
IMMUTABLE_REVIEW_COLUMNS = ("title", "body", "rating", "fingerprint")


class Product(db.Model):  # type: ignore[name-defined]  # db.Model is dynamic
    __tablename__ = "product"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sku: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Published-review aggregates, kept by the transitions that publish or take
    # down a review (forum.catalog.aggregates); `flask recount` rebuilds them.
    review_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    rating_sum: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    stars_1: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    stars_2: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    stars_3: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    stars_4: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    stars_5: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    reviews: Mapped[list[Review]] = relationship(back_populates="product", lazy="dynamic")


class Review(ModeratedMixin, db.Model):  # type: ignore[name-defined]  # db.Model is dynamic
    __tablename__ = "review"
    __table_args__ = (
        CheckConstraint("rating BETWEEN 1 AND 5", name="rating_range"),
        CheckConstraint(
            "status IN ('pending', 'published', 'rejected', 'withdrawn', 'hidden', 'removed', 'superseded')",
            name="status_known",
        ),
        # Text is only ever absent on a removed review (erased personal data).
        CheckConstraint(
            "(title IS NOT NULL AND body IS NOT NULL) OR status = 'removed'", name="text_kept_unless_removed"
        ),
        # One live review per customer and product: at most one awaiting moderation and
        # one published (the published one steps down when its replacement is approved).
        Index(
            "uq_review_one_pending",
            "product_id",
            "author_id",
            unique=True,
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
        Index(
            "uq_review_one_published",
            "product_id",
            "author_id",
            unique=True,
            sqlite_where=text("status IN ('published', 'hidden')"),
            postgresql_where=text("status IN ('published', 'hidden')"),
        ),
        Index("ix_review_product_status_published", "product_id", "status", "published_at"),
        # The latest published reviews of the whole shop (home page, feeds): an index walk.
        Index("ix_review_status_published", "status", "published_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"), index=True)
    rating: Mapped[int] = mapped_column(Integer)
    title: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str | None] = mapped_column(Text)
    # The review this one replaces once approved (the author's earlier review).
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("review.id", ondelete="SET NULL"))

    product: Mapped[Product] = relationship(back_populates="reviews")
    author: Mapped[User | None] = relationship(foreign_keys="Review.author_id")
    decided_by: Mapped[User | None] = relationship(foreign_keys="Review.decided_by_id")

    @property
    def is_erased(self) -> bool:
        return self.title is None


@event.listens_for(Review, "before_update")
def _review_text_is_immutable(mapper, connection, target):
    state = inspect(target)
    for name in IMMUTABLE_REVIEW_COLUMNS:
        history = state.attrs[name].history
        if not history.has_changes():
            continue
        erasing = name in ("title", "body") and target.status == REMOVED and getattr(target, name) is None
        if not erasing:
            raise ImmutableRowError(f"review {target.id}: {name} cannot change after submission")
