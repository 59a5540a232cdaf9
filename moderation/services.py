"""Moderation decisions: one transition function for every kind of content.

`transition` checks (is the move allowed, by this person, with a valid reason,
on the version they saw?), records (one hash-chained log row) and applies (a
conditional UPDATE). Service functions around it own the commit.
"""

from __future__ import annotations

from sqlalchemy import select, update

from forum.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from forum.extensions import db
from forum.models import User
from forum.timeutil import utcnow

from .audit import append_log
from .kinds import KINDS, kind_of
from .states import (
    AUTHOR,
    MODERATOR,
    PUBLISHED,
    QUEUE_STATES,
    REJECTION_REASONS,
    SYSTEM,
    SYSTEM_REASONS,
    TRANSITIONS,
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
        if subject.author_id == actor.id:
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

    for hook in kind.before_transition:
        hook(subject, action, actor, subject.status)
    now = utcnow()
    values = dict(status=rule.target, version=version + 1)
    if performer == MODERATOR or (performer == SYSTEM and action != "auto_publish"):
        values.update(decided_at=now, decided_by_id=actor.id if actor else None,
                      decision_reason=reason, decision_note=(note or None))
    if rule.target == PUBLISHED and subject.published_at is None:
        values["published_at"] = now
    model = type(subject)
    # Conditional update: if another decision landed since we read the row, 0 rows match.
    changed = db.session.execute(
        update(model)
        .where(model.id == subject.id, model.version == version, model.status == subject.status)
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed != 1:
        raise _already_decided(subject, action)
    from_state = subject.status
    db.session.refresh(subject)
    append_log(
        actor=actor,
        actor_role=performer if performer != MODERATOR else actor.role,
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


def record_submission(subject, actor: User | None) -> None:
    """Log the birth of an item (no state change yet: it starts pending)."""
    db.session.flush()
    append_log(
        actor=actor,
        actor_role=getattr(actor, "role", None) or "anonymous",
        subject_kind=kind_of(subject).name,
        subject_id=subject.id,
        action="submitted",
        from_state=None,
        to_state=subject.status,
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


def reject_submission(kind_name: str, subject_id: int, moderator: User, reason: str,
                      note: str | None = None, expected_version: int | None = None):
    subject = load_subject(kind_name, subject_id)
    transition(subject, "reject", moderator, reason=reason, note=note, expected_version=expected_version)
    db.session.commit()
    return subject


def decide_many(items: list[tuple[str, int, int | None]], action: str, moderator: User,
                reason: str | None = None, note: str | None = None) -> dict:
    """Bulk approve/reject: each item in its own transaction, so one conflict spoils nothing else."""
    if action not in ("approve", "reject"):
        raise ValidationFailed("Bulk actions are approve and reject.")
    if action == "reject" and reason not in REJECTION_REASONS:
        raise ValidationFailed(field_errors={"reason": ["Choose a reason from the list."]})
    done, conflicts = [], []
    for kind_name, subject_id, version in items:
        try:
            subject = load_subject(kind_name, subject_id)
            transition(subject, action, moderator, reason=reason, note=note, expected_version=version)
            db.session.commit()
            done.append((kind_name, subject_id))
        except (AlreadyDecided, NotFound) as error:
            db.session.rollback()
            conflicts.append((kind_name, subject_id, error.message))
    return {"done": done, "conflicts": conflicts}


def queue_items(kind_name: str | None = None, limit: int = 50, offset: int = 0):
    """Items waiting for a decision, oldest first, across all kinds."""
    rows = []
    kinds = [KINDS[kind_name]] if kind_name in KINDS else list(KINDS.values())
    for kind in kinds:
        query = (
            select(kind.model)
            .where(kind.model.status.in_(QUEUE_STATES))
            .order_by(kind.model.created_at, kind.model.id)
            .limit(limit + offset)
        )
        if kind.queue_options:
            query = query.options(*kind.queue_options())
        rows.extend((kind, item) for item in db.session.scalars(query))
    rows.sort(key=lambda pair: (pair[1].created_at, pair[0].name, pair[1].id))
    return rows[offset:offset + limit]


def queue_counts() -> dict[str, int]:
    from sqlalchemy import func

    return {
        name: db.session.scalar(
            select(func.count()).select_from(kind.model).where(kind.model.status.in_(QUEUE_STATES))
        )
        for name, kind in KINDS.items()
    }
