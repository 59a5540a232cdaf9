"""Helpers shared by every form-handling view."""

from __future__ import annotations

import re

from flask import render_template, request

from .errors import ValidationFailed


def apply_errors(form, error: ValidationFailed) -> None:
    """Show a service's validation errors next to the matching fields."""
    for name, messages in error.field_errors.items():
        field = getattr(form, name, None)
        if field is None:
            form.form_errors.extend(messages)
        else:
            field.errors = list(field.errors) + list(messages)
    if not error.field_errors:
        form.form_errors.append(error.message)


def page_form(form_class, **kwargs):
    """A form on a public page (product, topic, blog post). Signed-in members get it with its CSRF
    token; anonymous visitors, who are never shown it, get it without one, so that their GET writes
    no session (and the page can be cached and shared)."""
    from flask_login import current_user

    if current_user.is_authenticated:
        return form_class(**kwargs)
    return form_class(meta={"csrf": False}, **kwargs)


def render_form(template: str, form, **context):
    """Render a form page: 422 when a submitted form has errors, else 200."""
    status = 422 if request.method == "POST" and (form.errors or form.form_errors) else 200
    return render_template(template, form=form, **context), status


def form_anchor(form) -> str:
    """The id of a form's error summary (stable per form class and prefix, so a page
    with several forms gives each summary its own id)."""
    raw = f"{getattr(form, '_prefix', '')}{type(form).__name__}"
    slug = re.sub(r"[^a-z0-9]+", "-", raw.lower()).strip("-")
    return f"{slug or 'form'}-errors"


def error_target(field) -> str | None:
    """The id a summary link points to: the field's control (a radio group's fieldset carries
    the field's id); None for hidden fields (out-of-date form, CSRF), whose message is shown as text."""
    widget = getattr(field, "widget", None)
    if getattr(widget, "input_type", None) == "hidden" or field.type in ("CSRFTokenField", "HiddenField"):
        return None
    return field.id


def error_messages(form) -> list[tuple[str | None, str | None, str]]:
    """Every problem of a form, in order, as (target id or None, field label or None, message):
    the form's own errors first, then each field's (FormField errors flattened)."""
    problems: list[tuple[str | None, str | None, str]] = [
        (None, None, message) for message in form.form_errors
    ]
    for field in form:
        errors = field.errors
        if isinstance(errors, dict):
            errors = [m for messages in errors.values() for m in messages]
        label = field.label.text if getattr(field, "label", None) is not None else None
        target = error_target(field)
        problems.extend((target, label if target else None, message) for message in errors)
    return problems
