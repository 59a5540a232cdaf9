"""The worker's removal jobs: deadlines that act, daily reminders, retention, purge."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from forum.extensions import db
from forum.models import OutboxMessage
from forum.timeutil import utcnow
from moderation.models import ModerationLog
from moderation.removal import services as removal
from moderation.removal.models import RemovalEvent, RemovalItem, RemovalRequest


def _set_due(rr, when) -> None:
    db.session.execute(update(RemovalRequest).where(RemovalRequest.id == rr.id).values(due_at=when))
    db.session.commit()


def _mails(subject: str) -> list[OutboxMessage]:
    return list(
        db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.subject == subject).order_by(OutboxMessage.id)
        )
    )


def test_a_missed_deadline_is_told_once_and_shown_on_the_status_page(app, client, submit_and_confirm, runner):
    rr, status_token = submit_and_confirm(scope="everything", details="My address is in a review.")
    page = client.get(f"/removal-request/status/{status_token}").get_data(as_text=True)
    assert "We answer by" in page and "we are late" not in page

    _set_due(rr, utcnow() - timedelta(hours=1))
    result = runner.invoke(args=["worker", "run-job", "removal-overdue-notices"])
    assert result.exit_code == 0 and "removal-overdue-notices: 1" in result.output
    [notice] = _mails(removal.SUBJECT_OVERDUE)
    assert notice.to_address == "jane@example.com"
    assert rr.reference in notice.body_text
    assert app.config["REMOVAL_COMPLAINT_CONTACT"] in notice.body_text
    assert "My address" not in notice.body_text  # nothing the requester wrote

    # Once: later runs (the job runs every 15 minutes) do not mail again.
    assert removal.notify_overdue_requesters() == 0
    assert len(_mails(removal.SUBJECT_OVERDUE)) == 1

    page = client.get(f"/removal-request/status/{status_token}").get_data(as_text=True)
    assert "We answer by" not in page
    assert "we are late" in page and "We missed our deadline" in page
    assert app.config["REMOVAL_COMPLAINT_CONTACT"] in page
    assert app.config["REMOVAL_SUPERVISORY_AUTHORITY"] in page
    assert "our moderators have been reminded" in page  # the timeline says so too
    assert db.session.scalar(select(ModerationLog).where(ModerationLog.reason == "overdue")) is not None


def test_an_extension_after_the_deadline_is_a_new_deadline(app, submit_and_confirm, moderator):
    rr, _ = submit_and_confirm(scope="everything")
    _set_due(rr, utcnow() - timedelta(hours=1))
    assert removal.notify_overdue_requesters() == 1
    removal.extend_deadline(rr.id, moderator, 10, "We need to ask the author.")
    assert removal.notify_overdue_requesters() == 0  # not late any more
    _set_due(rr, utcnow() - timedelta(minutes=1))
    assert removal.notify_overdue_requesters() == 1  # late again: told again


def test_moderators_are_reminded_daily_of_requests_due_soon_and_overdue(
    app, submit_and_confirm, moderator, admin, member
):
    overdue, _ = submit_and_confirm(email="late@example.com", scope="everything")
    soon, _ = submit_and_confirm(email="soon@example.com", scope="everything")
    later, _ = submit_and_confirm(email="later@example.com", scope="everything")
    _set_due(overdue, utcnow() - timedelta(days=2))
    _set_due(soon, utcnow() + timedelta(days=3))
    _set_due(later, utcnow() + timedelta(days=20))

    assert removal.remind_moderators() == 2
    reminders = _mails(removal.SUBJECT_REMINDER)
    assert sorted(m.to_address for m in reminders) == sorted([moderator.email, admin.email])  # not members
    body = reminders[0].body_text
    assert overdue.reference in body and soon.reference in body and later.reference not in body
    assert body.index(overdue.reference) < body.index("due within 7 days") < body.index(soon.reference)
    assert f"/moderation/removal-requests/{overdue.id}" in body
    assert "late@example.com" not in body  # references, not addresses

    # Every day until answered.
    assert removal.remind_moderators() == 2
    assert len(_mails(removal.SUBJECT_REMINDER)) == 4
    removal.close_without_items(overdue.id, moderator, "nothing_found", "Nothing of yours here.")
    soon_only = removal.remind_moderators()
    assert soon_only == 1


def test_no_reminder_when_nothing_is_due(app, submit_and_confirm, moderator):
    rr, _ = submit_and_confirm(scope="everything")
    assert removal.remind_moderators() == 0  # due in 30 days
    assert _mails(removal.SUBJECT_REMINDER) == []


def test_retention_erases_email_and_free_text_and_keeps_reference_dates_decisions(
    app, client, make_user, publish_review, submit_and_confirm, moderator, runner
):
    review = publish_review(title="About me", body="Jane Roe lives here.")
    old, old_token = submit_and_confirm(
        email="old@example.com", links=[f"/reviews/{review.id}"], details="It names me, Jane Roe."
    )
    [item] = old.items
    removal.decide_item(
        old.id,
        item.id,
        moderator,
        "refused",
        refusal_reason="public_interest",
        explanation="A fair review of the product; your name is not in it.",
    )
    recent, recent_token = submit_and_confirm(
        email="recent@example.com", scope="everything", details="Recent words."
    )
    removal.close_without_items(recent.id, moderator, "nothing_found", "Nothing found.")
    still_open, _ = submit_and_confirm(email="open@example.com", scope="everything", details="Open words.")

    db.session.execute(
        update(RemovalRequest)
        .where(RemovalRequest.id == old.id)
        .values(closed_at=utcnow() - timedelta(days=366))
    )
    db.session.commit()
    before = db.session.get(RemovalRequest, old.id)
    reference, confirmed_at, due_at, closed_at, status = (
        before.reference,
        before.confirmed_at,
        before.due_at,
        before.closed_at,
        before.status,
    )

    result = runner.invoke(args=["worker", "run-job", "removal-retention"])
    assert result.exit_code == 0 and "removal-retention: 1" in result.output

    db.session.expire_all()
    erased = db.session.get(RemovalRequest, old.id)
    assert erased.email == removal.ERASED_EMAIL and "old@example.com" not in erased.email
    assert erased.details == "" and erased.links_text == ""
    assert (erased.reference, erased.confirmed_at, erased.due_at, erased.closed_at, erased.status) == (
        reference,
        confirmed_at,
        due_at,
        closed_at,
        status,
    )
    assert erased.erased_at is not None
    [kept_item] = db.session.scalars(select(RemovalItem).where(RemovalItem.request_id == old.id)).all()
    assert kept_item.decision == "refused" and kept_item.refusal_reason == "public_interest"
    assert kept_item.source_url is None and "fair review" not in kept_item.refusal_explanation
    for event in db.session.scalars(select(RemovalEvent).where(RemovalEvent.request_id == old.id)):
        assert "Jane" not in event.message and "fair review" not in event.message
    # The private status page went with the data.
    assert client.get(f"/removal-request/status/{old_token}").status_code == 404

    # Recent and open requests are untouched.
    assert db.session.get(RemovalRequest, recent.id).email == "recent@example.com"
    assert db.session.get(RemovalRequest, still_open.id).details == "Open words."
    assert client.get(f"/removal-request/status/{recent_token}").status_code == 200
    # Idempotent; the figures keep counting the erased request.
    assert removal.erase_retained_requests() == 0
    stats = removal.transparency_stats()
    assert stats["refused"] >= 1
    assert db.session.scalar(select(ModerationLog).where(ModerationLog.reason == "retention")) is not None


def test_transparency_page_states_the_retention_policy(app, client):
    app.config["REMOVAL_RETENTION_DAYS"] = 400
    page = client.get("/transparency").get_data(as_text=True)
    assert "for 400 days after" in page and "reference, dates and decisions" in page


def test_purge_expired_is_a_worker_job(app, runner):
    removal.submit_request("gone@example.com", "everything", "", "whole", "")
    db.session.execute(update(RemovalRequest).values(confirm_expires_at=utcnow() - timedelta(minutes=1)))
    db.session.commit()
    result = runner.invoke(args=["worker", "run-job", "removal-purge-expired"])
    assert result.exit_code == 0 and "removal-purge-expired: 1" in result.output
    assert db.session.scalar(select(RemovalRequest)) is None
