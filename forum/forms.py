"""Helpers shared by every form-handling view."""

from __future__ import annotations

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
