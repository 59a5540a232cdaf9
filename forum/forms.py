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
