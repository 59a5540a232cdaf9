"""Every naughty string in every field, and header-injection attempts: a clear answer, never a 500,
never user text in a mail header."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from forum.extensions import db
from forum.models import OutboxMessage
from moderation.removal.models import RemovalRequest
from tests.conftest import naughty_strings

from .conftest import outbox

FIXED_SUBJECTS = {
    "Please confirm your removal request",
    "We received your removal request",
    "Your removal request: we need more time",
    "Your removal request: our decision",
}
INJECTIONS = [
    "a@b.com\r\nBcc: x@y.com",
    "a@b.com\nBcc: x@y.com",
    "a@b.com\rBcc: x@y.com",
    "a@b.com%0D%0ABcc:x@y.com",
    "a@b.com\r\n\r\nInjected body",
    '"a\r\nBcc: x@y.com"@b.com',
    "a@b.com, x@y.com",
    "a@b.com; x@y.com",
    "Jane <a@b.com>",
    "a@b.com\x00x@y.com",
    "=?utf-8?q?a=0D=0ABcc:x@y.com?=@b.com",
    "a@b.com\u2028Bcc: x@y.com",
    "a@b.com\u0085Bcc: x@y.com",
]


def test_naughty_strings_in_the_request_form(client, form_data):
    strings = naughty_strings("removal request form")
    for s in strings:
        # As the address and the choices: refused with each field's message (none is valid there).
        response = client.post("/removal-request", data=form_data(email=s, scope=s, removal_kind=s))
        assert response.status_code == 422, repr(s)
        html = response.get_data(as_text=True)
        assert "Choose what you want removed." in html and "Choose what kind of removal you ask for." in html
        assert 'id="email-error"' in html, repr(s)
        # As details and links: stored exactly, or refused with a message.
        response = client.post("/removal-request", data=form_data(scope="everything", links=s, details=s))
        assert response.status_code in (200, 422), repr(s)
        if response.status_code == 200:
            stored = db.session.scalars(select(RemovalRequest).order_by(RemovalRequest.id.desc())).first()
            assert stored.details == s and stored.links_text == s, repr(s)
        else:
            assert 'class="errors"' in response.get_data(as_text=True), repr(s)
    assert {m.subject for m in db.session.scalars(select(OutboxMessage))} <= FIXED_SUBJECTS


def test_naughty_strings_in_confirmation_and_status_addresses(client):
    for s in naughty_strings()[::7]:
        for path in ("/removal-request/confirm/", "/removal-request/status/"):
            response = client.get(path + s.replace("/", "%2F").replace("?", "%3F").replace("#", "%23"))
            assert response.status_code in (404, 405, 410), (path, repr(s))


def test_stored_naughty_details_are_shown_escaped_to_moderators(client_for, moderator, submit_and_confirm):
    details = '<script>alert("x")</script>\n<img src=x onerror=alert(1)> & "quotes" \u202e'
    rr, status_token = submit_and_confirm(scope="everything", details=details)
    html = client_for(moderator).get(f"/moderation/removal-requests/{rr.id}").get_data(as_text=True)
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html


def test_naughty_strings_in_the_moderators_forms(client_for, moderator, submit_and_confirm, publish_review):
    review = publish_review()
    rr, _ = submit_and_confirm(links=[f"/reviews/{review.id}"])
    item = rr.items[0]
    staff = client_for(moderator)
    base = f"/moderation/removal-requests/{rr.id}"
    strings = naughty_strings()
    for s in strings[::3]:
        # A made-up reason never records a refusal; whatever the text, the answer is a 422.
        response = staff.post(
            f"{base}/items/{item.id}",
            data={
                f"item{item.id}-decision": "refuse",
                f"item{item.id}-refusal_reason": s,
                f"item{item.id}-explanation": s,
            },
        )
        assert response.status_code == 422, repr(s)
    for s in strings[1::9]:
        assert staff.post(f"{base}/extend", data={"days": s, "reason": s}).status_code in (303, 422), repr(s)
        assert staff.post(f"{base}/close", data={"reason": s, "explanation": s}).status_code in (303, 422), (
            repr(s)
        )
        assert staff.post(f"{base}/items", data={"links": s}).status_code in (303, 422), repr(s)
    db.session.expire_all()
    assert db.session.get(RemovalRequest, rr.id).status == "open"


def test_naughty_explanations_reach_the_requester_exactly(moderator, submit_and_confirm, publish_review):
    from moderation.removal import services as removal

    explanations = [s for s in naughty_strings()[::20] if s.strip() and "\x00" not in s]
    reviews = [publish_review() for _ in explanations]
    rr, status_token = submit_and_confirm(links=[f"/reviews/{review.id}" for review in reviews])
    items = {item.item_id: item for item in rr.items}
    for review, explanation in zip(reviews, explanations):
        removal.decide_item(rr.id, items[review.id].id, moderator, "refuse", "legal_claims", explanation)
    outcome = outbox("jane@example.com")[-1].body_text
    for explanation in explanations:
        assert explanation.strip() in outcome, repr(explanation)
    assert db.session.get(RemovalRequest, rr.id).status == "refused"


@pytest.mark.parametrize("address", INJECTIONS)
def test_header_injection_in_the_address_is_refused(client, form_data, address):
    response = client.post("/removal-request", data=form_data(email=address, scope="everything"))
    assert response.status_code == 422
    assert "Enter a valid email address" in response.get_data(as_text=True)
    assert db.session.scalars(select(OutboxMessage)).all() == []


def test_header_injection_in_other_fields_never_reaches_a_header(
    smtp_inbox, client, form_data, publish_review, moderator
):
    review = publish_review()
    evil = "x\r\nBcc: thief@evil.example\r\nSubject: pwned\r\n\r\nbody"
    response = client.post(
        "/removal-request",
        data=form_data(
            email="jane@example.com",
            links=f"/reviews/{review.id}",
            details=evil,
            removal_kind="personal_info",
        ),
    )
    assert response.status_code == 200
    messages = [m for m in smtp_inbox.messages if "removal" in (m["Subject"] or "")]
    envelopes = [
        e for e, m in zip(smtp_inbox.envelopes, smtp_inbox.messages) if "removal" in (m["Subject"] or "")
    ]
    assert len(messages) == 1
    assert envelopes[0].rcpt_tos == ["jane@example.com"]
    assert messages[0]["Subject"] == "Please confirm your removal request"
    assert messages[0]["Bcc"] is None and messages[0]["To"] == "jane@example.com"
    assert b"thief" not in envelopes[0].content
