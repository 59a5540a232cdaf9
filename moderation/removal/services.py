"""Removal requests: every decision about them lives here, and so does the commit.

The path: submit (validated, links resolved to items, confirmation mailed) ->
confirm (single-use link, POST only) -> moderators decide each item (remove
through moderation.services.transition, or refuse with a reason) -> the
request closes and the requester is told the outcome with every reason.
Each step is appended to the hash-chained moderation log (ids, codes and the
reference only: no personal text).
"""

from __future__ import annotations

import secrets
import statistics
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import cast
from urllib.parse import unquote, urlsplit

from flask import current_app, has_request_context, request
from sqlalchemy import case, delete, func, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import selectinload
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

from forum.accounts.services import find_user_by_email, hash_token, normalise_email
from forum.errors import Conflict, Gone, NotFound, PermissionDenied, ValidationFailed
from forum.extensions import db
from forum.mail import queue_mail
from forum.models import STAFF_ROLES, User
from forum.timeutil import utcnow
from forum.urls import external_url
from moderation.audit import append_log
from moderation.kinds import KINDS, ContentKind
from moderation.services import transition
from moderation.states import REMOVED

from .models import (
    CLOSE_REASONS,
    CLOSED,
    CLOSED_STATES,
    COMPLETED,
    DECISION_REFUSED,
    DECISION_REMOVED,
    OPEN,
    PARTIALLY_COMPLETED,
    REFUSAL_REASONS,
    REFUSED,
    REMOVAL_KINDS,
    SCOPE_EVERYTHING,
    SCOPE_LINKS,
    SCOPES,
    UNCONFIRMED,
    RemovalEvent,
    RemovalItem,
    RemovalRequest,
)

LOG_KIND = "removal_request"
LINKS_MAX_LINES = 50
LINK_MAX_LENGTH = 2000
LINKS_MAX_LENGTH = 50_000
DETAILS_MAX = 5000
EXPLANATION_MAX = 5000
TOKEN_MAX_LENGTH = 200
# No 0/O, 1/I/L or U: easy to read out on the phone.
REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"

SUBJECT_CONFIRM = "Please confirm your removal request"
SUBJECT_ACKNOWLEDGED = "We received your removal request"
SUBJECT_EXTENDED = "Your removal request: we need more time"
SUBJECT_OUTCOME = "Your removal request: our decision"
SUBJECT_OVERDUE = "Your removal request: we are late"
SUBJECT_REMINDER = "Removal requests due soon or overdue"
REMINDER_DAYS = 7
ERASED_EMAIL = "erased"
ERASED_TEXT = "[Erased after the retention period.]"


class LinkGone(Gone):
    """A confirmation link that was used, has expired or never existed."""

    def __init__(self, message: str, used: bool = False):
        super().__init__(message)
        self.used = used


# --- small helpers -----------------------------------------------------------------


def _config(name: str):
    return current_app.config[name]


def _log(
    rr: RemovalRequest,
    action: str,
    actor=None,
    *,
    actor_role: str | None = None,
    from_state: str | None = None,
    to_state: str | None = None,
    reason: str | None = None,
    fingerprint: str | None = None,
) -> None:
    append_log(
        actor=actor,
        actor_role=actor_role,
        subject_kind=LOG_KIND,
        subject_id=rr.id,
        action=action,
        from_state=from_state,
        to_state=to_state,
        reason=reason,
        fingerprint=fingerprint,
        reference=rr.reference,
    )


def _event(rr: RemovalRequest, action: str, message: str = "") -> None:
    db.session.add(RemovalEvent(request=rr, action=action, message=message))


def _new_reference(now: datetime) -> str:
    while True:
        code = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(6))
        reference = f"RR-{now:%Y}-{code}"
        if db.session.scalar(select(RemovalRequest.id).where(RemovalRequest.reference == reference)) is None:
            return reference


def _clean_text(value, field: str, label: str, maximum: int, required: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationFailed(field_errors={field: [f"The {label} could not be read."]})
    if required and not value.strip():
        raise ValidationFailed(field_errors={field: [f"Write the {label}."]})
    if len(value) > maximum:
        raise ValidationFailed(
            field_errors={field: [f"The {label} is {len(value)} characters long; the limit is {maximum}."]}
        )
    # PostgreSQL cannot store NUL; refuse it the same way everywhere.
    if "\x00" in value:
        raise ValidationFailed(
            field_errors={
                field: [f"The {label} contains a NUL character, which cannot be stored. Please remove it."]
            }
        )
    return value


def format_day(moment: datetime | None) -> str:
    return f"{moment:%d %B %Y}".lstrip("0") if moment else ""


# --- links -> items -------------------------------------------------------------------


def endpoint_registry() -> dict[str, tuple[ContentKind, object]]:
    """{endpoint: (kind, url argument name or resolver)} from every registered kind."""
    registry = {}
    for kind in KINDS.values():
        for endpoint, spec in (getattr(kind, "url_endpoints", None) or {}).items():
            registry[endpoint] = (kind, spec)
    return registry


def _origin(scheme: str, netloc: str) -> tuple[str, int]:
    """(host, port) with the scheme's default port filled in, for comparing links with our address."""
    parts = urlsplit(f"{scheme}://{netloc}")
    try:
        port = parts.port
    except ValueError:
        port = -1  # matches none of ours
    return (parts.hostname or "", port or (443 if scheme == "https" else 80))


def _our_origins() -> tuple[set, str]:
    """The host(s) this site answers on, and the path prefix it is mounted under."""
    origins, prefix = set(), ""
    site_url = current_app.config.get("SITE_URL")
    if site_url:
        parts = urlsplit(site_url)
        origins.add(_origin(parts.scheme or "https", parts.netloc))
        prefix = parts.path.rstrip("/")
    if has_request_context():
        origins.add(_origin(request.scheme, request.host))
        prefix = prefix or request.script_root.rstrip("/")
    if current_app.config.get("SERVER_NAME"):
        for scheme in ("http", "https"):
            origins.add(_origin(scheme, current_app.config["SERVER_NAME"]))
    return origins, prefix


class LinkProblem(Exception):
    pass


def resolve_link(raw: str) -> tuple[ContentKind, int]:
    """The item a link to one of our pages shows, or LinkProblem with a message for the requester."""
    link = raw.strip()
    if len(link) > LINK_MAX_LENGTH:
        raise LinkProblem("this line is too long to be a link to one of our pages.")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in link):
        raise LinkProblem("this line contains control characters, so it is not a link to one of our pages.")
    try:
        parts = urlsplit(link)
    except ValueError:
        raise LinkProblem(
            "this is not a link we can read. Copy the address from your browser's address bar."
        ) from None
    origins, prefix = _our_origins()
    if parts.scheme or parts.netloc:
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise LinkProblem("this is not a link to a page of this site (it should start with https://).")
        if _origin(parts.scheme, parts.netloc) not in origins:
            raise LinkProblem("this link points to another website. We can only remove content on this site.")
    elif not link.startswith("/") or link.startswith("//"):
        raise LinkProblem("this is not a link. Copy the full address from your browser's address bar.")
    path = unquote(parts.path or "/")
    if prefix and path.startswith(prefix):
        path = path[len(prefix) :] or "/"
    adapter = current_app.url_map.bind("localhost")
    try:
        try:
            endpoint, args = adapter.match(path, method="GET")
        except RequestRedirect as redirect:
            endpoint, args = adapter.match(unquote(urlsplit(redirect.new_url).path), method="GET")
    except HTTPException:
        raise LinkProblem("there is no page at this address on our site. Please check the link.") from None
    registered = endpoint_registry().get(endpoint)
    if registered is None:
        raise LinkProblem(
            "this page is not a single review, post or comment. Please link to the item itself, "
            "or choose \u201ceverything posted with this email address\u201d."
        )
    kind, spec = registered
    try:
        item_id = spec({**args, "_fragment": parts.fragment}) if callable(spec) else args.get(spec)  # type: ignore[call-overload]
        item_id = int(item_id)
    except (TypeError, ValueError):
        raise LinkProblem(
            "we could not tell which item this link shows. Please link to the item itself."
        ) from None
    if db.session.get(kind.model, item_id) is None:
        raise LinkProblem("we could not find anything at this link. It may never have existed.")
    return kind, item_id


def _parse_links(links_text: str) -> tuple[list[tuple[str, str, int]], list[str]]:
    """[(line, kind name, item id)] without repeats, and a message per bad line."""
    lines = [(number, line.strip()) for number, line in enumerate(links_text.splitlines(), 1) if line.strip()]
    if len(lines) > LINKS_MAX_LINES:
        return [], [f"Please give at most {LINKS_MAX_LINES} links in one request ({len(lines)} given)."]
    found, problems, seen = [], [], set()
    for number, line in lines:
        try:
            kind, item_id = resolve_link(line)
        except LinkProblem as problem:
            shown = line if len(line) <= 80 else line[:77] + "..."
            problems.append(f"Line {number} ({shown}): {problem}")
            continue
        if (kind.name, item_id) not in seen:
            seen.add((kind.name, item_id))
            found.append((line, kind.name, item_id))
    return found, problems


def _items_by_account(email: str) -> list[tuple[str, int]]:
    """Every item, of every kind with an author, posted by the account with this email (not yet removed)."""
    user = find_user_by_email(email)
    if user is None:
        return []
    found: list = []
    for kind in KINDS.values():
        model = kind.model
        if not hasattr(model, "author_id"):
            continue
        ids = db.session.scalars(
            select(model.id)
            .where(model.author_id == user.id, model.status != REMOVED)
            .order_by(model.created_at, model.id)
        )
        found.extend((kind.name, item_id) for item_id in ids)
    return found


# --- the request ---------------------------------------------------------------------


def check_request(email, scope, links_text, removal_kind, details) -> tuple[str, list]:
    """Every field's problems at once; returns the normalised address and the resolved links."""
    errors: dict[str, list[str]] = {}
    try:
        email = normalise_email(email)
    except ValidationFailed as error:
        errors.update(error.field_errors)
    if scope not in SCOPES:
        errors["scope"] = ["Choose what you want removed."]
    if removal_kind not in REMOVAL_KINDS:
        errors["removal_kind"] = ["Choose what kind of removal you ask for."]
    for field, value, label, maximum in (
        ("details", details, "details", DETAILS_MAX),
        ("links", links_text, "list of links", LINKS_MAX_LENGTH),
    ):
        try:
            _clean_text(value, field, label, maximum)
        except ValidationFailed as error:
            errors.update(error.field_errors)
    links: list = []
    if "links" not in errors:
        links, problems = _parse_links(links_text or "")
        if problems:
            errors["links"] = problems
        elif scope == SCOPE_LINKS and not links:
            errors["links"] = [
                "Paste at least one link to a page of this site, one per line, "
                "or choose \u201ceverything posted with this email address\u201d."
            ]
    if errors:
        raise ValidationFailed(field_errors=errors)
    return email, links


def submit_request(email, scope, links_text, removal_kind, details) -> RemovalRequest:
    """Check and store a request and mail the confirmation link.

    The answer is the same whether or not the address has content here: the
    account is looked up only after the owner of the mailbox has confirmed.
    """
    email, links = check_request(email, scope, links_text, removal_kind, details)
    now = utcnow()
    token = secrets.token_urlsafe(32)  # 256 bits; only its hash is stored
    hours = _config("REMOVAL_CONFIRM_HOURS")
    rr = RemovalRequest(
        reference=_new_reference(now),
        email=email,
        scope=scope,
        removal_kind=removal_kind,
        links_text=links_text or "",
        details=details or "",
        status=UNCONFIRMED,
        created_at=now,
        confirm_token_hash=hash_token(token),
        confirm_expires_at=now + timedelta(hours=hours),
    )
    db.session.add(rr)
    for line, kind_name, item_id in links:
        rr.items.append(RemovalItem(kind=kind_name, item_id=item_id, source_url=line))
    db.session.flush()
    _log(rr, "request_submitted", actor_role="requester", to_state=UNCONFIRMED)
    _event(rr, "submitted", "We received your request and sent you an email to confirm your address.")
    # The confirmation mail carries none of the requester's words: someone typing
    # another person's address cannot use us to send them a message.
    queue_mail(
        email,
        SUBJECT_CONFIRM,
        "removal_confirm",
        link=external_url("removal.confirm", token=token),
        hours=hours,
        days=_config("REMOVAL_RESPONSE_DAYS"),
    )
    db.session.commit()
    return rr


def request_for_confirm_token(token: str) -> RemovalRequest:
    if not isinstance(token, str) or not token or len(token) > TOKEN_MAX_LENGTH:
        raise LinkGone("This link is not valid. It may have expired or already been used.")
    rr = db.session.scalar(
        select(RemovalRequest).where(RemovalRequest.confirm_token_hash == hash_token(token))
    )
    if rr is None:
        raise LinkGone(
            "This confirmation link is no longer valid: it has expired or was already used. "
            "If you still want content removed, please send your request again."
        )
    if rr.confirmed_at is not None:
        raise LinkGone(
            f"This confirmation link was already used: request {rr.reference} is confirmed. "
            "Follow the status link in the email we sent you after confirmation to see its progress.",
            used=True,
        )
    if rr.confirm_expires_at <= utcnow():
        raise LinkGone(
            f"This confirmation link has expired (links work for {_config('REMOVAL_CONFIRM_HOURS')} hours). "
            "Please send your request again."
        )
    return rr


def confirm_request(token: str) -> tuple[RemovalRequest, str]:
    """Confirm by the single-use link; returns the request and its new private status token."""
    rr = request_for_confirm_token(token)
    now = utcnow()
    status_token = secrets.token_urlsafe(32)
    due = now + timedelta(days=_config("REMOVAL_RESPONSE_DAYS"))
    # Conditional update: of two simultaneous clicks exactly one confirms.
    claimed = cast(
        CursorResult,
        db.session.execute(
            update(RemovalRequest)
            .where(
                RemovalRequest.id == rr.id,
                RemovalRequest.status == UNCONFIRMED,
                RemovalRequest.confirmed_at.is_(None),
            )
            .values(status=OPEN, confirmed_at=now, due_at=due, status_token_hash=hash_token(status_token))
            .execution_options(synchronize_session=False)
        ),
    ).rowcount
    if claimed != 1:
        db.session.rollback()
        raise LinkGone("This confirmation link was already used.", used=True)
    db.session.refresh(rr)
    if rr.scope == SCOPE_EVERYTHING:
        _add_account_items(rr)
        for eraser in personal_data_erasers:
            erased = eraser(rr.email)
            if erased:
                _event(rr, "personal_data_erased", erased)
    _log(rr, "request_confirmed", actor_role="requester", from_state=UNCONFIRMED, to_state=OPEN)
    _event(rr, "confirmed", f"You confirmed your email address. We will answer by {format_day(due)}.")
    queue_mail(
        rr.email,
        SUBJECT_ACKNOWLEDGED,
        "removal_acknowledged",
        rr=rr,
        due=format_day(due),
        link=external_url("removal.status", token=status_token),
        item_count=len(rr.items),
        days=_config("REMOVAL_RESPONSE_DAYS"),
    )
    _log(rr, "notified", actor_role="system", reason="acknowledgement", from_state=OPEN, to_state=OPEN)
    db.session.commit()
    return rr, status_token


# Personal data of other areas tied to an address that is not moderated content (e.g. the shop's
# orders): erased as soon as the requester confirms an "everything" request for that address.
# eraser(email) -> a sentence for the requester's timeline, or "" when there was nothing. No commit.
personal_data_erasers: list = []


def _add_account_items(rr: RemovalRequest, moderator: User | None = None) -> int:
    present = {(item.kind, item.item_id) for item in rr.items}
    added = 0
    for kind_name, item_id in _items_by_account(rr.email):
        if (kind_name, item_id) not in present:
            rr.items.append(
                RemovalItem(kind=kind_name, item_id=item_id, added_by_id=moderator.id if moderator else None)
            )
            added += 1
    db.session.flush()
    return added


def request_for_status_token(token: str) -> RemovalRequest:
    if not isinstance(token, str) or not token or len(token) > TOKEN_MAX_LENGTH:
        raise NotFound("There is no removal request at this address. Please use the link from our email.")
    rr = db.session.scalar(
        select(RemovalRequest)
        .where(RemovalRequest.status_token_hash == hash_token(token))
        .options(selectinload(RemovalRequest.items), selectinload(RemovalRequest.events))
    )
    if rr is None:
        raise NotFound("There is no removal request at this address. Please use the link from our email.")
    return rr


def purge_expired(now: datetime | None = None) -> int:
    """Delete unconfirmed requests whose confirmation link expired. Returns how many."""
    now = now or utcnow()
    expired = db.session.scalars(
        select(RemovalRequest).where(
            RemovalRequest.status == UNCONFIRMED, RemovalRequest.confirm_expires_at <= now
        )
    ).all()
    for rr in expired:
        _log(rr, "expired", actor_role="system", from_state=UNCONFIRMED, to_state=None)
    ids = [rr.id for rr in expired]
    if ids:
        db.session.execute(delete(RemovalItem).where(RemovalItem.request_id.in_(ids)))
        db.session.execute(delete(RemovalEvent).where(RemovalEvent.request_id.in_(ids)))
        db.session.execute(
            delete(RemovalRequest)
            .where(RemovalRequest.id.in_(ids), RemovalRequest.status == UNCONFIRMED)
            .execution_options(synchronize_session=False)
        )
    db.session.commit()
    return len(ids)


# --- scheduled jobs (run by `flask worker`) ---------------------------------------------------


def notify_overdue_requesters(now: datetime | None = None) -> int:
    """Tell each requester once that their request passed its due date unanswered. Returns how many."""
    now = now or utcnow()
    overdue = db.session.scalars(
        select(RemovalRequest)
        .where(
            RemovalRequest.status == OPEN,
            RemovalRequest.due_at < now,
            RemovalRequest.overdue_notified_at.is_(None),
        )
        .order_by(RemovalRequest.id)
        .with_for_update(skip_locked=True)
    ).all()
    for rr in overdue:
        claimed = cast(
            CursorResult,
            db.session.execute(
                update(RemovalRequest)
                .where(RemovalRequest.id == rr.id, RemovalRequest.overdue_notified_at.is_(None))
                .values(overdue_notified_at=now)
                .execution_options(synchronize_session=False)
            ),
        ).rowcount
        if not claimed:
            continue
        _event(
            rr,
            "overdue",
            f"We did not answer by {format_day(rr.due_at)} as we should have. "
            "We are sorry; our moderators have been reminded.",
        )
        queue_mail(
            rr.email,
            SUBJECT_OVERDUE,
            "removal_overdue",
            rr=rr,
            due=format_day(rr.due_at),
            **_complaint_context(),
        )
        _log(rr, "notified", actor_role="system", from_state=OPEN, to_state=OPEN, reason="overdue")
    db.session.commit()
    return len(overdue)


def remind_moderators(now: datetime | None = None) -> int:
    """Mail every moderator the open requests due within REMINDER_DAYS days and the overdue ones.

    Daily: an overdue request is in every reminder until it is answered. Returns how many requests.
    """
    now = now or utcnow()
    requests = db.session.scalars(
        select(RemovalRequest)
        .where(RemovalRequest.status == OPEN, RemovalRequest.due_at < now + timedelta(days=REMINDER_DAYS))
        .order_by(RemovalRequest.due_at, RemovalRequest.id)
    ).all()
    if not requests:
        return 0
    moderators = db.session.scalars(select(User).where(User.role.in_(STAFF_ROLES)).order_by(User.id)).all()
    overdue = [rr for rr in requests if rr.due_at < now]  # type: ignore[operator]
    due_soon = [rr for rr in requests if rr.due_at >= now]  # type: ignore[operator]

    def rows(group):
        return [
            dict(
                reference=rr.reference,
                due=format_day(rr.due_at),
                url=external_url("removal.decision", request_id=rr.id),
            )
            for rr in group
        ]

    for moderator in moderators:
        queue_mail(
            moderator.email,
            SUBJECT_REMINDER,
            "removal_reminder",
            overdue=rows(overdue),
            due_soon=rows(due_soon),
            days=REMINDER_DAYS,
            queue_url=external_url("removal.moderator_list"),
        )
    db.session.commit()
    return len(requests)


def erase_retained_requests(now: datetime | None = None) -> int:
    """Erase the email and free text of requests closed more than REMOVAL_RETENTION_DAYS ago.

    The reference, the dates, the scope and every decision (with its reason code) stay, so
    the transparency figures and the moderation log keep adding up. Returns how many.
    """
    now = now or utcnow()
    limit = now - timedelta(days=int(_config("REMOVAL_RETENTION_DAYS")))
    requests = db.session.scalars(
        select(RemovalRequest)
        .where(
            RemovalRequest.status.in_(CLOSED_STATES),
            RemovalRequest.closed_at < limit,
            RemovalRequest.erased_at.is_(None),
        )
        .options(selectinload(RemovalRequest.items), selectinload(RemovalRequest.events))
        .order_by(RemovalRequest.id)
    ).all()
    for rr in requests:
        rr.email = ERASED_EMAIL
        rr.links_text = ""
        rr.details = ""
        if rr.close_explanation is not None:
            rr.close_explanation = ERASED_TEXT
        rr.status_token_hash = None  # the private status page is gone with the data
        rr.confirm_token_hash = None
        rr.erased_at = now
        for item in rr.items:
            item.source_url = None
            if item.refusal_explanation is not None:
                item.refusal_explanation = ERASED_TEXT
        for event in rr.events:
            event.message = ""
        _log(rr, "erased", actor_role="system", from_state=rr.status, to_state=rr.status, reason="retention")
    db.session.commit()
    return len(requests)


# --- moderators: reading ------------------------------------------------------------------


def require_moderator(user) -> None:
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_moderator:
        raise PermissionDenied("Only moderators can see removal requests.")


def open_requests() -> list[RemovalRequest]:
    """Confirmed requests waiting for decisions, most urgent first."""
    return list(
        db.session.scalars(
            select(RemovalRequest)
            .where(RemovalRequest.status == OPEN)
            .options(selectinload(RemovalRequest.items))
            .order_by(RemovalRequest.due_at, RemovalRequest.id)
        )
    )


def desk_count() -> tuple[str, int, int]:
    """("removal_request", open requests, overdue ones) in one query, for the desk's badge and tabs."""
    overdue = func.sum(case((RemovalRequest.due_at < utcnow(), 1), else_=0))
    total, late = db.session.execute(
        select(func.count(), overdue).select_from(RemovalRequest).where(RemovalRequest.status == OPEN)
    ).one()
    return "removal_request", int(total or 0), int(late or 0)


def overdue_count() -> int:
    return (
        db.session.scalar(
            select(func.count())
            .select_from(RemovalRequest)
            .where(RemovalRequest.status == OPEN, RemovalRequest.due_at < utcnow())
        )
        or 0
    )


def list_requests(status: str | None = None, page: int = 1, per_page: int = 30):
    query = select(RemovalRequest).where(RemovalRequest.status != UNCONFIRMED)
    if status:
        query = query.where(RemovalRequest.status == status)
    query = query.options(selectinload(RemovalRequest.items)).order_by(
        RemovalRequest.confirmed_at.desc(), RemovalRequest.id.desc()
    )
    return db.paginate(query, page=page, per_page=per_page, max_per_page=100, error_out=False)


def get_request(request_id: int, *, for_update: bool = False) -> RemovalRequest:
    query = select(RemovalRequest).where(
        RemovalRequest.id == request_id, RemovalRequest.status != UNCONFIRMED
    )
    if for_update:
        query = query.with_for_update()
    rr = db.session.scalar(query)
    if rr is None:
        raise NotFound("There is no confirmed removal request with this number.")
    return rr


@dataclass
class ItemView:
    row: RemovalItem
    kind: ContentKind | None
    subject: object | None
    description: str
    requester_is_author: bool
    public_url: str | None

    @property
    def status(self) -> str:
        return getattr(self.subject, "status", "deleted")

    @property
    def title(self):
        return getattr(self.subject, "title", None)

    @property
    def body(self):
        return getattr(self.subject, "body", None)

    @property
    def author_name(self) -> str | None:
        author = getattr(self.subject, "author", None)
        return getattr(author, "display_name", None)

    @property
    def erased(self) -> bool:
        return self.subject is None or self.status == REMOVED


def describe_item(kind_name: str, item_id: int, subject=None, kind: ContentKind | None = None) -> str:
    kind = kind or KINDS.get(kind_name)
    label = kind.label if kind else kind_name.replace("_", " ").capitalize()
    label = label[:-1] if label.endswith("s") else label  # "Product reviews" names one "Product review"
    posted = getattr(subject, "created_at", None)
    when = f", posted {format_day(posted)}" if posted else ""
    return f"{label} #{item_id}{when}"


def item_views(rr: RemovalRequest) -> list[ItemView]:
    views = []
    author_ids = set()
    loaded = []
    for row in rr.items:
        kind = KINDS.get(row.kind)
        subject = db.session.get(kind.model, row.item_id) if kind else None
        loaded.append((row, kind, subject))
        if getattr(subject, "author_id", None):
            author_ids.add(subject.author_id)  # type: ignore[union-attr]
    emails = (
        dict(db.session.execute(select(User.id, User.email).where(User.id.in_(author_ids))).all())
        if author_ids
        else {}
    )
    for row, kind, subject in loaded:
        author_email = emails.get(getattr(subject, "author_id", None))  # type: ignore[arg-type]
        url = None
        if subject is not None and kind is not None and kind.public_url and subject.status == "published":
            try:
                url = kind.public_url(subject)
            except Exception:  # a kind's page may not exist yet; the item is still decidable
                url = None
        views.append(
            ItemView(
                row,
                kind,
                subject,
                describe_item(row.kind, row.item_id, subject, kind),
                author_email is not None and author_email == rr.email,
                url,
            )
        )
    return views


# --- moderators: deciding ------------------------------------------------------------------


def _open_for_update(request_id: int, moderator: User) -> RemovalRequest:
    require_moderator(moderator)
    rr = get_request(request_id, for_update=True)
    if rr.status != OPEN:
        raise Conflict(f"Request {rr.reference} is already closed ({rr.status_label.lower()}).")
    return rr


def decide_item(
    request_id: int,
    item_row_id: int,
    moderator: User,
    decision: str,
    refusal_reason: str | None = None,
    explanation: str | None = None,
) -> RemovalRequest:
    """Remove the item everywhere, or refuse with a reason and an explanation for the requester."""
    rr = _open_for_update(request_id, moderator)
    row = db.session.get(RemovalItem, item_row_id)
    if row is None or row.request_id != rr.id:
        raise NotFound("This request does not name such an item.")
    if decision not in (DECISION_REMOVED, DECISION_REFUSED, "remove", "refuse"):
        raise ValidationFailed(field_errors={"decision": ["Choose remove or refuse."]})
    decision = DECISION_REMOVED if decision in ("remove", DECISION_REMOVED) else DECISION_REFUSED
    values = dict(
        decision=decision,
        decided_at=utcnow(),
        decided_by_id=moderator.id,
        refusal_reason=None,
        refusal_explanation=None,
    )
    if decision == DECISION_REFUSED:
        errors = {}
        if refusal_reason not in REFUSAL_REASONS:
            errors["refusal_reason"] = ["A refusal needs a reason: choose one from the list."]
        try:
            text = _clean_text(
                explanation, "explanation", "explanation for the requester", EXPLANATION_MAX, required=True
            )
        except ValidationFailed as error:
            errors.update(error.field_errors)
        if errors:
            raise ValidationFailed(field_errors=errors)
        values.update(refusal_reason=refusal_reason, refusal_explanation=text.strip())
    # Conditional update: of two moderators deciding the same item, one wins.
    claimed = cast(
        CursorResult,
        db.session.execute(
            update(RemovalItem)
            .where(RemovalItem.id == row.id, RemovalItem.decision.is_(None))
            .values(**values)
            .execution_options(synchronize_session=False)
        ),
    ).rowcount
    if claimed != 1:
        db.session.rollback()
        raise Conflict("Another moderator has already decided this item.")
    db.session.refresh(row)
    kind = KINDS.get(row.kind)
    subject = db.session.get(kind.model, row.item_id) if kind else None
    description = describe_item(row.kind, row.item_id, subject, kind)
    if decision == DECISION_REMOVED:
        if subject is not None and subject.status != REMOVED:
            # Takes it down everywhere, erases its text (the kind's erase hook) and
            # leaves a tombstone: id, dates and fingerprint, logged with our reference.
            transition(subject, "remove", moderator, reason="removal_request", reference=rr.reference)
        _log(
            rr,
            "item_removed",
            moderator,
            from_state=OPEN,
            to_state=OPEN,
            reason="removal_request",
            fingerprint=getattr(subject, "fingerprint", None),
        )
        _event(rr, "item_decided", f"{description}: removed.")
    else:
        _log(
            rr,
            "item_refused",
            moderator,
            from_state=OPEN,
            to_state=OPEN,
            reason=refusal_reason,
            fingerprint=getattr(subject, "fingerprint", None),
        )
        _event(
            rr,
            "item_decided",
            f"{description}: not removed. Reason: {REFUSAL_REASONS[refusal_reason]}. {row.refusal_explanation}",  # type: ignore[index]
        )
    db.session.flush()
    undecided = db.session.scalar(
        select(func.count())
        .select_from(RemovalItem)
        .where(RemovalItem.request_id == rr.id, RemovalItem.decision.is_(None))
    )
    if undecided == 0:
        _close(rr, moderator)
    db.session.commit()
    return rr


def _complaint_context() -> dict:
    return dict(
        complaint_contact=_config("REMOVAL_COMPLAINT_CONTACT"),
        supervisory_authority=_config("REMOVAL_SUPERVISORY_AUTHORITY"),
    )


def _close(rr: RemovalRequest, moderator: User, status: str | None = None) -> None:
    db.session.flush()
    decisions = [item.decision for item in rr.items]
    if status is None:
        if all(d == DECISION_REMOVED for d in decisions):
            status = COMPLETED
        elif all(d == DECISION_REFUSED for d in decisions):
            status = REFUSED
        else:
            status = PARTIALLY_COMPLETED
    now = utcnow()
    rr.status = status
    rr.closed_at = now
    rr.closed_by_id = moderator.id
    db.session.flush()
    _log(rr, "closed", moderator, from_state=OPEN, to_state=status, reason=rr.close_reason)
    _event(rr, "closed", f"We closed your request. {rr.status_label}.")
    outcome = [
        dict(
            description=describe_item(
                item.kind,
                item.item_id,
                db.session.get(KINDS[item.kind].model, item.item_id) if item.kind in KINDS else None,
            ),
            link=item.source_url,
            decision=item.decision,
            reason=item.refusal_reason_label,
            explanation=item.refusal_explanation,
        )
        for item in rr.items
    ]
    queue_mail(
        rr.email,
        SUBJECT_OUTCOME,
        "removal_outcome",
        rr=rr,
        items=outcome,
        status_label=rr.status_label,
        **_complaint_context(),
    )
    _log(rr, "notified", actor_role="system", from_state=status, to_state=status, reason="outcome")
    _event(rr, "notified", "We emailed you our decision.")


def close_without_items(
    request_id: int, moderator: User, reason: str | None, explanation: str | None
) -> RemovalRequest:
    """Close a request that names nothing we could remove, telling the requester why."""
    rr = _open_for_update(request_id, moderator)
    if rr.items:
        raise Conflict("This request names items: decide each of them instead.")
    errors = {}
    if reason not in CLOSE_REASONS:
        errors["reason"] = ["Choose why nothing can be removed."]
    try:
        text = _clean_text(
            explanation, "explanation", "explanation for the requester", EXPLANATION_MAX, required=True
        )
    except ValidationFailed as error:
        errors.update(error.field_errors)
    if errors:
        raise ValidationFailed(field_errors=errors)
    rr.close_reason = reason
    rr.close_explanation = text.strip()
    _close(rr, moderator, status=CLOSED)
    db.session.commit()
    return rr


def extend_deadline(request_id: int, moderator: User, days, reason: str | None) -> RemovalRequest:
    """Give ourselves more time (at most 60 days in all); the reason is sent to the requester."""
    rr = _open_for_update(request_id, moderator)
    maximum = _config("REMOVAL_MAX_EXTENSION_DAYS") - rr.extension_days
    errors = {}
    try:
        days = int(days)
    except (TypeError, ValueError):
        days = 0
    if maximum <= 0:
        raise ValidationFailed(
            f"The deadline was already extended by {rr.extension_days} days, the most allowed. "
            "Please decide the request."
        )
    if not 1 <= days <= maximum:
        errors["days"] = [f"Extend by 1 to {maximum} days."]
    try:
        text = _clean_text(reason, "reason", "reason for the extension", EXPLANATION_MAX, required=True)
    except ValidationFailed as error:
        errors.update(error.field_errors)
    if errors:
        raise ValidationFailed(field_errors=errors)
    rr.extension_days += days
    rr.due_at = rr.due_at + timedelta(days=days)  # type: ignore[operator, assignment]
    if rr.due_at > utcnow():  # type: ignore[operator]
        rr.overdue_notified_at = None  # a new deadline: missing it is told again
    db.session.flush()
    _log(rr, "extended", moderator, from_state=OPEN, to_state=OPEN)
    _event(
        rr,
        "extended",
        f"We extended the deadline by {days} days, to {format_day(rr.due_at)}. Reason: {text.strip()}",
    )
    queue_mail(
        rr.email,
        SUBJECT_EXTENDED,
        "removal_extended",
        rr=rr,
        days=days,
        due=format_day(rr.due_at),
        reason=text.strip(),
    )
    _log(rr, "notified", actor_role="system", from_state=OPEN, to_state=OPEN, reason="extension")
    db.session.commit()
    return rr


def add_items(
    request_id: int, moderator: User, links_text: str | None = None, include_account: bool = False
) -> int:
    """Add items a moderator found (by link, or the account's content again). Returns how many."""
    rr = _open_for_update(request_id, moderator)
    added = 0
    if links_text:
        _clean_text(links_text, "links", "list of links", LINKS_MAX_LENGTH)
        links, problems = _parse_links(links_text)
        if problems:
            raise ValidationFailed(field_errors={"links": problems})
        present = {(item.kind, item.item_id) for item in rr.items}
        for line, kind_name, item_id in links:
            if (kind_name, item_id) not in present:
                rr.items.append(
                    RemovalItem(kind=kind_name, item_id=item_id, source_url=line, added_by_id=moderator.id)
                )
                added += 1
        db.session.flush()
    if include_account:
        added += _add_account_items(rr, moderator)
    if added:
        _log(rr, "items_added", moderator, from_state=OPEN, to_state=OPEN)
        _event(
            rr,
            "items_added",
            f"A moderator added {added} more item{'s' if added != 1 else ''} to your request.",
        )
    db.session.commit()
    return added


# --- transparency --------------------------------------------------------------------------


def _as_datetime(value, end: bool = False):
    if value is None or isinstance(value, datetime):
        return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        moment = datetime.combine(value, time.min, tzinfo=UTC)
        return moment + timedelta(days=1) if end else moment
    return value


def transparency_stats(start=None, end=None) -> dict:
    """Counts for the public transparency page; dates are [start, end)."""
    start, end = _as_datetime(start), _as_datetime(end, end=True)

    def within(column):
        conditions = []
        if start is not None:
            conditions.append(column >= start)
        if end is not None:
            conditions.append(column < end)
        return conditions

    received = (
        db.session.scalar(
            select(func.count())
            .select_from(RemovalRequest)
            .where(RemovalRequest.confirmed_at.is_not(None), *within(RemovalRequest.confirmed_at))
        )
        or 0
    )
    closed_rows = db.session.execute(
        select(RemovalRequest.status, RemovalRequest.confirmed_at, RemovalRequest.closed_at).where(
            RemovalRequest.closed_at.is_not(None), *within(RemovalRequest.closed_at)
        )
    ).all()
    by_outcome = {status: 0 for status in (COMPLETED, PARTIALLY_COMPLETED, REFUSED, CLOSED)}
    durations = []
    for status, confirmed_at, closed_at in closed_rows:
        by_outcome[status] = by_outcome.get(status, 0) + 1
        durations.append((closed_at - confirmed_at).total_seconds() / 86400)  # type: ignore[operator]
    refusals = dict(
        db.session.execute(
            select(RemovalItem.refusal_reason, func.count())
            .where(RemovalItem.decision == DECISION_REFUSED, *within(RemovalItem.decided_at))
            .group_by(RemovalItem.refusal_reason)
        ).all()
    )
    return dict(
        received=received,
        completed=by_outcome[COMPLETED],
        partially_completed=by_outcome[PARTIALLY_COMPLETED],
        refused=by_outcome[REFUSED],
        closed_nothing_found=by_outcome[CLOSED],
        # Every reason is listed, even at zero, so the list of reasons is public too.
        refused_by_reason=[
            {"reason": code, "label": label, "count": int(refusals.get(code, 0))}
            for code, label in REFUSAL_REASONS.items()
        ],
        items_removed=db.session.scalar(
            select(func.count())
            .select_from(RemovalItem)
            .where(RemovalItem.decision == DECISION_REMOVED, *within(RemovalItem.decided_at))
        )
        or 0,
        median_days_to_close=round(statistics.median(durations), 1) if durations else None,
        open_now=db.session.scalar(
            select(func.count()).select_from(RemovalRequest).where(RemovalRequest.status == OPEN)
        )
        or 0,
        overdue_now=overdue_count(),
    )
