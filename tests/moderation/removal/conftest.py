"""Fixtures for removal requests: published reviews, submitting and confirming requests, mail links."""

from __future__ import annotations

import email
import re
import socket
from email.policy import default as default_policy

import pytest
from sqlalchemy import select

from forum.catalog import services as catalog
from forum.catalog.models import Product, Review
from forum.extensions import db
from forum.models import OutboxMessage
from moderation import services as moderation
from moderation.removal import services as removal
from moderation.removal.models import RemovalRequest

CONFIRM_LINK = re.compile(r"https?://[^\s]+/removal-request/confirm/([A-Za-z0-9_\-]+)")
STATUS_LINK = re.compile(r"https?://[^\s]+/removal-request/status/([A-Za-z0-9_\-]+)")


def confirm_token_in(body: str) -> str:
    match = CONFIRM_LINK.search(body)
    assert match, f"no confirmation link in:\n{body}"
    return match.group(1)


def status_token_in(body: str) -> str:
    match = STATUS_LINK.search(body)
    assert match, f"no status link in:\n{body}"
    return match.group(1)


@pytest.fixture
def shop(app):
    product = Product(sku="KETTLE-1", name="Quiet kettle", description="1.7 l.")
    db.session.add(product)
    db.session.commit()
    return product


@pytest.fixture
def publish_review(shop, moderator, make_user):
    """publish_review(author=None, rating=4, title=..., body=...) -> a published review."""

    def do(
        author=None, rating=4, title="Boils fast", body="My name is Jane Roe, 12 Elm Street.", product=None
    ):
        author = author or make_user("member")
        review = catalog.submit_review(author, product or shop, rating, title, body)
        moderation.approve_submission("review", review.id, moderator)
        return db.session.get(Review, review.id)

    return do


@pytest.fixture
def form_data():
    def make(email="jane@example.com", links="", scope="links", removal_kind="whole", details=""):
        return {
            "email": email,
            "links": links,
            "scope": scope,
            "removal_kind": removal_kind,
            "details": details,
        }

    return make


def outbox(to: str | None = None) -> list[OutboxMessage]:
    """Every queued removal-request mail (to one address), oldest first: what the services wrote, sent or not."""
    query = (
        select(OutboxMessage)
        .where(OutboxMessage.subject.contains("removal request"))
        .order_by(OutboxMessage.id)
    )
    if to:
        query = query.where(OutboxMessage.to_address == to)
    return list(db.session.scalars(query))


@pytest.fixture
def submit_and_confirm(app):
    """Through the services: submit a request and confirm it. Returns (request, status token)."""

    def do(email="jane@example.com", links=(), scope="links", removal_kind="whole", details=""):
        removal.submit_request(email, scope, "\n".join(links), removal_kind, details)
        token = confirm_token_in(outbox(email)[-1].body_text)
        rr, status_token = removal.confirm_request(token)
        return db.session.get(RemovalRequest, rr.id), status_token

    return do


@pytest.fixture
def forum_post(app, moderator):
    """forum_post(author, title, body) -> a published opening post of a new topic."""
    from forum.community import services as community
    from forum.community.models import ForumPost

    state = {}

    def do(author, title="Meet-up", body="Call me on 0123 456 789, Jane Roe."):
        if "category" not in state:
            state["category"] = community.add_category("General", "Anything.")
        topic = community.create_topic(author, state["category"], title, body)
        post = db.session.get(ForumPost, topic.opening.id)
        if post.status == "pending":
            moderation.approve_submission("forum_post", post.id, moderator)
        return db.session.get(ForumPost, post.id)

    return do


# --- a real SMTP server on 127.0.0.1 -------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Inbox:
    """aiosmtpd handler that keeps every envelope and parsed message."""

    def __init__(self):
        self.envelopes = []
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        self.messages.append(email.message_from_bytes(envelope.content, policy=default_policy))
        return "250 Message accepted for delivery"

    def bodies_to(self, address: str) -> list[str]:
        return [m.get_content() for m, e in zip(self.messages, self.envelopes) if e.rcpt_tos == [address]]


@pytest.fixture
def smtp_inbox(app_config):
    """Start an SMTP server on a free port and point the app's mail at it."""
    from aiosmtpd.controller import Controller

    port = free_port()
    app_config.update(
        MAIL_BACKEND="smtp",
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=port,
        MAIL_USE_TLS=False,
        MAIL_USE_SSL=False,
        MAIL_TIMEOUT=5,
        SITE_URL="https://community.shop.example",
    )
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox
    controller.stop()
