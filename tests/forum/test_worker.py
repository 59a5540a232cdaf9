"""`flask worker`: requests only enqueue; the worker sends and indexes, once, even when killed."""

from __future__ import annotations

import email
import os
import re
import signal
import smtplib
import time
from datetime import timedelta
from email.policy import default as default_policy

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select, update

from forum.catalog import services as catalog
from forum.catalog.models import Product
from forum.extensions import db
from forum.mail import queue_mail, send_pending
from forum.models import OutboxMessage, WorkerHeartbeat, WorkerJob
from forum.timeutil import utcnow
from forum.worker import Worker, beat, jobs, register_job, run_due_jobs, start_in_background

from ..conftest import TEST_DATABASE_URL, login
from .test_mail import free_port
from .worker_helpers import SilentSmtp, wait_for, worker_process


class Inbox:
    def __init__(self, reply: str = "250 Message accepted for delivery"):
        self.reply = reply
        self.messages = []
        self.rcpt_reply = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=default_policy))
        return self.reply


class SmtpServer:
    def __init__(self, inbox: Inbox | None = None):
        self.inbox = inbox or Inbox()
        self.port = free_port()
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()


@pytest.fixture
def production_like(app_config):
    """Requests only enqueue, as in production: no inline drains."""
    app_config.update(
        WORKER_INLINE=False,
        MAIL_BACKEND="smtp",
        MAIL_SERVER="127.0.0.1",
        MAIL_USE_TLS=False,
        SITE_URL="https://community.shop.example",
    )
    return app_config


def _use_port(app, port: int, timeout: float = 5) -> None:
    app.config.update(MAIL_PORT=port, MAIL_TIMEOUT=timeout)
    app.extensions["mailman"].port = port
    app.extensions["mailman"].timeout = timeout


def _unsent() -> list[OutboxMessage]:
    db.session.expire_all()
    return db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.sent_at.is_(None)).order_by(OutboxMessage.id)
    ).all()


def _queue(n: int, prefix: str = "reader") -> list[str]:
    recipients = [f"{prefix}{i}@example.com" for i in range(n)]
    for to in recipients:
        queue_mail(to, "Your account was deleted", "account_deleted")
    db.session.commit()
    return recipients


# --- requests only enqueue ---------------------------------------------------------------


def test_twenty_approvals_while_smtp_never_answers_return_at_once(
    production_like, app, client, make_user, moderator
):
    product = Product(sku="KETTLE-1", name="Quiet kettle", description="1.7 l.")
    db.session.add(product)
    db.session.commit()
    reviews = [
        catalog.submit_review(make_user(), product, 4, f"Review {i}", "Boils fast.") for i in range(20)
    ]
    assert login(client, moderator.email).status_code == 302

    with SilentSmtp("silent") as smtp:
        _use_port(app, smtp.port, timeout=5)
        started = time.monotonic()
        response = client.post(
            "/moderation/bulk",
            data={
                "bulk-selected": [f"review:{r.id}:{r.version}" for r in reviews],
                "bulk-approve": "x",
                "bulk-reason": "",
                "bulk-note": "",
                "bulk-next": "/moderation",
            },
        )
        elapsed = time.monotonic() - started
        print(f"20 approvals with a silent SMTP server: {elapsed:.2f} s")
        assert response.status_code == 303, response.get_data(as_text=True)
        # With mail sent inside the request, one stalled connection alone would take MAIL_TIMEOUT (5 s).
        assert elapsed < 4, elapsed
        assert smtp.connections == 0  # the request never talked to the mail server
        queued = _unsent()
        assert len(queued) == 20 and all(m.attempts == 0 for m in queued)

        # The worker meets the stalled server: it gives up on that attempt after MAIL_TIMEOUT,
        # keeps the message for a retry and stops this pass (the server is down).
        _use_port(app, smtp.port, timeout=1)
        sent, failed = send_pending(stop_on_failure=True)
        assert (sent, failed) == (0, 1)
        assert smtp.connections == 1
    first = _unsent()[0]
    assert first.attempts == 1 and "timed out" in first.last_error.lower() and first.given_up_at is None

    # The server recovers; once the back-off has passed, everything goes out, each message once.
    with SmtpServer() as server:
        _use_port(app, server.port)
        db.session.execute(update(OutboxMessage).values(next_attempt_at=utcnow()))
        db.session.commit()
        assert send_pending(stop_on_failure=True) == (20, 0)
        assert len(server.inbox.messages) == 20
        assert send_pending() == (0, 0)
    assert _unsent() == []


def test_search_is_not_indexed_by_requests(production_like, app, client, make_user, moderator):
    from forum.search import indexing
    from forum.search.models import SearchOutbox

    product = Product(sku="KETTLE-1", name="Quiet kettle", description="1.7 l.")
    db.session.add(product)
    db.session.commit()
    review = catalog.submit_review(make_user(), product, 4, "Walrus kettle", "Boils fast.")
    assert login(client, moderator.email).status_code == 302
    response = client.post(
        f"/moderation/items/review/{review.id}/approve",
        data={f"review-{review.id}-version": str(review.version)},
    )
    assert response.status_code == 303
    assert db.session.scalar(select(func.count()).select_from(SearchOutbox)) == 1
    # Searching does not apply it either (results are re-checked against the database anyway).
    assert f'href="/reviews/{review.id}"' not in client.get("/search?q=walrus").get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(SearchOutbox)) == 1
    Worker(app).search_step()
    assert indexing.get_backend().doc_ids() == {f"review:{review.id}"}
    assert f'href="/reviews/{review.id}"' in client.get("/search?q=walrus").get_data(as_text=True)


def test_a_reindex_holding_the_whoosh_lock_slows_no_request(
    production_like, app, client, make_user, moderator
):
    from forum.search import indexing
    from forum.search.models import SearchOutbox

    product = Product(sku="KETTLE-1", name="Quiet kettle", description="1.7 l.")
    db.session.add(product)
    db.session.commit()
    reviews = [catalog.submit_review(make_user(), product, 4, f"Walrus {i}", "Boils fast.") for i in range(5)]
    assert login(client, moderator.email).status_code == 302
    backend = indexing.get_backend()
    with backend.lock.hold(1):  # what `flask search reindex` holds while it builds
        started = time.monotonic()
        for review in reviews:
            response = client.post(
                f"/moderation/items/review/{review.id}/approve",
                data={f"review-{review.id}-version": str(review.version)},
            )
            assert response.status_code == 303
        assert client.get("/search?q=walrus").status_code == 200
        assert time.monotonic() - started < 3  # SEARCH_LOCK_TIMEOUT alone is 5 s
        report = indexing.drain(timeout=0.1)  # the worker meanwhile: busy, keeps the rows
        assert report.busy and db.session.scalar(select(func.count()).select_from(SearchOutbox)) == 5
    Worker(app).search_step()  # the lock is free again
    assert backend.doc_ids() == {f"review:{r.id}" for r in reviews}
    assert db.session.scalar(select(func.count()).select_from(SearchOutbox)) == 0


# --- permanent errors, status -----------------------------------------------------------------


def test_permanent_smtp_error_fails_at_once_and_is_resendable(production_like, app, runner):
    _queue(1, prefix="nobody")
    inbox = Inbox()
    inbox.rcpt_reply = "550 5.1.1 No such user here"
    with SmtpServer(inbox) as server:
        _use_port(app, server.port)
        assert send_pending() == (0, 1)
        [message] = _unsent()
        assert message.attempts == 1 and message.given_up_at is not None
        assert "550" in message.last_error
        # Not retried automatically, whatever the back-off.
        db.session.execute(update(OutboxMessage).values(next_attempt_at=utcnow()))
        db.session.commit()
        assert send_pending() == (0, 0)
        status = runner.invoke(args=["mail", "status"]).output
        assert "Given up after 10 attempts or a permanent error: 1" in status
        assert f"#{message.id} given up, 1 attempt(s)" in status and "550" in status
        assert "nobody0@example.com" not in status  # no addresses in the operator's terminal

        inbox.rcpt_reply = None  # the mailbox now exists
        result = runner.invoke(args=["mail", "send-pending", "--all"])
        assert result.exit_code == 0 and "Sent 1, failed 0." in result.output
    assert len(inbox.messages) == 1 and _unsent() == []
    assert "Given up" not in runner.invoke(args=["mail", "status"]).output


@pytest.mark.parametrize(
    "error, permanent",
    [
        (smtplib.SMTPRecipientsRefused({"a@example.com": (550, b"No such user")}), True),
        (smtplib.SMTPRecipientsRefused({"a@example.com": (450, b"Mailbox busy")}), False),
        (smtplib.SMTPDataError(554, b"Rejected as spam"), True),
        (smtplib.SMTPSenderRefused(553, b"Sender refused", "community@shop.example"), True),
        (smtplib.SMTPDataError(451, b"Local error"), False),
        (smtplib.SMTPAuthenticationError(535, b"Bad credentials"), False),  # our setting: retry after fixing
        (smtplib.SMTPServerDisconnected("Connection unexpectedly closed: timed out"), False),
        (ConnectionRefusedError(111, "Connection refused"), False),
    ],
)
def test_only_a_5xx_answer_about_the_message_is_permanent(error, permanent):
    from forum.mail import describe_error, is_permanent_failure

    assert is_permanent_failure(error) is permanent
    assert "a@example.com" not in describe_error(error)


def test_temporary_smtp_error_is_retried_with_backoff(production_like, app):
    _queue(1)
    inbox = Inbox(reply="451 4.3.0 Try again later")
    with SmtpServer(inbox) as server:
        _use_port(app, server.port)
        assert send_pending() == (0, 1)
        [message] = _unsent()
        assert message.given_up_at is None and message.next_attempt_at > utcnow() + timedelta(seconds=90)
        assert send_pending() == (0, 0)  # backing off
        inbox.reply = "250 OK"
        db.session.execute(update(OutboxMessage).values(next_attempt_at=utcnow()))
        db.session.commit()
        assert send_pending() == (1, 0)


def test_mail_status_shows_a_message_held_by_a_live_sender(production_like, app, runner):
    from sqlalchemy import text

    _queue(2)
    if TEST_DATABASE_URL:
        # A sender on PostgreSQL holds the row lock while it talks to the server.
        with db.engine.connect() as sender:
            sender.execute(text("SELECT id FROM mail_outbox ORDER BY id LIMIT 1 FOR UPDATE"))
            status = runner.invoke(args=["mail", "status"]).output
            assert "Pending: 2 (of which failing: 0)" in status and "Held (being sent right now): 1" in status
            with SmtpServer() as server:
                _use_port(app, server.port)
                assert send_pending() == (1, 0)  # the other one; the held one is skipped
            sender.rollback()
        return
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == 1)
        .values(claimed_by="elsewhere:1:abc", claimed_until=utcnow() + timedelta(minutes=2))
    )
    db.session.commit()
    status = runner.invoke(args=["mail", "status"]).output
    assert "Held (being sent right now): 1" in status and "#1 held (being sent)" in status
    # Another host's live claim is respected until its lease ends.
    with SmtpServer() as server:
        _use_port(app, server.port)
        assert send_pending() == (1, 0)


# --- killed workers lose nothing, several workers send once -----------------------------------


def test_worker_killed_mid_send_loses_nothing(production_like, app, database_uri, instance_path):
    [recipient] = _queue(1)
    with SilentSmtp("hang_after_data") as hanging:
        child = worker_process(database_uri, instance_path, hanging.port, timeout=60)
        try:
            wait_for(
                lambda: hanging.data_received.is_set() or child.poll() is not None,
                timeout=60,
                what="the worker to be in the middle of sending",
            )
            assert child.poll() is None, child.stdout.read().decode()
            [message] = _unsent()
            assert message.attempts == 0
        finally:
            os.kill(child.pid, signal.SIGKILL)
            child.wait(10)
    # At once (no lease to wait for): the next sender takes it over and sends it, once.
    with SmtpServer() as server:
        _use_port(app, server.port)
        assert send_pending() == (1, 0)
        assert [m["To"] for m in server.inbox.messages] == [recipient]
        assert send_pending(include_not_due=True) == (0, 0)
    assert _unsent() == []


def test_two_workers_send_each_message_exactly_once(production_like, app, database_uri, instance_path):
    """Two `flask worker` processes on the same database (PostgreSQL: FOR UPDATE SKIP LOCKED;
    SQLite: leases) share the outbox: every message is sent, none twice."""
    with SmtpServer() as server:
        recipients = _queue(40)
        children = [worker_process(database_uri, instance_path, server.port) for _ in range(2)]
        try:
            wait_for(
                lambda: not _unsent() or any(c.poll() is not None for c in children),
                timeout=90,
                what="the workers to send everything",
            )
            for child in children:
                assert child.poll() is None, child.stdout.read().decode()
            more = _queue(20, prefix="later")  # rows appearing while they run
            wait_for(lambda: not _unsent(), timeout=60, what="the later rows")
        finally:
            for child in children:
                child.send_signal(signal.SIGTERM)
            for child in children:
                child.wait(30)
        received = sorted(m["To"] for m in server.inbox.messages)
    assert received == sorted(recipients + more)
    rows = db.session.scalars(select(OutboxMessage)).all()
    assert all(row.sent_at is not None and row.attempts == 1 for row in rows)
    # Both workers said they were alive; a stopped worker's heartbeat stays for /healthz.
    assert db.session.scalar(select(func.count()).select_from(WorkerHeartbeat)) == 2


# --- the background worker of development servers ----------------------------------------------


def test_background_worker_sends_within_a_second(app_config, sent_mail):
    from forum import create_app

    app_config.update(WORKER_INLINE=False, WORKER_POLL_SECONDS=0.1)
    app = create_app(app_config)
    with app.app_context():
        outbox = app.extensions["mailman"].outbox = []
        worker = start_in_background(app)
        try:
            queue_mail("reader@example.com", "Your account was deleted", "account_deleted")
            db.session.commit()
            wait_for(lambda: len(outbox) == 1, timeout=10, what="the background worker to send")
        finally:
            worker.stop()
        db.session.remove()
        db.engine.dispose()


@pytest.mark.parametrize(
    "config, wanted",
    [
        ({"WORKER_IN_PROCESS": None, "TESTING": False, "DEBUG": True}, True),
        (
            {
                "WORKER_IN_PROCESS": None,
                "TESTING": False,
                "MAIL_BACKEND": "forum.mail.DevelopmentEmailBackend",
            },
            True,
        ),
        ({"WORKER_IN_PROCESS": None, "TESTING": False, "MAIL_BACKEND": "smtp"}, False),
        ({"WORKER_IN_PROCESS": True, "TESTING": False, "MAIL_BACKEND": "smtp"}, True),
        ({"WORKER_IN_PROCESS": False, "TESTING": False, "DEBUG": True}, False),
    ],
)
def test_development_servers_run_the_worker_in_process(app, config, wanted):
    from forum.worker import in_process_wanted

    app.config.update(config)
    app.debug = bool(config.get("DEBUG"))
    app.testing = config["TESTING"]
    assert in_process_wanted(app) is wanted


# --- /healthz ------------------------------------------------------------------------------


def test_healthz_reports_the_worker_and_the_queues(production_like, app, client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {
        "status": "ok",
        "database": "ok",
        "worker_seen_seconds_ago": None,
        "mail_outbox": {"pending": 0, "oldest_seconds": 0},
        "search_outbox": {"pending": 0, "oldest_seconds": 0},
        "password_reset_requests": {"pending": 0, "oldest_seconds": 0},
    }

    _queue(2)
    db.session.execute(update(OutboxMessage).values(created_at=utcnow() - timedelta(seconds=30)))
    db.session.commit()
    response = client.get("/healthz")  # rows wait and no worker was ever seen
    assert response.status_code == 503
    assert response.json["mail_outbox"]["pending"] == 2
    assert response.json["mail_outbox"]["oldest_seconds"] >= 30

    beat()
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json["worker_seen_seconds_ago"] == 0

    db.session.execute(update(WorkerHeartbeat).values(seen_at=utcnow() - timedelta(seconds=301)))
    db.session.commit()
    response = client.get("/healthz")
    assert response.status_code == 503 and response.json["worker_seen_seconds_ago"] >= 301
    app.config["WORKER_STALE_SECONDS"] = 600
    assert client.get("/healthz").status_code == 200
    # A stale worker with nothing waiting is no emergency.
    app.config["WORKER_STALE_SECONDS"] = 300
    db.session.execute(update(OutboxMessage).values(sent_at=utcnow()))
    db.session.commit()
    assert client.get("/healthz").status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    # A password-reset request waits for the worker too: with no worker, that is an emergency.
    from forum.models import PasswordResetRequest

    db.session.add(PasswordResetRequest(email="someone@example.com", created_at=utcnow()))
    db.session.commit()
    response = client.get("/healthz")
    assert response.status_code == 503 and response.json["password_reset_requests"]["pending"] == 1


def test_healthz_is_503_when_the_database_is_unreachable(app_config, tmp_path):
    from forum import create_app

    app_config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'db.sqlite3'}"
    broken = create_app(app_config)
    response = broken.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json["database"] == "unreachable"


# --- the job registry ------------------------------------------------------------------------------


def test_jobs_live_on_the_app_and_run_once_per_interval(app, app_config):
    from forum import create_app

    calls = []
    register_job(app, "test-count", lambda: calls.append(1) or len(calls), timedelta(hours=1))
    assert "test-count" in jobs(app)
    other = create_app(app_config)
    assert "test-count" not in jobs(other)  # two apps never share their registries
    assert "removal-purge-expired" in jobs(other) and "search-check" in jobs(other)

    run_due_jobs()
    run_due_jobs()
    assert calls == [1]  # not due again for an hour
    row = db.session.get(WorkerJob, "test-count")
    assert row.last_result == 1 and row.lease_owner is None
    assert row.next_run_at > utcnow() + timedelta(minutes=59)

    db.session.execute(update(WorkerJob).where(WorkerJob.name == "test-count").values(next_run_at=utcnow()))
    db.session.commit()
    run_due_jobs()
    assert calls == [1, 1]


@pytest.mark.skipif(
    bool(TEST_DATABASE_URL), reason="SQLite leases; PostgreSQL holds an advisory lock instead"
)
def test_a_job_held_by_a_live_worker_is_skipped_and_a_dead_ones_is_taken_over(app):
    calls = []
    register_job(app, "test-lease", lambda: calls.append(1), timedelta(minutes=5))
    db.session.add(
        WorkerJob(
            name="test-lease",
            next_run_at=utcnow() - timedelta(minutes=1),
            lease_owner="another-host:4242:abcd",
            lease_until=utcnow() + timedelta(minutes=30),
        )
    )
    db.session.commit()
    run_due_jobs()
    assert calls == []  # someone else is running it
    import socket
    import subprocess
    import sys

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    db.session.execute(
        update(WorkerJob)
        .where(WorkerJob.name == "test-lease")
        .values(lease_owner=f"{socket.gethostname()[:80]}:{dead.pid}:dead")
    )
    db.session.commit()
    run_due_jobs()
    assert calls == [1]  # its owner died: taken over at once


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="PostgreSQL advisory locks")
def test_a_job_runs_once_at_a_time_on_postgresql(app):
    from sqlalchemy import text

    from forum.worker import _advisory_key

    calls = []
    register_job(app, "test-lock", lambda: calls.append(1), timedelta(minutes=5))
    with db.engine.connect() as other_worker:
        other_worker.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _advisory_key("test-lock")})
        run_due_jobs()
        assert calls == []
        other_worker.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _advisory_key("test-lock")})
    run_due_jobs()
    assert calls == [1]


def test_a_failing_job_is_recorded_and_the_others_still_run(app, caplog):
    calls = []

    def broken():
        raise RuntimeError("boom")

    register_job(app, "test-broken", broken, timedelta(hours=1))
    register_job(app, "test-fine", lambda: calls.append(1), timedelta(hours=1))
    run_due_jobs()
    assert calls == [1]
    row = db.session.get(WorkerJob, "test-broken")
    assert row.last_error == "RuntimeError: boom" and row.lease_owner is None
    assert row.next_run_at <= utcnow() + timedelta(minutes=10)  # retried sooner than its interval
    assert "job test-broken failed" in caplog.text


def test_worker_cli_status_and_run_job(app, runner):
    register_job(app, "test-cli", "forum.worker.forget_old_heartbeats", timedelta(hours=1))
    result = runner.invoke(args=["worker", "run-job", "test-cli"])
    assert result.exit_code == 0 and "test-cli: 0" in result.output
    assert runner.invoke(args=["worker", "run-job", "nope"]).exit_code != 0
    beat()
    run_due_jobs()
    status = runner.invoke(args=["worker", "status"]).output
    assert re.search(r"worker \S+: seen \d+ s ago", status)
    assert "job removal-purge-expired: every 1:00:00, last run" in status


def test_old_heartbeats_are_forgotten(app):
    from forum.worker import forget_old_heartbeats

    db.session.add(
        WorkerHeartbeat(
            worker_id="gone:1:x",
            hostname="gone",
            pid=1,
            started_at=utcnow() - timedelta(days=30),
            seen_at=utcnow() - timedelta(days=8),
        )
    )
    db.session.commit()
    beat()
    assert forget_old_heartbeats() == 1
    assert db.session.scalar(select(func.count()).select_from(WorkerHeartbeat)) == 1
