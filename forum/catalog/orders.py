"""Orders from the shop and verified purchases.

Orders arrive by `flask orders import FILE` or the signed webhook `POST /api/orders`;
the same order twice changes nothing. A review is a verified purchase when its
author's confirmed account address has an order containing the product's SKU
dated before the review was submitted: decided once, at submission, logged, and
never changed afterwards (`ReviewFacts.verified_purchase`).
Orders are personal data: exported and erased with the account, erased by
removal requests for the address, and kept at most ORDERS_RETENTION_DAYS.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from flask import current_app
from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.engine import CursorResult

from forum.accounts.services import hash_token, normalise_email
from forum.errors import AuthenticationFailed, Gone, ValidationFailed
from forum.extensions import db
from forum.mail import queue_mail
from forum.models import User
from forum.timeutil import utcnow
from forum.urls import external_url

from .trust_models import EmailConfirmation, Order, OrderItem, ReviewInvitation

CSV_COLUMNS = ["order_id", "email", "sku", "ordered_at"]
ORDER_REF_MAX = 64
SKU_MAX = 64
MAX_ITEMS = 500
WEBHOOK_TOLERANCE_SECONDS = 300
DEFAULT_RETENTION_DAYS = 730
EMAIL_CONFIRM_HOURS = 48


class BadSignature(AuthenticationFailed):
    """The webhook's signature or timestamp is missing, wrong or stale (401)."""


# --- parsing ----------------------------------------------------------------------


def parse_timestamp(raw) -> datetime:
    """ISO 8601 date-time (or date); without a zone it is UTC. Never in the future."""
    if not isinstance(raw, str) or not raw.strip() or len(raw) > 40:
        raise ValueError("ordered_at must be an ISO 8601 date and time, e.g. 2026-11-02T14:30:00Z")
    text = raw.strip()
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"ordered_at {text!r} is not an ISO 8601 date and time, e.g. 2026-11-02T14:30:00Z"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    if value > utcnow() + timedelta(minutes=5):
        raise ValueError(f"ordered_at {text} is in the future")
    return value


def _check_ref(raw) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise ValueError("order_id is missing")
    ref = raw.strip()
    if len(ref) > ORDER_REF_MAX or any(ord(ch) < 32 for ch in ref):
        raise ValueError(f"order_id must be 1-{ORDER_REF_MAX} printable characters")
    return ref


def _check_sku(raw) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise ValueError("sku is missing")
    sku = raw.strip()
    if len(sku) > SKU_MAX or any(ch.isspace() or ord(ch) < 32 or ch in "/?#%\\" for ch in sku):
        raise ValueError(f"sku must be 1-{SKU_MAX} characters without spaces or / ? # % \\")
    return sku


def _check_email(raw) -> str:
    try:
        return normalise_email(raw)
    except ValidationFailed as error:
        raise ValueError((error.field_errors.get("email") or ["email is not valid"])[0]) from error


# --- storing (idempotent) ------------------------------------------------------------


def _store(orders: dict[str, dict]) -> dict:
    """orders: ref -> {"email", "ordered_at", "skus"}; existing orders keep their data and gain
    only SKUs they did not have. Returns counts. No commit."""
    created = updated = unchanged = 0
    refs = list(orders)
    existing: dict[str, Order] = {}
    for start in range(0, len(refs), 500):
        for stored in db.session.scalars(select(Order).where(Order.order_ref.in_(refs[start : start + 500]))):
            existing[stored.order_ref] = stored
    for ref, data in orders.items():
        order = existing.get(ref)
        if order is None:
            order = Order(order_ref=ref, email=data["email"], ordered_at=data["ordered_at"])
            order.items = [OrderItem(sku=sku) for sku in data["skus"]]
            db.session.add(order)
            created += 1
            continue
        have = {item.sku for item in order.items}
        new = [sku for sku in data["skus"] if sku not in have]
        for sku in new:
            order.items.append(OrderItem(sku=sku))
        if new:
            updated += 1
        else:
            unchanged += 1
    db.session.flush()
    return {"created": created, "updated": updated, "unchanged": unchanged}


def _conflicts_with_stored(ref: str, email: str, ordered_at: datetime) -> str | None:
    stored = db.session.scalar(select(Order).where(Order.order_ref == ref))
    if stored is None:
        return None
    if stored.email != email or stored.ordered_at != ordered_at:
        return f"order {ref} was already received with another email or date"
    return None


def import_orders_csv(text: str) -> dict:
    """Import CSV text with the header order_id,email,sku,ordered_at (one line per item).

    Every line is checked first; if any is bad, nothing is stored and every problem is
    listed with its line number (ValidationFailed.field_errors["rows"])."""
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader, None)
    except csv.Error as error:
        raise ValidationFailed(f"Nothing was imported: line 1 cannot be read as CSV ({error}).") from error
    if header is None or [h.strip() for h in header] != CSV_COLUMNS:
        raise ValidationFailed(
            "Nothing was imported: the first line must be exactly order_id,email,sku,ordered_at."
        )
    problems: list[str] = []
    orders: dict[str, dict] = {}
    try:
        for row in reader:
            line = reader.line_num
            if not row or all(not cell.strip() for cell in row):
                continue
            if len(row) != 4:
                problems.append(
                    f"line {line}: expected 4 columns (order_id,email,sku,ordered_at), found {len(row)}"
                )
                continue
            try:
                if any("\x00" in cell for cell in row):
                    raise ValueError("contains a NUL character")
                ref = _check_ref(row[0])
                email = _check_email(row[1])
                sku = _check_sku(row[2])
                ordered_at = parse_timestamp(row[3])
            except ValueError as error:
                problems.append(f"line {line}: {error}")
                continue
            data = orders.setdefault(
                ref, {"email": email, "ordered_at": ordered_at, "skus": [], "line": line}
            )
            if data["email"] != email or data["ordered_at"] != ordered_at:
                problems.append(f"line {line}: order {ref} has another email or date on line {data['line']}")
                continue
            conflict = _conflicts_with_stored(ref, email, ordered_at) if len(data["skus"]) == 0 else None
            if conflict:
                problems.append(f"line {line}: {conflict}")
                continue
            if sku not in data["skus"]:
                data["skus"].append(sku)
    except csv.Error as error:
        problems.append(f"line {reader.line_num}: cannot be read as CSV ({error})")
    if problems:
        raise ValidationFailed(
            f"Nothing was imported: {len(problems)} problem(s).", field_errors={"rows": problems}
        )
    result = _store(orders)
    db.session.commit()
    return result


# --- the webhook ------------------------------------------------------------------------


def check_signature(
    secret: str | None, timestamp: str | None, signature: str | None, body: bytes, now: float | None = None
) -> None:
    """X-Timestamp (Unix seconds, within 5 minutes of ours) and X-Signature: sha256=<hex>,
    the HMAC-SHA256 of "<timestamp>.<raw body>". Anything else raises BadSignature."""
    failure = BadSignature("The request is not signed correctly.")
    if not secret:
        current_app.logger.warning("POST /api/orders refused: ORDERS_WEBHOOK_SECRET is not set")
        raise failure
    if not timestamp or not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        raise failure
    current = time.time() if now is None else now
    if abs(current - int(timestamp)) > WEBHOOK_TOLERANCE_SECONDS:
        raise failure
    if not signature or not signature.startswith("sha256="):
        raise failure
    expected = hmac.new(
        secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256
    ).hexdigest()
    if not hmac.compare_digest(expected, signature[len("sha256=") :].strip().lower()):
        raise failure


def sign(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """Headers the shop sends (used by tests, the demo and the docs' example)."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode("utf-8"), ts.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()
    return {"X-Timestamp": ts, "X-Signature": f"sha256={digest}"}


def receive_order_json(body: bytes) -> tuple[str, bool]:
    """Store one order from the webhook's JSON. Returns (order_id, created). Commits."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ValidationFailed(
            'The body must be JSON: {"order_id", "email", "ordered_at", "items": [{"sku"}]}.'
        ) from None
    if not isinstance(data, dict):
        raise ValidationFailed("The body must be a JSON object.")
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    for name, check in (("order_id", _check_ref), ("email", _check_email), ("ordered_at", parse_timestamp)):
        try:
            values[name] = check(data.get(name))
        except ValueError as error:
            errors[name] = [str(error)]
    items = data.get("items")
    skus: list[str] = []
    if not isinstance(items, list) or not items or len(items) > MAX_ITEMS:
        errors["items"] = [f"items must be a list of 1-{MAX_ITEMS} objects with a sku"]
    else:
        for n, item in enumerate(items):
            try:
                sku = _check_sku(item.get("sku") if isinstance(item, dict) else None)
            except ValueError as error:
                errors.setdefault("items", []).append(f"item {n + 1}: {error}")
                continue
            if sku not in skus:
                skus.append(sku)
    if not errors:
        conflict = _conflicts_with_stored(values["order_id"], values["email"], values["ordered_at"])
        if conflict:
            raise ValidationFailed(conflict[0].upper() + conflict[1:] + ".")
    if errors:
        raise ValidationFailed("The order was not stored.", field_errors=errors)
    result = _store(
        {values["order_id"]: {"email": values["email"], "ordered_at": values["ordered_at"], "skus": skus}}
    )
    db.session.commit()
    return values["order_id"], bool(result["created"])


# --- email confirmation ------------------------------------------------------------------


def email_confirmed(user: User) -> bool:
    return bool(
        db.session.scalar(
            select(
                exists().where(
                    EmailConfirmation.user_id == user.id,
                    EmailConfirmation.email == user.email,
                    EmailConfirmation.confirmed_at.is_not(None),
                )
            )
        )
    )


def mark_email_confirmed(user: User) -> None:
    """The member proved they read mail at their address (e.g. an invitation link). No commit."""
    if not email_confirmed(user):
        db.session.add(
            EmailConfirmation(
                user_id=user.id, email=user.email, token_hash=None, expires_at=utcnow(), confirmed_at=utcnow()
            )
        )


def request_email_confirmation(user: User) -> None:
    token = secrets.token_urlsafe(32)
    db.session.add(
        EmailConfirmation(
            user_id=user.id,
            email=user.email,
            token_hash=hash_token(token),
            expires_at=utcnow() + timedelta(hours=EMAIL_CONFIRM_HOURS),
        )
    )
    queue_mail(
        user.email,
        "Confirm your email address",
        "email_confirm",
        user=user,
        link=external_url("catalog.confirm_email", token=token),
        hours=EMAIL_CONFIRM_HOURS,
    )
    db.session.commit()


def confirm_email(token: str) -> User:
    record = db.session.scalar(
        select(EmailConfirmation).where(EmailConfirmation.token_hash == hash_token(token))
    )
    if record is None or record.confirmed_at is not None or record.expires_at <= utcnow():
        raise Gone("This link has expired or has already been used. Ask for a new one on a product page.")
    user = db.session.get(User, record.user_id)
    if user is None or user.email != record.email:
        raise Gone("This link was for another email address. Ask for a new one on a product page.")
    claimed = cast(
        CursorResult,
        db.session.execute(
            update(EmailConfirmation)
            .where(EmailConfirmation.id == record.id, EmailConfirmation.confirmed_at.is_(None))
            .values(confirmed_at=utcnow())
        ),
    ).rowcount
    if claimed != 1:
        db.session.rollback()
        raise Gone("This link has already been used.")
    db.session.commit()
    return user


# --- verified purchase -----------------------------------------------------------------


def has_order_for(email: str, sku: str, before: datetime | None = None) -> bool:
    query = select(
        exists().where(
            OrderItem.order_id == Order.id,
            Order.email == email.lower(),
            OrderItem.sku == sku,
            *([Order.ordered_at < before] if before is not None else []),
        )
    )
    return bool(db.session.scalar(query))


VERIFIED = "verified_purchase"


def decide_verified_purchase(review, user: User) -> bool:
    """At submission: a confirmed address with an order of this SKU dated before the review.
    The outcome is logged as the reason of the review's "submitted" row ("verified_purchase" or none)."""
    return email_confirmed(user) and has_order_for(user.email, review.product.sku, before=review.created_at)


def purchase_status(user, product) -> dict:
    """What the review form tells a signed-in member about verification."""
    if user is None or not user.is_authenticated:
        return {"bought": False, "confirmed": False}
    bought = has_order_for(user.email, product.sku)
    return {"bought": bought, "confirmed": email_confirmed(user) if bought else False}


# --- personal data ---------------------------------------------------------------------


def orders_of(email: str) -> list[Order]:
    return list(
        db.session.scalars(
            select(Order)
            .where(Order.email == email.lower())
            .order_by(Order.ordered_at.desc(), Order.id.desc())
        )
    )


def export_orders(user: User) -> list[dict]:
    return [
        {
            "order_id": o.order_ref,
            "email": o.email,
            "ordered_at": o.ordered_at.isoformat(),
            "skus": [item.sku for item in o.items],
        }
        for o in orders_of(user.email)
    ]


def erase_orders_of_email(email: str) -> int:
    """Delete every order of this address (account deletion, removal requests). No commit."""
    ids = list(db.session.scalars(select(Order.id).where(Order.email == email.lower())))
    if not ids:
        return 0
    db.session.execute(
        update(ReviewInvitation)
        .where(ReviewInvitation.order_id.in_(ids))
        .values(email_hash=None)
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        delete(OrderItem).where(OrderItem.order_id.in_(ids)).execution_options(synchronize_session=False)
    )
    db.session.execute(delete(Order).where(Order.id.in_(ids)).execution_options(synchronize_session=False))
    db.session.expire_all()
    return len(ids)


def erase_orders_for_removal_request(email: str) -> str:
    """Removal requests ("everything posted with this email address"): the orders go at once."""
    count = erase_orders_of_email(email)
    return f"We deleted {count} order(s) the shop had sent us for your address." if count else ""


def erase_orders_of_deleted_account(user: User) -> None:
    erase_orders_of_email(user.email)


def purge_expired_orders(now: datetime | None = None) -> int:
    """Delete orders older than ORDERS_RETENTION_DAYS. Commits; returns how many. (Worker job.)"""
    days = int(current_app.config.get("ORDERS_RETENTION_DAYS", DEFAULT_RETENTION_DAYS))
    cutoff = (now or utcnow()) - timedelta(days=days)
    removed = 0
    while True:
        ids = list(db.session.scalars(select(Order.id).where(Order.ordered_at < cutoff).limit(500)))
        if not ids:
            break
        db.session.execute(
            update(ReviewInvitation)
            .where(ReviewInvitation.order_id.in_(ids))
            .values(email_hash=None)
            .execution_options(synchronize_session=False)
        )
        db.session.execute(
            delete(OrderItem).where(OrderItem.order_id.in_(ids)).execution_options(synchronize_session=False)
        )
        db.session.execute(
            delete(Order).where(Order.id.in_(ids)).execution_options(synchronize_session=False)
        )
        db.session.commit()
        removed += len(ids)
    return removed


def order_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Order)) or 0
