"""Moderation forms. Every decision names the version of the item it was made on."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    Form,
    HiddenField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, InputRequired, Length, Optional, ValidationError
from wtforms.widgets import HiddenInput

from .states import REJECTION_REASONS

NOTE_MAX = 2000
CHOOSE_REASON = "Choose a reason from the list."
REASON_CHOICES = [
    SelectChoice("", "Choose a reason…"),
    *(SelectChoice(code, label) for code, label in REJECTION_REASONS.items()),
]


def _no_nul(form, field):
    if field.data and "\x00" in field.data:
        raise ValidationError("The note contains a NUL character, which cannot be stored. Please remove it.")


class _Decision(FlaskForm):
    version = IntegerField(
        widget=HiddenInput(),
        validators=[InputRequired("This form is out of date. Please reload the queue and decide again.")],
    )
    # Where to go back to afterwards (the queue page and filter the moderator came from).
    next = HiddenField()


class ApproveForm(_Decision):
    submit = SubmitField("Approve")


class RejectForm(_Decision):
    # No default choice: a reason must be picked on purpose. The list is about
    # content only; nothing in it refers to rating or opinion.
    reason = SelectField(
        "Reason",
        choices=REASON_CHOICES,
        validate_choice=False,
        validators=[InputRequired(CHOOSE_REASON), AnyOf(list(REJECTION_REASONS), CHOOSE_REASON)],
    )
    note = TextAreaField(
        "Note to the author (optional)",
        validators=[
            Optional(),
            Length(max=NOTE_MAX, message=f"Keep the note under {NOTE_MAX} characters."),
            _no_nul,
        ],
    )
    submit = SubmitField("Reject")


class BulkForm(FlaskForm):
    """One form for many items: the checkboxes live beside each item and join
    this form through the HTML `form` attribute, so it works without JavaScript."""

    selected = SelectMultipleField("Select", validate_choice=False)
    reason = SelectField(
        "Reason for rejecting the selected items",
        choices=REASON_CHOICES,
        validate_choice=False,
        validators=[Optional(), AnyOf(list(REJECTION_REASONS), CHOOSE_REASON)],
    )
    note = TextAreaField(
        "Note to the authors (optional)",
        validators=[
            Optional(),
            Length(max=NOTE_MAX, message=f"Keep the note under {NOTE_MAX} characters."),
            _no_nul,
        ],
    )
    next = HiddenField()
    approve = SubmitField("Approve selected")
    reject = SubmitField("Reject selected")

    def validate_selected(self, field):
        if not field.data:
            raise ValidationError("Select at least one item.")
        for value in field.data:
            if parse_selection(value) is None:
                raise ValidationError("The selection is out of date. Please reload the queue.")

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        # Optional() stops the reason's own checks when it is empty, so the
        # "required for rejecting" rule is checked here.
        if self.reject.data and not self.reason.data:
            self.reason.errors = [*self.reason.errors, CHOOSE_REASON]
            valid = False
        if not (self.reject.data or self.approve.data):
            self.form_errors.append("Choose “Approve selected” or “Reject selected”.")
            valid = False
        return valid

    @property
    def action(self) -> str | None:
        if self.reject.data:
            return "reject"
        if self.approve.data:
            return "approve"
        return None

    def items(self) -> list[tuple[str, int, int] | None]:
        return [parse_selection(value) for value in self.selected.data]


def selection_value(kind_name: str, item_id: int, version: int) -> str:
    return f"{kind_name}:{item_id}:{version}"


def parse_selection(value: str) -> tuple[str, int, int] | None:
    parts = (value or "").split(":")
    # isascii: str.isdigit() also accepts digits such as "²" that int() refuses.
    if len(parts) != 3 or not parts[0] or not all(p.isascii() and p.isdigit() for p in parts[1:]):
        return None
    if len(parts[1]) > 12 or len(parts[2]) > 12:
        return None
    return parts[0], int(parts[1]), int(parts[2])


class PeriodForm(Form):
    """The transparency page's period (a GET form: it changes nothing, so no CSRF)."""

    start = StringField("From (YYYY-MM-DD)", name="from", render_kw={"type": "date"})
    end = StringField("To (YYYY-MM-DD)", name="to", render_kw={"type": "date"})
