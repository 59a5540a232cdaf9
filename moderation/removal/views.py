"""Removal request pages: the public form, confirmation, the private status page,
and the moderators' decision page. Views parse and render; services decide."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from forum.accounts.services import normalise_email
from forum.errors import Conflict, ValidationFailed
from forum.extensions import limiter
from forum.forms import apply_errors, render_form
from forum.paging import page_arg
from moderation.kinds import QueueSection

from . import bp, services
from .forms import AddItemsForm, CloseForm, ConfirmForm, ExtendForm, ItemDecisionForm, RemovalRequestForm
from .models import CLOSED_STATES, STATUS_LABELS


def _limit(name: str):
    return lambda: current_app.config[name]


def _email_key() -> str:
    """One counter per address however it is spelled (case, spaces, Unicode forms)."""
    raw = (request.form.get("email") or "")[:300]
    try:
        address = normalise_email(raw)
    except ValidationFailed:
        address = raw.strip().lower()
    return "removal-email:" + address


@bp.after_request
def _private_pages(response):
    # Status and confirmation pages carry secrets in their address and personal data:
    # never cached, never sent on as a referrer.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


# --- public ---------------------------------------------------------------------


def _form_page(form):
    return render_form("removal/request_form.html", form, **_deadlines())


def _deadlines() -> dict:
    config = current_app.config
    return dict(
        confirm_hours=config["REMOVAL_CONFIRM_HOURS"],
        response_days=config["REMOVAL_RESPONSE_DAYS"],
        max_extension_days=config["REMOVAL_MAX_EXTENSION_DAYS"],
    )


@bp.route("/removal-request", methods=["GET", "POST"])
@limiter.limit(_limit("RATELIMIT_REMOVAL_IP"), methods=["POST"])
@limiter.limit(_limit("RATELIMIT_REMOVAL_EMAIL"), methods=["POST"], key_func=_email_key)
def request_form():
    form = RemovalRequestForm()
    if request.method == "GET" and current_user.is_authenticated:
        form.email.data = current_user.email
    if form.validate_on_submit():
        try:
            services.submit_request(
                form.email.data, form.scope.data, form.links.data, form.removal_kind.data, form.details.data
            )
        except ValidationFailed as error:
            apply_errors(form, error)
        else:
            # The same page for every address, whether or not it has content here.
            return render_template("removal/check_email.html", **_deadlines())
    elif request.method == "POST" and "csrf_token" not in form.errors:
        # Show every problem at once, not the form's first and the service's after a second try.
        try:
            services.check_request(
                form.email.data, form.scope.data, form.links.data, form.removal_kind.data, form.details.data
            )
        except ValidationFailed as error:
            more = {
                name: messages
                for name, messages in error.field_errors.items()
                if not getattr(form, name).errors
            }
            if more:
                apply_errors(form, ValidationFailed(field_errors=more))
    return _form_page(form)


def _link_gone(error: services.LinkGone):
    return render_template("removal/link_gone.html", message=error.message, used=error.used), 410


@bp.route("/removal-request/confirm/<token>", methods=["GET", "POST"])
def confirm(token: str):
    try:
        rr = services.request_for_confirm_token(token)
    except services.LinkGone as error:
        return _link_gone(error)
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            rr, status_token = services.confirm_request(token)
        except services.LinkGone as error:
            return _link_gone(error)
        flash(
            f"Thank you: your request {rr.reference} is confirmed. We have emailed you this page's address.",
            "success",
        )
        return redirect(url_for("removal.status", token=status_token), code=303)
    return render_template("removal/confirm.html", form=form, rr=rr, **_deadlines())


@bp.route("/removal-request/status/<token>")
def status(token: str):
    rr = services.request_for_status_token(token)
    return render_template(
        "removal/status.html",
        rr=rr,
        items=services.item_views(rr),
        complaint_contact=current_app.config["REMOVAL_COMPLAINT_CONTACT"],
        supervisory_authority=current_app.config["REMOVAL_SUPERVISORY_AUTHORITY"],
        format_day=services.format_day,
    )


# --- moderators -------------------------------------------------------------------


def _moderator():
    services.require_moderator(current_user)
    return current_user._get_current_object()


def _decision_page(request_id: int, status: int = 200, **forms):
    rr = services.get_request(request_id)
    items = services.item_views(rr)
    decision_forms = {
        view.row.id: forms.get(f"item{view.row.id}") or ItemDecisionForm(prefix=f"item{view.row.id}")
        for view in items
        if view.row.decision is None
    }
    remaining = current_app.config["REMOVAL_MAX_EXTENSION_DAYS"] - rr.extension_days
    return render_template(
        "removal/decision.html",
        rr=rr,
        items=items,
        decision_forms=decision_forms,
        extend_form=forms.get("extend") or ExtendForm(),
        close_form=forms.get("close") or CloseForm(),
        add_form=forms.get("add") or AddItemsForm(),
        remaining_extension_days=remaining,
        format_day=services.format_day,
    ), status


@bp.route("/moderation/removal-requests")
def moderator_list():
    _moderator()
    wanted = request.args.get("status") or None
    if wanted not in STATUS_LABELS:
        wanted = None
    page = page_arg()
    return render_template(
        "removal/list.html",
        pagination=services.list_requests(wanted, page=page),
        wanted=wanted,
        status_labels=STATUS_LABELS,
        format_day=services.format_day,
    )


@bp.route("/moderation/removal-requests/<int:request_id>")
def decision(request_id: int):
    moderator = _moderator()
    page = _decision_page(request_id)
    from moderation.desk import claim

    claim("removal_request", request_id, moderator)  # "being reviewed by" on the desk; never blocks
    return page


def _after_decision(request_id: int):
    return redirect(url_for("removal.decision", request_id=request_id), code=303)


@bp.route("/moderation/removal-requests/<int:request_id>/items/<int:item_id>", methods=["POST"])
def decide_item(request_id: int, item_id: int):
    moderator = _moderator()
    form = ItemDecisionForm(prefix=f"item{item_id}")
    if form.validate_on_submit():
        try:
            rr = services.decide_item(
                request_id,
                item_id,
                moderator,
                form.decision.data,
                form.refusal_reason.data or None,
                form.explanation.data,
            )
        except ValidationFailed as error:
            apply_errors(form, error)
        except Conflict as error:
            flash(error.message, "error")
            return _after_decision(request_id)
        else:
            flash(
                "Decision recorded."
                + (
                    f" Request {rr.reference} is closed and the requester was emailed."
                    if rr.status in CLOSED_STATES
                    else ""
                ),
                "success",
            )
            return _after_decision(request_id)
    return _decision_page(request_id, 422, **{f"item{item_id}": form})


@bp.route("/moderation/removal-requests/<int:request_id>/extend", methods=["POST"])
def extend(request_id: int):
    moderator = _moderator()
    form = ExtendForm()
    if form.validate_on_submit():
        try:
            rr = services.extend_deadline(request_id, moderator, form.days.data, form.reason.data)
        except ValidationFailed as error:
            apply_errors(form, error)
        except Conflict as error:
            flash(error.message, "error")
            return _after_decision(request_id)
        else:
            flash(
                f"The deadline is now {services.format_day(rr.due_at)}; the requester was emailed the reason.",
                "success",
            )
            return _after_decision(request_id)
    return _decision_page(request_id, 422, extend=form)


@bp.route("/moderation/removal-requests/<int:request_id>/close", methods=["POST"])
def close(request_id: int):
    moderator = _moderator()
    form = CloseForm()
    if form.validate_on_submit():
        try:
            services.close_without_items(
                request_id, moderator, form.reason.data or None, form.explanation.data
            )
        except ValidationFailed as error:
            apply_errors(form, error)
        except Conflict as error:
            flash(error.message, "error")
            return _after_decision(request_id)
        else:
            flash("The request is closed and the requester was emailed the reason.", "success")
            return _after_decision(request_id)
    return _decision_page(request_id, 422, close=form)


@bp.route("/moderation/removal-requests/<int:request_id>/items", methods=["POST"])
def add_items(request_id: int):
    moderator = _moderator()
    form = AddItemsForm()
    if form.validate_on_submit():
        try:
            added = services.add_items(
                request_id,
                moderator,
                form.links.data,
                include_account=request.form.get("include_account") == "1",
            )
        except ValidationFailed as error:
            apply_errors(form, error)
        except Conflict as error:
            flash(error.message, "error")
            return _after_decision(request_id)
        else:
            flash(
                f"{added} item{'s' if added != 1 else ''} added." if added else "Nothing new was found.",
                "success" if added else "info",
            )
            return _after_decision(request_id)
    return _decision_page(request_id, 422, add=form)


# --- the one moderation queue and /transparency -------------------------------------------


def queue_section(moderator=None):
    """Open requests for the moderation queue, most urgent first (an empty section keeps its filter)."""
    from moderation.desk import DeskRow

    rows = services.open_requests()
    desk_rows = []
    for rr in rows:
        waiting = sum(1 for item in rr.items if item.decision is None)
        desk_rows.append(
            DeskRow(
                key="removal_request",
                kind_label="Removal request",
                subject_kind="removal_request",
                subject_id=rr.id,
                title=f"{rr.reference}: {rr.scope_label}; {rr.removal_kind_label.lower()}",
                since=rr.confirmed_at or rr.created_at,
                endpoint="removal.decision",
                values={"request_id": rr.id},
                reasons=["removal_request", "overdue"] if rr.is_overdue else ["removal_request"],
                why=f"{waiting} of {len(rr.items)} item{'s' if len(rr.items) != 1 else ''} to decide",
                author=None,
                due_at=rr.due_at,
                overdue=rr.is_overdue,
                # In the desk's "oldest first" a request sorts by its deadline: the answer is due
                # REMOVAL_RESPONSE_DAYS after this moment (later when extended).
                sort_at=rr.due_at - timedelta(days=current_app.config["REMOVAL_RESPONSE_DAYS"]),
            )
        )
    return QueueSection(
        key="removal_request",
        label="Removal requests",
        template="removal/queue_section.html",
        items=rows,
        count=len(rows),
        overdue=sum(1 for rr in rows if rr.is_overdue),
        rows=desk_rows,
    )


def transparency_section(start, end):
    """/transparency: requests received and their outcomes in [start, end); plain data for the JSON too."""
    return "removal/transparency_section.html", {"removal_requests": services.transparency_stats(start, end)}
