"""Deciding through the pages: approve, reject, stale versions, two moderators at once, bulk, mail, log."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from forum.catalog.models import Product, Review
from forum.extensions import db
from moderation import services as moderation
from moderation.audit import verify_chain
from moderation.models import ModerationLog
from tests.conftest import csrf_token_from


def _status(review_id: int) -> str:
    db.session.expire_all()
    return db.session.get(Review, review_id).status


def _log(review_id: int) -> list[ModerationLog]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(ModerationLog)
            .where(ModerationLog.subject_kind == "review", ModerationLog.subject_id == review_id)
            .order_by(ModerationLog.seq)
        )
    )


def approve(client, review, version=None, **extra):
    prefix = f"review-{review.id}"
    data = {f"{prefix}-version": str(review.version if version is None else version), **extra}
    return client.post(f"/moderation/items/review/{review.id}/approve", data=data)


def reject(client, review, reason="spam", note="", version=None):
    prefix = f"review-{review.id}"
    data = {
        f"{prefix}-version": str(review.version if version is None else version),
        f"{prefix}-reason": reason,
        f"{prefix}-note": note,
    }
    return client.post(f"/moderation/items/review/{review.id}/reject", data=data)


def test_approve_publishes_and_logs(mod_client, submit, sent_mail, moderator):
    review = submit(rating=2, title="Meh <i>", body="Works, sort of.")
    response = approve(mod_client, review, **{f"review-{review.id}-next": "/moderation?kind=review"})
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/moderation?kind=review")
    assert _status(review.id) == "published"
    log = _log(review.id)
    assert [row.action for row in log] == ["submitted", "approve"]
    assert log[-1].actor_id == moderator.id and log[-1].fingerprint == review.fingerprint
    assert log[-1].from_state == "pending" and log[-1].to_state == "published" and log[-1].reason is None
    follow = mod_client.get("/moderation").get_data(as_text=True)
    assert "is published exactly as submitted" in follow
    assert [m.subject for m in sent_mail] == ["Your review is published"]
    assert review.fingerprint in sent_mail[0].body


def test_next_cannot_leave_the_moderation_area(mod_client, submit):
    review = submit()
    response = approve(mod_client, review, **{f"review-{review.id}-next": "https://evil.example/moderation"})
    assert response.headers["Location"].endswith("/moderation")
    assert "evil" not in response.headers["Location"]


def test_reject_with_reason_and_note_mails_author(mod_client, submit, sent_mail, moderator):
    review = submit(rating=5, title="Buy cheap pills", body="http://spam.example")
    note = "Links to <another> shop ☃ are not allowed"
    response = reject(mod_client, review, reason="spam", note=note)
    assert response.status_code == 303
    db.session.expire_all()
    stored = db.session.get(Review, review.id)
    assert (stored.status, stored.decision_reason, stored.decision_note) == ("rejected", "spam", note)
    assert stored.decided_by_id == moderator.id
    log = _log(review.id)
    assert [(row.action, row.reason, row.fingerprint) for row in log] == [
        ("submitted", None, review.fingerprint),
        ("reject", "spam", review.fingerprint),
    ]
    (mail,) = sent_mail
    assert mail.subject == "Your review was not published"
    assert "Reason: Spam or advertising" in mail.body
    assert note in mail.body
    assert "write a new review" in mail.body and "/products/CAB-USB-C-2M" in mail.body
    # The rejected review is gone from the queue.
    assert "Buy cheap pills" not in mod_client.get("/moderation").get_data(as_text=True)


@pytest.mark.parametrize("reason", ["", "negative", "low_rating", "flagged", "removal_request", "spam\x00"])
def test_reject_without_a_content_reason_is_422_and_changes_nothing(mod_client, submit, sent_mail, reason):
    review = submit(rating=1, title="One star")
    response = reject(mod_client, review, reason=reason)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Choose a reason from the list." in page
    assert "One star" in page  # the item is shown again with the form
    assert _status(review.id) == "pending"
    assert [row.action for row in _log(review.id)] == ["submitted"]
    assert sent_mail == []


def test_note_with_nul_or_too_long_is_422(mod_client, submit):
    review = submit()
    assert reject(mod_client, review, note="bad \x00 note").status_code == 422
    response = reject(mod_client, review, note="x" * 2001)
    assert response.status_code == 422
    assert "under 2000 characters" in response.get_data(as_text=True)
    assert _status(review.id) == "pending"


def test_every_naughty_note_is_stored_exactly_or_refused(mod_client, submit, make_user):
    from tests.conftest import naughty_strings

    strings = naughty_strings()
    # A spread sample (the form's checks are the same for every string), plus the ones with NUL.
    sample = strings[::25] + [s for s in strings if "\x00" in s] + [max(strings, key=len)]
    product_n = 0
    for note in sample:
        product_n += 1
        product = Product(sku=f"NOTE-{product_n}", name="x", description="")
        db.session.add(product)
        db.session.commit()
        review = submit(on_product=product)
        response = reject(mod_client, review, note=note)
        assert response.status_code in (303, 422), note
        db.session.expire_all()
        stored = db.session.get(Review, review.id)
        if response.status_code == 303:
            assert stored.decision_note == (note or None)
        else:
            assert "\x00" in note and stored.status == "pending"


def test_missing_or_garbage_version_is_422(mod_client, submit):
    review = submit()
    response = mod_client.post(f"/moderation/items/review/{review.id}/approve", data={})
    assert response.status_code == 422
    assert "out of date" in response.get_data(as_text=True)
    assert approve(mod_client, review, version="abc").status_code == 422
    assert _status(review.id) == "pending"


def test_stale_version_is_refused_with_409(mod_client, submit):
    review = submit()
    response = approve(mod_client, review, version=review.version + 7)
    assert response.status_code == 409
    assert _status(review.id) == "pending"


def test_unknown_item_is_404(mod_client):
    assert (
        mod_client.post(
            "/moderation/items/review/424242/approve", data={"review-424242-version": "1"}
        ).status_code
        == 404
    )
    assert mod_client.post("/moderation/items/nokind/1/reject", data={}).status_code == 404


def test_two_moderators_deciding_at_once(client_for, submit, make_user, moderator, sent_mail):
    """Both open the item and post with the version they saw: one wins, the other is told who."""
    other = make_user("moderator", display_name="Second Mod")
    review = submit(title="Contested")
    first_client, second_client = client_for(moderator), client_for(other)
    pages = [
        c.get(f"/moderation/items/review/{review.id}").get_data(as_text=True)
        for c in (first_client, second_client)
    ]
    # The second sees that the first has it open: informative only, it blocks nothing.
    assert "Mo Derator opened this item" in pages[1]
    versions = [
        re.search(rf'name="review-{review.id}-version" type="hidden" value="(\d+)"', p).group(1)
        for p in pages
    ]
    assert versions[0] == versions[1]

    first = approve(first_client, review, version=versions[0])
    second = reject(second_client, review, reason="fake", version=versions[1])
    assert first.status_code == 303
    assert second.status_code == 409
    body = second.get_data(as_text=True)
    assert "already decided by Mo Derator" in body
    assert _status(review.id) == "published"
    assert [row.action for row in _log(review.id)] == ["submitted", "approve"]
    assert [m.subject for m in sent_mail] == ["Your review is published"]
    assert verify_chain().ok


def test_same_moderator_double_submit_is_harmless(mod_client, submit):
    review = submit()
    assert approve(mod_client, review).status_code == 303
    again = approve(mod_client, review)
    assert again.status_code == 409
    assert [row.action for row in _log(review.id)] == ["submitted", "approve"]


def _bulk(client, values, action, reason="", note="", next_url="/moderation"):
    data = {"bulk-selected": values, "bulk-reason": reason, "bulk-note": note, "bulk-next": next_url}
    data[f"bulk-{action}"] = "x"
    return client.post("/moderation/bulk", data=data)


def _value(review, version=None):
    return f"review:{review.id}:{review.version if version is None else version}"


def test_bulk_approve_with_a_conflict(client_for, mod_client, submit, make_user, sent_mail):
    other = make_user("moderator", display_name="Quick Mod")
    reviews = [submit(title=f"Bulk {i}", rating=i + 1) for i in range(3)]
    # Another moderator rejects the middle one first.
    moderation.reject_submission("review", reviews[1].id, other, reason="off_topic")
    response = _bulk(mod_client, [_value(r) for r in reviews], "approve")
    assert response.status_code == 303
    assert [_status(r.id) for r in reviews] == ["published", "rejected", "published"]
    page = mod_client.get("/moderation").get_data(as_text=True)
    assert "Approved 2 items" in page
    assert f"#{reviews[1].id} was not changed" in page and "already decided by Quick Mod" in page
    assert verify_chain().ok


def test_bulk_reject_one_reason_for_all(mod_client, submit, sent_mail):
    reviews = [submit(title=f"Spam {i}", rating=i + 1) for i in range(3)]
    response = _bulk(mod_client, [_value(r) for r in reviews], "reject", reason="spam", note="Same spam")
    assert response.status_code == 303
    db.session.expire_all()
    for review in reviews:
        stored = db.session.get(Review, review.id)
        assert (stored.status, stored.decision_reason, stored.decision_note) == (
            "rejected",
            "spam",
            "Same spam",
        )
    assert len(sent_mail) == 3 and all("Spam or advertising" in m.body for m in sent_mail)
    assert "Rejected 3 items" in mod_client.get("/moderation").get_data(as_text=True)


def test_bulk_stale_version_is_a_conflict_not_a_decision(mod_client, submit):
    review = submit()
    _bulk(mod_client, [_value(review, version=99)], "approve")
    assert _status(review.id) == "pending"
    assert "was not changed" in mod_client.get("/moderation").get_data(as_text=True)


@pytest.mark.parametrize(
    "data, message",
    [
        ({"bulk-reject": "x", "bulk-reason": ""}, "Choose a reason from the list."),
        ({"bulk-reject": "x", "bulk-reason": "negative"}, "Choose a reason from the list."),
        ({"bulk-approve": "x", "bulk-selected": []}, "Select at least one item."),
        ({"bulk-approve": "x", "bulk-selected": ["garbage"]}, "out of date"),
        ({}, "Approve selected"),
    ],
)
def test_bulk_bad_input_is_422_and_changes_nothing(mod_client, submit, data, message):
    review = submit()
    payload = {"bulk-selected": [_value(review)], "bulk-next": "/moderation", **data}
    response = mod_client.post("/moderation/bulk", data=payload)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert _status(review.id) == "pending"


def test_bulk_works_as_a_plain_html_form(mod_client, submit):
    """The checkboxes join the bulk form through the `form` attribute (no JavaScript)."""
    review = submit()
    page = mod_client.get("/moderation").get_data(as_text=True)
    assert re.search(r'<form id="bulk-form" method="post" action="/moderation/bulk"', page)
    assert f'form="bulk-form" name="bulk-selected" value="{_value(review)}"' in page
    # Scripts only as static files (the CSP forbids inline ones): they enhance, nothing needs them.
    assert not re.search(r"<script(?![^>]*\bsrc=)", page)


@pytest.fixture
def csrf_on(app_config):
    app_config["WTF_CSRF_ENABLED"] = True
    return app_config


def test_csrf_is_required_on_every_decision(csrf_on, app, make_user, submit):
    moderator = make_user("moderator")
    review = submit()
    client = app.test_client()
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    assert (
        client.post(
            "/login",
            data={"email": moderator.email, "password": "correct horse battery staple", "csrf_token": token},
        ).status_code
        == 302
    )
    for path, data in (
        (f"/moderation/items/review/{review.id}/approve", {f"review-{review.id}-version": "1"}),
        (
            f"/moderation/items/review/{review.id}/reject",
            {f"review-{review.id}-version": "1", f"review-{review.id}-reason": "spam"},
        ),
        ("/moderation/bulk", {"bulk-selected": [_value(review)], "bulk-approve": "x"}),
    ):
        assert client.post(path, data=data).status_code == 400
    assert _status(review.id) == "pending"
    page = client.get(f"/moderation/items/review/{review.id}").get_data(as_text=True)
    # Each form on the page carries the token (per-item forms under their prefix).
    match = re.search(rf'name="review-{review.id}-csrf_token" type="hidden" value="([^"]+)"', page)
    assert match, "no token in the item's form"
    response = client.post(
        f"/moderation/items/review/{review.id}/approve",
        data={f"review-{review.id}-version": "1", f"review-{review.id}-csrf_token": match.group(1)},
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    assert _status(review.id) == "published"


def test_hidden_item_can_be_restored_or_removed(mod_client, submit, moderator):
    from moderation.services import transition

    review = submit()
    moderation.approve_submission("review", review.id, moderator)
    review = db.session.get(Review, review.id)
    transition(review, "hide", None, system=True, reason="flagged")
    db.session.commit()
    assert "Hidden after flags" in mod_client.get("/moderation").get_data(as_text=True)
    page = mod_client.get(f"/moderation/items/review/{review.id}").get_data(as_text=True)
    assert "Restore (publish again)" in page and ">Remove<" in page
    response = reject(mod_client, review, reason="abusive")
    assert response.status_code == 303
    db.session.expire_all()
    stored = db.session.get(Review, review.id)
    assert stored.status == "removed" and stored.title is None
    assert [row.action for row in _log(review.id)][-1] == "remove"
    assert verify_chain().ok
