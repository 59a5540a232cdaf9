"""Mail through a database outbox.

`queue_mail` adds a message to the current transaction; it is delivered only
after that transaction commits (and never if it rolls back). Delivery claims a
message with a conditional UPDATE so two workers never send it twice, and a
failed send stays queued with a back-off for `flask mail send-pending`.
"""

from __future__ import annotations

import secrets
import sys
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import timedelta
from pathlib import Path

from flask import current_app, render_template
from flask_mailman import EmailMessage
from flask_mailman.backends.base import BaseEmailBackend
from sqlalchemy import event, func, select, update
from sqlalchemy.orm import Session

from .extensions import db, mail
from .models import OutboxMessage
from .timeutil import utcnow

CLAIM_SECONDS = 300


# Set while `flask demo` loads its data: the notifications it causes are saved
# but not printed, so they do not bury the passwords the command prints.
_quiet = ContextVar("quiet_development_mail", default=False)


@contextmanager
def quiet_development_mail():
    token = _quiet.set(True)
    try:
        yield
    finally:
        _quiet.reset(token)


class DevelopmentEmailBackend(BaseEmailBackend):
    """Prints each message and keeps a copy in <instance>/mail/*.eml."""

    def send_messages(self, email_messages):
        folder = Path(self.mailman.file_path or current_app.instance_path)
        folder.mkdir(parents=True, exist_ok=True)
        for message in email_messages:
            data = message.message().as_bytes()
            name = f"{utcnow():%Y%m%d-%H%M%S}-{secrets.token_hex(4)}.eml"
            (folder / name).write_bytes(data)
            if not _quiet.get():
                sys.stdout.write(data.decode("utf-8", "replace") + "\n" + "-" * 72 + "\n")
                sys.stdout.flush()
        return len(email_messages)


def queue_mail(
    to_address: str, subject: str, template: str, *, headers: dict[str, str] | None = None, **context
) -> OutboxMessage:
    """Queue a plain-text mail rendered from templates/mail/<template>.txt.

    The subject is always our own fixed text: user input never reaches a header
    other than the validated recipient address. `headers` are extra headers the
    code makes itself (List-Unsubscribe, List-Unsubscribe-Post).
    """
    body = render_template(f"mail/{template}.txt", **context)
    message = OutboxMessage(
        to_address=to_address, subject=subject, body_text=body, headers=headers or None
    )
    db.session.add(message)
    return message


def _backoff(attempts: int) -> timedelta:
    return timedelta(minutes=min(2 ** attempts, 24 * 60))


def _claim(message_id: int) -> bool:
    now = utcnow()
    result = db.session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == message_id,
            OutboxMessage.sent_at.is_(None),
            (OutboxMessage.claimed_until.is_(None)) | (OutboxMessage.claimed_until < now),
        )
        .values(claimed_until=now + timedelta(seconds=CLAIM_SECONDS))
    )
    db.session.commit()
    return result.rowcount == 1


def deliver(message_ids) -> tuple[int, int]:
    """Try to send the given messages now. Returns (sent, failed)."""
    sent = failed = 0
    for message_id in message_ids:
        if not _claim(message_id):
            continue
        message = db.session.get(OutboxMessage, message_id)
        try:
            EmailMessage(
                subject=message.subject,
                body=message.body_text,
                from_email=current_app.config["MAIL_DEFAULT_SENDER"],
                to=[message.to_address],
                headers=dict(message.headers or {}),
                connection=mail.get_connection(),
            ).send()
        except Exception as error:  # any transport failure: keep it queued
            message.attempts += 1
            message.last_error = f"{type(error).__name__}: {error}"[:2000]
            message.next_attempt_at = utcnow() + _backoff(message.attempts)
            message.claimed_until = None
            failed += 1
            current_app.logger.warning("mail %s not sent: %s", message_id, message.last_error)
        else:
            message.attempts += 1
            message.sent_at = utcnow()
            message.claimed_until = None
            message.last_error = None
            sent += 1
        db.session.commit()
    return sent, failed


def send_pending(include_not_due: bool = False, limit: int = 500) -> tuple[int, int]:
    """Send queued messages that are due.

    Automatic retries stop after MAIL_MAX_ATTEMPTS; `include_not_due` (an operator's
    `--all`, e.g. after a long outage) tries every unsent message again.
    """
    query = select(OutboxMessage.id).where(OutboxMessage.sent_at.is_(None))
    if not include_not_due:
        query = query.where(
            OutboxMessage.next_attempt_at <= utcnow(),
            OutboxMessage.attempts < current_app.config["MAIL_MAX_ATTEMPTS"],
        )
    ids = db.session.scalars(query.order_by(OutboxMessage.id).limit(limit)).all()
    return deliver(ids)


def outbox_status() -> dict:
    counts = dict(
        pending=db.session.scalar(
            select(func.count()).where(OutboxMessage.sent_at.is_(None))
        ),
        failing=db.session.scalar(
            select(func.count()).where(
                OutboxMessage.sent_at.is_(None), OutboxMessage.attempts > 0
            )
        ),
        sent=db.session.scalar(
            select(func.count()).where(OutboxMessage.sent_at.is_not(None))
        ),
    )
    counts["given_up"] = db.session.scalar(
        select(func.count()).where(
            OutboxMessage.sent_at.is_(None),
            OutboxMessage.attempts >= current_app.config["MAIL_MAX_ATTEMPTS"],
        )
    )
    counts["oldest_pending_at"] = db.session.scalar(
        select(func.min(OutboxMessage.created_at)).where(OutboxMessage.sent_at.is_(None))
    )
    counts["last_error"] = db.session.scalar(
        select(OutboxMessage.last_error)
        .where(OutboxMessage.sent_at.is_(None), OutboxMessage.last_error.is_not(None))
        .order_by(OutboxMessage.id.desc())
        .limit(1)
    )
    return counts


# --- after-commit delivery -------------------------------------------------
# Ids of messages flushed in the current transaction become deliverable only
# once that transaction commits; a rollback forgets them.

@event.listens_for(Session, "after_flush")
def _remember_new_messages(session, flush_context):
    session.info["writes_in_progress"] = True
    new_ids = [obj.id for obj in session.new if isinstance(obj, OutboxMessage)]
    if new_ids:
        session.info.setdefault("outbox_uncommitted", []).extend(new_ids)


@event.listens_for(Session, "after_commit")
def _promote_committed_messages(session):
    session.info.pop("writes_in_progress", None)
    ids = session.info.pop("outbox_uncommitted", None)
    if ids:
        session.info.setdefault("outbox_committed", []).extend(ids)


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back_messages(session):
    session.info.pop("writes_in_progress", None)
    session.info.pop("outbox_uncommitted", None)


def _transaction_in_progress() -> bool:
    session = db.session
    return bool(session.info.get("writes_in_progress") or session.new or session.dirty or session.deleted)


def deliver_committed() -> None:
    """Send what this app context committed. Called at request and app-context teardown."""
    if not db.session.info.get("outbox_committed"):
        return
    # Delivery commits. A teardown can come while a change is still in progress (a
    # short request context opened inside a CLI command, e.g. by external_url()):
    # then wait for the next teardown rather than commit half of that change.
    if _transaction_in_progress():
        return
    ids = db.session.info.pop("outbox_committed")
    try:
        deliver(ids)
    except Exception:  # never let mail break the response; the outbox keeps it
        db.session.rollback()
        current_app.logger.exception("mail delivery after commit failed; still queued")


def init_app(app) -> None:
    # Requests and CLI commands both end here; a request inside an outer app
    # context (tests, CLI) would otherwise wait for that context to end.
    @app.teardown_request
    def _deliver_after_request(exc):
        if exc is None:
            deliver_committed()

    @app.teardown_appcontext
    def _deliver_after_commit(exc):
        if exc is None:
            deliver_committed()
