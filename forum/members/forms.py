"""Forms of the members' area. Rules live in the services."""

from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, StringField
from wtforms.fields.choices import SelectChoice

from .models import HANDLE_MAX
from .services import DEFAULT_MODES, KIND_LABELS, MODE_LABELS


class ActionForm(FlaskForm):
    """A button that changes one thing (like, watch, mark read): only the CSRF token."""


class ProfileForm(FlaskForm):
    handle = StringField(
        "Handle",
        description="Letters, digits, _ and -; others mention you as @handle.",
        render_kw={"maxlength": HANDLE_MAX, "autocapitalize": "none", "spellcheck": "false"},
    )
    activity_hidden = BooleanField("Hide my recent reviews and posts from my public profile")


def preferences_form(modes: dict, formdata=None):
    """One radio group per kind of notification: at once, daily digest or never."""

    class PreferencesForm(FlaskForm):
        pass

    for kind in DEFAULT_MODES:
        setattr(
            PreferencesForm,
            kind,
            RadioField(
                KIND_LABELS[kind],
                choices=[SelectChoice(value, label) for value, label in MODE_LABELS.items()],
                default=modes.get(kind),
            ),
        )
    form = PreferencesForm() if formdata is None else PreferencesForm(formdata=formdata)
    return form
