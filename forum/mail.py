"""Mail through a database outbox.

`queue_mail` adds a message to the current transaction, so it exists exactly
when the change that caused it committed; requests never send anything.
`flask worker` (forum/worker.py) sends it within a second: it claims one row
at a time (PostgreSQL: `FOR UPDATE SKIP LOCKED`, held while sending; SQLite: a
lease naming the claiming process, taken over at once when that process is
gone), so several workers never send a message twice and a killed one loses
nothing. A temporary failure is retried with a back-off; a permanent one (an
SMTP 5xx answer) or MAIL_MAX_ATTEMPTS failures give the message up, visible in
`flask mail status` and sent again by `flask mail send-pending --all`.
"""

from __future__ import annotations

import os
import secrets
import smtplib
import socket
import sys
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

from flask import current_app, render_template
from flask_mailman import EmailMessage
from flask_mailman.backends.base import BaseEmailBackend
from sqlalchemy import event, func, or_, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from .database import remember_committed
from .extensions import db, mail
from .models import OutboxMessage
from .timeutil import utcnow

# A claim on SQLite is a lease this long (sending one message takes a few MAIL_TIMEOUTs at
# most); a claim by a process that is gone is taken over at once, whatever the lease says.
# PostgreSQL needs no lease: a row lock (FOR UPDATE SKIP LOCKED) dies with its connection.
CLAIM_MIN_SECONDS = 60


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
    message = OutboxMessage(to_address=to_address, subject=subject, body_text=body, headers=headers or None)
    db.session.add(message)
    return message


def _backoff(attempts: int) -> timedelta:
    return timedelta(minutes=min(2**attempts, 24 * 60))


# --- who holds a claim ------------------------------------------------------------

_identity: tuple[int, str] | None = None


def process_identity() -> str:
    """The "host:pid:random" name of this process (a forked child gets its own)."""
    global _identity
    if _identity is None or _identity[0] != os.getpid():
        _identity = (os.getpid(), f"{socket.gethostname()[:80]}:{os.getpid()}:{secrets.token_hex(4)}")
    return _identity[1]


def owner_is_gone(owner: str | None) -> bool:
    """True when `owner` (a process_identity) is a process of this host that no longer runs.

    Owners on other hosts are never judged here: their claims end with their lease.
    """
    if not owner:
        return True
    parts = owner.rsplit(":", 2)
    if len(parts) != 3:
        return False
    host, pid_text, _ = parts
    if host != socket.gethostname()[:80] or not pid_text.isdigit():
        return False
    if owner == process_identity():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return True  # an earlier process that had our pid
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except (OSError, IndexError):
        return False


# --- sending ---------------------------------------------------------------------


def is_permanent_failure(error: BaseException) -> bool:
    """An SMTP 5xx answer for the message (not a login problem): retrying cannot help."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in error.recipients.values()]
        return bool(codes) and all(500 <= code < 600 for code in codes)
    if isinstance(error, smtplib.SMTPAuthenticationError):
        return False  # our configuration, not this message: keep retrying
    if isinstance(error, smtplib.SMTPResponseException):
        return 500 <= error.smtp_code < 600
    return False


def describe_error(error: BaseException) -> str:
    """The error for the row, the status and the log, without the recipient's address."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        answers = sorted(
            {
                f"{code} {reply.decode('utf-8', 'replace') if isinstance(reply, bytes) else reply}"
                for code, reply in error.recipients.values()
            }
        )
        return f"SMTPRecipientsRefused: {'; '.join(answers)}"
    if isinstance(error, smtplib.SMTPResponseException):
        reply = (
            error.smtp_error.decode("utf-8", "replace")
            if isinstance(error.smtp_error, bytes)
            else error.smtp_error
        )
        return f"{type(error).__name__}: {error.smtp_code} {reply}"
    return f"{type(error).__name__}: {error}"


def _send(message: OutboxMessage) -> None:
    EmailMessage(
        subject=message.subject,
        body=message.body_text,
        from_email=current_app.config["MAIL_DEFAULT_SENDER"],
        to=[message.to_address],
        headers=dict(message.headers or {}),
        connection=mail.get_connection(),
    ).send()


def _record(message: OutboxMessage, error: BaseException | None) -> str:
    """Write the outcome of one attempt on the row; returns "sent", "failed" or "given_up"."""
    now = utcnow()
    message.attempts = (message.attempts or 0) + 1
    message.claimed_until = None
    message.claimed_by = None
    if error is None:
        message.sent_at = now
        message.last_error = None
        message.given_up_at = None
        return "sent"
    message.last_error = describe_error(error)[:2000]
    message.next_attempt_at = now + _backoff(message.attempts)
    permanent = is_permanent_failure(error)
    if permanent or message.attempts >= current_app.config["MAIL_MAX_ATTEMPTS"]:
        message.given_up_at = now
        current_app.logger.warning(
            "mail %s given up (%s): %s",
            message.id,
            "permanent error" if permanent else "too many attempts",
            message.last_error,
        )
        return "given_up"
    current_app.logger.warning("mail %s not sent, retried later: %s", message.id, message.last_error)
    return "failed"


def _due_conditions(include_not_due: bool) -> list:
    conditions: list = [OutboxMessage.sent_at.is_(None)]
    if not include_not_due:
        conditions += [
            OutboxMessage.next_attempt_at <= utcnow(),
            OutboxMessage.given_up_at.is_(None),
            OutboxMessage.attempts < current_app.config["MAIL_MAX_ATTEMPTS"],
        ]
    return conditions


def _claim_seconds() -> float:
    return max(CLAIM_MIN_SECONDS, 6 * float(current_app.config.get("MAIL_TIMEOUT") or 10))


def _send_next_postgres(session: Session, conditions: list, after_id: int) -> tuple[int, str] | None:
    """Lock the next due row (skipping rows other workers hold), send it, record, commit."""
    message = session.scalars(
        select(OutboxMessage)
        .where(*conditions, OutboxMessage.id > after_id)
        .order_by(OutboxMessage.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    ).first()
    if message is None:
        session.rollback()
        return None
    error = None
    try:
        _send(message)
    except Exception as exc:  # any transport failure: recorded on the row
        error = exc
    outcome = _record(message, error)
    session.commit()
    return message.id, outcome


def _send_next_leased(session: Session, conditions: list, after_id: int) -> tuple[int, str] | None:
    """Claim the next due row with a conditional UPDATE (a lease naming us), send, record."""
    while True:
        now = utcnow()
        rows = session.execute(
            select(OutboxMessage.id, OutboxMessage.claimed_by, OutboxMessage.claimed_until)
            .where(*conditions, OutboxMessage.id > after_id)
            .order_by(OutboxMessage.id)
            .limit(50)
        ).all()
        session.rollback()
        if not rows:
            return None
        for row_id, owner, until in rows:
            after_id = row_id
            if until is not None and until > now and not owner_is_gone(owner):
                continue  # another live process is sending it
            seen = (
                [OutboxMessage.claimed_until.is_(None)]
                if until is None
                else [OutboxMessage.claimed_until == until]
            )
            result = session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == row_id, OutboxMessage.sent_at.is_(None), *seen)
                .values(
                    claimed_by=process_identity(), claimed_until=now + timedelta(seconds=_claim_seconds())
                )
            )
            session.commit()
            if cast(CursorResult, result).rowcount != 1:
                continue  # someone else was quicker
            message = session.get(OutboxMessage, row_id)
            assert message is not None  # claimed just above
            error = None
            try:
                _send(message)
            except Exception as exc:
                error = exc
            outcome = _record(message, error)
            session.commit()
            return row_id, outcome


def send_pending(
    include_not_due: bool = False, limit: int = 500, *, stop_on_failure: bool = False
) -> tuple[int, int]:
    """Send queued messages that are due, one claimed row at a time. Returns (sent, failed).

    `include_not_due` (an operator's `--all`, e.g. after a long outage) tries every
    unsent message once, also those backing off or given up. `stop_on_failure`
    (the worker) stops at the first temporary failure: the server is probably down.
    """
    sent = failed = 0
    after_id = 0
    conditions = _due_conditions(include_not_due)
    with Session(db.engine, expire_on_commit=False) as session:
        postgres = session.get_bind().dialect.name == "postgresql"
        for _ in range(limit):
            step = (_send_next_postgres if postgres else _send_next_leased)(session, conditions, after_id)
            if step is None:
                break
            after_id, outcome = step
            if outcome == "sent":
                sent += 1
            else:
                failed += 1
                if stop_on_failure and outcome == "failed":
                    break
    return sent, failed


def _held_count(now) -> int:
    """Messages a sender is working on right now."""
    if db.engine.dialect.name != "postgresql":
        return (
            db.session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.sent_at.is_(None), OutboxMessage.claimed_until > now)
            )
            or 0
        )
    # On PostgreSQL a sender holds a row lock: count the unsent rows we cannot lock.
    with Session(db.engine) as session:
        unsent = (
            session.scalar(
                select(func.count()).select_from(OutboxMessage).where(OutboxMessage.sent_at.is_(None))
            )
            or 0
        )
        free = len(
            session.scalars(
                select(OutboxMessage.id)
                .where(OutboxMessage.sent_at.is_(None))
                .with_for_update(read=True, key_share=True, skip_locked=True)
            ).all()
        )
        session.rollback()
    return max(0, unsent - free)


def outbox_status() -> dict:
    now = utcnow()
    max_attempts = current_app.config["MAIL_MAX_ATTEMPTS"]
    unsent = OutboxMessage.sent_at.is_(None)
    given_up = or_(OutboxMessage.given_up_at.is_not(None), OutboxMessage.attempts >= max_attempts)

    def count(*conditions) -> int:
        return db.session.scalar(select(func.count()).select_from(OutboxMessage).where(*conditions)) or 0

    counts: dict[str, Any] = dict(
        pending=count(unsent),
        held=_held_count(now),
        failing=count(unsent, OutboxMessage.attempts > 0, ~given_up),
        given_up=count(unsent, given_up),
        sent=count(OutboxMessage.sent_at.is_not(None)),
    )
    counts["waiting"] = counts["pending"] - counts["given_up"]
    counts["oldest_pending_at"] = db.session.scalar(
        select(func.min(OutboxMessage.created_at)).where(unsent, ~given_up)
    )
    counts["last_error"] = db.session.scalar(
        select(OutboxMessage.last_error)
        .where(unsent, OutboxMessage.last_error.is_not(None))
        .order_by(OutboxMessage.id.desc())
        .limit(1)
    )
    # Who they are (no address, no body: operators read this in shared terminals and logs).
    counts["problems"] = db.session.execute(
        select(
            OutboxMessage.id,
            OutboxMessage.subject,
            OutboxMessage.attempts,
            OutboxMessage.created_at,
            OutboxMessage.claimed_until,
            OutboxMessage.given_up_at,
            OutboxMessage.last_error,
        )
        .where(unsent, or_(OutboxMessage.attempts > 0, OutboxMessage.claimed_until > now))
        .order_by(OutboxMessage.id)
        .limit(50)
    ).all()
    return counts


# --- WORKER_INLINE (tests) ------------------------------------------------------
# Requests only enqueue; `flask worker` sends. With WORKER_INLINE (the test suite's
# setting, never production) the worker's own send_pending runs at the end of each
# app context that committed a message, so tests read the mail a request caused.


remember_committed(OutboxMessage, "outbox")


# Whether this session flushed writes it has not committed or rolled back yet.
@event.listens_for(Session, "after_flush")
def _note_writes_in_progress(session, flush_context):
    session.info["writes_in_progress"] = True


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _writes_ended(session):
    session.info.pop("writes_in_progress", None)


def transaction_in_progress() -> bool:
    session = db.session
    return bool(session.info.get("writes_in_progress") or session.new or session.dirty or session.deleted)


def deliver_committed() -> None:
    """WORKER_INLINE only: run the worker's send_pending once if this context committed mail."""
    if not current_app.config.get("WORKER_INLINE") or not db.session.info.get("outbox_committed"):
        return
    # A teardown can come while a change is still in progress (a short request context
    # opened inside a CLI command): then wait for the next teardown.
    if transaction_in_progress():
        return
    db.session.info.pop("outbox_committed")
    try:
        send_pending()
    except Exception:  # the outbox keeps it
        current_app.logger.exception("inline mail delivery failed; still queued")


def init_app(app) -> None:
    @app.teardown_request
    def _deliver_after_request(exc):
        if exc is None:
            deliver_committed()

    @app.teardown_appcontext
    def _deliver_after_commit(exc):
        if exc is None:
            deliver_committed()
