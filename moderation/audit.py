"""Appending to and verifying the hash-chained moderation log."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC
from typing import cast

from sqlalchemy import insert, select, update
from sqlalchemy.engine import CursorResult

from forum.extensions import db
from forum.timeutil import utcnow

from .models import ModerationLog, ModerationLogHead
from .tlog import extend_tree

GENESIS_HASH = "0" * 64
HASHED_FIELDS = (
    "seq",
    "created_at",
    "actor_id",
    "actor_role",
    "subject_kind",
    "subject_id",
    "action",
    "from_state",
    "to_state",
    "reason",
    "fingerprint",
    "reference",
)


def compute_row_hash(prev_hash: str, fields: dict) -> str:
    values = [fields[name] for name in HASHED_FIELDS]
    values[1] = values[1].astimezone(UTC).isoformat(timespec="microseconds") if values[1] else None
    payload = json.dumps([prev_hash, *values], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def append_log(
    *,
    actor,
    actor_role: str | None = None,
    subject_kind: str,
    subject_id: int,
    action: str,
    from_state: str | None = None,
    to_state: str | None = None,
    reason: str | None = None,
    fingerprint: str | None = None,
    reference: str | None = None,
) -> ModerationLog:
    """Add one row to the chain, inside the caller's transaction (no commit)."""
    session = db.session
    # Bumping the head first takes its row lock (PostgreSQL) or the write lock
    # (SQLite), so concurrent appends queue up instead of forking the chain.
    bumped = cast(
        CursorResult,
        session.execute(
            update(ModerationLogHead)
            .where(ModerationLogHead.id == 1)
            .values(last_seq=ModerationLogHead.last_seq + 1)
        ),
    ).rowcount
    if not bumped:
        session.execute(insert(ModerationLogHead).values(id=1, last_seq=1, last_hash=GENESIS_HASH))
    head = session.execute(
        select(ModerationLogHead.last_seq, ModerationLogHead.last_hash).where(ModerationLogHead.id == 1)
    ).one()
    fields = dict(
        seq=head.last_seq,
        created_at=utcnow(),
        actor_id=getattr(actor, "id", None),
        actor_role=actor_role or getattr(actor, "role", None) or "system",
        subject_kind=subject_kind,
        subject_id=subject_id,
        action=action,
        from_state=from_state,
        to_state=to_state,
        reason=reason,
        fingerprint=fingerprint,
        reference=reference,
    )
    row_hash = compute_row_hash(head.last_hash, fields)
    entry = ModerationLog(**fields, prev_hash=head.last_hash, row_hash=row_hash)
    session.add(entry)
    session.execute(update(ModerationLogHead).where(ModerationLogHead.id == 1).values(last_hash=row_hash))
    session.flush()
    # The same row as a public entry and a leaf of the transparency log's Merkle tree.
    extend_tree()
    return entry


@dataclass
class VerifyResult:
    ok: bool
    rows_checked: int
    head_hash: str
    problem: str | None = None
    broken_seq: int | None = None


def verify_chain(batch_size: int = 5000) -> VerifyResult:
    """Walk the chain in order; report the first row that does not fit."""
    expected_prev = GENESIS_HASH
    expected_seq = 1
    checked = 0
    last_id = 0
    while True:
        rows = db.session.scalars(
            select(ModerationLog)
            .where(ModerationLog.id > last_id)
            .order_by(ModerationLog.id)
            .limit(batch_size)
        ).all()
        if not rows:
            break
        for row in rows:
            last_id = row.id
            if row.seq != expected_seq:
                return VerifyResult(
                    False,
                    checked,
                    expected_prev,
                    f"row id {row.id}: sequence {row.seq}, expected {expected_seq} (a row is missing or out of order)",
                    row.seq,
                )
            if row.prev_hash != expected_prev:
                return VerifyResult(
                    False,
                    checked,
                    expected_prev,
                    f"row {row.seq} (id {row.id}): does not follow the row before it",
                    row.seq,
                )
            fields = {name: getattr(row, name) for name in HASHED_FIELDS}
            if compute_row_hash(row.prev_hash, fields) != row.row_hash:
                return VerifyResult(
                    False,
                    checked,
                    expected_prev,
                    f"row {row.seq} (id {row.id}): its content does not match its hash (edited)",
                    row.seq,
                )
            expected_prev = row.row_hash
            expected_seq += 1
            checked += 1
        db.session.expunge_all()
    head = db.session.get(ModerationLogHead, 1)
    head_seq, head_hash = (head.last_seq, head.last_hash) if head else (0, GENESIS_HASH)
    if head_seq != checked or head_hash != expected_prev:
        return VerifyResult(
            False,
            checked,
            expected_prev,
            f"the log ends at row {checked} but its head records row {head_seq} (rows at the end were deleted)",
            checked + 1,
        )
    return VerifyResult(True, checked, expected_prev)
