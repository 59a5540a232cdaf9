"""The mail outbox: real SMTP delivery, outages, retries, rollbacks and concurrent senders."""

from __future__ import annotations

import email
import re
import socket
import threading
import time
from email.policy import default as default_policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from flask_mailman.backends.base import BaseEmailBackend
from sqlalchemy import insert, select

from forum.extensions import db
from forum.mail import deliver_committed, queue_mail, send_pending
from forum.models import OutboxMessage
from tests.conftest import STRONG_PASSWORD, login


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Inbox:
    """aiosmtpd handler keeping every message it accepts."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        self.messages.append(email.message_from_bytes(envelope.content, policy=default_policy))
        return "250 Message accepted for delivery"


class SmtpServer:
    def __init__(self, port: int):
        self.port = port
        self.inbox = Inbox()
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=port)

    def __enter__(self):
        self.controller.start()
        return self.inbox

    def __exit__(self, *exc):
        self.controller.stop()


@pytest.fixture
def smtp_port():
    return free_port()


@pytest.fixture
def smtp_config(app_config, smtp_port):
    app_config.update(
        MAIL_BACKEND="smtp",
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=smtp_port,
        MAIL_USE_TLS=False,
        MAIL_TIMEOUT=5,
        SITE_URL="https://community.shop.example",
    )
    return app_config


def test_password_reset_mail_delivered_over_real_smtp(smtp_config, smtp_port, app, client, member):
    with SmtpServer(smtp_port) as inbox:
        response = client.post("/password-reset", data={"email": member.email})
        assert response.status_code == 200
        assert len(inbox.messages) == 1
        message = inbox.messages[0]
        assert inbox.envelopes[0].rcpt_tos == [member.email]
        assert message["To"] == member.email
        assert message["Subject"] == "Reset your password"
        assert message["From"] == app.config["MAIL_DEFAULT_SENDER"]
        body = message.get_content()
        link = re.search(r"https://community\.shop\.example(/password-reset/\S+)", body).group(1)

        new_password = "a new and rather long passphrase"
        response = client.post(link, data={"password": new_password, "confirm": new_password})
        assert response.status_code == 302
        assert [m["Subject"] for m in inbox.messages] == ["Reset your password", "Your password was changed"]
    assert login(client, member.email, new_password).status_code == 302
    outbox = db.session.scalars(select(OutboxMessage)).all()
    assert len(outbox) == 2 and all(m.sent_at is not None and m.attempts == 1 for m in outbox)


@pytest.fixture
def requests_only_enqueue(smtp_config):
    smtp_config["WORKER_INLINE"] = False  # as in production: `flask worker` or send-pending sends
    return smtp_config


def test_mail_server_down_keeps_message_queued_until_send_pending(
    requests_only_enqueue, smtp_port, app, client, runner, member
):
    # Nothing listens on the port yet: the reset page answers normally (it only stores the
    # request; send-pending, like the worker, turns it into a queued message first).
    response = client.post("/password-reset", data={"email": member.email})
    assert response.status_code == 200
    assert db.session.scalars(select(OutboxMessage)).all() == []
    first = runner.invoke(args=["mail", "send-pending"])
    assert first.exit_code == 1 and "Sent 0, failed 1." in first.output
    message = db.session.scalars(select(OutboxMessage)).one()
    db.session.expire_all()
    message = db.session.get(OutboxMessage, message.id)
    assert message.sent_at is None
    assert message.attempts == 1
    assert "ConnectionRefused" in message.last_error
    assert message.next_attempt_at > message.created_at  # backing off

    status = runner.invoke(args=["mail", "status"])
    assert status.exit_code == 0, status.output
    assert "Pending: 1 (of which failing: 1)" in status.output
    assert "Last error: ConnectionRefused" in status.output

    # Still backing off: a plain run leaves it alone; --all retries and fails again (exit 1).
    assert runner.invoke(args=["mail", "send-pending"]).output.strip() == "Sent 0, failed 0."
    still_down = runner.invoke(args=["mail", "send-pending", "--all"])
    assert still_down.exit_code == 1 and "Sent 0, failed 1." in still_down.output

    with SmtpServer(smtp_port) as inbox:
        result = runner.invoke(args=["mail", "send-pending", "--all"])
        assert result.exit_code == 0, result.output
        assert "Sent 1, failed 0." in result.output
        assert [m["Subject"] for m in inbox.messages] == ["Reset your password"]
        assert "/password-reset/" in inbox.messages[0].get_content()
        # Sent means sent: another run does not send it again.
        assert "Sent 0, failed 0." in runner.invoke(args=["mail", "send-pending", "--all"]).output
        assert len(inbox.messages) == 1

    db.session.expire_all()
    message = db.session.get(OutboxMessage, message.id)
    assert message.sent_at is not None and message.last_error is None and message.attempts == 3
    status = runner.invoke(args=["mail", "status"]).output
    assert "Pending: 0 (of which failing: 0)" in status and "Sent: 1" in status
    assert "Last error" not in status


def test_queued_mail_is_not_sent_when_the_transaction_rolls_back(app, sent_mail, member):
    queue_mail(member.email, "Your password was changed", "password_changed", user=member)
    db.session.flush()
    assert db.session.scalar(select(db.func.count()).select_from(OutboxMessage)) == 1
    db.session.rollback()
    deliver_committed()
    assert sent_mail == []
    # A later, unrelated commit in the same session does not resurrect it.
    member.display_name = "Renamed"
    db.session.commit()
    deliver_committed()
    assert sent_mail == []
    assert db.session.scalar(select(db.func.count()).select_from(OutboxMessage)) == 0


def test_queued_mail_waits_for_the_commit(app, sent_mail, member):
    queue_mail(member.email, "Your password was changed", "password_changed", user=member)
    db.session.flush()
    deliver_committed()
    assert sent_mail == []  # flushed is not committed
    db.session.commit()
    deliver_committed()
    assert [m.subject for m in sent_mail] == ["Your password was changed"]
    assert "Mia Member" in sent_mail[0].body


def test_request_that_fails_after_queueing_mail_sends_nothing(app_config, sent_mail):
    from forum import create_app
    from forum.accounts import services

    app = create_app(app_config)
    app.extensions["mailman"].outbox = sent_mail

    @app.post("/test-fails-after-mail")
    def fails_after_mail():
        user = services.register_user("late@example.com", "Late", STRONG_PASSWORD)
        queue_mail(user.email, "Your password was changed", "password_changed", user=user)
        user.display_name = "Changed"
        db.session.flush()
        raise RuntimeError("boom after the flush")

    with app.app_context():
        response = app.test_client().post("/test-fails-after-mail")
        assert response.status_code == 500
        # The user was committed by the service; the mail and rename were not.
        assert db.session.scalar(select(db.func.count()).select_from(OutboxMessage)) == 0
        assert sent_mail == []
        db.session.remove()
        db.engine.dispose()


class SlowRecordingBackend(BaseEmailBackend):
    """Records who got what and takes its time, so two senders overlap."""

    delivered: list[str] = []
    lock = threading.Lock()

    def send_messages(self, email_messages):
        time.sleep(0.02)
        with self.lock:
            for message in email_messages:
                self.delivered.extend(message.to)
        return len(email_messages)


def test_two_deliverers_never_send_the_same_message_twice(app_config):
    from forum import create_app

    app_config["MAIL_BACKEND"] = SlowRecordingBackend
    SlowRecordingBackend.delivered = []
    app = create_app(app_config)
    recipients = [f"person{n}@example.com" for n in range(12)]
    with app.app_context():
        # Core insert: queued directly, so this context's teardown has nothing to deliver.
        db.session.execute(
            insert(OutboxMessage),
            [{"to_address": r, "subject": "Hello", "body_text": "Hi"} for r in recipients],
        )
        db.session.commit()

    start = threading.Barrier(2)
    results, errors = [], []

    def worker():
        try:
            with app.app_context():
                start.wait()
                results.append(send_pending(include_not_due=True))
                db.session.remove()
        except Exception as error:  # surfaced by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert sorted(SlowRecordingBackend.delivered) == sorted(recipients)
    assert sum(sent for sent, _ in results) == len(recipients)
    with app.app_context():
        rows = db.session.scalars(select(OutboxMessage)).all()
        assert all(row.sent_at is not None and row.attempts == 1 for row in rows)
        db.session.remove()
        db.engine.dispose()


def test_development_backend_prints_and_writes_eml_files(app_config, capsys):
    from forum import create_app

    app_config["MAIL_BACKEND"] = "forum.mail.DevelopmentEmailBackend"
    app = create_app(app_config)
    with app.app_context():
        with app.test_request_context():
            queue_mail("reader@example.com", "Your account was deleted", "account_deleted")
            db.session.commit()
            deliver_committed()
        files = list(Path(app_config["MAIL_FILE_PATH"]).glob("*.eml"))
        assert len(files) == 1
        parsed = email.message_from_bytes(files[0].read_bytes(), policy=default_policy)
        assert parsed["To"] == "reader@example.com"
        assert "has been deleted" in parsed.get_content()
        assert "Your account was deleted" in capsys.readouterr().out
        db.session.remove()
        db.engine.dispose()


def test_building_a_mail_link_mid_transaction_commits_nothing(app, sent_mail, member):
    """Outside a request (CLI), external_url() opens a short request context; its teardown
    must not deliver earlier mail by committing the transaction still in progress."""
    from forum.models import User
    from forum.urls import external_url

    queue_mail(member.email, "Your password was changed", "password_changed", user=member)
    db.session.commit()  # committed, delivered when this context ends
    member.display_name = "Half done"
    db.session.flush()
    assert external_url("accounts.login") == "http://127.0.0.1:5000/login"
    db.session.rollback()
    db.session.expire_all()
    assert db.session.get(User, member.id).display_name == "Mia Member"
    assert sent_mail == []
    deliver_committed()
    assert [m.subject for m in sent_mail] == ["Your password was changed"]


def test_after_the_last_automatic_retry_an_operator_can_still_send(
    smtp_config, smtp_port, app, runner, member
):
    app.config["MAIL_MAX_ATTEMPTS"] = 2
    queue_mail(member.email, "Your password was changed", "password_changed", user=member)
    db.session.commit()
    deliver_committed()  # server down: attempt 1
    assert runner.invoke(args=["mail", "send-pending", "--all"]).exit_code == 1  # attempt 2
    db.session.expire_all()
    # Not due for automatic retries any more, and the status says so.
    db.session.execute(db.update(OutboxMessage).values(next_attempt_at=OutboxMessage.created_at))
    db.session.commit()
    assert "Sent 0, failed 0." in runner.invoke(args=["mail", "send-pending"]).output
    status = runner.invoke(args=["mail", "status"]).output
    assert "Given up after 2 attempts or a permanent error: 1" in status and "send-pending --all" in status
    with SmtpServer(smtp_port) as inbox:
        result = runner.invoke(args=["mail", "send-pending", "--all"])
        assert result.exit_code == 0 and "Sent 1, failed 0." in result.output
        assert len(inbox.messages) == 1
    assert "Given up" not in runner.invoke(args=["mail", "status"]).output


def test_extra_headers_of_our_making_reach_the_sent_message(app, sent_mail, member):
    queue_mail(
        member.email,
        "Hello",
        "password_reset",
        user=member,
        reset_url="https://example.test/r",
        headers={
            "List-Unsubscribe": "<https://example.test/u/abc>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    db.session.commit()
    deliver_committed()
    assert len(sent_mail) == 1
    assert sent_mail[0].extra_headers["List-Unsubscribe"] == "<https://example.test/u/abc>"
    assert sent_mail[0].extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
