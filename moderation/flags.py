"""Flags: members point moderators at published content, for any moderated kind.

`flag_item(kind_name, item_id, user, reason)` records one flag per member per
item and logs it. A flagged item shows in the queue's "flags" section; once
FLAG_HIDE_THRESHOLD members have flagged it, it is hidden through the one
transition function (`hide`, system, reason "flagged") until a moderator keeps
it (approve: published again) or removes it with a reason. Deciding resolves
the open flags. A kind that accepts flags adds `resolve_flags_on_decision` to
its `on_transition` hooks, so a decision taken anywhere (the queue, a removal
request, the author withdrawing) closes its flags too.

The blueprint gives the flag form (`flags.flag_form`, /flag/<kind>/<id>) and
the moderators' keep/remove actions used by the queue section.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    select,
    update,
)
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column, relationship
from wtforms import HiddenField, RadioField, SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Optional

from forum.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from forum.extensions import db, limiter
from forum.forms import apply_errors, render_form
from forum.models import User
from forum.security import is_safe_next
from forum.timeutil import UTCDateTime, utcnow

from .audit import append_log
from .kinds import KINDS, QueueSection, kind_of, register_queue_section
from .states import HIDDEN, PENDING, PUBLISHED, REJECTION_REASONS

# What a member may say is wrong. Codes fit the log's reason column.
FLAG_REASONS = {
    "spam": "Spam or advertising",
    "abusive": "Abusive, harassing or obscene",
    "personal_information": "Contains someone's personal information",
    "off_topic": "Off-topic",
}
FLAG_NOTE_MAX = 1000
DEFAULT_HIDE_THRESHOLD = 3
# Flags are only taken on what the public can see; they stay meaningful while hidden.
FLAGGABLE_STATES = (PUBLISHED,)
OPEN_ITEM_STATES = (PUBLISHED, HIDDEN)

bp = Blueprint("flags", __name__)


class Flag(db.Model):  # type: ignore[name-defined]  # db.Model is dynamic
    __tablename__ = "content_flag"
    __table_args__ = (
        UniqueConstraint("kind", "item_id", "user_id", name="one_per_member"),
        CheckConstraint(
            "reason IN ('spam', 'abusive', 'personal_information', 'off_topic')", name="reason_known"
        ),
        Index("ix_content_flag_open", "kind", "item_id", "resolved_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    item_id: Mapped[int] = mapped_column(Integer)
    # SET NULL: a deleted account's flag still counted when it was made.
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), index=True
    )
    reason: Mapped[str] = mapped_column(String(30))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    # kept | removed | withdrawn | closed
    resolution: Mapped[str | None] = mapped_column(String(20))

    user: Mapped[User | None] = relationship(foreign_keys=[user_id])

    @property
    def reason_label(self) -> str:
        return FLAG_REASONS.get(self.reason, self.reason)


# --- services ---------------------------------------------------------------------


def hide_threshold() -> int:
    return int(current_app.config.get("FLAG_HIDE_THRESHOLD", DEFAULT_HIDE_THRESHOLD))


def _load(kind_name: str, item_id: int):
    kind = KINDS.get(kind_name)
    item = db.session.get(kind.model, item_id) if kind else None
    if item is None:
        raise NotFound("There is no such item.")
    return kind, item


def load_flaggable(kind_name: str, item_id: int):
    """The item a member may flag: published content only (404 otherwise, revealing nothing)."""
    kind, item = _load(kind_name, item_id)
    if item.status not in FLAGGABLE_STATES:
        raise NotFound("This item is not published, so it cannot be flagged.")
    return kind, item


def _check_flag_fields(reason, note) -> str | None:
    errors = {}
    if reason not in FLAG_REASONS:
        errors["reason"] = ["Choose what is wrong from the list."]
    if note is not None and not isinstance(note, str):
        note = None
    if note:
        if len(note) > FLAG_NOTE_MAX:
            errors["note"] = [f"The note is {len(note)} characters long; the limit is {FLAG_NOTE_MAX}."]
        elif "\x00" in note:
            errors["note"] = ["The note contains a NUL character, which cannot be stored. Please remove it."]
    if errors:
        raise ValidationFailed(field_errors=errors)
    return note if note and note.strip() else None


def open_flags(kind_name: str, item_id: int) -> list[Flag]:
    return list(
        db.session.scalars(
            select(Flag)
            .where(Flag.kind == kind_name, Flag.item_id == item_id, Flag.resolved_at.is_(None))
            .order_by(Flag.created_at, Flag.id)
        )
    )


def has_flagged(kind_name: str, item_id: int, user) -> bool:
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return (
        db.session.scalar(
            select(func.count())
            .select_from(Flag)
            .where(Flag.kind == kind_name, Flag.item_id == item_id, Flag.user_id == user.id)
        )
        or 0
    ) > 0


def flag_item(kind_name: str, item_id: int, user, reason: str, note: str | None = None) -> Flag:
    """Record a member's flag; hide the item once enough members have flagged it. Commits."""
    from .services import transition

    if user is None or not getattr(user, "is_authenticated", False):
        raise PermissionDenied("Log in to flag content.")
    kind, item = load_flaggable(kind_name, item_id)
    note = _check_flag_fields(reason, note)
    if item.author_id is not None and item.author_id == user.id:
        raise ValidationFailed("This is your own post: you can edit or delete it instead of flagging it.")
    if has_flagged(kind.name, item.id, user):
        raise ValidationFailed("You have already flagged this. Moderators will look at it; thank you.")
    flag = Flag(kind=kind.name, item_id=item.id, user_id=user.id, reason=reason, note=note)
    db.session.add(flag)
    try:
        db.session.flush()
    except IntegrityError:  # the same member, twice at once
        db.session.rollback()
        raise ValidationFailed(
            "You have already flagged this. Moderators will look at it; thank you."
        ) from None
    append_log(
        actor=user,
        subject_kind=kind.name,
        subject_id=item.id,
        action="flag",
        from_state=item.status,
        to_state=item.status,
        reason=reason,
        fingerprint=item.fingerprint,
    )
    if item.status == PUBLISHED and len(open_flags(kind.name, item.id)) >= hide_threshold():
        transition(item, "hide", None, system=True, reason="flagged")
    db.session.commit()
    return flag


def _resolve(kind_name: str, item_id: int, moderator, resolution: str) -> int:
    return cast(
        CursorResult,
        db.session.execute(
            update(Flag)
            .where(Flag.kind == kind_name, Flag.item_id == item_id, Flag.resolved_at.is_(None))
            .values(
                resolved_at=utcnow(), resolved_by_id=getattr(moderator, "id", None), resolution=resolution
            )
            .execution_options(synchronize_session=False)
        ),
    ).rowcount


# action -> how the item's open flags end
_RESOLUTIONS = {
    "approve": "kept",
    "remove": "removed",
    "reject": "removed",
    "withdraw": "withdrawn",
    "supersede": "closed",
}


def resolve_flags_on_decision(subject, action, actor, from_state) -> None:
    """ContentKind.on_transition hook: a decision on an item closes its open flags."""
    resolution = _RESOLUTIONS.get(action)
    if resolution is not None:
        _resolve(kind_of(subject).name, subject.id, actor, resolution)


def enable_flags(kind) -> None:
    """Call when registering a ContentKind that members may flag."""
    # Its hidden items appear in the flags section with their flags, not again as content.
    kind.queue_states = (PENDING,)
    if resolve_flags_on_decision not in kind.on_transition:
        kind.on_transition.append(resolve_flags_on_decision)


def _check_version(item, expected_version) -> None:
    if expected_version is not None and expected_version != item.version:
        raise Conflict(
            "This item changed since you looked at it (edited or decided by someone else). "
            "Please look at it again."
        )


def keep_item(kind_name: str, item_id: int, moderator, expected_version: int | None = None):
    """Moderator: the flags are unfounded. A hidden item is published again; flags resolved. Commits."""
    from .services import transition

    kind, item = _load(kind_name, item_id)
    if not moderator.is_moderator:
        raise PermissionDenied("Only moderators can decide flags.")
    _check_version(item, expected_version)
    if item.status == HIDDEN:
        transition(item, "approve", moderator, expected_version=expected_version)
        _resolve(kind.name, item.id, moderator, "kept")  # in case the kind has no hook
    elif item.status == PUBLISHED:
        if not _resolve(kind.name, item.id, moderator, "kept"):
            raise Conflict("These flags were already decided by another moderator.")
        append_log(
            actor=moderator,
            subject_kind=kind.name,
            subject_id=item.id,
            action="keep",
            from_state=item.status,
            to_state=item.status,
            fingerprint=item.fingerprint,
        )
    else:
        _resolve(kind.name, item.id, moderator, "closed")
        db.session.commit()
        raise Conflict(f"This item is already {item.status}; its flags are closed.")
    db.session.commit()
    return item


def remove_item(
    kind_name: str,
    item_id: int,
    moderator,
    reason: str,
    note: str | None = None,
    expected_version: int | None = None,
):
    """Moderator: take the flagged item down with a reason (the one transition function). Commits."""
    from .services import transition

    kind, item = _load(kind_name, item_id)
    if not moderator.is_moderator:
        raise PermissionDenied("Only moderators can decide flags.")
    if reason not in REJECTION_REASONS:
        raise ValidationFailed(field_errors={"reason": ["Choose a reason from the list."]})
    if note and "\x00" in note:
        raise ValidationFailed(
            field_errors={"note": ["The note contains a NUL character. Please remove it."]}
        )
    transition(item, "remove", moderator, reason=reason, note=note or None, expected_version=expected_version)
    _resolve(kind.name, item.id, moderator, "removed")
    db.session.commit()
    return item


@dataclass
class FlaggedItem:
    kind: Any
    item: Any
    flags: list = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.flags)

    @property
    def reason_counts(self) -> list[tuple[str, int]]:
        counts = Counter(f.reason for f in self.flags)
        return [(FLAG_REASONS.get(code, code), n) for code, n in counts.most_common()]

    @property
    def first_flagged_at(self):
        return min(f.created_at for f in self.flags)

    @property
    def notes(self) -> list[Flag]:
        return [f for f in self.flags if f.note]


def flagged_items(limit: int | None = 50) -> tuple[list[FlaggedItem], int]:
    """Items with open flags that still need a decision, most-flagged first, then oldest."""
    grouped = db.session.execute(
        select(Flag.kind, Flag.item_id, func.count(), func.min(Flag.created_at))
        .where(Flag.resolved_at.is_(None), Flag.kind.in_(list(KINDS)))
        .group_by(Flag.kind, Flag.item_id)
        .order_by(func.count().desc(), func.min(Flag.created_at), Flag.kind, Flag.item_id)
    ).all()
    result = []
    for kind_name, item_id, _count, _first in grouped:
        kind = KINDS[kind_name]
        item = db.session.get(kind.model, item_id)
        # Decided elsewhere without the hook (or the item is gone): nothing left to decide.
        if item is None or item.status not in OPEN_ITEM_STATES:
            continue
        result.append(FlaggedItem(kind=kind, item=item))
    total = len(result)
    page = result[:limit] if limit is not None else result
    if page:
        wanted = {(f.kind.name, f.item.id): f for f in page}
        rows = db.session.scalars(
            select(Flag)
            .where(Flag.resolved_at.is_(None), Flag.item_id.in_([i.item.id for i in page]))
            .order_by(Flag.created_at, Flag.id)
        )
        for flag in rows:
            target = wanted.get((flag.kind, flag.item_id))
            if target is not None:
                target.flags.append(flag)
    return page, total


def flags_queue_section(moderator=None) -> QueueSection:
    from .desk import DeskRow, item_title

    items, total = flagged_items(limit=None)
    authors = {}
    ids = {entry.item.author_id for entry in items if entry.item.author_id is not None}
    if ids:
        authors = dict(db.session.execute(select(User.id, User.display_name).where(User.id.in_(ids))).all())
    rows = []
    for entry in items:
        item, kind = entry.item, entry.kind
        hidden = item.status == HIDDEN
        reasons = ", ".join(f"{label} ×{n}" for label, n in entry.reason_counts)
        rows.append(
            DeskRow(
                key="flags",
                kind_label=kind.label,
                subject_kind=kind.name,
                subject_id=item.id,
                title=item_title(item),
                since=entry.first_flagged_at,
                endpoint="moderation.item",
                values={"kind_name": kind.name, "item_id": item.id},
                reasons=["flagged", "hidden"] if hidden else ["flagged"],
                why=("Hidden after flags: " if hidden else "Flagged: ") + reasons,
                author=authors.get(item.author_id) if item.author_id else "a deleted account",
                author_id=item.author_id if authors.get(item.author_id) else None,
                flag_count=entry.count,
            )
        )
    return QueueSection(
        key="flags",
        label="Flagged content",
        template="moderation/sections/flags.html",
        items=items[:50],
        count=total,
        rows=rows,
    )


def flagged_count() -> tuple[str, int, int]:
    """Items with open flags still waiting for a decision (published or hidden), as the
    flags section counts them, in one query: ("flags", count, 0)."""
    counts = []
    for name, kind in KINDS.items():
        model = kind.model
        open_items = (
            select(Flag.item_id)
            .join(model, model.id == Flag.item_id)
            .where(Flag.resolved_at.is_(None), Flag.kind == name, model.status.in_(OPEN_ITEM_STATES))
            .distinct()
            .subquery()
        )
        counts.append(select(func.count()).select_from(open_items).scalar_subquery())
    if not counts:
        return "flags", 0, 0
    row = db.session.execute(select(*counts)).one()
    return "flags", sum(int(n or 0) for n in row), 0


def flags_of_user(user) -> list[Flag]:
    return list(db.session.scalars(select(Flag).where(Flag.user_id == user.id).order_by(Flag.created_at)))


def export_flags(user) -> list[dict]:
    return [
        {
            "kind": f.kind,
            "item_id": f.item_id,
            "reason": f.reason_label,
            "note": f.note,
            "created_at": f.created_at.isoformat(),
            "resolution": f.resolution,
        }
        for f in flags_of_user(user)
    ]


def forget_flag_notes_of_deleted_account(user) -> None:
    """The flags stay (they counted), anonymous once the account goes; their free-text notes go."""
    db.session.execute(
        update(Flag)
        .where(Flag.user_id == user.id)
        .values(note=None)
        .execution_options(synchronize_session=False)
    )


# --- forms and views ----------------------------------------------------------------


class FlagForm(FlaskForm):
    reason = RadioField(
        "What is wrong?",
        choices=[SelectChoice(code, label) for code, label in FLAG_REASONS.items()],
        validators=[InputRequired("Choose what is wrong from the list.")],
    )
    note = TextAreaField("Anything moderators should know (optional)", validators=[Optional()])


class KeepForm(FlaskForm):
    version = HiddenField()
    next = HiddenField()


class RemoveForm(FlaskForm):
    reason = SelectField(
        "Reason for removal",
        choices=[
            SelectChoice("", "Choose a reason…"),
            *(SelectChoice(code, label) for code, label in REJECTION_REASONS.items()),
        ],
        validators=[InputRequired("Choose a reason from the list.")],
    )
    note = TextAreaField("Note for the author (optional)", validators=[Optional()])
    version = HiddenField()
    next = HiddenField()


def _posting_limit():
    return current_app.config.get("RATELIMIT_POSTING", "20 per hour")


def _member_key() -> str:
    from flask_limiter.util import get_remote_address

    if current_user.is_authenticated:
        return f"member:{current_user.id}"
    return get_remote_address()


def _public_url(kind, item) -> str | None:
    if kind.public_url is None:
        return None
    try:
        return kind.public_url(item)
    except Exception:  # a kind whose page needs more than the item: no link rather than an error
        current_app.logger.exception("public_url failed for %s %s", kind.name, item.id)
        return None


@bp.route("/flag/<kind_name>/<int:item_id>", methods=["GET", "POST"])
@login_required
@limiter.limit(_posting_limit, key_func=_member_key, methods=["POST"], scope="flagging")
def flag_form(kind_name: str, item_id: int):
    kind, item = load_flaggable(kind_name, item_id)
    back = _public_url(kind, item)
    already = has_flagged(kind.name, item.id, current_user)
    form = FlagForm()
    if not already and form.validate_on_submit():
        try:
            flag_item(kind.name, item.id, current_user, form.reason.data, form.note.data)
        except ValidationFailed as error:
            apply_errors(form, error)
        else:
            flash("Thank you. Moderators will look at what you flagged.", "success")
            return redirect(back or url_for("main.index"))
    return render_form(
        "community/flag.html", form, kind=kind, item=item, back=back, already=already, reasons=FLAG_REASONS
    )


def _require_moderator():
    if not current_user.is_authenticated:
        abort(401)
    if not current_user.is_moderator:
        raise PermissionDenied("Only moderators can see this page.")


def _version(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _after_decision():
    target = request.form.get("next")
    if is_safe_next(target):
        return redirect(target)
    if "moderation.queue" in current_app.view_functions:
        return redirect(url_for("moderation.queue", kind="flags"))
    return redirect(url_for("flags.flagged"))


@bp.route("/moderation/flags")
@login_required
def flagged():
    _require_moderator()
    items, total = flagged_items(limit=200)
    section = QueueSection(
        key="flags",
        label="Flagged content",
        template="moderation/sections/flags.html",
        items=items,
        count=total,
    )
    return render_template("community/flagged.html", section=section, items=items)


@bp.route("/moderation/flags/<kind_name>/<int:item_id>/keep", methods=["POST"])
@login_required
def keep(kind_name: str, item_id: int):
    _require_moderator()
    form = KeepForm()
    if not form.validate_on_submit():
        abort(400)
    keep_item(kind_name, item_id, current_user, expected_version=_version(form.version.data))
    flash("Kept: the item is published and its flags are closed.", "success")
    return _after_decision()


@bp.route("/moderation/flags/<kind_name>/<int:item_id>/remove", methods=["GET", "POST"])
@login_required
def remove(kind_name: str, item_id: int):
    _require_moderator()
    kind, item = _load(kind_name, item_id)
    form = RemoveForm()
    if form.validate_on_submit():
        try:
            remove_item(
                kind.name,
                item.id,
                current_user,
                form.reason.data,
                form.note.data,
                expected_version=_version(form.version.data),
            )
        except ValidationFailed as error:
            apply_errors(form, error)
        else:
            flash("Removed. The author can see the reason.", "success")
            return _after_decision()
    if request.method == "GET":
        form.version.data = str(item.version)
    flags = FlaggedItem(kind=kind, item=item, flags=open_flags(kind.name, item.id))
    return render_form("community/flag_remove.html", form, kind=kind, item=item, flagged=flags)


def init_app(app) -> None:
    from forum.accounts import services as accounts

    app.config.setdefault("FLAG_HIDE_THRESHOLD", DEFAULT_HIDE_THRESHOLD)
    if "flags" not in app.blueprints:
        app.register_blueprint(bp)
    register_queue_section(flags_queue_section, flagged_count)
    app.add_template_global(REJECTION_REASONS, "flag_removal_reasons")
    if export_flags not in [s for _, s in accounts.export_sections]:
        accounts.export_sections.append(("flags", export_flags))
        accounts.deletion_handlers.append(forget_flag_notes_of_deleted_account)
