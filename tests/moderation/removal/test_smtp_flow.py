"""The whole path over a real SMTP server on 127.0.0.1 (aiosmtpd): request, confirmation mail,
confirm, moderator decisions, and the outcome mail with every refusal reason."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from forum.catalog.models import Review
from forum.extensions import db
from forum.models import OutboxMessage
from moderation.audit import verify_chain
from moderation.removal.models import REFUSAL_REASONS, RemovalRequest

SITE = "https://community.shop.example"


@pytest.fixture
def complaint_config(app_config):
    app_config.update(
        REMOVAL_COMPLAINT_CONTACT="Write to dpo@shop.example (Data Protection Officer, 1 Shop Street).",
        REMOVAL_SUPERVISORY_AUTHORITY="You may complain to the Example Data Protection Authority, www.edpa.example.",
    )
    return app_config


def path_of(link: str) -> str:
    assert link.startswith(SITE + "/"), link
    return link[len(SITE) :]


def test_request_to_outcome_over_real_smtp(
    complaint_config, smtp_inbox, app, client, client_for, make_user, publish_review, moderator
):
    jane = make_user("member", email="jane@example.com", display_name="Jane")
    own = publish_review(author=jane, title="Mine", body="Written by me, Jane Roe.")
    about = publish_review(title="Delivery", body="The courier Jane Roe was late.")
    old = publish_review(title="Old", body="Jane Roe sold me this in 2019.")
    from forum.mail import send_pending

    send_pending()  # the worker sends the approval notices before the story starts
    smtp_inbox.envelopes.clear()
    smtp_inbox.messages.clear()

    # 1. The request, with absolute links to this site and a relative one.
    response = client.post(
        "/removal-request",
        data={
            "email": "Jane@Example.com",
            "scope": "links",
            "links": f"{SITE}/reviews/{own.id}\n{SITE}/reviews/{about.id}\n/reviews/{old.id}",
            "removal_kind": "personal_info",
            "details": "These name me.",
        },
    )
    assert response.status_code == 200 and "Check your email" in response.get_data(as_text=True)

    # 2. The confirmation mail, delivered over SMTP, headers all ours.
    [confirmation] = smtp_inbox.messages
    assert smtp_inbox.envelopes[0].rcpt_tos == ["jane@example.com"]
    assert confirmation["To"] == "jane@example.com"
    assert confirmation["Subject"] == "Please confirm your removal request"
    assert confirmation["From"] == app.config["MAIL_DEFAULT_SENDER"]
    body = confirmation.get_content()
    confirm_link = re.search(r"https://\S+/removal-request/confirm/\S+", body).group(0)
    assert "These name me." not in body

    # 3. Opening the link shows a button; pressing it confirms.
    page = client.get(path_of(confirm_link))
    assert page.status_code == 200 and "Confirm my request" in page.get_data(as_text=True)
    assert len(smtp_inbox.messages) == 1
    confirmed = client.post(path_of(confirm_link))
    assert confirmed.status_code == 303
    acknowledgement = smtp_inbox.messages[1]
    assert acknowledgement["Subject"] == "We received your removal request"
    ack_body = acknowledgement.get_content()
    rr = db.session.scalars(select(RemovalRequest)).one()
    assert rr.reference in ack_body and "We will answer by:" in ack_body
    status_link = re.search(r"https://\S+/removal-request/status/\S+", ack_body).group(0)
    assert client.post(path_of(confirm_link)).status_code == 410  # single use

    # 4. The moderator decides: one removal, two refusals with different reasons.
    staff = client_for(moderator)
    queue = staff.get("/moderation").get_data(as_text=True)
    assert rr.reference in queue
    items = {item.item_id: item for item in rr.items}
    decide = f"/moderation/removal-requests/{rr.id}/items/"
    own_item, about_item, old_item = items[own.id], items[about.id], items[old.id]
    assert (
        staff.post(decide + str(own_item.id), data={f"item{own_item.id}-decision": "remove"}).status_code
        == 303
    )
    refusals = {
        about_item: ("not_requester_content", "The review names a courier, not you: the name is common."),
        old_item: ("legal_claims", "The seller has started a legal claim that relies on this review."),
    }
    for item, (reason, explanation) in refusals.items():
        response = staff.post(
            decide + str(item.id),
            data={
                f"item{item.id}-decision": "refuse",
                f"item{item.id}-refusal_reason": reason,
                f"item{item.id}-explanation": explanation,
            },
        )
        assert response.status_code == 303

    # 5. The outcome mail: every refusal reason and explanation, and how to complain.
    outcome = smtp_inbox.messages[-1]
    assert outcome["Subject"] == "Your removal request: our decision"
    assert smtp_inbox.envelopes[-1].rcpt_tos == ["jane@example.com"]
    text = outcome.get_content()
    for reason, explanation in refusals.values():
        assert REFUSAL_REASONS[reason] in text
        assert explanation in text
    assert "Partially completed" in text and rr.reference in text
    assert "dpo@shop.example" in text and "Example Data Protection Authority" in text
    assert f"{SITE}/reviews/{own.id}" in text  # the link as the requester gave it

    # The removed review is gone and erased; the others stay published.
    db.session.expire_all()
    assert db.session.get(Review, own.id).status == "removed" and db.session.get(Review, own.id).body is None
    assert {db.session.get(Review, r.id).status for r in (about, old)} == {"published"}
    # The requester's status page shows the outcome; every mail was sent, none is waiting.
    status = client.get(path_of(status_link)).get_data(as_text=True)
    assert "Partially completed" in status and refusals[old_item][1] in status
    assert all(
        m.sent_at is not None
        for m in db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.subject.contains("removal request"))
        )
    )
    assert [m["Subject"] for m in smtp_inbox.messages] == [
        "Please confirm your removal request",
        "We received your removal request",
        "Your removal request: our decision",
    ]
    assert verify_chain().ok
