"""Review invitations: REVIEW_INVITATION_DAYS after an order, one mail to the buyer.

Every buyer is invited, whatever they bought, rated or wrote before (nothing here
reads a rating or a review), once per order (unique `review_invitation.order_id`),
with no incentive. Each product of the order gets a single-use link to its review
form; every invitation has an opt-out link and a List-Unsubscribe header that
work without signing in and stop all later invitations to that address.
`send_due_invitations()` is the worker's job (`flask reviews send-invitations` runs it once).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import cast

from flask import current_app
from sqlalchemy import exists, func, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from forum.accounts.services import hash_token
from forum.errors import Gone, NotFound, PermissionDenied
from forum.extensions import db
from forum.mail import queue_mail
from forum.timeutil import utcnow
from forum.urls import external_url

from . import orders
from .models import Product
from .trust_models import InvitationLink, InvitationOptOut, Order, ReviewInvitation

DEFAULT_INVITATION_DAYS = 14
# Orders we learn about much later (an old CSV) are not invited out of the blue.
DEFAULT_INVITATION_MAX_LATE_DAYS = 30
LINK_DAYS = 90


def email_hash(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode("utf-8")).hexdigest()


def is_opted_out(email: str) -> bool:
    return bool(db.session.scalar(select(exists().where(InvitationOptOut.email_hash == email_hash(email)))))


def _due_orders(now: datetime, limit: int):
    days = int(current_app.config.get("REVIEW_INVITATION_DAYS", DEFAULT_INVITATION_DAYS))
    return list(
        db.session.scalars(
            select(Order)
            .where(
                Order.ordered_at <= now - timedelta(days=days),
                ~exists().where(ReviewInvitation.order_id == Order.id),
            )
            .order_by(Order.ordered_at, Order.id)
            .options(selectinload(Order.items))
            .limit(limit)
        )
    )


def _invite(order: Order, now: datetime) -> str:
    days = int(current_app.config.get("REVIEW_INVITATION_DAYS", DEFAULT_INVITATION_DAYS))
    late = int(current_app.config.get("REVIEW_INVITATION_MAX_LATE_DAYS", DEFAULT_INVITATION_MAX_LATE_DAYS))
    hashed = email_hash(order.email)
    skus = [item.sku for item in order.items]
    products = {
        p.sku: p
        for p in db.session.scalars(select(Product).where(Product.sku.in_(skus), Product.active.is_(True)))
    }
    products_in_order = [products[sku] for sku in skus if sku in products]
    if order.ordered_at < now - timedelta(days=days + late):
        status = "too_old"
    elif db.session.scalar(select(exists().where(InvitationOptOut.email_hash == hashed))):
        status = "opted_out"
    elif not products_in_order:
        status = "no_products"
    else:
        status = "sent"
    invitation = ReviewInvitation(order_id=order.id, email_hash=hashed, status=status, created_at=now)
    if status != "sent":
        db.session.add(invitation)
        return status
    opt_out = secrets.token_urlsafe(32)
    invitation.opt_out_token_hash = hash_token(opt_out)
    lines = []
    for product in products_in_order:
        token = secrets.token_urlsafe(32)
        invitation.links.append(InvitationLink(sku=product.sku, token_hash=hash_token(token)))
        lines.append((product.name, external_url("catalog.invitation_link", token=token)))
    db.session.add(invitation)
    opt_out_url = external_url("catalog.invitation_opt_out", token=opt_out)
    queue_mail(
        order.email,
        "How was your order? Tell other shoppers",
        "review_invitation",
        headers={
            "List-Unsubscribe": f"<{opt_out_url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
        products=lines,
        order_ref=order.order_ref,
        ordered_at=order.ordered_at,
        opt_out_url=opt_out_url,
        link_days=LINK_DAYS,
    )
    return status


def send_due_invitations(now: datetime | None = None, batch: int = 200) -> int:
    """Invite every buyer whose order is REVIEW_INVITATION_DAYS old (once). Returns mails queued."""
    now = now or utcnow()
    sent = 0
    while True:
        due = _due_orders(now, batch)
        if not due:
            break
        for order in due:
            try:
                with db.session.begin_nested():
                    if _invite(order, now) == "sent":
                        sent += 1
            except IntegrityError:  # another worker took this order at the same moment
                continue
        db.session.commit()
        if len(due) < batch:
            break
    return sent


# --- the links ---------------------------------------------------------------------------------


def find_link(token: str) -> tuple[InvitationLink, Order]:
    link = db.session.scalar(
        select(InvitationLink).where(InvitationLink.token_hash == hash_token(token or ""))
    )
    if link is None:
        raise NotFound("This invitation link is not valid. Check that you copied the whole address.")
    order = db.session.get(Order, link.invitation.order_id) if link.invitation.order_id else None
    if order is None or link.invitation.created_at < utcnow() - timedelta(days=LINK_DAYS):
        raise Gone("This invitation has expired. You can still review the product from its page.")
    if link.used_at is not None:
        raise Gone("This invitation link was already used to write a review. Thank you!")
    return link, order


def open_link(token: str, user) -> tuple[InvitationLink, Product]:
    """A signed-in member opens their invitation: the address must be the order's. Commits
    (following the mailed link also confirms the member's address)."""
    link, order = find_link(token)
    product = db.session.scalar(select(Product).where(Product.sku == link.sku))
    if product is None or not product.active:
        raise Gone("This product is no longer on sale, so it cannot be reviewed.")
    if user.email != order.email:
        raise PermissionDenied(
            "This invitation was sent to another email address. Sign in with the account of that address "
            "(or create one with it) to use it."
        )
    orders.mark_email_confirmed(user)
    db.session.commit()
    return link, product


def spend_link(token: str, user, product) -> bool:
    """At submission: spend the invitation link (single use). True when it was valid. No commit."""
    try:
        link, order = find_link(token)
    except (NotFound, Gone):
        return False
    if link.sku != product.sku or order.email != user.email:
        return False
    claimed = cast(
        CursorResult,
        db.session.execute(
            update(InvitationLink)
            .where(InvitationLink.id == link.id, InvitationLink.used_at.is_(None))
            .values(used_at=utcnow())
            .execution_options(synchronize_session=False)
        ),
    ).rowcount
    if claimed == 1:
        orders.mark_email_confirmed(user)  # the token was mailed to this address: it is theirs
        db.session.flush()
    return claimed == 1


def masked_email(email: str) -> str:
    name, _, domain = email.partition("@")
    return f"{name[:1]}{'•' * max(len(name) - 1, 2)}@{domain}"


# --- opting out -----------------------------------------------------------------------------------


def invitation_for_opt_out(token: str) -> ReviewInvitation:
    invitation = db.session.scalar(
        select(ReviewInvitation).where(ReviewInvitation.opt_out_token_hash == hash_token(token or ""))
    )
    if invitation is None:
        raise NotFound("This opt-out link is not valid. Check that you copied the whole address.")
    return invitation


def opt_out(token: str) -> bool:
    """Stop every later invitation to the invitation's address. Idempotent. Commits."""
    invitation = invitation_for_opt_out(token)
    if invitation.email_hash is None:
        return True  # the order (and the address) is already erased: nothing can be sent to it
    if db.session.scalar(select(exists().where(InvitationOptOut.email_hash == invitation.email_hash))):
        return False
    try:
        with db.session.begin_nested():
            db.session.add(InvitationOptOut(email_hash=invitation.email_hash))
    except IntegrityError:
        pass
    db.session.commit()
    return True


# --- numbers ---------------------------------------------------------------------------------------


def invitation_numbers(start: datetime, end: datetime) -> dict:
    sent = (
        db.session.scalar(
            select(func.count())
            .select_from(ReviewInvitation)
            .where(
                ReviewInvitation.status == "sent",
                ReviewInvitation.created_at >= start,
                ReviewInvitation.created_at < end,
            )
        )
        or 0
    )
    return {"sent": int(sent)}
