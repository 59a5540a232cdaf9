"""Confirming by the single-use link, the acknowledgement, the status page and purging."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select, update

from forum.extensions import db
from forum.timeutil import utcnow
from moderation.audit import verify_chain
from moderation.models import ModerationLog
from moderation.removal import services as removal
from moderation.removal.models import RemovalItem, RemovalRequest

from .conftest import confirm_token_in, outbox, status_token_in


def submit(client, form_data, **fields) -> str:
    response = client.post("/removal-request", data=form_data(**fields))
    assert response.status_code == 200, response.get_data(as_text=True)
    return confirm_token_in(outbox(fields.get("email", "jane@example.com").lower())[-1].body_text)


def test_opening_the_link_only_shows_a_button(client, publish_review, form_data):
    review = publish_review()
    token = submit(client, form_data, links=f"/reviews/{review.id}")
    for _ in range(2):  # a mail scanner following the link twice confirms nothing
        response = client.get(f"/removal-request/confirm/{token}")
        html = response.get_data(as_text=True)
        assert response.status_code == 200
        assert '<form method="post"' in html and "Confirm my request" in html
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"
    assert db.session.scalars(select(RemovalRequest)).one().status == "unconfirmed"


def test_confirming_sends_reference_due_date_and_private_status_link(client, publish_review, form_data):
    review = publish_review()
    token = submit(client, form_data, links=f"/reviews/{review.id}")
    response = client.post(f"/removal-request/confirm/{token}")
    assert response.status_code == 303
    rr = db.session.scalars(select(RemovalRequest)).one()
    assert rr.status == "open"
    assert abs(rr.due_at - (rr.confirmed_at + timedelta(days=30))) < timedelta(seconds=1)
    ack = outbox("jane@example.com")[-1]
    assert ack.subject == "We received your removal request"
    assert rr.reference in ack.body_text
    assert removal.format_day(rr.due_at) in ack.body_text
    status_token = status_token_in(ack.body_text)
    assert response.headers["Location"].endswith(f"/removal-request/status/{status_token}")
    assert rr.status_token_hash != status_token and status_token != token

    page = client.get(f"/removal-request/status/{status_token}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert rr.reference in html and "Being reviewed by our moderators" in html
    assert f"We answer by</dt><dd>{removal.format_day(rr.due_at)}" in html
    assert "You confirmed your email address" in html  # the timeline
    assert f"Product review #{review.id}" in html
    assert page.headers["Cache-Control"] == "no-store"


def test_a_used_link_answers_410_and_says_so(client, form_data):
    token = submit(client, form_data, scope="everything")
    assert client.post(f"/removal-request/confirm/{token}").status_code == 303
    for method in (client.get, client.post):
        response = method(f"/removal-request/confirm/{token}")
        html = response.get_data(as_text=True)
        assert response.status_code == 410
        assert "This link was already used" in html and "already used" in html
    assert len(outbox("jane@example.com")) == 2  # one confirmation, one acknowledgement


def test_an_expired_link_answers_410_and_says_so(client, form_data):
    token = submit(client, form_data, scope="everything")
    db.session.execute(update(RemovalRequest).values(confirm_expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    for method in (client.get, client.post):
        response = method(f"/removal-request/confirm/{token}")
        assert response.status_code == 410
        assert "has expired" in response.get_data(as_text=True)
    assert db.session.scalars(select(RemovalRequest)).one().status == "unconfirmed"


def test_links_expire_after_48_hours(client, form_data):
    submit(client, form_data, scope="everything")
    rr = db.session.scalars(select(RemovalRequest)).one()
    assert abs(rr.confirm_expires_at - (rr.created_at + timedelta(hours=48))) < timedelta(seconds=1)


def test_unknown_links_answer_410_and_status_pages_404(client):
    for token in ("x" * 43, "nothing", "a" * 500):
        assert client.get(f"/removal-request/confirm/{token}").status_code == 410
        assert client.get(f"/removal-request/status/{token}").status_code == 404


def test_everything_resolves_every_item_of_the_account_at_confirmation(
    client, publish_review, forum_post, make_user, moderator, form_data, shop
):
    from forum.catalog.models import Product

    jane = make_user("member", email="jane@example.com")
    other_product = Product(sku="TOASTER", name="Toaster", description="")
    db.session.add(other_product)
    db.session.commit()
    kept = [publish_review(author=jane), publish_review(author=jane, product=other_product)]
    post = forum_post(jane)
    gone = publish_review(author=make_user("member"))
    from moderation import services as moderation

    moderation.transition(gone, "remove", moderator, reason="spam")
    db.session.commit()
    publish_review()  # someone else's

    token = submit(client, form_data, email="JANE@example.com", scope="everything")
    assert db.session.scalar(select(RemovalItem.id)) is None  # nothing looked up before confirmation
    client.post(f"/removal-request/confirm/{token}")
    items = {(i.kind, i.item_id) for i in db.session.scalars(select(RemovalItem))}
    assert items == {("review", kept[0].id), ("review", kept[1].id), ("forum_post", post.id)}


def test_purge_expired_deletes_only_expired_unconfirmed_requests(client, runner, form_data):
    submit(client, form_data, email="old@example.com", scope="everything")
    fresh_token = submit(client, form_data, email="fresh@example.com", scope="everything")
    confirmed_token = submit(client, form_data, email="confirmed@example.com", scope="everything")
    client.post(f"/removal-request/confirm/{confirmed_token}")
    past = utcnow() - timedelta(hours=1)
    db.session.execute(
        update(RemovalRequest)
        .where(RemovalRequest.email.in_(["old@example.com", "confirmed@example.com"]))
        .values(confirm_expires_at=past)
    )
    db.session.commit()

    result = runner.invoke(args=["removal", "purge-expired"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "Purged 1 expired unconfirmed removal request."
    assert sorted(db.session.scalars(select(RemovalRequest.email))) == [
        "confirmed@example.com",
        "fresh@example.com",
    ]
    assert client.get(f"/removal-request/confirm/{fresh_token}").status_code == 200
    again = runner.invoke(args=["removal", "purge-expired"])
    assert again.output.strip() == "Purged 0 expired unconfirmed removal requests."
    expired_rows = db.session.scalars(select(ModerationLog).where(ModerationLog.action == "expired")).all()
    assert len(expired_rows) == 1 and expired_rows[0].subject_kind == "removal_request"
    assert verify_chain().ok


def test_reference_is_readable(client, form_data):
    submit(client, form_data, scope="everything")
    reference = db.session.scalar(select(RemovalRequest.reference))
    assert re.fullmatch(r"RR-\d{4}-[23456789ABCDEFGHJKMNPQRSTVWXYZ]{6}", reference)
