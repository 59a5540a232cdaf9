"""/moderation/stats: what the moderators decided, from the moderation log.

Decisions per day and per reason, the median time from submission to
decision, and the removal requests past their due date.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from statistics import median

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import aliased

from forum.extensions import db
from forum.timeutil import utcnow

from .models import ModerationLog
from .states import reason_label

PERIODS = (7, 30, 90)
DECISIONS = ("approve", "reject", "remove", "keep")
ACTION_LABELS = {
    "approve": "Approved",
    "reject": "Rejected",
    "remove": "Removed",
    "keep": "Kept (flags closed)",
}
STAFF_ROLES = ("moderator", "admin")


@dataclass
class DeskStats:
    days: int
    first_day: date
    per_day: list = field(default_factory=list)  # [(day, Counter(action -> n))], newest first
    totals: Counter = field(default_factory=Counter)  # action -> n
    mine: Counter = field(default_factory=Counter)  # action -> n by the viewer
    per_reason: list = field(default_factory=list)  # [(label, n, mine)]
    median_wait: timedelta | None = None
    median_wait_mine: timedelta | None = None
    decided_with_wait: int = 0
    overdue: list = field(default_factory=list)  # open removal requests past their due date


def desk_stats(moderator, days: int = 30) -> DeskStats:
    now = utcnow()
    first_day = (now - timedelta(days=days - 1)).date()
    start = now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=days - 1)
    stats = DeskStats(days=days, first_day=first_day)

    submitted = aliased(ModerationLog)
    rows = db.session.execute(
        select(
            ModerationLog.created_at,
            ModerationLog.action,
            ModerationLog.reason,
            ModerationLog.actor_id,
            ModerationLog.from_state,
            submitted.created_at,
        )
        .outerjoin(
            submitted,
            (submitted.subject_kind == ModerationLog.subject_kind)
            & (submitted.subject_id == ModerationLog.subject_id)
            & (submitted.action == "submitted"),
        )
        .where(
            ModerationLog.created_at >= start,
            ModerationLog.action.in_(DECISIONS),
            ModerationLog.actor_role.in_(STAFF_ROLES),
        )
        .order_by(ModerationLog.seq)
    ).all()

    by_day: dict[date, Counter] = {}
    reasons: Counter = Counter()
    reasons_mine: Counter = Counter()
    waits, waits_mine = [], []
    for created_at, action, reason, actor_id, from_state, submitted_at in rows:
        mine = actor_id == moderator.id
        by_day.setdefault(created_at.date(), Counter())[action] += 1
        stats.totals[action] += 1
        if mine:
            stats.mine[action] += 1
        if reason and action in ("reject", "remove"):
            reasons[reason] += 1
            if mine:
                reasons_mine[reason] += 1
        # Time to decision: from submission to the first decision on a pending item.
        if submitted_at is not None and from_state == "pending" and action in ("approve", "reject"):
            wait = created_at - submitted_at
            waits.append(wait)
            if mine:
                waits_mine.append(wait)
    day = now.date()
    while day >= first_day:
        stats.per_day.append((day, by_day.get(day, Counter())))
        day -= timedelta(days=1)
    stats.per_reason = [
        (reason_label(code), n, reasons_mine.get(code, 0)) for code, n in reasons.most_common()
    ]
    stats.median_wait = median(waits) if waits else None  # type: ignore[type-var]  # timedeltas work
    stats.median_wait_mine = median(waits_mine) if waits_mine else None  # type: ignore[type-var]
    stats.decided_with_wait = len(waits)
    if "removal" in current_app.blueprints:
        from .removal.services import open_requests

        stats.overdue = [rr for rr in open_requests() if rr.is_overdue]
    return stats


def format_wait(wait: timedelta | None) -> str:
    if wait is None:
        return "—"
    seconds = int(wait.total_seconds())
    if seconds < 60:
        return "under a minute"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    return f"{hours // 24} days {hours % 24} h"
