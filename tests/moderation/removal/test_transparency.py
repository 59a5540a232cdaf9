"""Removal requests on /transparency: received, outcomes, refusals by reason, median days to close."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from forum.extensions import db
from forum.timeutil import utcnow
from moderation.removal import services as removal
from moderation.removal.models import RemovalRequest


def test_numbers_for_the_period(client, moderator, publish_review, submit_and_confirm):
    reviews = [publish_review() for _ in range(4)]
    completed, _ = submit_and_confirm(email="a@example.com", links=[f"/reviews/{reviews[0].id}"])
    partial, _ = submit_and_confirm(
        email="b@example.com", links=[f"/reviews/{reviews[1].id}", f"/reviews/{reviews[2].id}"]
    )
    refused, _ = submit_and_confirm(email="c@example.com", links=[f"/reviews/{reviews[3].id}"])
    nothing, _ = submit_and_confirm(email="d@example.com", scope="everything")
    submit_and_confirm(email="e@example.com", scope="everything")  # still open
    removal.submit_request("f@example.com", "everything", "", "whole", "")  # never confirmed: not received

    removal.decide_item(completed.id, completed.items[0].id, moderator, "remove")
    removal.decide_item(partial.id, partial.items[0].id, moderator, "remove")
    removal.decide_item(partial.id, partial.items[1].id, moderator, "refuse", "legal_claims", "Court case.")
    removal.decide_item(refused.id, refused.items[0].id, moderator, "refuse", "public_interest", "News.")
    removal.close_without_items(nothing.id, moderator, "nothing_found", "Nothing here.")
    # Confirmed 2 and 4 days before they were closed.
    for rr, days in ((completed, 2), (partial, 4)):
        db.session.execute(
            update(RemovalRequest)
            .where(RemovalRequest.id == rr.id)
            .values(confirmed_at=utcnow() - timedelta(days=days))
        )
    db.session.commit()

    stats = removal.transparency_stats(utcnow() - timedelta(days=30), utcnow() + timedelta(days=1))
    assert (
        stats["received"],
        stats["completed"],
        stats["partially_completed"],
        stats["refused"],
        stats["closed_nothing_found"],
        stats["open_now"],
    ) == (5, 1, 1, 1, 1, 1)
    by_reason = {row["reason"]: row["count"] for row in stats["refused_by_reason"]}
    assert by_reason == {
        "not_requester_content": 0,
        "legal_obligation": 0,
        "legal_claims": 1,
        "public_interest": 1,
        "identity_unverified": 0,
    }
    assert stats["items_removed"] == 2
    # Four closed requests: about 2, 4, 0 and 0 days -> median about 1 day.
    assert 0.9 <= stats["median_days_to_close"] <= 1.1
    empty = removal.transparency_stats(utcnow() - timedelta(days=400), utcnow() - timedelta(days=300))
    assert empty["received"] == 0 and empty["median_days_to_close"] is None

    page = client.get("/transparency")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Removal requests" in html and "Median days to close" in html
    assert "It is needed to establish, exercise or defend legal claims" in html
    data = client.get("/transparency.json").get_json()
    section = data["sections"]["removal_requests"]
    assert section["partially_completed"] == 1 and section["refused"] == 1
