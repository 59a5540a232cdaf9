"""The moderation desk: one compact list of everything waiting for a moderator.

Content waiting for a decision (every registered ContentKind) comes from one
UNION query; things that are not content (flags, removal requests) come from
the queue sections (`moderation.kinds.register_queue_section`) as `DeskRow`s.
The same counts feed the header badge and every tab (`desk_counts`), so the
two always agree. Claims ("being reviewed by X") are informative only: they
never block a decision (the version check decides races).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import current_app, g, has_request_context, url_for
from sqlalchemy import String, and_, case, delete, func, literal, or_, select, union_all
from sqlalchemy.exc import IntegrityError

from forum.extensions import db
from forum.models import User
from forum.timeutil import utcnow

from .kinds import KINDS, QUEUE_COUNTERS, QUEUE_SECTIONS, queue_sections
from .models import ModerationClaim
from .states import HIDDEN

PER_PAGE = 50
DEFAULT_CLAIM_MINUTES = 5
EXCERPT_CHARS = 80
ORDERS = {"oldest": "Oldest first", "newest": "Newest first"}

# Why an item is on the desk. Content kinds give "submitted" (every new
# submission is checked), "hidden" (hidden after flags) or their own
# `held_because` code; sections give theirs.
REASONS = {
    "submitted": "New submission",
    "new_member": "New member",
    "links": "Many links",
    "hidden": "Hidden after flags",
    "flagged": "Flagged by members",
    "removal_request": "Removal request",
    "overdue": "Overdue removal request",
}


@dataclass
class DeskRow:
    """One line of the desk. `key` is the tab it belongs to (a kind name or a section key)."""

    key: str
    kind_label: str
    subject_kind: str
    subject_id: int
    title: str
    since: datetime
    # The row's decision page: url_for(endpoint, **values), built when shown.
    endpoint: str
    values: dict
    reasons: list[str] = field(default_factory=list)
    why: str = ""
    author: str | None = None
    author_id: int | None = None  # links the name to the member's profile
    flag_count: int = 0
    due_at: datetime | None = None
    overdue: bool = False
    # For rows a moderator can approve from the list (bulk checkbox, keyboard `a`).
    approvable: bool = False
    version: int | None = None
    selection: str | None = None
    claimed_by: str | None = None
    # Where the row sorts, when not by `since` (removal requests: by their due date).
    sort_at: datetime | None = None

    @property
    def sort_key(self):
        return (self.sort_at or self.since, self.key, self.subject_id)

    @property
    def url(self) -> str:
        return url_for(self.endpoint, **self.values)

    @property
    def approve_url(self) -> str | None:
        if not self.approvable:
            return None
        return url_for("moderation.approve", kind_name=self.subject_kind, item_id=self.subject_id)

    @property
    def dom_id(self) -> str:
        return f"row-{self.subject_kind}-{self.subject_id}"


# --- counts (badge and tabs) -------------------------------------------------------------


def desk_counts() -> dict:
    """{"tabs": {key: count}, "overdue": n, "total": n}, once per request.

    Content counts come from `services.queue_counts`, sections from their cheap
    counters (or their provider when they registered none).
    """
    cached = g.get("_desk_counts") if has_request_context() else None
    if cached is not None:
        return cached
    from .services import queue_counts

    tabs = dict(queue_counts())
    overdue = 0
    for provider in QUEUE_SECTIONS:
        counter = QUEUE_COUNTERS.get(provider)
        if counter is not None:
            key, count, late = counter()
            tabs[key] = count
            overdue += late
    if any(provider not in QUEUE_COUNTERS for provider in QUEUE_SECTIONS):
        from flask_login import current_user

        for section in queue_sections(current_user):
            if section.key not in tabs:
                tabs[section.key] = section.count
                overdue += section.overdue
    result = {"tabs": tabs, "overdue": overdue, "total": sum(tabs.values())}
    if has_request_context():
        g._desk_counts = result
    return result


def tab_labels() -> dict[str, str]:
    from flask_login import current_user

    labels = {name: kind.label for name, kind in KINDS.items()}
    for section in _sections(current_user):
        labels.setdefault(section.key, section.label)
    return labels


def _sections(moderator):
    cached = g.get("_desk_sections") if has_request_context() else None
    if cached is None:
        cached = queue_sections(moderator)
        if has_request_context():
            g._desk_sections = cached
    return cached


# --- content rows ----------------------------------------------------------------------


def _reason_expr(model):
    held = getattr(model, "held_because", None)
    fallback = func.coalesce(held, "submitted") if held is not None else literal("submitted", String(40))
    return case((model.status == HIDDEN, literal("hidden", String(40))), else_=fallback)


def _content_keys(kinds, reason: str | None):
    parts = []
    for kind in kinds:
        model = kind.model
        query = select(
            literal(kind.name, String(30)).label("kind"),
            model.id.label("id"),
            model.created_at.label("created_at"),
        ).where(model.status.in_(kind.queue_states))
        if reason:
            query = query.where(_reason_expr(model) == reason)
        parts.append(query)
    return union_all(*parts).subquery() if len(parts) > 1 else parts[0].subquery()


def excerpt(text: str | None, limit: int = EXCERPT_CHARS) -> str:
    if text is None:
        return "(text erased)"
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def item_title(item) -> str:
    title = getattr(item, "title", None)
    if title:
        return excerpt(title)
    return excerpt(getattr(item, "body", None))


def _reason_of(kind, item) -> str:
    if item.status == HIDDEN:
        return "hidden"
    return getattr(item, "held_because", None) or "submitted"


def content_row(kind, item, author: str | None, author_id: int | None = None) -> DeskRow:
    from .forms import selection_value

    code = _reason_of(kind, item)
    return DeskRow(
        key=kind.name,
        kind_label=kind.label,
        subject_kind=kind.name,
        subject_id=item.id,
        title=item_title(item),
        since=item.created_at,
        endpoint="moderation.item",
        values={"kind_name": kind.name, "item_id": item.id},
        reasons=[code],
        why=REASONS.get(code, code.replace("_", " ").capitalize()),
        author=author,
        author_id=author_id,
        approvable=True,
        version=item.version,
        selection=selection_value(kind.name, item.id, item.version),
    )


def _content_page(kinds, reason, newest: bool, limit: int, after: datetime | None = None):
    if not kinds or (reason and reason not in REASONS):
        return [], 0
    keys = _content_keys(kinds, reason)
    total = db.session.scalar(select(func.count()).select_from(keys)) or 0
    query = select(keys.c.kind, keys.c.id, keys.c.created_at)
    if after is not None:
        query = query.where(keys.c.created_at <= after if newest else keys.c.created_at >= after)
    order = (
        (keys.c.created_at.desc(), keys.c.kind.desc(), keys.c.id.desc())
        if newest
        else (keys.c.created_at, keys.c.kind, keys.c.id)
    )
    return db.session.execute(query.order_by(*order).limit(limit)).all(), total


def _load_content(keys) -> list[DeskRow]:
    wanted: dict[str, list[int]] = {}
    for name, item_id in keys:
        wanted.setdefault(name, []).append(item_id)
    loaded = {}
    for name, ids in wanted.items():
        kind = KINDS[name]
        for item in db.session.scalars(select(kind.model).where(kind.model.id.in_(ids))):
            loaded[(name, item.id)] = item
    author_ids = {item.author_id for item in loaded.values() if item.author_id is not None}
    names = (
        dict(db.session.execute(select(User.id, User.display_name).where(User.id.in_(author_ids))).all())
        if author_ids
        else {}
    )
    rows = []
    for name, item_id in keys:
        item = loaded.get((name, item_id))
        if item is not None:
            author = names.get(item.author_id) if item.author_id else None
            author_id = item.author_id if author else None
            rows.append(content_row(KINDS[name], item, author or "a deleted account", author_id))
    return rows


# --- the list --------------------------------------------------------------------------


@dataclass
class DeskPage:
    rows: list[DeskRow]
    total: int
    page: int
    pages: int
    legacy_sections: list = field(default_factory=list)  # sections that give no rows


def _section_rows(moderator, kind_filter, reason):
    rows, legacy = [], []
    for section in _sections(moderator):
        if kind_filter and section.key != kind_filter:
            continue
        if section.rows is None:
            if section.items or kind_filter == section.key:
                legacy.append(section)
            continue
        rows.extend(r for r in section.rows if not reason or reason in r.reasons)
    return rows, legacy


def desk_page(
    moderator,
    kind_filter: str | None = None,
    reason: str | None = None,
    order: str = "oldest",
    page: int = 1,
    per_page: int = PER_PAGE,
) -> DeskPage:
    newest = order == "newest"
    kinds = [KINDS[kind_filter]] if kind_filter in KINDS else ([] if kind_filter else list(KINDS.values()))
    section_rows, legacy = _section_rows(moderator, kind_filter, reason)
    end = page * per_page
    keys, content_total = _content_page(kinds, reason, newest, end)
    # Merge the first `end` content keys with every section row, then cut out the page.
    merged: list[tuple[Any, tuple]] = [
        ((created_at, name, item_id), ("content", name, item_id)) for name, item_id, created_at in keys
    ]
    merged += [(row.sort_key, ("section", row)) for row in section_rows]
    merged.sort(key=lambda pair: pair[0], reverse=newest)
    chosen = merged[end - per_page : end]
    content = _load_content([(entry[1], entry[2]) for _, entry in chosen if entry[0] == "content"])
    by_key = {(row.subject_kind, row.subject_id): row for row in content}
    rows = []
    for _, entry in chosen:
        if entry[0] == "content":
            row = by_key.get((entry[1], entry[2]))
            if row is not None:
                rows.append(row)
        else:
            rows.append(entry[1])
    _attach_claims(rows, moderator)
    total = content_total + len(section_rows)
    pages = max(1, -(-total // per_page))
    return DeskPage(rows=rows, total=total, page=page, pages=pages, legacy_sections=legacy)


def next_row(
    moderator,
    kind_filter=None,
    reason=None,
    order="oldest",
    after: datetime | None = None,
    skip: tuple[str, int] | None = None,
) -> DeskRow | None:
    """The item to open after a decision: the next one in the list's order after
    `after`, preferring items nobody else is reviewing; wraps to the top."""
    newest = order == "newest"
    kinds = [KINDS[kind_filter]] if kind_filter in KINDS else ([] if kind_filter else list(KINDS.values()))
    section_rows, _ = _section_rows(moderator, kind_filter, reason)
    candidates: list[DeskRow] = []
    for start in (after, None) if after is not None else (None,):
        keys, _ = _content_page(kinds, reason, newest, 20, after=start)
        content = _load_content([(name, item_id) for name, item_id, _ in keys])
        rows = sorted(content + section_rows, key=lambda r: r.sort_key, reverse=newest)
        if start is not None:
            rows = [r for r in rows if (r.sort_key[0] >= start if not newest else r.sort_key[0] <= start)]
        candidates.extend(rows)
    seen, unique = set(), []
    for row in candidates:
        ident = (row.subject_kind, row.subject_id)
        if ident in seen or ident == skip:
            continue
        seen.add(ident)
        unique.append(row)
    _attach_claims(unique, moderator)
    free = [r for r in unique if r.claimed_by is None]
    return (free or unique or [None])[0]  # type: ignore[list-item]  # None when nothing is left


# --- claims -------------------------------------------------------------------------------


def claim_minutes() -> int:
    return int(current_app.config.get("MODERATION_CLAIM_MINUTES", DEFAULT_CLAIM_MINUTES))


def claim(subject_kind: str, subject_id: int, moderator: User) -> None:
    """Mark an item as being reviewed by `moderator` (the latest opener wins). Commits."""
    now = utcnow()
    db.session.execute(
        delete(ModerationClaim).where(ModerationClaim.claimed_at < now - timedelta(minutes=claim_minutes()))
    )
    existing = db.session.scalar(
        select(ModerationClaim).where(
            ModerationClaim.subject_kind == subject_kind, ModerationClaim.subject_id == subject_id
        )
    )
    if existing is None:
        db.session.add(
            ModerationClaim(
                subject_kind=subject_kind, subject_id=subject_id, moderator_id=moderator.id, claimed_at=now
            )
        )
    else:
        existing.moderator_id = moderator.id
        existing.claimed_at = now
    try:
        db.session.commit()
    except IntegrityError:  # another moderator opened it at the same moment: theirs stands
        db.session.rollback()


def claims_by_others(keys, moderator) -> dict[tuple[str, int], str]:
    keys = list(keys)
    if not keys:
        return {}
    since = utcnow() - timedelta(minutes=claim_minutes())
    wanted = or_(
        *(
            and_(ModerationClaim.subject_kind == kind, ModerationClaim.subject_id == item_id)
            for kind, item_id in keys
        )
    )
    rows = db.session.execute(
        select(ModerationClaim.subject_kind, ModerationClaim.subject_id, User.display_name)
        .join(User, User.id == ModerationClaim.moderator_id)
        .where(wanted, ModerationClaim.claimed_at >= since, ModerationClaim.moderator_id != moderator.id)
    ).all()
    return {(kind, item_id): name for kind, item_id, name in rows}


def _attach_claims(rows: list[DeskRow], moderator) -> None:
    claims = claims_by_others(((r.subject_kind, r.subject_id) for r in rows), moderator)
    for row in rows:
        row.claimed_by = claims.get((row.subject_kind, row.subject_id))
