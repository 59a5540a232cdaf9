"""Account services: every decision about accounts lives here, and so does the commit."""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from datetime import timedelta
from typing import cast

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from sqlalchemy import delete, select
from sqlalchemy.engine import CursorResult
from werkzeug.security import check_password_hash, generate_password_hash

from ..database import commit_unique, remember_committed
from ..errors import AuthenticationFailed, Gone, NotFound, ValidationFailed
from ..extensions import db
from ..mail import queue_mail, transaction_in_progress
from ..models import ROLES, AuthToken, PasswordResetRequest, User
from ..registries import AppList, add_once
from ..timeutil import utcnow
from ..urls import external_url
from .passwords import password_problems

PASSWORD_RESET = "password_reset"
DISPLAY_NAME_MAX = 80


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def _dummy_password_hash() -> str:
    """A hash of a random password, made once per app with the current method."""
    dummy = current_app.extensions.get("dummy_password_hash")
    if dummy is None:
        dummy = current_app.extensions["dummy_password_hash"] = hash_password(secrets.token_urlsafe(16))
    return dummy


def _spend_hash_time(password: str) -> None:
    """Checked when no account matches, so a miss costs one hash check, exactly like a hit.

    (The dummy hash is made once; before, `setdefault` hashed a new one on every miss,
    so an unknown address cost two hashes and was easy to tell apart by timing.)
    """
    check_password_hash(_dummy_password_hash(), password)


# Hooks that other areas register to add their data to the export and to act
# on account deletion (reviews, forum posts...), so accounts need not know them.
# Per-app registries (forum.registries): (name, function(user) -> data), function(user),
# and the sentences shown on the delete-account page.
export_sections: AppList = AppList("accounts.export_sections")
deletion_handlers: AppList = AppList("accounts.deletion_handlers")
deletion_explanations: AppList = AppList("accounts.deletion_explanations")


def register_export_section(name: str, section, app=None) -> None:
    add_once(export_sections, (name, section), app)


def register_deletion_handler(handler, explanation: str | None = None, app=None) -> None:
    add_once(deletion_handlers, handler, app)
    if explanation:
        add_once(deletion_explanations, explanation, app)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def normalise_email(raw: str, field: str = "email", *, for_sending: bool = True) -> str:
    """Validate an address for use as a recipient; refuse anything that could inject headers.

    `for_sending=False` only looks an address up (login): accounts made before the
    SMTPUTF8 rule can still sign in.
    """
    if not isinstance(raw, str) or not raw.strip():
        raise ValidationFailed(field_errors={field: ["Enter your email address."]})
    if len(raw) > 254 or any(ch in raw for ch in "\r\n\x00"):
        raise ValidationFailed(field_errors={field: ["Enter a valid email address."]})
    try:
        info = validate_email(raw.strip(), check_deliverability=False)
    except EmailNotValidError as error:
        raise ValidationFailed(field_errors={field: [f"Enter a valid email address: {error}"]}) from error
    if for_sending and not current_app.config.get("MAIL_SMTPUTF8") and not info.local_part.isascii():
        # Without SMTPUTF8 our mail server cannot send to such an address: refuse it now
        # rather than accept it and never deliver the mail it is for.
        raise ValidationFailed(
            field_errors={
                field: [
                    "We cannot send mail to an address with accented or non-Latin letters before the @. "
                    "Please use another address."
                ]
            }
        )
    return info.normalized.lower()


def clean_display_name(raw: str) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise ValidationFailed(field_errors={"display_name": ["Enter a display name."]})
    if len(raw) > DISPLAY_NAME_MAX:
        raise ValidationFailed(field_errors={"display_name": [f"Use at most {DISPLAY_NAME_MAX} characters."]})
    # Names are shown beside public content: no invisible or control characters.
    if any(unicodedata.category(ch) in {"Cc", "Cf", "Cs", "Co", "Cn"} for ch in raw):
        raise ValidationFailed(
            field_errors={
                "display_name": [
                    "Use letters, digits, spaces and punctuation only (no control or invisible characters)."
                ]
            }
        )
    return raw.strip()


def _check_password(password: str, email: str, display_name: str, field: str = "password"):
    problems = password_problems(password, email, display_name)
    if problems:
        raise ValidationFailed(field_errors={field: problems})


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == email.lower()))


def register_user(email: str, display_name: str, password: str, role: str = "member") -> User:
    email = normalise_email(email)
    display_name = clean_display_name(display_name)
    _check_password(password, email, display_name)
    if role not in ROLES:
        raise ValidationFailed(f"Unknown role {role!r}; use one of {', '.join(ROLES)}.")
    taken = {"email": ["An account with this email address already exists. Log in, or reset your password."]}
    if find_user_by_email(email) is not None:
        raise ValidationFailed(field_errors=taken)
    user = User(
        email=email,
        display_name=display_name,
        password_hash=hash_password(password),
        role=role,
    )
    db.session.add(user)
    commit_unique(field_errors=taken)  # the same address registered twice at once
    return user


def authenticate(email: str, password: str) -> User:
    """The same answer and roughly the same time whether or not the email is known."""
    failure = AuthenticationFailed("Email or password is not correct.")
    try:
        email = normalise_email(email, for_sending=False)
    except ValidationFailed:
        _spend_hash_time(password)
        raise failure from None
    user = find_user_by_email(email)
    if user is None:
        _spend_hash_time(password)
        raise failure
    if not check_password_hash(user.password_hash, password):
        raise failure
    user.last_login_at = utcnow()
    db.session.commit()
    return user


def _issue_token(user: User, purpose: str, hours: int) -> str:
    token = secrets.token_urlsafe(32)  # 256 bits
    db.session.add(
        AuthToken(
            user=user,
            purpose=purpose,
            token_hash=hash_token(token),
            expires_at=utcnow() + timedelta(hours=hours),
        )
    )
    return token


def request_password_reset(email: str) -> None:
    """Store "a reset was asked for this address" and nothing else; say nothing either way.

    The same write for every address, known or not: the worker looks the address up,
    issues the token and queues the mail (`resolve_password_reset_requests`).
    """
    try:
        email = normalise_email(email)
    except ValidationFailed:
        return
    db.session.add(PasswordResetRequest(email=email, created_at=utcnow()))
    db.session.commit()


def resolve_password_reset_requests(limit: int = 100) -> int:
    """Worker: mail a reset link for each stored request whose address has an account, then
    forget the request. Returns how many requests were resolved.

    Each row is claimed by deleting it in the transaction that issues its token and mail,
    so of two workers exactly one resolves it, and a failure leaves it to be tried again.
    """
    ids = db.session.scalars(
        select(PasswordResetRequest.id).order_by(PasswordResetRequest.id).limit(limit)
    ).all()
    db.session.rollback()
    resolved = 0
    hours = current_app.config["PASSWORD_RESET_HOURS"]
    for request_id in ids:
        email = db.session.scalar(
            delete(PasswordResetRequest)
            .where(PasswordResetRequest.id == request_id)
            .returning(PasswordResetRequest.email)
        )
        if email is None:  # another worker took it
            db.session.rollback()
            continue
        user = find_user_by_email(email)
        if user is not None:
            token = _issue_token(user, PASSWORD_RESET, hours)
            queue_mail(
                user.email,
                "Reset your password",
                "password_reset",
                user=user,
                link=external_url("accounts.reset_password", token=token),
                hours=hours,
            )
        db.session.commit()
        resolved += 1
    return resolved


# WORKER_INLINE (tests only): resolve the requests a context committed at its end, before
# the mail drain (forum.mail) sends what they queued. Flags as in forum.mail.


remember_committed(PasswordResetRequest, "reset_requests")


def resolve_committed_reset_requests() -> None:
    """WORKER_INLINE only: run the worker's resolve once if this context committed a request."""
    if not current_app.config.get("WORKER_INLINE") or not db.session.info.get("reset_requests_committed"):
        return
    if transaction_in_progress():
        return
    db.session.info.pop("reset_requests_committed")
    try:
        resolve_password_reset_requests()
    except Exception:  # the rows stay for the worker
        db.session.rollback()
        current_app.logger.exception("inline password reset resolution failed; still stored")


def _usable_token(token: str, purpose: str) -> AuthToken:
    record = db.session.scalar(
        select(AuthToken).where(AuthToken.token_hash == hash_token(token), AuthToken.purpose == purpose)
    )
    if record is None or record.used_at is not None or record.expires_at <= utcnow():
        raise Gone("This link has expired or has already been used. Please ask for a new one.")
    return record


def check_password_reset_token(token: str) -> None:
    _usable_token(token, PASSWORD_RESET)


def reset_password(token: str, new_password: str) -> User:
    record = _usable_token(token, PASSWORD_RESET)
    user = record.user
    _check_password(new_password, user.email, user.display_name)
    # Conditional update: of two simultaneous uses, exactly one wins.
    claimed = cast(
        CursorResult,
        db.session.execute(
            AuthToken.__table__.update()
            .where(AuthToken.id == record.id, AuthToken.used_at.is_(None))
            .values(used_at=utcnow())
        ),
    ).rowcount
    if claimed != 1:
        db.session.rollback()
        raise Gone("This link has already been used.")
    _set_password(user, new_password)
    queue_mail(user.email, "Your password was changed", "password_changed", user=user)
    db.session.commit()
    return user


def _set_password(user: User, new_password: str) -> None:
    """New hash, every other session ended, and no older reset link works any more."""
    user.password_hash = hash_password(new_password)
    user.session_version += 1
    db.session.execute(
        AuthToken.__table__.update()
        .where(
            AuthToken.user_id == user.id,
            AuthToken.purpose == PASSWORD_RESET,
            AuthToken.used_at.is_(None),
        )
        .values(used_at=utcnow())
    )


def _require_password(user: User, password: str, field: str = "current_password") -> None:
    if not check_password_hash(user.password_hash, password or ""):
        raise ValidationFailed(field_errors={field: ["Your current password is not correct."]})


def change_display_name(user: User, display_name: str) -> None:
    user.display_name = clean_display_name(display_name)
    db.session.commit()


def change_email(user: User, new_email: str, current_password: str) -> None:
    _require_password(user, current_password)
    new_email = normalise_email(new_email)
    if new_email == user.email:
        return
    if find_user_by_email(new_email) is not None:
        raise ValidationFailed(field_errors={"email": ["Another account already uses this email address."]})
    old_email = user.email
    user.email = new_email
    # Tell the old address, so a hijacked session cannot quietly take the account.
    queue_mail(old_email, "Your email address was changed", "email_changed", user=user, old_email=old_email)
    db.session.commit()


def change_password(user: User, current_password: str, new_password: str) -> None:
    _require_password(user, current_password)
    _check_password(new_password, user.email, user.display_name, field="new_password")
    _set_password(user, new_password)
    queue_mail(user.email, "Your password was changed", "password_changed", user=user)
    db.session.commit()


def export_account_data(user: User) -> dict:
    data = {
        "account": {
            "id": user.id,
            "email": user.email,
            "display_name": user.display_name,
            "role": user.role,
            "created_at": user.created_at.isoformat(),
            "last_login_at": user.last_login_at.isoformat() if user.last_login_at else None,
        },
        "password_reset_requests": [
            {
                "created_at": t.created_at.isoformat(),
                "expires_at": t.expires_at.isoformat(),
                "used_at": t.used_at.isoformat() if t.used_at else None,
            }
            for t in user.tokens
        ],
    }
    for name, section in export_sections:
        data[name] = section(user)
    return data


def delete_account(user: User, password: str) -> None:
    _require_password(user, password, field="password")
    for handler in deletion_handlers:
        handler(user)
    email = user.email
    db.session.delete(user)
    queue_mail(email, "Your account was deleted", "account_deleted")
    db.session.commit()


def create_user_from_cli(email: str, password: str, role: str, display_name: str | None) -> User:
    email_normalised = normalise_email(email)
    return register_user(email_normalised, display_name or email_normalised.split("@", 1)[0], password, role)


def set_role(email: str, role: str) -> User:
    if role not in ROLES:
        raise ValidationFailed(f"Unknown role {role!r}; use one of {', '.join(ROLES)}.")
    user = find_user_by_email(normalise_email(email))
    if user is None:
        raise NotFound(f"No account with email {email}.")
    user.role = role  # read on every request, so it takes effect at once
    db.session.commit()
    return user


def list_users() -> list[User]:
    return list(db.session.scalars(select(User).order_by(User.id)))
