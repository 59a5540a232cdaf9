"""Blog forms. Length, NUL and emptiness rules live in the services (one place)."""

from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField, TextAreaField


class PostForm(FlaskForm):
    title = StringField("Title")
    body = TextAreaField(
        "Text (Markdown: **bold**, _italic_, [link](https://…), lists, > quotes; no images or HTML)"
    )
    # The version the editor loaded: saving over someone else's newer change is refused.
    version = HiddenField()


class CommentForm(FlaskForm):
    body = TextAreaField("Your comment (plain text; links become clickable)")


class ConfirmForm(FlaskForm):
    """A POST button with nothing but the CSRF token (and the version it acts on)."""

    version = HiddenField()
