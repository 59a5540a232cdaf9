"""Moderation pages: the queue, decisions, item history and the public transparency report.

Views parse the request and render; every decision goes through
moderation.services, which checks, records and commits.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

from flask import current_app, flash, g, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from markupsafe import Markup

from forum.errors import NotFound, PermissionDenied, ValidationFailed
from forum.extensions import db, login_manager
from forum.forms import apply_errors
from forum.models import User
from forum.paging import page_arg
from forum.security import is_safe_next
from forum.timeutil import utcnow

from . import bp, desk, services
from .forms import ApproveForm, BulkForm, PeriodForm, RejectForm
from .kinds import KINDS
from .services import AlreadyDecided
from .states import HIDDEN, QUEUE_STATES, REJECTION_REASONS, reason_label
from .transparency import build_report, default_period, parse_period, report_as_json

PUBLIC_ENDPOINTS = {"moderation.transparency", "moderation.transparency_json"}


@bp.before_request
def moderators_only():
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if not current_user.is_moderator:
        raise PermissionDenied("Only moderators and administrators can use the moderation queue.")
    return None


@bp.app_template_filter("queue_age")
def queue_age(moment) -> str:
    """How long an item has been waiting, in the largest sensible unit."""
    if moment is None:
        return ""
    seconds = max(0, int((utcnow() - moment).total_seconds()))
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = seconds // size
            return f"{n} {unit}{'' if n == 1 else 's'}"
    return "less than a minute"


@bp.app_template_filter("queue_age_short")
def queue_age_short(moment) -> str:
    """The same, compact, for the desk's rows: "<1 min", "5 min", "3 h", "2 d"."""
    if moment is None:
        return ""
    seconds = max(0, int((utcnow() - moment).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return "<1 min"


# --- the queue -------------------------------------------------------------------------


def _item_prefix(kind_name: str, item_id: int) -> str:
    return f"{kind_name}-{item_id}"


def _decision_forms(kind_name: str, item, next_url: str, approve_form=None, reject_form=None):
    prefix = _item_prefix(kind_name, item.id)
    if approve_form is None:
        approve_form = ApproveForm(
            formdata=None, prefix=prefix, data={"version": item.version, "next": next_url}
        )
    if reject_form is None:
        reject_form = RejectForm(
            formdata=None, prefix=prefix, data={"version": item.version, "next": next_url}
        )
    return approve_form, reject_form


def _current_path() -> str:
    return request.full_path.rstrip("?")


def _back(next_url: str | None) -> str:
    if next_url and is_safe_next(next_url) and urlsplit(next_url).path.startswith("/moderation"):
        return next_url
    return url_for("moderation.queue")


def _render_section(section) -> Markup:
    return Markup(render_template(section.template, section=section, items=section.items))


def _desk_filters(args) -> tuple[str | None, str | None, str]:
    """The list's kind, reason and order from query arguments (unknown values are ignored)."""
    kind_filter = args.get("kind") or None
    reason = args.get("reason") or None
    if reason not in desk.REASONS:
        reason = None
    order = args.get("order") if args.get("order") in desk.ORDERS else "oldest"
    return kind_filter, reason, order


def _list_args(kind_filter, reason, order) -> dict:
    args = {}
    if kind_filter:
        args["kind"] = kind_filter
    if reason:
        args["reason"] = reason
    if order != "oldest":
        args["order"] = order
    return args


def _render_queue(
    kind_filter: str | None,
    page: int,
    bulk_form: BulkForm | None = None,
    next_url: str | None = None,
    status: int = 200,
    reason: str | None = None,
    order: str = "oldest",
):
    counts = desk.desk_counts()
    labels = desk.tab_labels()
    if kind_filter and kind_filter not in labels:
        raise NotFound("There is no such kind of item in the moderation queue.")
    next_url = next_url or _current_path()
    result = desk.desk_page(current_user, kind_filter, reason, order, page)
    if bulk_form is None:
        bulk_form = BulkForm(formdata=None, prefix="bulk", data={"next": next_url})
    tabs: list[tuple[str | None, str, int]] = [(None, "Everything", counts["total"])]
    tabs += [(key, label, counts["tabs"].get(key, 0)) for key, label in labels.items()]
    list_args = _list_args(kind_filter, reason, order)
    return render_template(
        "moderation/queue.html",
        result=result,
        rows=result.rows,
        total=result.total,
        page=result.page,
        pages=result.pages,
        kind_filter=kind_filter,
        reason=reason,
        order=order,
        reasons=desk.REASONS,
        orders=desk.ORDERS,
        filters=tabs,
        overdue=counts["overdue"],
        list_args=list_args,
        sections_html=[_render_section(s) for s in result.legacy_sections],
        bulk_form=bulk_form,
        next_url=next_url,
        claim_minutes=desk.claim_minutes(),
    ), status


def _page_number(raw: str | None) -> int:
    return page_arg(values=[raw] if raw is not None else [])


@bp.route("/moderation")
def queue():
    kind_filter, reason, order = _desk_filters(request.args)
    return _render_queue(kind_filter, page_arg(), reason=reason, order=order)


@bp.route("/moderation/next")
def next_item():
    """Where a moderator lands after a decision: the next item of the list they came from."""
    kind_filter, reason, order = _desk_filters(request.args)
    after = None
    raw_after = request.args.get("after") or ""
    try:
        after = datetime.fromisoformat(raw_after) if raw_after else None
    except ValueError:
        after = None
    if after is not None and after.tzinfo is None:
        after = after.replace(tzinfo=UTC)
    skip = None
    skip_kind, _, skip_id = (request.args.get("skip") or "").partition(":")
    if skip_kind and skip_id.isascii() and skip_id.isdigit() and len(skip_id) < 13:
        skip = (skip_kind, int(skip_id))
    args = _list_args(kind_filter if kind_filter in desk.tab_labels() else None, reason, order)
    row = desk.next_row(current_user, args.get("kind"), reason, order, after=after, skip=skip)
    if row is None:
        flash("Nothing else is waiting in this list.", "info")
        return redirect(url_for("moderation.queue", **args), 303)
    if row.subject_kind in KINDS:
        return redirect(
            url_for("moderation.item", kind_name=row.subject_kind, item_id=row.subject_id, **args), 303
        )
    return redirect(row.url, 303)


# --- one item: its page, approve, reject ---------------------------------------------------


def _item_since(kind_name: str, item) -> datetime:
    """The item's place in the desk's order (flagged items sort by their first open flag)."""
    if item.status in QUEUE_STATES and item.status != HIDDEN:
        return item.created_at
    flagged = _open_flags(kind_name, item)
    return min((f.created_at for f in flagged), default=item.created_at)


def _open_flags(kind_name: str, item) -> list:
    if "flags" not in current_app.blueprints:
        return []
    from .flags import open_flags

    cache = g.setdefault("_item_open_flags", {})
    if (kind_name, item.id) not in cache:
        cache[(kind_name, item.id)] = open_flags(kind_name, item.id)
    return cache[(kind_name, item.id)]


def _render_item(
    kind_name: str, item, status: int = 200, approve_form=None, reject_form=None, conflict: str | None = None
):
    kind = KINDS[kind_name]
    kind_filter, reason, order = _desk_filters(request.args)
    list_args = _list_args(kind_filter, reason, order)
    back_url = url_for("moderation.queue", **list_args)
    default_next = url_for(
        "moderation.next_item",
        **list_args,
        after=_item_since(kind_name, item).isoformat(),
        skip=f"{kind_name}:{item.id}",
    )
    next_url = (approve_form or reject_form).next.data if (approve_form or reject_form) else None
    next_url = _back(next_url or default_next)
    in_queue = item.status in QUEUE_STATES
    forms = _decision_forms(kind_name, item, next_url, approve_form, reject_form) if in_queue else None
    author = db.session.get(User, item.author_id) if item.author_id else None
    decided_by = db.session.get(User, item.decided_by_id) if item.decided_by_id else None
    flags = _open_flags(kind_name, item)
    from .flags import FLAG_REASONS

    reason_counts = Counter(FLAG_REASONS.get(f.reason, f.reason) for f in flags).most_common()
    claims = desk.claims_by_others([(kind_name, item.id)], current_user)
    return render_template(
        "moderation/item.html",
        kind=kind,
        item=item,
        author=author,
        decided_by=decided_by,
        decision_reason=reason_label(item.decision_reason) if item.decision_reason else None,
        history=services.item_history(kind_name, item.id),
        forms=forms,
        conflict=conflict,
        hidden_state=HIDDEN,
        next_url=next_url,
        back_url=back_url,
        flags=flags,
        flag_reason_counts=reason_counts,
        claimed_by=claims.get((kind_name, item.id)),
    ), status


@bp.route("/moderation/items/<kind_name>/<int:item_id>")
def item(kind_name, item_id):
    subject = services.load_subject(kind_name, item_id)
    page = _render_item(kind_name, subject)
    if subject.status in QUEUE_STATES or _open_flags(kind_name, subject):
        desk.claim(kind_name, item_id, current_user)  # others see "being reviewed by"; it never blocks
    return page


@bp.post("/moderation/items/<kind_name>/<int:item_id>/approve")
def approve(kind_name, item_id):
    subject = services.load_subject(kind_name, item_id)
    form = ApproveForm(prefix=_item_prefix(kind_name, item_id))
    if not form.validate_on_submit():
        return _render_item(kind_name, subject, 422, approve_form=form)
    try:
        services.approve_submission(kind_name, item_id, current_user, expected_version=form.version.data)
    except AlreadyDecided as error:
        return _render_item(
            kind_name,
            services.load_subject(kind_name, item_id),
            409,
            approve_form=form,
            conflict=error.message,
        )
    except ValidationFailed as error:
        apply_errors(form, error)
        return _render_item(kind_name, services.load_subject(kind_name, item_id), 422, approve_form=form)
    flash(f"Approved: {KINDS[kind_name].label} #{item_id} is published exactly as submitted.", "success")
    return redirect(_back(form.next.data), 303)


@bp.post("/moderation/items/<kind_name>/<int:item_id>/reject")
def reject(kind_name, item_id):
    """Reject a pending item, or remove a hidden one: either way with a reason from the list."""
    subject = services.load_subject(kind_name, item_id)
    form = RejectForm(prefix=_item_prefix(kind_name, item_id))
    if not form.validate_on_submit():
        return _render_item(kind_name, subject, 422, reject_form=form)
    decide = services.remove_submission if subject.status == HIDDEN else services.reject_submission
    try:
        decide(
            kind_name,
            item_id,
            current_user,
            reason=form.reason.data,
            note=form.note.data or None,
            expected_version=form.version.data,
        )
    except AlreadyDecided as error:
        return _render_item(
            kind_name,
            services.load_subject(kind_name, item_id),
            409,
            reject_form=form,
            conflict=error.message,
        )
    except ValidationFailed as error:
        apply_errors(form, error)
        return _render_item(kind_name, services.load_subject(kind_name, item_id), 422, reject_form=form)
    done = "Removed" if subject.status == "removed" else "Rejected"
    flash(
        f"{done}: {KINDS[kind_name].label} #{item_id} ({reason_label(form.reason.data)}). "
        "The author has been told why.",
        "success",
    )
    return redirect(_back(form.next.data), 303)


# --- bulk ------------------------------------------------------------------------------------


def _queue_view_of(next_url: str | None) -> tuple[str | None, int, str | None, str]:
    """The filters and page a moderator came from, to show the same list again."""
    query = {key: values[0] for key, values in parse_qs(urlsplit(_back(next_url)).query).items()}
    kind_filter, reason, order = _desk_filters(query)
    return kind_filter, _page_number(query.get("page")), reason, order


@bp.post("/moderation/bulk")
def bulk():
    form = BulkForm(prefix="bulk")
    next_url = _back(form.next.data)
    if form.validate_on_submit():
        try:
            result = services.decide_many(
                form.items(),
                form.action,
                current_user,
                reason=form.reason.data or None,
                note=form.note.data or None,
            )
        except ValidationFailed as error:
            apply_errors(form, error)
        else:
            _flash_bulk_result(form.action, form.reason.data, result)
            return redirect(next_url, 303)
    kind_filter, page, reason, order = _queue_view_of(next_url)
    if kind_filter not in desk.tab_labels():
        kind_filter = None
    return _render_queue(
        kind_filter, page, bulk_form=form, next_url=next_url, status=422, reason=reason, order=order
    )


def _flash_bulk_result(action: str, reason: str | None, result: dict) -> None:
    done = len(result["done"])
    noun = "item" if done == 1 else "items"
    if action == "approve":
        flash(f"Approved {done} {noun}; each is published exactly as submitted.", "success")
    else:
        flash(f"Rejected {done} {noun} ({reason_label(reason)}). The authors have been told why.", "success")
    for kind_name, item_id, message in result["conflicts"]:
        label = KINDS[kind_name].label if kind_name in KINDS else kind_name
        flash(f"{label} #{item_id} was not changed: {message}", "warning")


# --- transparency (public) -------------------------------------------------------------------


def _period_or_errors():
    form = PeriodForm(request.args)
    try:
        period = parse_period(request.args.get("from"), request.args.get("to"))
    except ValidationFailed as error:
        for name, field in (("from", form.start), ("to", form.end)):
            field.errors = list(error.field_errors.get(name, []))
        return form, None, error
    form.start.data = period.first_day.isoformat()
    form.end.data = period.last_day.isoformat()
    return form, period, None


@bp.route("/transparency")
def transparency():
    form, period, error = _period_or_errors()
    if error is not None:
        return render_template(
            "moderation/transparency.html",
            form=form,
            period=None,
            sections_html=[],
            error=error.message,
            reasons=REJECTION_REASONS.items(),
            default=default_period(),
        ), 422
    sections_html = [
        Markup(render_template(section["template"], period=period, **section["context"]))
        for section in build_report(period)
    ]
    return render_template(
        "moderation/transparency.html",
        form=form,
        period=period,
        sections_html=sections_html,
        error=None,
        reasons=REJECTION_REASONS.items(),
        default=default_period(),
    )


@bp.route("/transparency.json")
def transparency_json():
    _, period, error = _period_or_errors()
    if error is not None:
        response = jsonify({"error": error.message, "fields": error.field_errors, "status": 422})
        response.status_code = 422
        return response
    return jsonify(report_as_json(period, build_report(period)))


# --- the moderators' statistics --------------------------------------------------------------


@bp.route("/moderation/stats")
def stats():
    from .stats import ACTION_LABELS, DECISIONS, PERIODS, desk_stats, format_wait

    raw = request.args.get("days") or ""
    days = int(raw) if raw.isascii() and raw.isdigit() and int(raw) in PERIODS else 30
    return render_template(
        "moderation/stats.html",
        stats=desk_stats(current_user, days),
        periods=PERIODS,
        actions=DECISIONS,
        action_labels=ACTION_LABELS,
        format_wait=format_wait,
    )
