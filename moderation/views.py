"""Moderation pages: the queue, decisions, item history and the public transparency report.

Views parse the request and render; every decision goes through
moderation.services, which checks, records and commits.
"""

from __future__ import annotations

from math import ceil
from urllib.parse import parse_qs, urlsplit

from flask import flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select

from forum.errors import NotFound, PermissionDenied, ValidationFailed
from forum.extensions import db, login_manager
from forum.paging import page_arg
from forum.forms import apply_errors
from forum.models import User
from forum.security import is_safe_next
from forum.timeutil import utcnow

from . import bp, services
from .forms import ApproveForm, BulkForm, PeriodForm, RejectForm, selection_value
from .kinds import KINDS, queue_sections
from .services import AlreadyDecided
from .states import HIDDEN, QUEUE_STATES, REJECTION_REASONS, reason_label
from .transparency import build_report, default_period, parse_period, report_as_json

PER_PAGE = 25
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


# --- the queue -------------------------------------------------------------------------

def _item_prefix(kind_name: str, item_id: int) -> str:
    return f"{kind_name}-{item_id}"


def _decision_forms(kind_name: str, item, next_url: str, approve_form=None, reject_form=None):
    prefix = _item_prefix(kind_name, item.id)
    if approve_form is None:
        approve_form = ApproveForm(formdata=None, prefix=prefix, data={"version": item.version, "next": next_url})
    if reject_form is None:
        reject_form = RejectForm(formdata=None, prefix=prefix, data={"version": item.version, "next": next_url})
    return approve_form, reject_form


def _authors(items) -> dict[int, User]:
    ids = {item.author_id for item in items if item.author_id is not None}
    if not ids:
        return {}
    return {user.id: user for user in db.session.scalars(select(User).where(User.id.in_(ids)))}


def _current_path() -> str:
    return request.full_path.rstrip("?")


def _back(next_url: str | None) -> str:
    if next_url and is_safe_next(next_url) and urlsplit(next_url).path.startswith("/moderation"):
        return next_url
    return url_for("moderation.queue")


def _render_section(section) -> Markup:
    return Markup(render_template(section.template, section=section, items=section.items))


def _render_queue(kind_filter: str | None, page: int, bulk_form: BulkForm | None = None,
                  next_url: str | None = None, status: int = 200):
    sections = queue_sections(current_user)
    section_keys = {section.key for section in sections}
    if kind_filter and kind_filter not in KINDS and kind_filter not in section_keys:
        raise NotFound("There is no such kind of item in the moderation queue.")
    counts = services.queue_counts()
    next_url = next_url or _current_path()

    shown_sections = [s for s in sections if s.key == kind_filter or (kind_filter is None and s.items)]
    rows, total = [], 0
    if kind_filter is None or kind_filter in KINDS:
        total = counts.get(kind_filter, 0) if kind_filter else sum(counts.values())
        rows = services.queue_items(kind_filter, limit=PER_PAGE, offset=(page - 1) * PER_PAGE)
    pages = max(1, ceil(total / PER_PAGE))

    authors = _authors(item for _, item in rows)
    forms = {(kind.name, item.id): _decision_forms(kind.name, item, next_url) for kind, item in rows}
    if bulk_form is None:
        bulk_form = BulkForm(formdata=None, prefix="bulk", data={"next": next_url})
    filters = [(None, "Everything", sum(counts.values()) + sum(s.count for s in sections))]
    filters += [(name, kind.label, counts.get(name, 0)) for name, kind in KINDS.items()]
    filters += [(s.key, s.label, s.count) for s in sections]
    return render_template(
        "moderation/queue.html",
        rows=rows,
        total=total,
        page=page,
        pages=pages,
        kind_filter=kind_filter,
        filters=filters,
        sections_html=[_render_section(s) for s in shown_sections],
        authors=authors,
        forms=forms,
        bulk_form=bulk_form,
        selection_value=selection_value,
        next_url=next_url,
        hidden_state=HIDDEN,
    ), status


def _page_number(raw: str | None) -> int:
    return page_arg(values=[raw] if raw is not None else [])


@bp.route("/moderation")
def queue():
    kind_filter = request.args.get("kind") or None
    return _render_queue(kind_filter, page_arg())


# --- one item: its page, approve, reject ---------------------------------------------------

def _render_item(kind_name: str, item, status: int = 200, approve_form=None, reject_form=None,
                 conflict: str | None = None):
    kind = KINDS[kind_name]
    next_url = (approve_form or reject_form).next.data if (approve_form or reject_form) else None
    next_url = _back(next_url)
    in_queue = item.status in QUEUE_STATES
    forms = _decision_forms(kind_name, item, next_url, approve_form, reject_form) if in_queue else None
    author = db.session.get(User, item.author_id) if item.author_id else None
    decided_by = db.session.get(User, item.decided_by_id) if item.decided_by_id else None
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
    ), status


@bp.route("/moderation/items/<kind_name>/<int:item_id>")
def item(kind_name, item_id):
    subject = services.load_subject(kind_name, item_id)
    return _render_item(kind_name, subject)


@bp.post("/moderation/items/<kind_name>/<int:item_id>/approve")
def approve(kind_name, item_id):
    subject = services.load_subject(kind_name, item_id)
    form = ApproveForm(prefix=_item_prefix(kind_name, item_id))
    if not form.validate_on_submit():
        return _render_item(kind_name, subject, 422, approve_form=form)
    try:
        services.approve_submission(kind_name, item_id, current_user, expected_version=form.version.data)
    except AlreadyDecided as error:
        return _render_item(kind_name, services.load_subject(kind_name, item_id), 409,
                            approve_form=form, conflict=error.message)
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
        decide(kind_name, item_id, current_user, reason=form.reason.data, note=form.note.data or None,
               expected_version=form.version.data)
    except AlreadyDecided as error:
        return _render_item(kind_name, services.load_subject(kind_name, item_id), 409,
                            reject_form=form, conflict=error.message)
    except ValidationFailed as error:
        apply_errors(form, error)
        return _render_item(kind_name, services.load_subject(kind_name, item_id), 422, reject_form=form)
    done = "Removed" if subject.status == "removed" else "Rejected"
    flash(f"{done}: {KINDS[kind_name].label} #{item_id} ({reason_label(form.reason.data)}). "
          "The author has been told why.", "success")
    return redirect(_back(form.next.data), 303)


# --- bulk ------------------------------------------------------------------------------------

def _queue_view_of(next_url: str | None) -> tuple[str | None, int]:
    """The kind filter and page a moderator came from, to show the same queue again."""
    query = parse_qs(urlsplit(_back(next_url)).query)
    kind_filter = (query.get("kind") or [None])[0] or None
    return kind_filter, _page_number((query.get("page") or [None])[0])


@bp.post("/moderation/bulk")
def bulk():
    form = BulkForm(prefix="bulk")
    next_url = _back(form.next.data)
    if form.validate_on_submit():
        try:
            result = services.decide_many(form.items(), form.action, current_user,
                                          reason=form.reason.data or None, note=form.note.data or None)
        except ValidationFailed as error:
            apply_errors(form, error)
        else:
            _flash_bulk_result(form.action, form.reason.data, result)
            return redirect(next_url, 303)
    kind_filter, page = _queue_view_of(next_url)
    if kind_filter not in KINDS:
        kind_filter = None
    return _render_queue(kind_filter, page, bulk_form=form, next_url=next_url, status=422)


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
        return render_template("moderation/transparency.html", form=form, period=None,
                               sections_html=[], error=error.message, reasons=REJECTION_REASONS.items(),
                               default=default_period()), 422
    sections_html = [
        Markup(render_template(section["template"], period=period, **section["context"]))
        for section in build_report(period)
    ]
    return render_template("moderation/transparency.html", form=form, period=period,
                           sections_html=sections_html, error=None, reasons=REJECTION_REASONS.items(),
                           default=default_period())


@bp.route("/transparency.json")
def transparency_json():
    _, period, error = _period_or_errors()
    if error is not None:
        response = jsonify({"error": error.message, "fields": error.field_errors, "status": 422})
        response.status_code = 422
        return response
    return jsonify(report_as_json(period, build_report(period)))
