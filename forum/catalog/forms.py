"""The review form.

Fields hand the service exactly what was typed: WTForms' StringField and
TextAreaField keep the raw value (no strip, no newline change) and we add no
filters. The rules (required, lengths, NUL) live in services.submit_review so
they hold for every caller; the form only renders and carries CSRF.
"""

from flask_wtf import FlaskForm
from wtforms import HiddenField, MultipleFileField, RadioField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice

from .models import REVIEW_BODY_MAX, REVIEW_TITLE_MAX

RATING_CHOICES = [
    SelectChoice("5", "5 stars (excellent)"),
    SelectChoice("4", "4 stars (good)"),
    SelectChoice("3", "3 stars (average)"),
    SelectChoice("2", "2 stars (poor)"),
    SelectChoice("1", "1 star (very poor)"),
]


class ReviewForm(FlaskForm):
    # validate_choice off: an unknown value gets the service's clear message, not WTForms' "Not a valid choice".
    rating = RadioField("Your rating", choices=RATING_CHOICES, validate_choice=False)
    title = StringField("Title")
    body = TextAreaField("Your review")
    photos = MultipleFileField("Photos (optional)")
    # The single-use invitation link the member came from, if any.
    invitation = HiddenField()

    title_hint = f"Up to {REVIEW_TITLE_MAX:,} characters."
    body_hint = (
        f"Plain text, up to {REVIEW_BODY_MAX:,} characters. Blank lines separate paragraphs; "
        "web addresses become links. It is published exactly as you write it, once a moderator approves it."
    )
    photos_hint = (
        "Up to 4 photos, JPEG, PNG or WebP, up to 8 MB each. We remove everything stored inside the files "
        "(camera details, location) and shrink large ones to 2048 pixels; they are shown once your review is published."
    )


class ReplyForm(FlaskForm):
    body = TextAreaField("The company's reply")
    body_hint = "Plain text, shown under the review as the company's reply. The customer is mailed; every edit is kept."
