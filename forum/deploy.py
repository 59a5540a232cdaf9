"""`flask check-deploy`: refuse an unsafe or incomplete production setup.

`deployment_checks(app)` returns one `Check` per setting or service; the CLI
command prints them all and exits 1 when any failed, and `gunicorn.conf.py`
runs the same checks before it starts serving.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from urllib.parse import urlsplit

import click
from flask import Flask
from flask.cli import with_appcontext
from sqlalchemy import text

# Backends that never deliver mail to anyone.
NON_DELIVERING_MAIL_BACKENDS = {
    "forum.mail.DevelopmentEmailBackend",
    "console",
    "file",
    "locmem",
    "dummy",
}
MIN_SECRET_KEY_LENGTH = 32


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    message: str


def _settings_checks(app: Flask) -> list[Check]:
    config = app.config
    checks: list[Check] = []

    env_key = os.environ.get("FLASK_SECRET_KEY", "")
    if not env_key:
        checks.append(
            Check(
                "SECRET_KEY",
                False,
                "not set in the environment (FLASK_SECRET_KEY); "
                "a key generated into the instance folder differs per host",
            )
        )
    elif len(env_key) < MIN_SECRET_KEY_LENGTH or config.get("SECRET_KEY") != env_key:
        checks.append(
            Check(
                "SECRET_KEY",
                False,
                f"FLASK_SECRET_KEY must be at least {MIN_SECRET_KEY_LENGTH} random characters",
            )
        )
    else:
        checks.append(Check("SECRET_KEY", True, "from the environment"))

    checks.append(
        Check("DEBUG", False, "debug mode is on (FLASK_DEBUG): it runs code for anyone")
        if config.get("DEBUG") or app.debug
        else Check("DEBUG", True, "off")
    )

    backend = str(config.get("MAIL_BACKEND") or "")
    if backend in NON_DELIVERING_MAIL_BACKENDS or not backend:
        checks.append(
            Check(
                "MAIL_BACKEND",
                False,
                f"{backend or 'unset'} does not deliver mail; "
                "set FLASK_MAIL_BACKEND=smtp and FLASK_MAIL_SERVER",
            )
        )
    else:
        checks.append(Check("MAIL_BACKEND", True, backend))

    site_url = config.get("SITE_URL")
    parts = urlsplit(site_url or "")
    if not site_url:
        checks.append(
            Check(
                "SITE_URL",
                False,
                "not set (FLASK_SITE_URL): links in mail need the "
                "public address, never one taken from a request",
            )
        )
    elif parts.scheme != "https" or not parts.netloc:
        checks.append(Check("SITE_URL", False, f"{site_url!r} is not an https:// address"))
    else:
        checks.append(Check("SITE_URL", True, site_url))

    storage = str(config.get("RATELIMIT_STORAGE_URI") or "memory://")
    if not config.get("RATELIMIT_ENABLED", True):
        checks.append(Check("RATELIMIT_ENABLED", False, "rate limits are off"))
    if storage.startswith("memory://"):
        checks.append(
            Check(
                "RATELIMIT_STORAGE_URI",
                False,
                "memory:// counts per process; use a shared store such as redis://",
            )
        )
    else:
        checks.append(Check("RATELIMIT_STORAGE_URI", True, storage.split("@")[-1]))

    database = str(config.get("SQLALCHEMY_DATABASE_URI") or "")
    is_postgres = database.startswith("postgresql")
    if database.startswith("sqlite"):
        checks.append(
            Check(
                "DATABASE_URL", False, "SQLite is for development; set DATABASE_URL to a PostgreSQL database"
            )
        )
    else:
        checks.append(Check("DATABASE_URL", True, database.split("://", 1)[0]))

    search = str(config.get("SEARCH_BACKEND") or "whoosh")
    if search == "whoosh" and is_postgres:
        checks.append(
            Check(
                "SEARCH_BACKEND",
                False,
                "the Whoosh index lives on one host's disk "
                "while the database is shared; set FLASK_SEARCH_BACKEND=postgres",
            )
        )
    else:
        checks.append(Check("SEARCH_BACKEND", True, search))

    insecure = [name for name in ("SESSION_COOKIE_SECURE", "REMEMBER_COOKIE_SECURE") if not config.get(name)]
    checks.append(
        Check(
            "SESSION_COOKIE_SECURE",
            False,
            f"{', '.join(insecure)} off: cookies would travel "
            "over plain HTTP (set FLASK_SESSION_COOKIE_SECURE=true)",
        )
        if insecure
        else Check("SESSION_COOKIE_SECURE", True, "cookies only over HTTPS")
    )

    hosts = config.get("TRUSTED_HOSTS")
    checks.append(
        Check("TRUSTED_HOSTS", True, ", ".join(hosts))
        if hosts
        else Check("TRUSTED_HOSTS", False, "not set (FLASK_TRUSTED_HOSTS): any Host header is accepted")
    )
    return checks


def _database_check(app: Flask) -> Check:
    """The database answers and its schema is at the latest migration (an unmigrated or
    older schema would answer every page with an error)."""
    from alembic.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from .extensions import db

    migration_log = logging.getLogger("alembic.runtime.migration")
    level = migration_log.level
    migration_log.setLevel(logging.WARNING)  # its "Context impl ..." lines are noise here
    try:
        with db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            current = set(MigrationContext.configure(connection).get_current_heads())
    except Exception as error:  # any driver error means "does not answer"
        return Check("database", False, f"does not answer: {type(error).__name__}: {error}"[:300])
    finally:
        migration_log.setLevel(level)
    latest = set(ScriptDirectory(app.extensions["migrate"].directory).get_heads())
    if current != latest:
        found = ", ".join(sorted(current)) or "no migration"
        return Check(
            "database",
            False,
            f"answers, but its schema is at {found} and this code needs {', '.join(sorted(latest))}: "
            "run flask db upgrade",
        )
    return Check("database", True, f"answers; schema at the latest migration ({', '.join(sorted(latest))})")


def _ratelimit_store_check(app: Flask) -> Check:
    # A storage built from the setting itself: the limiter object is shared by every app
    # in the process and has none when rate limits are off.
    from limits.storage import storage_from_string

    uri = str(app.config.get("RATELIMIT_STORAGE_URI") or "memory://")
    options = app.config.get("RATELIMIT_STORAGE_OPTIONS") or {}
    problem = app.extensions.get("ratelimit_storage_error")
    if problem:
        hint = " (pip install -c constraints.txt '.[production]')" if "prerequisite" in problem else ""
        return Check("rate-limit store", False, f"cannot be used: {problem}{hint}"[:300])
    try:
        answered = storage_from_string(uri, **options).check()
    except Exception as error:
        return Check("rate-limit store", False, f"does not answer: {type(error).__name__}: {error}"[:300])
    return Check("rate-limit store", bool(answered), "answers" if answered else "does not answer")


def _mail_server_check(app: Flask) -> Check:
    backend = str(app.config.get("MAIL_BACKEND") or "")
    if backend in NON_DELIVERING_MAIL_BACKENDS:
        return Check("mail server", False, "no mail server configured")
    from .extensions import mail

    try:
        connection = mail.get_connection(fail_silently=False)
        connection.open()
        connection.close()
    except Exception as error:
        server = f"{app.config.get('MAIL_SERVER')}:{app.config.get('MAIL_PORT')}"
        return Check("mail server", False, f"{server} does not answer: {type(error).__name__}: {error}"[:300])
    return Check("mail server", True, f"{app.config.get('MAIL_SERVER')} answers")


def deployment_checks(app: Flask) -> list[Check]:
    """Every setting and service a production deployment needs, each with its verdict."""
    with app.app_context():
        checks = _settings_checks(app)
        checks.append(_database_check(app))
        checks.append(_ratelimit_store_check(app))
        checks.append(_mail_server_check(app))
    return checks


def format_checks(checks: list[Check]) -> str:
    return "\n".join(f"{'ok  ' if c.ok else 'FAIL'}  {c.name}: {c.message}" for c in checks)


def check_or_exit(app: Flask, stream=sys.stderr) -> None:
    """Used by gunicorn.conf.py: print the failures and stop unless FLASK_DEBUG is set."""
    checks = deployment_checks(app)
    failed = [c for c in checks if not c.ok]
    if not failed:
        return
    stream.write("flask check-deploy found problems:\n" + format_checks(failed) + "\n")
    if os.environ.get("FLASK_DEBUG", "").lower() in {"1", "true", "yes", "on"}:
        stream.write("FLASK_DEBUG is set: starting anyway.\n")
        return
    raise SystemExit(1)


@click.command("check-deploy")
@with_appcontext
def check_deploy_command():
    """List unsafe or missing production settings; exit 1 if any check fails."""
    from flask import current_app

    checks = deployment_checks(current_app._get_current_object())
    click.echo(format_checks(checks))
    failed = sum(not c.ok for c in checks)
    if failed:
        click.echo(f"{failed} check(s) failed: not safe for production.", err=True)
        sys.exit(1)
    click.echo("All checks passed.")


def init_app(app: Flask) -> None:
    app.cli.add_command(check_deploy_command)
