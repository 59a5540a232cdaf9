"""Removal request forms. The rules that matter (addresses, links, reasons) live in the services."""

from flask_wtf import FlaskForm
from wtforms import EmailField, IntegerField, RadioField, SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Optional, StopValidation

from .models import CLOSE_REASONS, REFUSAL_REASONS, REMOVAL_KINDS, SCOPES


def choices(mapping: dict, placeholder: str | None = None) -> list[SelectChoice]:
    options = [SelectChoice("", placeholder)] if placeholder else []
    return options + [SelectChoice(value, label) for value, label in mapping.items()]


class ChoiceRadioField(RadioField):
    """A radio group whose message for a missing or unknown choice says what to do."""

    def __init__(self, label, mapping: dict, message, **kwargs):
        super().__init__(label, choices=choices(mapping), validators=[InputRequired(message)], **kwargs)
        self.allowed = set(mapping)
        self.message = message

    def pre_validate(self, form):
        if self.data not in self.allowed:
            raise StopValidation(self.message)


class RemovalRequestForm(FlaskForm):
    email = EmailField("Your email address", validators=[InputRequired("Enter your email address.")])
    scope = ChoiceRadioField(
        "What should we remove?", SCOPES, "Choose what you want removed.", default="links"
    )
    links = TextAreaField("Links to the pages (one per line)")
    removal_kind = ChoiceRadioField(
        "What kind of removal?", REMOVAL_KINDS, "Choose what kind of removal you ask for.", default="whole"
    )
    details = TextAreaField("Anything else we should know (optional)")


class ConfirmForm(FlaskForm):
    """Only the Confirm button: a POST, so mail scanners that follow links confirm nothing."""


class ItemDecisionForm(FlaskForm):
    decision = ChoiceRadioField(
        "Decision",
        {"remove": "Remove it everywhere", "refuse": "Refuse (give a reason)"},
        "Choose remove or refuse.",
    )
    refusal_reason = SelectField(
        "Reason for refusing",
        choices=choices(REFUSAL_REASONS, "Choose a reason for refusing"),
        validate_choice=False,
    )
    explanation = TextAreaField("Explanation for the requester (required when refusing)")


class ExtendForm(FlaskForm):
    days = IntegerField("Extend by (days)", validators=[Optional()])
    reason = TextAreaField("Reason, sent to the requester")


class CloseForm(FlaskForm):
    reason = SelectField(
        "Why nothing can be removed", choices=choices(CLOSE_REASONS, "Choose a reason"), validate_choice=False
    )
    explanation = TextAreaField("Explanation for the requester")


class AddItemsForm(FlaskForm):
    links = TextAreaField("Links to more pages this request is about (one per line)")
