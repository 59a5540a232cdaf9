"""Account pages: they parse the request, call a service and render."""

from __future__ import annotations

import json

from flask import Response, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from ..errors import AuthenticationFailed, ValidationFailed
from ..extensions import limiter
from ..forms import apply_errors, render_form
from ..security import is_safe_next
from . import bp, services
from .forms import (
    DeleteAccountForm,
    DisplayNameForm,
    EmailForm,
    LoginForm,
    PasswordForm,
    RegisterForm,
    ResetPasswordForm,
    ResetRequestForm,
)


def _limit(name: str):
    return lambda: current_app.config[name]


def _start_session(user, remember: bool = False) -> None:
    # A fresh session at login: nothing from before it carries over.
    session.clear()
    login_user(user, remember=remember)


def _end_session() -> None:
    # Clear first: logout_user() then leaves its "forget the remember-me cookie"
    # flag in the session, so "Keep me signed in" cannot outlive a logout.
    session.clear()
    logout_user()


def _safe_next() -> str | None:
    """The `next` page (query or form) if it is on this site, else None."""
    next_url = request.values.get("next")
    return next_url if is_safe_next(next_url) else None


def _login_email_key() -> str:
    return "login-email:" + (request.form.get("email") or "").strip().lower()[:254]


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit(_limit("RATELIMIT_REGISTER"), methods=["POST"])
def register():
    next_url = _safe_next()
    if current_user.is_authenticated:
        return redirect(next_url or url_for("accounts.account"))
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            user = services.register_user(form.email.data, form.display_name.data, form.password.data)
        except ValidationFailed as error:
            apply_errors(form, error)
        else:
            _start_session(user)
            flash("Welcome! Your account is ready.", "success")
            return redirect(next_url or url_for("main.index"))
    return render_form("accounts/register.html", form, next_url=next_url)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_limit("RATELIMIT_LOGIN"), methods=["POST"])
@limiter.limit(_limit("RATELIMIT_LOGIN"), methods=["POST"], key_func=_login_email_key)
def login():
    next_url = _safe_next()
    if current_user.is_authenticated:
        return redirect(next_url or url_for("main.index"))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = services.authenticate(form.email.data, form.password.data)
        except AuthenticationFailed as error:
            form.form_errors.append(error.message)
        else:
            _start_session(user, remember=form.remember.data)
            flash(f"Signed in as {user.display_name}.", "success")
            return redirect(next_url or url_for("main.index"))
    return render_form("accounts/login.html", form, next_url=next_url)


@bp.route("/logout", methods=["POST"])
def logout():
    _end_session()
    flash("You are signed out.", "info")
    return redirect(url_for("main.index"))


@bp.route("/password-reset", methods=["GET", "POST"])
@limiter.limit(_limit("RATELIMIT_PASSWORD_RESET"), methods=["POST"])
def request_password_reset():
    form = ResetRequestForm()
    if form.validate_on_submit():
        services.request_password_reset(form.email.data)
        # The same answer for every address, known or not.
        return render_template("accounts/reset_sent.html")
    return render_form("accounts/reset_request.html", form)


@bp.route("/password-reset/<token>", methods=["GET", "POST"])
@limiter.limit(_limit("RATELIMIT_PASSWORD_RESET"), methods=["POST"])
def reset_password(token: str):
    services.check_password_reset_token(token)
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            services.reset_password(token, form.password.data)
        except ValidationFailed as error:
            apply_errors(form, error)
        else:
            _end_session()
            flash("Your password was changed. Please log in with the new one.", "success")
            return redirect(url_for("accounts.login"))
    return render_form("accounts/reset_password.html", form)


@bp.route("/account")
@login_required
def account():
    return render_template(
        "accounts/account.html",
        data=services.export_account_data(current_user),
        name_form=DisplayNameForm(display_name=current_user.display_name),
        email_form=EmailForm(),
        password_form=PasswordForm(),
    )


@bp.route("/account/export.json")
@login_required
def export_account():
    body = json.dumps(services.export_account_data(current_user), ensure_ascii=False, indent=2)
    return Response(
        body,
        mimetype="application/json",
        headers={"Content-Disposition": 'attachment; filename="my-data.json"', "Cache-Control": "no-store"},
    )


def _account_with_errors(**forms):
    context = dict(
        data=services.export_account_data(current_user),
        name_form=DisplayNameForm(display_name=current_user.display_name),
        email_form=EmailForm(),
        password_form=PasswordForm(),
    )
    context.update(forms)
    return render_template("accounts/account.html", **context), 422


@bp.route("/account/display-name", methods=["POST"])
@login_required
def change_display_name():
    form = DisplayNameForm()
    if form.validate_on_submit():
        try:
            services.change_display_name(current_user, form.display_name.data)
        except ValidationFailed as error:
            apply_errors(form, error)
        else:
            flash("Your display name was changed.", "success")
            return redirect(url_for("accounts.account"))
    return _account_with_errors(name_form=form)


@bp.route("/account/email", methods=["POST"])
@login_required
def change_email():
    form = EmailForm()
    if form.validate_on_submit():
        try:
            services.change_email(current_user, form.email.data, form.current_password.data)
        except ValidationFailed as error:
            apply_errors(form, error)
        else:
            flash("Your email address was changed.", "success")
            return redirect(url_for("accounts.account"))
    return _account_with_errors(email_form=form)


@bp.route("/account/password", methods=["POST"])
@login_required
def change_password():
    form = PasswordForm()
    if form.validate_on_submit():
        try:
            services.change_password(current_user, form.current_password.data, form.new_password.data)
        except ValidationFailed as error:
            apply_errors(form, error)
        else:
            # Other sessions ended with the version bump; keep this one going
            # (and renew its remember-me cookie, whose old value is now void).
            remembered = current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token") in request.cookies
            _start_session(current_user._get_current_object(), remember=remembered)
            flash("Your password was changed. Other devices have been signed out.", "success")
            return redirect(url_for("accounts.account"))
    return _account_with_errors(password_form=form)


@bp.route("/account/delete", methods=["GET", "POST"])
@login_required
def delete_account():
    form = DeleteAccountForm()
    if form.validate_on_submit():
        try:
            services.delete_account(current_user._get_current_object(), form.password.data)
        except ValidationFailed as error:
            apply_errors(form, error)
        else:
            _end_session()
            flash("Your account was deleted.", "info")
            return redirect(url_for("main.index"))
    return render_form("accounts/delete.html", form, explanations=services.deletion_explanations)
