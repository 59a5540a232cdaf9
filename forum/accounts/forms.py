"""Account forms. Field rules that need the database live in the services."""

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, InputRequired, Length

EMAIL_MAX = 254


class RegisterForm(FlaskForm):
    email = EmailField(
        "Email address", validators=[DataRequired("Enter your email address."), Length(max=EMAIL_MAX)]
    )
    display_name = StringField(
        "Display name (shown with what you post)",
        validators=[DataRequired("Enter a display name."), Length(max=80)],
    )
    password = PasswordField(
        "Password (at least 8 characters)", validators=[InputRequired("Choose a password.")]
    )
    confirm = PasswordField(
        "Repeat the password",
        validators=[
            InputRequired("Repeat the password."),
            EqualTo("password", "The passwords do not match."),
        ],
    )


class LoginForm(FlaskForm):
    email = EmailField(
        "Email address", validators=[DataRequired("Enter your email address."), Length(max=EMAIL_MAX)]
    )
    password = PasswordField("Password", validators=[InputRequired("Enter your password.")])
    remember = BooleanField("Keep me signed in on this device")


class ResetRequestForm(FlaskForm):
    email = EmailField(
        "Email address", validators=[DataRequired("Enter your email address."), Length(max=EMAIL_MAX)]
    )


class ResetPasswordForm(FlaskForm):
    password = PasswordField(
        "New password (at least 8 characters)", validators=[InputRequired("Choose a password.")]
    )
    confirm = PasswordField(
        "Repeat the new password",
        validators=[
            InputRequired("Repeat the password."),
            EqualTo("password", "The passwords do not match."),
        ],
    )


# The three "My account" forms share one page: their element ids are distinct
# (field names stay plain) so each label belongs to exactly one input.


class DisplayNameForm(FlaskForm):
    display_name = StringField(
        "Display name",
        id="name-display-name",
        validators=[DataRequired("Enter a display name."), Length(max=80)],
    )


class EmailForm(FlaskForm):
    email = EmailField(
        "New email address",
        id="email-new-email",
        validators=[DataRequired("Enter your email address."), Length(max=EMAIL_MAX)],
    )
    current_password = PasswordField(
        "Current password",
        id="email-current-password",
        validators=[InputRequired("Enter your current password.")],
    )


class PasswordForm(FlaskForm):
    current_password = PasswordField(
        "Current password",
        id="password-current-password",
        validators=[InputRequired("Enter your current password.")],
    )
    new_password = PasswordField(
        "New password (at least 8 characters)",
        id="password-new-password",
        validators=[InputRequired("Choose a new password.")],
    )
    confirm = PasswordField(
        "Repeat the new password",
        id="password-confirm",
        validators=[
            InputRequired("Repeat the new password."),
            EqualTo("new_password", "The passwords do not match."),
        ],
    )


class DeleteAccountForm(FlaskForm):
    password = PasswordField("Your password", validators=[InputRequired("Enter your password to confirm.")])
    confirm = BooleanField(
        "I understand that my account and the content described above will be deleted",
        validators=[DataRequired("Tick the box to confirm.")],
    )
