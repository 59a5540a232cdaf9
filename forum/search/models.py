"""The search outbox: index changes recorded in the same transaction as the change.

A row says "item (kind, item_id) changed; make the index agree with the
database". It is written by `enqueue_index`/`enqueue_delete` inside the
transaction that publishes, edits or removes the item, so it exists exactly
when that change committed. `forum.search.indexing.drain` applies and deletes
rows after commit; rows left by a crash or a failure are applied by the next
drain (any search request, any later commit, or `flask search sync`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from forum.extensions import db
from forum.timeutil import UTCDateTime, utcnow

OPS = ("index", "delete")


class SearchOutbox(db.Model):  # type: ignore[name-defined]  # db.Model is dynamic
    __tablename__ = "search_outbox"
    __table_args__ = (
        CheckConstraint("op IN ('index', 'delete')", name="op_known"),
        Index("ix_search_outbox_due", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    item_id: Mapped[int] = mapped_column(Integer)
    # What the change was; the drain still decides from the item's state at apply time.
    op: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
