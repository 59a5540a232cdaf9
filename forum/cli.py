"""Command-line interface: `flask users ...`, `flask mail ...`, `flask demo`."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup

from .errors import DomainError
from .models import ROLES
from .timeutil import utcnow

users_cli = AppGroup("users", help="Manage accounts and roles.")
mail_cli = AppGroup("mail", help="Inspect and send the mail outbox.")

DEVELOPMENT_MAIL_BACKEND = "forum.mail.DevelopmentEmailBackend"


def _fail(error: DomainError):
    detail = error.message
    field_errors = getattr(error, "field_errors", None)
    if field_errors:
        detail = "; ".join(f"{k}: {' '.join(v)}" for k, v in field_errors.items())
    raise click.ClickException(detail)


@users_cli.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice(ROLES), default="member", show_default=True)
@click.option("--display-name", help="Shown with the user's posts (default: the part before @).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def create_user(email, role, display_name, password_stdin):
    """Create an account with EMAIL."""
    from .accounts import services

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = services.create_user_from_cli(email, password, role, display_name)
    except DomainError as error:
        _fail(error)
    click.echo(f"Created {user.email} ({user.role}), id {user.id}.")


@users_cli.command("set-role")
@click.argument("email")
@click.argument("role", type=click.Choice(ROLES))
def set_role(email, role):
    """Give the account with EMAIL the ROLE."""
    from .accounts import services

    try:
        user = services.set_role(email, role)
    except DomainError as error:
        _fail(error)
    click.echo(f"{user.email} is now {user.role}.")


@users_cli.command("list")
def list_users():
    """List accounts."""
    from .accounts import services

    users = services.list_users()
    if not users:
        click.echo("No accounts yet.")
    for user in users:
        click.echo(f"{user.id:>5}  {user.role:<10} {user.email:<40} {user.display_name}")


@mail_cli.command("send-pending")
@click.option(
    "--all",
    "include_not_due",
    is_flag=True,
    help="Retry every unsent message now, also those backing off or given up.",
)
def send_pending(include_not_due):
    """Send queued mail that is due now (`flask worker` does this continuously)."""
    from .accounts.services import resolve_password_reset_requests
    from .mail import send_pending as send

    resolve_password_reset_requests()  # as the worker's mail pass: reset requests become mail first
    sent, failed = send(include_not_due=include_not_due)
    click.echo(f"Sent {sent}, failed {failed}.")
    if failed:
        sys.exit(1)


@mail_cli.command("status")
def mail_status():
    """Show how much mail is queued and the last error."""
    from .mail import outbox_status

    status = outbox_status()
    click.echo(f"Pending: {status['pending']} (of which failing: {status['failing']})")
    click.echo(f"Held (being sent right now): {status['held']}")
    if status["given_up"]:
        click.echo(
            f"Given up after {current_app.config['MAIL_MAX_ATTEMPTS']} attempts or a permanent error: "
            f"{status['given_up']} (retry them with `flask mail send-pending --all`)"
        )
    click.echo(f"Sent: {status['sent']}")
    if status["oldest_pending_at"]:
        click.echo(f"Oldest pending since: {status['oldest_pending_at']:%Y-%m-%d %H:%M} UTC")
    if status["last_error"]:
        click.echo(f"Last error: {status['last_error']}")
    for row in status["problems"]:
        if row.given_up_at is not None or row.attempts >= current_app.config["MAIL_MAX_ATTEMPTS"]:
            state = "given up"
        elif row.claimed_until is not None and row.claimed_until > utcnow():
            state = "held (being sent)"
        else:
            state = "failing"
        click.echo(
            f"  #{row.id} {state}, {row.attempts} attempt(s), queued {row.created_at:%Y-%m-%d %H:%M} UTC, "
            f"{row.subject!r}: {row.last_error or '-'}"
        )


def _upgrade_keeping_loggers() -> None:
    """Apply every migration head in this process, then keep our loggers working.

    migrations/env.py loads alembic.ini with logging.config.fileConfig, which
    disables every logger that exists already: the app's own among them, so the
    served demo would otherwise drop its error log.
    """
    import logging

    from flask_migrate import upgrade

    enabled = [
        logger
        for logger in logging.root.manager.loggerDict.values()
        if isinstance(logger, logging.Logger) and not logger.disabled
    ]
    upgrade(revision="heads")
    for logger in enabled:
        logger.disabled = False


@click.command("demo")
@click.option("--no-serve", is_flag=True, help="Load the demo data and exit.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--host", default="127.0.0.1", show_default=True)
def demo(no_serve, port, host):
    """Create the database, load demo data and serve the site."""
    from sqlalchemy.engine import make_url

    from .demo import load_demo_data

    database = make_url(current_app.config["SQLALCHEMY_DATABASE_URI"])
    click.echo(f"Database: {database.render_as_string(hide_password=True)}")
    _upgrade_keeping_loggers()
    click.echo("Database schema is up to date.")
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    site = current_app.config.get("SITE_URL") or f"http://{shown_host}:{port}"
    for line in load_demo_data(site_url=site):
        click.echo(line)
    if no_serve:
        click.echo("Start the site with `flask demo` (or `flask run`).")
        return
    from werkzeug.serving import run_simple

    local = f"http://{shown_host}:{port}"
    click.echo(f"Serving the site on {local}/  (log in at {local}/login; Ctrl+C stops it)")
    if current_app.config["MAIL_BACKEND"] == DEVELOPMENT_MAIL_BACKEND:
        click.echo(
            "Mail is not sent anywhere: each message is printed here and saved in "
            f"{current_app.config['MAIL_FILE_PATH']}"
        )
    from .worker import start_in_background

    app = current_app._get_current_object()
    if app.config.get("WORKER_IN_PROCESS") is not False:
        start_in_background(app)  # mail and search within a second, without `flask worker`
    run_simple(host, port, app, threaded=True, use_reloader=False)


def init_app(app) -> None:
    app.cli.add_command(users_cli)
    app.cli.add_command(mail_cli)
    app.cli.add_command(demo)
