"""Forum forms. Rules that need the database (trust, locks, suspensions) live in the services."""

from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Optional

from .models import CATEGORY_NAME_MAX, TITLE_MAX

MARKDOWN_HINT = (
    "Markdown: **bold**, *italic*, [link text](https://…), lists, `code`. "
    "No images or HTML. Links are marked nofollow."
)


class TopicForm(FlaskForm):
    # Checked by the service, which reports every field's problem at once.
    title = StringField("Title", render_kw={"maxlength": TITLE_MAX})
    body = TextAreaField("Message")


class ReplyForm(FlaskForm):
    body = TextAreaField("Your reply", id="reply-body")


class EditPostForm(FlaskForm):
    title = StringField("Title", render_kw={"maxlength": TITLE_MAX})
    body = TextAreaField("Message")
    version = HiddenField()


class DeletePostForm(FlaskForm):
    pass


class TopicToolForm(FlaskForm):
    """Lock/unlock, pin/unpin: the button pressed names the action."""

    action = HiddenField()


class MoveTopicForm(FlaskForm):
    category = SelectField("Move to category", coerce=str, validators=[InputRequired("Choose a category.")])


class CategoryForm(FlaskForm):
    name = StringField(
        "Name", validators=[InputRequired("Enter a name.")], render_kw={"maxlength": CATEGORY_NAME_MAX}
    )
    description = TextAreaField("Description (optional)", validators=[Optional()])
    position = IntegerField("Order (lower numbers come first; empty puts it last)", validators=[Optional()])


class SuspendForm(FlaskForm):
    reason = TextAreaField("Reason (the member is shown this)", validators=[InputRequired("Say why.")])
    until = DateField("Suspended until the end of (UTC)", validators=[InputRequired("Choose the last day.")])
