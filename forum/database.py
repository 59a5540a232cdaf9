"""Database set-up that every dialect needs to behave the same way."""

from __future__ import annotations

import functools
from contextlib import contextmanager

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

BUSY_TIMEOUT_MS = 10_000


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    # Only SQLite needs telling to enforce foreign keys and to wait for locks.
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        # WAL lets readers and one writer work at once (several workers, CLI).
        if cursor.execute("PRAGMA database_list").fetchone()[2]:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()


@event.listens_for(Engine, "savepoint")
def _sqlite_savepoint_starts_a_write_transaction(conn, name):
    """On SQLite, a SAVEPOINT outside a transaction begins one with BEGIN IMMEDIATE.

    The sqlite3 driver (legacy transaction control) issues no BEGIN before a SELECT, only
    before INSERT/UPDATE/DELETE: reads run outside any transaction and the first write
    begins one, taking the write lock at once and waiting up to `busy_timeout` for it.
    A SAVEPOINT issued outside a transaction, though, begins a *deferred* one (SQLite's
    rule): its reads then hold a snapshot, and the first write must upgrade it to a write
    lock. SQLite never waits for that upgrade: if another connection holds the write lock,
    or has committed since the snapshot, the write fails at once with "database is
    locked", whatever the busy timeout (`begin_nested()` around read-then-insert, as in
    `send_due_invitations`, beside a worker or another process writing). Taking the
    write lock at the start (waiting for it like any first write) makes the savepoint's
    reads and writes one consistent transaction. A savepoint nearly always precedes a
    write, so nothing is serialised that would not be anyway.
    """
    if conn.dialect.name != "sqlite":
        return
    driver = conn.connection.driver_connection
    if driver is not None and not getattr(driver, "in_transaction", True):
        driver.execute("BEGIN IMMEDIATE")


def remember_committed(model, name: str) -> None:
    """Set `session.info[f"{name}_committed"]` once a transaction that added `model` rows
    commits (not when it rolls back), for the code that applies such rows at the end of an
    app context (the outboxes with WORKER_INLINE); that code pops the flag."""
    uncommitted, committed = f"{name}_uncommitted", f"{name}_committed"

    def flushed(session, flush_context):
        if any(isinstance(obj, model) for obj in session.new):
            session.info[uncommitted] = True

    def after_commit(session):
        if session.info.pop(uncommitted, None):
            session.info[committed] = True

    def after_rollback(session):
        session.info.pop(uncommitted, None)

    event.listen(Session, "after_flush", flushed)
    event.listen(Session, "after_commit", after_commit)
    event.listen(Session, "after_rollback", after_rollback)


@contextmanager
def duplicate_refused(message: str | None = None, field_errors: dict | None = None):
    """Inside this block, a unique constraint refusing a row (the same thing sent twice at
    the same moment, a double click) rolls back and raises ValidationFailed with this message.

    Services check for duplicates first; this covers the moment between that check and
    the flush or commit, when another request inserts the same row.
    """
    from .errors import ValidationFailed
    from .extensions import db

    try:
        yield
    except IntegrityError:
        db.session.rollback()
        raise ValidationFailed(message, field_errors=field_errors) from None


def commit_unique(message: str | None = None, field_errors: dict | None = None) -> None:
    """Commit, with `duplicate_refused(message, field_errors)` around it."""
    from .extensions import db

    with duplicate_refused(message, field_errors):
        db.session.commit()


def database_busy(error: BaseException) -> bool:
    """Whether `error` is SQLite's "database is locked": another connection kept the write
    lock longer than the busy timeout. The transaction was rolled back; trying again works."""
    if not isinstance(error, OperationalError):
        return False
    orig = getattr(error, "orig", None)
    if type(orig).__module__.split(".")[0] != "sqlite3":
        return False
    message = str(orig).lower()
    return "database is locked" in message or "database table is locked" in message


BUSY_MESSAGE = (
    "The database was busy: another process kept it locked for more than {seconds} s. "
    "The change in progress was undone: nothing is half-written."
)


def _guard_command(command) -> None:
    """A command that meets a busy database stops with a clear message (exit 1), no traceback."""
    import click

    callback = command.callback
    if callback is None or getattr(callback, "_busy_guarded", False):
        return

    @functools.wraps(callback)
    def guarded(*args, **kwargs):
        try:
            return callback(*args, **kwargs)
        except OperationalError as error:
            if not database_busy(error):
                raise
            from .extensions import db

            try:
                db.session.rollback()
            except Exception:  # no app context left: the connection's rollback already happened
                pass
            raise click.ClickException(
                BUSY_MESSAGE.format(seconds=BUSY_TIMEOUT_MS // 1000)
                + " Run the command again when the other process is done."
            ) from None

    guarded._busy_guarded = True  # type: ignore[attr-defined]
    command.callback = guarded


def guard_cli_commands(app) -> None:
    """Wrap every command of the app (and of its groups) with `_guard_command`. Run last."""
    import click

    def walk(group) -> None:
        for command in group.commands.values():
            _guard_command(command)
            if isinstance(command, click.Group):
                walk(command)

    walk(app.cli)


def init_app(app) -> None:
    """Importing this module registers the listeners; a busy database answers 503, not 500."""
    from flask import request

    from .errors import render_error

    @app.errorhandler(OperationalError)
    def handle_operational_error(error: OperationalError):
        from .extensions import db

        db.session.rollback()
        if not database_busy(error):
            app.logger.exception("Unhandled error on %s %s", request.method, request.path)
            return render_error(500)
        app.logger.warning("Database busy on %s %s: %s", request.method, request.path, error.orig)
        return render_error(
            503,
            "The database was busy for a moment, so this was not done. Nothing you sent was "
            "half-saved: please try again.",
            headers=[("Retry-After", "5")],
        )
