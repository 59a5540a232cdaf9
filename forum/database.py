"""Database set-up that every dialect needs to behave the same way."""

from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    # Only SQLite needs telling to enforce foreign keys and to wait for locks.
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        # WAL lets readers and one writer work at once (several workers, CLI).
        if cursor.execute("PRAGMA database_list").fetchone()[2]:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()


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


def init_app(app) -> None:
    """Nothing per-app yet: importing this module registers the listener."""
