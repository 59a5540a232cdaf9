"""SQLite with two writers: a write lock held elsewhere is waited for, never a crash.

`flask demo --no-serve` once failed with "database is locked" in
`send_due_invitations` while a worker wrote to the same file: a SAVEPOINT
(`begin_nested`) outside a transaction began a deferred SQLite transaction, its
reads took a snapshot, and the insert that followed could not upgrade it to a write
lock. SQLite returns SQLITE_BUSY for that at once, whatever the busy timeout.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time

import pytest
from sqlalchemy import func, select

from forum.extensions import db
from forum.models import User

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("TEST_DATABASE_URL")),
    reason="SQLite's locking; PostgreSQL writers wait for row locks on their own",
)

HOLD_SECONDS = 1.0  # well under the busy timeout (10 s)


class OtherWriter(threading.Thread):
    """Another connection (a worker, a second process) holding the write lock for a moment."""

    def __init__(self, path: str, hold: float = HOLD_SECONDS):
        super().__init__(daemon=True)
        self.path, self.hold = path, hold
        self.holding = threading.Event()
        self.released_at: float | None = None
        self.error: BaseException | None = None

    def run(self):
        try:
            connection = sqlite3.connect(self.path, isolation_level=None, timeout=10)
            try:
                connection.execute("BEGIN IMMEDIATE")
                connection.execute(
                    "INSERT INTO worker_heartbeat (worker_id, hostname, pid, started_at, seen_at) "
                    "VALUES ('other:1:x', 'other', 1, '2026-12-01 00:00:00', '2026-12-01 00:00:00')"
                )
                self.holding.set()
                time.sleep(self.hold)
                self.released_at = time.monotonic()
                connection.execute("COMMIT")
            finally:
                connection.close()
        except BaseException as error:  # pragma: no cover - reported by the test
            self.error = error
            self.holding.set()

    def __enter__(self):
        self.start()
        assert self.holding.wait(10)
        return self

    def __exit__(self, *exc):
        self.join(15)
        assert self.error is None, self.error


def _database_file() -> str:
    return db.engine.url.database


def test_a_savepoint_that_reads_then_writes_waits_for_another_writer(app, make_user):
    make_user(email="first@example.com")
    with OtherWriter(_database_file()) as other:
        # What send_due_invitations does: a read outside any transaction, then a savepoint
        # around a read and an insert.
        assert db.session.scalar(select(func.count()).select_from(User)) == 1
        with db.session.begin_nested():
            db.session.scalar(select(User).where(User.email == "first@example.com"))
            db.session.add(
                User(email="second@example.com", display_name="Second", role="member", password_hash="x")
            )
        db.session.commit()
        finished = time.monotonic()
    assert other.released_at is not None and finished >= other.released_at  # it waited its turn
    emails = set(db.session.scalars(select(User.email)))
    assert emails == {"first@example.com", "second@example.com"}  # nothing lost on either side
    assert db.session.scalar(select(func.count()).select_from(db.metadata.tables["worker_heartbeat"]))


def test_a_savepoint_rolled_back_keeps_the_outer_transaction(app, make_user):
    """The savepoint still behaves as one inside a transaction begun for it."""
    with db.session.begin_nested():
        db.session.add(User(email="kept@example.com", display_name="Kept", role="member", password_hash="x"))
    try:
        with db.session.begin_nested():
            db.session.add(
                User(email="dropped@example.com", display_name="Dropped", role="member", password_hash="x")
            )
            db.session.flush()
            raise RuntimeError("undo this part")
    except RuntimeError:
        pass
    db.session.commit()
    assert set(db.session.scalars(select(User.email))) == {"kept@example.com"}


def test_review_invitations_wait_for_another_writer(app, sent_mail):
    """The demo's failure: invitations queued while a worker holds the write lock."""
    from datetime import timedelta

    from forum.catalog import invitations, orders
    from forum.catalog.models import Product
    from forum.catalog.trust_models import ReviewInvitation
    from forum.timeutil import utcnow

    db.session.add(Product(sku="CAB-1", name="Cable", description="A cable."))
    orders._store(
        {
            f"O-{n}": {
                "email": f"buyer{n}@example.com",
                "ordered_at": utcnow() - timedelta(days=days),
                "skus": ["CAB-1"],
            }
            for n, days in enumerate((15, 16, 200))  # the last one is too old: a row, no mail
        }
    )
    db.session.commit()
    with OtherWriter(_database_file()):
        assert invitations.send_due_invitations() == 2
    statuses = sorted(db.session.scalars(select(ReviewInvitation.status)))
    assert statuses == ["sent", "sent", "too_old"]


# --- longer than the busy timeout: a clear message, nothing half-written ----------------------


@pytest.fixture
def impatient_app(app_config, monkeypatch):
    """An app whose connections wait only 0.3 s for a lock, with a route that writes two rows."""
    from forum import create_app
    from forum.models import OutboxMessage

    monkeypatch.setattr("forum.database.BUSY_TIMEOUT_MS", 300)
    app = create_app(app_config)

    @app.post("/test-two-rows")
    def two_rows():
        db.session.add(User(email="half@example.com", display_name="Half", password_hash="x", role="member"))
        db.session.add(OutboxMessage(to_address="half@example.com", subject="Half", body_text="never"))
        db.session.commit()
        return "saved"

    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def test_a_request_meeting_a_lock_held_too_long_answers_503_and_saves_nothing(impatient_app, caplog):
    from forum.models import OutboxMessage

    client = impatient_app.test_client()
    with OtherWriter(_database_file(), hold=2.0):
        response = client.post("/test-two-rows")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    html = response.get_data(as_text=True)
    assert "<h1>Busy for a moment</h1>" in html
    assert "Nothing you sent was half-saved" in html
    assert "OperationalError" not in html and "locked" not in html
    assert db.session.scalar(select(func.count()).select_from(User)) == 0
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    assert "Database busy on POST /test-two-rows" in caplog.text
    # Once the other writer is done, the same request works.
    assert client.post("/test-two-rows").status_code == 200
    assert db.session.scalar(select(func.count()).select_from(User)) == 1


def test_a_command_meeting_a_lock_held_too_long_stops_with_a_message(impatient_app):
    from forum.accounts import services

    services.register_user("someone@example.com", "Someone", "correct horse battery staple")
    runner = impatient_app.test_cli_runner()
    with OtherWriter(_database_file(), hold=2.0):
        result = runner.invoke(args=["users", "set-role", "someone@example.com", "moderator"])
    assert result.exit_code == 1, result.output
    assert "The database was busy" in result.output
    assert "Run the command again" in result.output
    assert "Traceback" not in result.output
    db.session.expire_all()
    assert db.session.scalar(select(User.role).where(User.email == "someone@example.com")) == "member"
    result = runner.invoke(args=["users", "set-role", "someone@example.com", "moderator"])
    assert result.exit_code == 0, result.output
