"""Moderators decide: the queue, the decision page, remove, refuse, close, extend, the log."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from forum.catalog.models import Review
from forum.errors import Conflict, PermissionDenied, ValidationFailed
from forum.extensions import db
from forum.timeutil import utcnow
from moderation.audit import verify_chain
from moderation.models import ModerationLog
from moderation.removal import services as removal
from moderation.removal.models import REFUSAL_REASONS, RemovalItem, RemovalRequest

from .conftest import outbox


@pytest.fixture
def two_item_request(make_user, publish_review, submit_and_confirm):
    """Jane asks about her own review and about someone else's review that names her."""
    jane = make_user("member", email="jane@example.com", display_name="Jane")
    own = publish_review(author=jane, title="My kettle", body="I am Jane Roe from Elm Street.")
    about = publish_review(
        author=make_user("member", display_name="Neighbour"),
        title="Nice",
        body="Bought it with Jane Roe, who lives at 12 Elm Street.",
    )
    rr, status_token = submit_and_confirm(
        links=[f"/reviews/{own.id}", f"/reviews/{about.id}"],
        removal_kind="personal_info",
        details="Both mention my address.",
    )
    items = {item.item_id: item for item in rr.items}
    return rr, status_token, own, about, items[own.id], items[about.id]


def decide_url(rr, item):
    return f"/moderation/removal-requests/{rr.id}/items/{item.id}"


def decision(item, **fields):
    return {f"item{item.id}-{name}": value for name, value in fields.items()}


# --- who may see what ------------------------------------------------------------


def test_only_moderators_and_admins_see_requests(
    app, client, two_item_request, member, moderator, admin, client_for
):
    rr, _, _, _, own_item, _ = two_item_request
    urls = ["/moderation/removal-requests", f"/moderation/removal-requests/{rr.id}"]
    for url in urls:
        assert client.get(url).status_code == 403  # not signed in
    member_client = client_for(member)
    for url in urls:
        assert member_client.get(url).status_code == 403
    assert (
        member_client.post(decide_url(rr, own_item), data=decision(own_item, decision="remove")).status_code
        == 403
    )
    assert db.session.get(RemovalItem, own_item.id).decision is None
    for user in (moderator, admin):
        staff = client_for(user)
        for url in urls:
            assert staff.get(url).status_code == 200
    with pytest.raises(PermissionDenied):
        removal.decide_item(rr.id, own_item.id, member, "remove")


def test_queue_lists_requests_by_due_date_with_overdue_marked_and_counted(
    client_for, moderator, submit_and_confirm
):
    later, _ = submit_and_confirm(email="later@example.com", scope="everything")
    overdue, _ = submit_and_confirm(email="overdue@example.com", scope="everything")
    soon, _ = submit_and_confirm(email="soon@example.com", scope="everything")
    now = utcnow()
    for rr, due in (
        (later, now + timedelta(days=20)),
        (overdue, now - timedelta(days=1)),
        (soon, now + timedelta(days=2)),
    ):
        db.session.execute(update(RemovalRequest).where(RemovalRequest.id == rr.id).values(due_at=due))
    db.session.commit()

    staff = client_for(moderator)
    html = staff.get("/moderation").get_data(as_text=True)
    positions = [html.index(rr.reference) for rr in (overdue, soon, later)]
    assert positions == sorted(positions)
    row = html[html.rindex("<tr", 0, positions[0]) : positions[0]]
    assert 'class="desk-row overdue"' in row
    assert html.count('<strong class="overdue-tag">overdue</strong>') == 1
    # The header badge counts the three requests and marks the overdue one, like the tabs.
    assert '<span class="badge">3<span class="visually-hidden"> waiting' in html
    assert '<span class="badge badge-overdue">1<span class="visually-hidden"> overdue' in html
    assert re.search(
        r'Removal requests <span class="badge">3</span> <span class="badge badge-overdue">1 overdue', html
    )
    alone = staff.get("/moderation?kind=removal_request").get_data(as_text=True)
    assert all(rr.reference in alone for rr in (overdue, soon, later))
    assert removal.overdue_count() == 1


def test_decision_page_marks_the_requesters_own_items(client_for, moderator, two_item_request):
    rr, _, own, about, own_item, about_item = two_item_request
    html = client_for(moderator).get(f"/moderation/removal-requests/{rr.id}").get_data(as_text=True)
    assert html.count("requester is the author") == 1
    own_card = html[
        html.index(f'id="item-{own_item.id}-title"') : html.index(f'id="item-{about_item.id}-title"')
    ]
    assert "requester is the author" in own_card
    assert "Both mention my address." in html and "jane@example.com" in html
    assert "I am Jane Roe from Elm Street." in html  # the moderator reads what they decide on
    assert "We never rewrite anyone's words" in html
    for reason in REFUSAL_REASONS.values():
        assert reason in html


# --- remove and refuse -----------------------------------------------------------------


def test_remove_and_refuse_close_the_request_as_partially_completed(
    client_for, moderator, two_item_request, runner
):
    rr, status_token, own, about, own_item, about_item = two_item_request
    staff = client_for(moderator)
    response = staff.post(decide_url(rr, own_item), data=decision(own_item, decision="remove"))
    assert response.status_code == 303
    db.session.expire_all()
    review = db.session.get(Review, own.id)
    assert review.status == "removed" and review.title is None and review.body is None
    assert review.decision_reason == "removal_request"
    assert review.fingerprint == own.fingerprint and review.created_at == own.created_at  # the tombstone
    assert db.session.get(RemovalRequest, rr.id).status == "open"

    explanation = "The review is about the kettle; the street name alone does not identify you."
    response = staff.post(
        decide_url(rr, about_item),
        data=decision(
            about_item, decision="refuse", refusal_reason="public_interest", explanation=explanation
        ),
    )
    assert response.status_code == 303
    db.session.expire_all()
    rr = db.session.get(RemovalRequest, rr.id)
    assert rr.status == "partially_completed" and rr.closed_at is not None
    assert db.session.get(Review, about.id).status == "published"

    mail = outbox("jane@example.com")[-1]
    assert mail.subject == "Your removal request: our decision"
    assert REFUSAL_REASONS["public_interest"] in mail.body_text and explanation in mail.body_text
    assert "Partially completed" in mail.body_text and rr.reference in mail.body_text
    assert "supervisory authority" in mail.body_text

    status = staff.get(f"/removal-request/status/{status_token}").get_data(as_text=True)
    assert "Partially completed" in status and explanation in status and "If you disagree" in status

    # The log: the review's removal names the request; every step of the request is there.
    remove_row = db.session.scalars(
        select(ModerationLog).where(ModerationLog.subject_kind == "review", ModerationLog.action == "remove")
    ).one()
    assert (remove_row.reason, remove_row.reference, remove_row.fingerprint) == (
        "removal_request",
        rr.reference,
        own.fingerprint,
    )
    steps = db.session.scalars(
        select(ModerationLog.action)
        .where(ModerationLog.subject_kind == "removal_request", ModerationLog.subject_id == rr.id)
        .order_by(ModerationLog.seq)
    ).all()
    assert steps == [
        "request_submitted",
        "request_confirmed",
        "notified",
        "item_removed",
        "item_refused",
        "closed",
        "notified",
    ]
    rows = db.session.scalars(
        select(ModerationLog).where(ModerationLog.subject_kind == "removal_request")
    ).all()
    assert all(row.reference == rr.reference for row in rows)
    # No personal text in the log: no address, no details, no explanation.
    for row in rows:
        for value in vars(row).values():
            if isinstance(value, str):
                assert "jane" not in value.lower() and "Elm" not in value
    assert verify_chain().ok
    verified = runner.invoke(args=["audit", "verify"])
    assert verified.exit_code == 0, verified.output


def test_everything_removed_completes_and_everything_refused_refuses(
    moderator, two_item_request, make_user, publish_review, submit_and_confirm
):
    rr, _, _, _, own_item, about_item = two_item_request
    removal.decide_item(rr.id, own_item.id, moderator, "remove")
    removal.decide_item(rr.id, about_item.id, moderator, "remove")
    assert db.session.get(RemovalRequest, rr.id).status == "completed"

    review = publish_review()
    other, _ = submit_and_confirm(email="sam@example.com", links=[f"/reviews/{review.id}"])
    removal.decide_item(
        other.id,
        other.items[0].id,
        moderator,
        "refuse",
        "identity_unverified",
        "We could not link this review to you.",
    )
    assert db.session.get(RemovalRequest, other.id).status == "refused"
    assert "We could not link this review to you." in outbox("sam@example.com")[-1].body_text


@pytest.mark.parametrize(
    "reason, explanation",
    [
        (None, "A fine explanation."),
        ("", "A fine explanation."),
        ("negative_review", "A fine explanation."),
        ("public_interest", None),
        ("public_interest", ""),
        ("public_interest", " \n\t "),
    ],
)
def test_refusal_without_a_reason_is_impossible_in_the_service(
    moderator, two_item_request, reason, explanation
):
    rr, _, _, _, own_item, _ = two_item_request
    with pytest.raises(ValidationFailed):
        removal.decide_item(rr.id, own_item.id, moderator, "refuse", reason, explanation)
    db.session.rollback()
    assert db.session.get(RemovalItem, own_item.id).decision is None


def test_refusal_without_a_reason_is_refused_by_the_form(client_for, moderator, two_item_request):
    rr, _, _, _, own_item, _ = two_item_request
    staff = client_for(moderator)
    for fields in (
        {"decision": "refuse"},
        {"decision": "refuse", "refusal_reason": "legal_claims", "explanation": "   "},
        {"decision": "refuse", "explanation": "Because."},
    ):
        response = staff.post(decide_url(rr, own_item), data=decision(own_item, **fields))
        html = response.get_data(as_text=True)
        assert response.status_code == 422
        assert "A refusal needs a reason" in html or "Write the explanation" in html
    response = staff.post(decide_url(rr, own_item), data=decision(own_item, refusal_reason="legal_claims"))
    assert response.status_code == 422 and "Choose remove or refuse." in response.get_data(as_text=True)
    assert db.session.get(RemovalItem, own_item.id).decision is None
    assert not [m for m in outbox("jane@example.com") if "decision" in m.subject]


def test_an_item_is_decided_once(moderator, make_user, two_item_request):
    rr, _, _, _, own_item, _ = two_item_request
    removal.decide_item(rr.id, own_item.id, moderator, "remove")
    other = make_user("moderator")
    with pytest.raises(Conflict):
        removal.decide_item(rr.id, own_item.id, other, "refuse", "legal_claims", "We keep it.")
    db.session.rollback()
    item = db.session.get(RemovalItem, own_item.id)
    assert (item.decision, item.decided_by_id) == ("removed", moderator.id)


def test_a_closed_request_takes_no_more_decisions(client_for, moderator, two_item_request):
    rr, _, _, _, own_item, about_item = two_item_request
    removal.decide_item(rr.id, own_item.id, moderator, "remove")
    removal.decide_item(rr.id, about_item.id, moderator, "remove")
    with pytest.raises(Conflict):
        removal.extend_deadline(rr.id, moderator, 10, "More time.")
    db.session.rollback()
    response = client_for(moderator).post(
        f"/moderation/removal-requests/{rr.id}/extend",
        data={"days": "5", "reason": "x"},
        follow_redirects=True,
    )
    assert "already closed" in response.get_data(as_text=True)


def test_personal_information_in_a_forum_post_removes_the_whole_post(
    make_user, forum_post, moderator, submit_and_confirm
):
    from forum.community.models import ForumPost

    post = forum_post(make_user("member"), title="Party", body="Jane Roe's number is 0123 456 789.")
    rr, _ = submit_and_confirm(links=[f"/forums/posts/{post.id}"], removal_kind="personal_info")
    assert [(i.kind, i.item_id) for i in rr.items] == [("forum_post", post.id)]
    removal.decide_item(rr.id, rr.items[0].id, moderator, "remove")
    gone = db.session.get(ForumPost, post.id)
    assert gone.status == "removed" and gone.body is None  # never rewritten: removed and erased
    assert db.session.get(RemovalRequest, rr.id).status == "completed"


# --- requests naming nothing ----------------------------------------------------------------


def test_a_request_naming_nothing_is_closed_with_a_reason(client_for, moderator, submit_and_confirm):
    rr, status_token = submit_and_confirm(email="nobody@example.com", scope="everything")
    assert rr.items == []
    staff = client_for(moderator)
    page = staff.get(f"/moderation/removal-requests/{rr.id}").get_data(as_text=True)
    assert "Close the request" in page and "no account uses this email address" in page
    url = f"/moderation/removal-requests/{rr.id}/close"
    assert staff.post(url, data={"reason": "", "explanation": "Nothing."}).status_code == 422
    assert staff.post(url, data={"reason": "nothing_found", "explanation": "  "}).status_code == 422
    explanation = "No review, post or comment here was written with this address."
    assert staff.post(url, data={"reason": "nothing_found", "explanation": explanation}).status_code == 303
    db.session.expire_all()
    rr = db.session.get(RemovalRequest, rr.id)
    assert rr.status == "closed" and rr.close_reason == "nothing_found"
    mail = outbox("nobody@example.com")[-1]
    assert explanation in mail.body_text and "We found no content" in mail.body_text
    status = staff.get(f"/removal-request/status/{status_token}").get_data(as_text=True)
    assert "Closed: there was nothing we could remove" in status and explanation in status


def test_a_request_with_items_cannot_be_closed_without_deciding_them(moderator, two_item_request):
    rr, *_ = two_item_request
    with pytest.raises(Conflict):
        removal.close_without_items(rr.id, moderator, "nothing_found", "Nothing.")


def test_moderators_can_add_items_the_details_describe(
    client_for, moderator, submit_and_confirm, publish_review, make_user
):
    rr, _ = submit_and_confirm(email="jane@example.com", scope="everything")
    review = publish_review()
    staff = client_for(moderator)
    url = f"/moderation/removal-requests/{rr.id}/items"
    assert staff.post(url, data={"links": "https://evil.example/x"}).status_code == 422
    assert staff.post(url, data={"links": f"/reviews/{review.id}"}).status_code == 303
    jane = make_user("member", email="jane@example.com")
    own = publish_review(author=jane)
    assert staff.post(url, data={"links": "", "include_account": "1"}).status_code == 303
    db.session.expire_all()
    rr = db.session.get(RemovalRequest, rr.id)
    assert sorted(i.item_id for i in rr.items) == sorted([review.id, own.id])


# --- deadlines -------------------------------------------------------------------------------


def test_extending_needs_a_reason_that_is_mailed_and_at_most_60_days_in_all(
    client_for, moderator, two_item_request
):
    rr, status_token, *_ = two_item_request
    first_due = rr.due_at
    staff = client_for(moderator)
    url = f"/moderation/removal-requests/{rr.id}/extend"
    assert staff.post(url, data={"days": "10", "reason": ""}).status_code == 422
    assert staff.post(url, data={"days": "61", "reason": "Lawyers."}).status_code == 422
    assert staff.post(url, data={"days": "0", "reason": "Lawyers."}).status_code == 422
    assert staff.post(url, data={"days": "ten", "reason": "Lawyers."}).status_code == 422
    assert db.session.get(RemovalRequest, rr.id).due_at == first_due

    reason = "We asked the author of the second review for their view."
    assert staff.post(url, data={"days": "40", "reason": reason}).status_code == 303
    db.session.expire_all()
    rr = db.session.get(RemovalRequest, rr.id)
    assert rr.due_at == first_due + timedelta(days=40) and rr.extension_days == 40
    mail = outbox("jane@example.com")[-1]
    assert mail.subject == "Your removal request: we need more time"
    assert reason in mail.body_text and removal.format_day(rr.due_at) in mail.body_text

    response = staff.post(url, data={"days": "21", "reason": "More."})
    assert response.status_code == 422 and "Extend by 1 to 20 days." in response.get_data(as_text=True)
    assert staff.post(url, data={"days": "20", "reason": "Still waiting for the author."}).status_code == 303
    db.session.expire_all()
    rr = db.session.get(RemovalRequest, rr.id)
    assert rr.extension_days == 60 and rr.due_at == first_due + timedelta(days=60)
    with pytest.raises(ValidationFailed):
        removal.extend_deadline(rr.id, moderator, 1, "Once more.")
    db.session.rollback()
    page = staff.get(f"/moderation/removal-requests/{rr.id}").get_data(as_text=True)
    assert "extended by the most allowed" in page
    status = staff.get(f"/removal-request/status/{status_token}").get_data(as_text=True)
    assert reason in status and "extended by 60 days" in status
    extended = db.session.scalars(select(ModerationLog).where(ModerationLog.action == "extended")).all()
    assert len(extended) == 2 and all(row.reference == rr.reference for row in extended)


def test_items_already_gone_are_decided_without_a_second_removal(
    client_for, moderator, make_user, publish_review, submit_and_confirm
):
    from forum.catalog import services as catalog
    from forum.catalog.models import Product
    from moderation import services as moderation

    jane = make_user("member", email="jane@example.com")
    toaster = Product(sku="TOASTER", name="Toaster", description="")
    db.session.add(toaster)
    db.session.commit()
    withdrawn = publish_review(author=jane, body="Withdrawn but still stored.")
    removed = publish_review(author=jane, body="Removed earlier.", product=toaster)
    rr, _ = submit_and_confirm(links=[f"/reviews/{withdrawn.id}", f"/reviews/{removed.id}"])
    catalog.withdraw_review(jane, withdrawn.id)
    moderation.transition(db.session.get(Review, removed.id), "remove", moderator, reason="spam")
    db.session.commit()

    page = client_for(moderator).get(f"/moderation/removal-requests/{rr.id}").get_data(as_text=True)
    assert "Status: withdrawn." in page and "Status: removed." in page
    assert "Withdrawn but still stored." in page and "Its text has been erased." in page
    items = {item.item_id: item for item in rr.items}
    removal.decide_item(rr.id, items[withdrawn.id].id, moderator, "remove")
    removal.decide_item(rr.id, items[removed.id].id, moderator, "remove")
    # The withdrawn review's text is erased now; the removed one is not removed twice.
    assert db.session.get(Review, withdrawn.id).body is None
    removes = db.session.scalars(
        select(ModerationLog.subject_id).where(
            ModerationLog.subject_kind == "review", ModerationLog.action == "remove"
        )
    ).all()
    assert sorted(removes) == sorted([withdrawn.id, removed.id])
    assert db.session.get(RemovalRequest, rr.id).status == "completed"
    assert verify_chain().ok
