"""Moderation decisions: one transition function for every kind of content.

`transition` checks (is the move allowed, by this person, with a valid reason,
on the version they saw?), records (one hash-chained log row) and applies (a
conditional UPDATE). Service functions around it own the commit.
"""

from __future__ import annotations

from typing import cast

from flask import g, has_request_context
from sqlalchemy import String, func, literal, select, union_all, update
from sqlalchemy.engine import CursorResult

from forum.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from forum.extensions import db
from forum.models import User
from forum.timeutil import utcnow

from .audit import append_log
from .kinds import KINDS, kind_of
from .models import ModerationLog
from .states import (
    AUTHOR,
    HIDDEN,
    MODERATOR,
    PUBLISHED,
    QUEUE_STATES,
    REJECTION_REASONS,
    SYSTEM,
    SYSTEM_REASONS,
    TRANSITIONS,
    reason_label,
)


class AlreadyDecided(Conflict):
    """Someone else moved the item first."""


def _performer(subject, actor: User | None, system: bool) -> str:
    if system:
        return SYSTEM
    if actor is None:
        raise PermissionDenied("You need to be signed in.")
    if actor.is_moderator:
        return MODERATOR
    if subject.author_id is not None and subject.author_id == actor.id:
        return AUTHOR
    raise PermissionDenied("Only moderators can decide this.")


def _already_decided(subject, action: str) -> AlreadyDecided:
    db.session.refresh(subject)
    who = "someone else"
    if subject.decided_by_id:
        decider = db.session.get(User, subject.decided_by_id)
        who = decider.display_name if decider else "a former moderator"
    elif subject.status not in QUEUE_STATES:
        who = "its author" if subject.status == "withdrawn" else "the system"
    return AlreadyDecided(f"This item was already decided by {who} (it is now {subject.status}).")


def transition(
    subject,
    action: str,
    actor: User | None = None,
    *,
    reason: str | None = None,
    note: str | None = None,
    expected_version: int | None = None,
    system: bool = False,
    reference: str | None = None,
):
    """Move `subject` through `action`. No commit: the calling service commits."""
    rule = TRANSITIONS.get(action)
    if rule is None:
        raise ValidationFailed(f"Unknown action {action!r}.")
    kind = kind_of(subject)
    performer = _performer(subject, actor, system)
    # A moderator withdrawing their own item acts as its author.
    if performer == MODERATOR and MODERATOR not in rule.performers and AUTHOR in rule.performers:
        if subject.author_id == actor.id:  # type: ignore[union-attr]
            performer = AUTHOR
    if performer not in rule.performers:
        raise PermissionDenied(f"You cannot {action.replace('_', ' ')} this item.")
    if rule.needs_reason:
        allowed = SYSTEM_REASONS if performer == SYSTEM else REJECTION_REASONS
        if performer == MODERATOR and action == "remove":
            allowed = {**REJECTION_REASONS, **SYSTEM_REASONS}
        if not reason or reason not in allowed:
            raise ValidationFailed(field_errors={"reason": ["Choose a reason from the list."]})
    version = subject.version if expected_version is None else expected_version
    if subject.status not in rule.source or version != subject.version:
        raise _already_decided(subject, action)

    model = type(subject)
    # Claim the row before any hook writes: this no-op conditional UPDATE takes
    # the row lock (PostgreSQL) or the write lock (SQLite), so of two concurrent
    # decisions the second waits here, then matches 0 rows and is told who won,
    # instead of failing later on a side effect (e.g. a superseded review).
    claimed = cast(
        CursorResult,
        db.session.execute(
            update(model)
            .where(model.id == subject.id, model.version == version, model.status == subject.status)
            .values(version=model.version)
            .execution_options(synchronize_session=False)
        ),
    ).rowcount
    if claimed != 1:
        raise _already_decided(subject, action)

    for hook in kind.before_transition:
        hook(subject, action, actor, subject.status)
    now = utcnow()
    values = dict(status=rule.target, version=version + 1)
    if performer == MODERATOR or (performer == SYSTEM and action != "auto_publish"):
        values.update(
            decided_at=now,
            decided_by_id=actor.id if actor else None,
            decision_reason=reason,
            decision_note=(note or None),
        )
    if rule.target == PUBLISHED and subject.published_at is None:
        values["published_at"] = now
    # Conditional update: if another decision landed since we read the row, 0 rows match.
    changed = cast(
        CursorResult,
        db.session.execute(
            update(model)
            .where(model.id == subject.id, model.version == version, model.status == subject.status)
            .values(**values)
            .execution_options(synchronize_session=False)
        ),
    ).rowcount
    if changed != 1:
        raise _already_decided(subject, action)
    from_state = subject.status
    db.session.refresh(subject)
    append_log(
        actor=actor,
        actor_role=performer if performer != MODERATOR else actor.role,  # type: ignore[union-attr]
        subject_kind=kind.name,
        subject_id=subject.id,
        action=action,
        from_state=from_state,
        to_state=rule.target,
        reason=reason,
        fingerprint=subject.fingerprint,
        reference=reference,
    )
    if rule.target == "removed" and kind.erase is not None:
        kind.erase(subject)
    for hook in kind.on_transition:
        hook(subject, action, actor, from_state)
    return subject


def record_submission(subject, actor: User | None, reason: str | None = None) -> None:
    """Log the birth of an item (no state change yet: it starts pending). `reason` is a code
    decided at submission (e.g. a review's "verified_purchase")."""
    db.session.flush()
    append_log(
        actor=actor,
        actor_role=getattr(actor, "role", None) or "anonymous",
        subject_kind=kind_of(subject).name,
        subject_id=subject.id,
        action="submitted",
        from_state=None,
        to_state=subject.status,
        reason=reason,
        fingerprint=subject.fingerprint,
    )


def load_subject(kind_name: str, subject_id: int):
    kind = KINDS.get(kind_name)
    subject = db.session.get(kind.model, subject_id) if kind else None
    if subject is None:
        raise NotFound("No such item in the moderation queue.")
    return subject


def approve_submission(kind_name: str, subject_id: int, moderator: User, expected_version: int | None = None):
    subject = load_subject(kind_name, subject_id)
    transition(subject, "approve", moderator, expected_version=expected_version)
    db.session.commit()
    return subject


def reject_submission(
    kind_name: str,
    subject_id: int,
    moderator: User,
    reason: str,
    note: str | None = None,
    expected_version: int | None = None,
):
    subject = load_subject(kind_name, subject_id)
    transition(subject, "reject", moderator, reason=reason, note=note, expected_version=expected_version)
    db.session.commit()
    return subject


def remove_submission(
    kind_name: str,
    subject_id: int,
    moderator: User,
    reason: str,
    note: str | None = None,
    expected_version: int | None = None,
):
    """Take down an item that was published or hidden (e.g. after flags)."""
    subject = load_subject(kind_name, subject_id)
    transition(subject, "remove", moderator, reason=reason, note=note, expected_version=expected_version)
    db.session.commit()
    return subject


def refusal_action(subject) -> str:
    """Saying no to a queued item: pending content is rejected; hidden
    (already published, then hidden after flags) content is removed."""
    return "remove" if subject.status == HIDDEN else "reject"


def decide_many(
    items: list[tuple[str, int, int | None]],
    action: str,
    moderator: User,
    reason: str | None = None,
    note: str | None = None,
) -> dict:
    """Bulk approve/reject: each item in its own transaction, so one conflict spoils nothing else."""
    if action not in ("approve", "reject"):
        raise ValidationFailed("Bulk actions are approve and reject.")
    if action == "reject" and reason not in REJECTION_REASONS:
        raise ValidationFailed(field_errors={"reason": ["Choose a reason from the list."]})
    done, conflicts = [], []
    for kind_name, subject_id, version in items:
        try:
            subject = load_subject(kind_name, subject_id)
            this_action = refusal_action(subject) if action == "reject" else action
            transition(subject, this_action, moderator, reason=reason, note=note, expected_version=version)
            db.session.commit()
            done.append((kind_name, subject_id))
        except (AlreadyDecided, NotFound) as error:
            db.session.rollback()
            conflicts.append((kind_name, subject_id, error.message))
    return {"done": done, "conflicts": conflicts}


def _queue_keys(kinds):
    """(kind, id, created_at) of every queued item of these kinds, as one UNION."""
    parts = [
        select(
            literal(kind.name, String(30)).label("kind"),
            kind.model.id.label("id"),
            kind.model.created_at.label("created_at"),
        ).where(kind.model.status.in_(kind.queue_states))
        for kind in kinds
    ]
    return union_all(*parts).subquery() if len(parts) > 1 else parts[0].subquery()


def queue_items(kind_name: str | None = None, limit: int = 50, offset: int = 0):
    """Items waiting for a decision, oldest first, across all kinds: [(kind, item)].

    One query picks the page's keys across every kind; then one query per kind
    present on the page loads its items (with the kind's joined loads).
    """
    kinds = [KINDS[kind_name]] if kind_name in KINDS else list(KINDS.values())
    if not kinds:
        return []
    keys = _queue_keys(kinds)
    page = db.session.execute(
        select(keys.c.kind, keys.c.id)
        .order_by(keys.c.created_at, keys.c.kind, keys.c.id)
        .limit(limit)
        .offset(offset)
    ).all()
    wanted: dict[str, list[int]] = {}
    for name, item_id in page:
        wanted.setdefault(name, []).append(item_id)
    loaded = {}
    for name, ids in wanted.items():
        kind = KINDS[name]
        query = select(kind.model).where(kind.model.id.in_(ids))
        if kind.queue_options:
            query = query.options(*kind.queue_options())
        for item in db.session.scalars(query).unique():
            loaded[(name, item.id)] = item
    return [(KINDS[name], loaded[(name, item_id)]) for name, item_id in page if (name, item_id) in loaded]


def queue_counts() -> dict[str, int]:
    """Items waiting per kind, in one query (cached for the rest of the request)."""
    cached = g.get("_moderation_queue_counts") if has_request_context() else None
    if cached is not None:
        return dict(cached)
    if not KINDS:
        return {}
    counts = [
        select(func.count())
        .select_from(kind.model)
        .where(kind.model.status.in_(kind.queue_states))
        .scalar_subquery()
        .label(f"count_{i}")
        for i, kind in enumerate(KINDS.values())
    ]
    row = db.session.execute(select(*counts)).one()
    result = {name: int(count or 0) for name, count in zip(KINDS, row)}
    if has_request_context():
        g._moderation_queue_counts = dict(result)
    return result


def item_history(kind_name: str, subject_id: int) -> list[dict]:
    """Every log row about one item, oldest first, with the actor's current name."""
    rows = db.session.scalars(
        select(ModerationLog)
        .where(ModerationLog.subject_kind == kind_name, ModerationLog.subject_id == subject_id)
        .order_by(ModerationLog.seq)
    ).all()
    actor_ids = {row.actor_id for row in rows if row.actor_id is not None}
    names = (
        dict(db.session.execute(select(User.id, User.display_name).where(User.id.in_(actor_ids))).all())
        if actor_ids
        else {}
    )
    return [
        {
            "entry": row,
            "actor_name": names.get(row.actor_id)  # type: ignore[arg-type]
            or (
                "the system"
                if row.actor_role == "system"
                else "a former member"
                if row.actor_id
                else row.actor_role
            ),
            "reason_label": reason_label(row.reason) if row.reason else None,
        }
        for row in rows
    ]
