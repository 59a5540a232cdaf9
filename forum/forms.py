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
