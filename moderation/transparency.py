"""Public moderation numbers for a chosen period (`/transparency`).

Every number is an SQL aggregate over the reviews and the moderation log, so
anyone reading the page sees what actually happened, including how often
low-rated reviews are published. Other areas add their own sections:

    from moderation.transparency import register_transparency_section

    def removal_numbers(start, end):   # aware UTC datetimes, start <= t < end
        return "removal/transparency.html", {"removal_requests": {"received": ..., ...}}

    register_transparency_section(removal_numbers)   # or TRANSPARENCY_SECTIONS.append

The template is rendered inside /transparency with the context plus `period`.
Contexts hold plain data (dicts, lists, numbers, strings, dates) under a key
of their own: /transparency.json merges them into its "sections" object.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import and_, func, literal_column, select

from forum.errors import ValidationFailed
from forum.extensions import db
from forum.registries import AppList, add_once

from .kinds import KINDS
from .models import ModerationLog
from .states import PENDING, REJECTION_REASONS, reason_label

DEFAULT_DAYS = 90
RATINGS = (1, 2, 3, 4, 5)

# builder(start, end) -> (template, context); shown in this order.
# (A per-app registry: forum.registries.)
# Every app starts with the sections of this module: reviews, then decisions by kind.
TRANSPARENCY_SECTIONS: AppList = AppList(
    "moderation.transparency_sections", lambda: [review_numbers, decisions_by_kind]
)


def register_transparency_section(*args: str | Callable, app=None) -> None:
    """register_transparency_section(builder) (a leading key, as in
    register_transparency_section("removal_requests", builder), is accepted and unused:
    the context's own top-level keys name the section in /transparency.json)."""
    add_once(TRANSPARENCY_SECTIONS, args[-1], app)


# --- the period ------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    first_day: date
    last_day: date

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first_day, time.min, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """Exclusive: midnight after the last day."""
        if self.last_day == date.max:
            return datetime.max.replace(tzinfo=UTC)
        return datetime.combine(self.last_day + timedelta(days=1), time.min, tzinfo=UTC)

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1


def default_period(today: date | None = None) -> Period:
    today = today or datetime.now(UTC).date()
    return Period(today - timedelta(days=DEFAULT_DAYS - 1), today)


def parse_period(raw_from: str | None, raw_to: str | None, today: date | None = None) -> Period:
    """Read ?from=YYYY-MM-DD&to=YYYY-MM-DD (either may be left out)."""
    default = default_period(today)
    errors: dict[str, list[str]] = {}
    days = {}
    for name, raw, fallback in (("from", raw_from, default.first_day), ("to", raw_to, default.last_day)):
        if raw is None or raw.strip() == "":
            days[name] = fallback
            continue
        try:
            if len(raw) != 10:
                raise ValueError
            days[name] = date.fromisoformat(raw)
        except ValueError:
            errors[name] = ["Enter a date as YYYY-MM-DD, for example 2026-01-31."]
    if not errors and days["from"] > days["to"]:
        errors["to"] = ["The end of the period must not be before its start."]
    if errors:
        raise ValidationFailed("Please choose a valid period.", field_errors=errors)
    return Period(days["from"], days["to"])


# --- helpers ---------------------------------------------------------------------


def _seconds_between(later, earlier):
    """Seconds from `earlier` to `later`, as an SQL expression for this database."""
    if db.engine.dialect.name == "postgresql":
        return func.extract("epoch", later - earlier)
    return (func.julianday(later) - func.julianday(earlier)) * 86400.0


def _median_by(group_column, value, where) -> dict:
    """Median of `value` per group, in SQL (window functions work on both databases)."""
    ranked = (
        select(
            group_column.label("grp"),
            value.label("value"),
            func.row_number().over(partition_by=group_column, order_by=value).label("rn"),
            func.count().over(partition_by=group_column).label("n"),
        )
        .where(where)
        .subquery()
    )
    # The middle row, or the two middle rows of an even count, averaged.
    middle = and_(
        ranked.c.rn >= (ranked.c.n + 1) // 2,
        ranked.c.rn <= (ranked.c.n + 2) // 2,
    )
    rows = db.session.execute(
        select(ranked.c.grp, func.avg(ranked.c.value)).where(middle).group_by(ranked.c.grp)
    ).all()
    return {grp: float(median) for grp, median in rows if median is not None}


def _counts(query) -> dict:
    return {key: int(count) for key, count in db.session.execute(query).all()}


def _share(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def _plain(value):
    """Context values made JSON-safe for /transparency.json."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return float(value)
    return value


# --- built-in sections ---------------------------------------------------------------


def review_numbers(start: datetime, end: datetime) -> tuple[str, dict]:
    """Reviews submitted, published, rejected and withdrawn per star rating;
    rejections per reason (and rating); median time from submission to decision."""
    from forum.catalog.models import Review

    log = ModerationLog
    in_period = and_(log.created_at >= start, log.created_at < end)
    review_log = and_(log.subject_kind == "review", log.subject_id == Review.id, in_period)
    # First decisions only: a pending review approved or rejected (a restored
    # hidden review is not published a second time).
    first_decision = and_(log.from_state == PENDING, log.action.in_(("approve", "reject")))

    submitted = _counts(
        select(Review.rating, func.count())
        .where(Review.created_at >= start, Review.created_at < end)
        .group_by(Review.rating)
    )
    decisions = db.session.execute(
        select(Review.rating, log.action, func.count())
        .select_from(Review)
        .join(log, review_log)
        .where(log.from_state == PENDING, log.action.in_(("approve", "auto_publish", "reject", "withdraw")))
        .group_by(Review.rating, log.action)
    ).all()
    by_action: dict[str, dict] = {action: {} for action in ("approve", "auto_publish", "reject", "withdraw")}
    for rating, action, count in decisions:
        by_action[action][rating] = int(count)
    rejected_by = db.session.execute(
        select(log.reason, Review.rating, func.count())
        .select_from(Review)
        .join(log, review_log)
        .where(log.from_state == PENDING, log.action == "reject")
        .group_by(log.reason, Review.rating)
    ).all()
    removed_by = _counts(
        select(log.reason, func.count())
        .select_from(Review)
        .join(log, review_log)
        .where(log.action == "remove")
        .group_by(log.reason)
    )
    waiting = _seconds_between(log.created_at, Review.created_at)
    decided_where = and_(review_log, first_decision)
    medians = _median_by(Review.rating, waiting, decided_where)
    overall_median = _median_by(literal_column("1"), waiting, decided_where).get(1)

    ratings = []
    for rating in RATINGS:
        published = by_action["approve"].get(rating, 0) + by_action["auto_publish"].get(rating, 0)
        rejected = by_action["reject"].get(rating, 0)
        ratings.append(
            {
                "rating": rating,
                "submitted": submitted.get(rating, 0),
                "published": published,
                "rejected": rejected,
                "withdrawn_before_decision": by_action["withdraw"].get(rating, 0),
                "share_rejected_percent": _share(rejected, published + rejected),
                "median_hours_to_decision": _hours(medians.get(rating)),
            }
        )
    reasons = []
    per_reason: dict[str, dict[int, int]] = {}
    for reason, rating, count in rejected_by:
        per_reason.setdefault(reason or "", {})[rating] = int(count)
    # Every reason is listed, even at zero, so the full list of reasons is public too.
    for code in [*REJECTION_REASONS, *sorted(set(per_reason) - set(REJECTION_REASONS))]:
        counts = per_reason.get(code, {})
        reasons.append(
            {
                "reason": code,
                "label": reason_label(code),
                "by_rating": {str(r): counts.get(r, 0) for r in RATINGS},
                "total": sum(counts.values()),
            }
        )
    totals = {
        key: sum(row[key] for row in ratings)
        for key in ("submitted", "published", "rejected", "withdrawn_before_decision")
    }
    totals["share_rejected_percent"] = _share(totals["rejected"], totals["published"] + totals["rejected"])
    totals["median_hours_to_decision"] = _hours(overall_median)
    removed = [
        {"reason": code, "label": reason_label(code), "count": count}
        for code, count in sorted(removed_by.items(), key=lambda pair: (-pair[1], pair[0] or ""))
    ]
    return "moderation/transparency/reviews.html", {
        "reviews": {
            "ratings": ratings,
            "reasons": reasons,
            "totals": totals,
            "removed_after_publication": removed,
        }
    }


def _hours(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 3600.0, 2)


def decisions_by_kind(start: datetime, end: datetime) -> tuple[str, dict]:
    """Every kind of moderated content: how many items each action touched."""
    actions = ("submitted", "approve", "reject", "hide", "remove", "withdraw")
    log = ModerationLog
    rows = db.session.execute(
        select(log.subject_kind, log.action, func.count())
        .where(log.created_at >= start, log.created_at < end, log.action.in_(actions))
        .group_by(log.subject_kind, log.action)
    ).all()
    table: dict[str, dict[str, int]] = {}
    for kind, action, count in rows:
        table.setdefault(kind, {})[action] = int(count)
    kinds = []
    for name in [*KINDS, *sorted(set(table) - set(KINDS))]:
        counts = table.get(name, {})
        kinds.append(
            {
                "kind": name,
                "label": KINDS[name].label if name in KINDS else name.replace("_", " ").capitalize(),
                **{action: counts.get(action, 0) for action in actions},
            }
        )
    return "moderation/transparency/kinds.html", {"all_content": kinds}


def build_report(period: Period) -> list[dict]:
    """[{template, context}] for every registered section, in order."""
    sections = []
    for builder in list(TRANSPARENCY_SECTIONS):
        template, context = builder(period.start, period.end)
        sections.append({"template": template, "context": context})
    return sections


def report_as_json(period: Period, sections: list[dict]) -> dict:
    return {
        "period": {
            "from": period.first_day.isoformat(),
            "to": period.last_day.isoformat(),
            "days": period.days,
            "timezone": "UTC",
        },
        "rejection_reasons": [{"code": code, "label": label} for code, label in REJECTION_REASONS.items()],
        "sections": {key: _plain(value) for section in sections for key, value in section["context"].items()},
    }
