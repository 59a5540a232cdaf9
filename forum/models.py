"""Models of the foundation: accounts, one-time tokens and the mail outbox.

Models describe data and guard invariants; they never commit. Services do.
"""

from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .extensions import db
from .timeutil import UTCDateTime, utcnow

ROLES = ("member", "editor", "moderator", "admin")
STAFF_ROLES = ("moderator", "admin")


class User(UserMixin, db.Model):  # type: ignore[name-defined]  # db.Model is dynamic
    __tablename__ = "user_account"
    __table_args__ = (
        CheckConstraint("role IN ('member', 'editor', 'moderator', 'admin')", name="role_known"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Stored lower-cased so one address is one account whatever its spelling.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(80))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20), default="member")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Part of the login cookie: bumping it signs out every other session.
    session_version: Mapped[int] = mapped_column(Integer, default=1)

    tokens: Mapped[list[AuthToken]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    @property
    def is_moderator(self) -> bool:
        return self.role in STAFF_ROLES

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role}>"


class AuthToken(db.Model):  # type: ignore[name-defined]  # db.Model is dynamic
    """A single-use secret sent by mail; only its SHA-256 is stored."""

    __tablename__ = "auth_token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(30))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(back_populates="tokens")


class PasswordResetRequest(db.Model):  # type: ignore[name-defined]  # db.Model is dynamic
    """ "Password reset requested" for an address: all the reset form writes, known address or not.

    The worker resolves each row within a second (a token and a mail if an account has the
    address, nothing otherwise) and deletes it, so no address is kept longer than needed.
    """

    __tablename__ = "password_reset_request"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254))  # normalised
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OutboxMessage(db.Model):  # type: ignore[name-defined]  # db.Model is dynamic
    """A mail queued in the same transaction as the change that caused it.

    It is sent after commit; a failed send leaves it here to be retried, so a
    mail server outage loses nothing.
    """

    __tablename__ = "mail_outbox"
    __table_args__ = (Index("ix_mail_outbox_pending", "sent_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(200))
    body_text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The worker holding the claim ("host:pid:random"): a claim by a dead process is taken over at once.
    claimed_by: Mapped[str | None] = mapped_column(String(120))
    # Set when automatic retries stop (a permanent SMTP error, or MAIL_MAX_ATTEMPTS reached);
    # `flask mail send-pending --all` tries it again.
    given_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Extra headers of our own making (List-Unsubscribe, ...), as JSON; never user input.
    headers: Mapped[dict | None] = mapped_column(JSON)


class WorkerJob(db.Model):  # type: ignore[name-defined]  # db.Model is dynamic
    """A scheduled job of `flask worker`: when it runs next, and who runs it now.

    The row is both the schedule shared by every worker (on every host) and the lease
    that makes a job run once at a time: a worker takes it with a conditional UPDATE.
    """

    __tablename__ = "worker_job"

    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    next_run_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(120))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_result: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)


class WorkerHeartbeat(db.Model):  # type: ignore[name-defined]  # db.Model is dynamic
    """One row per running worker, refreshed every loop: /healthz reads the newest."""

    __tablename__ = "worker_heartbeat"

    worker_id: Mapped[str] = mapped_column(String(120), primary_key=True)
    hostname: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
