"""Promise 3 at the last layer: the database itself refuses a refusal without a reason.

Written with plain SQL, bypassing the service and the form; runs on SQLite, and on
PostgreSQL with TEST_DATABASE_URL.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from forum.extensions import db


@pytest.fixture
def open_request(submit_and_confirm, publish_review):
    review = publish_review()
    rr, _ = submit_and_confirm(links=[f"/reviews/{review.id}"])
    return rr


NOW = "2026-01-01 12:00:00"


def insert_item(request_id: int, decision, reason, explanation, item_id: int = 4242):
    db.session.execute(
        text(
            "INSERT INTO removal_request_item (request_id, kind, item_id, decision, refusal_reason, "
            "refusal_explanation, decided_at) VALUES (:request_id, 'review', :item_id, :decision, :reason, "
            ":explanation, :decided_at)"
        ),
        {
            "request_id": request_id,
            "item_id": item_id,
            "decision": decision,
            "reason": reason,
            "explanation": explanation,
            "decided_at": NOW if decision else None,
        },
    )
    db.session.flush()


@pytest.mark.parametrize(
    "reason, explanation",
    [
        (None, "We keep it."),
        ("legal_claims", None),
        ("legal_claims", ""),
        ("legal_claims", "   "),
        ("legal_claims", " \n\t\r "),
        ("negative_review", "We keep it."),
        ("", "We keep it."),
    ],
)
def test_database_refuses_a_refusal_without_reason(open_request, reason, explanation):
    with pytest.raises(IntegrityError, match="refusal_has_reason"):
        insert_item(open_request.id, "refused", reason, explanation)
    db.session.rollback()


def test_database_accepts_a_refusal_with_reason_and_removals_without(open_request):
    insert_item(open_request.id, "refused", "legal_claims", "Needed for a court case.", item_id=9001)
    insert_item(open_request.id, "removed", None, None, item_id=9002)
    insert_item(open_request.id, None, None, None, item_id=9003)
    db.session.commit()


def test_database_refuses_blanking_the_reason_of_an_existing_refusal(open_request):
    insert_item(open_request.id, "refused", "legal_obligation", "Tax law: ten years.")
    db.session.commit()
    for assignment in (
        "refusal_explanation = ''",
        "refusal_explanation = NULL",
        "refusal_reason = NULL",
        "decision = 'refused', refusal_reason = 'made_up'",
    ):
        with pytest.raises(IntegrityError):
            db.session.execute(text(f"UPDATE removal_request_item SET {assignment} WHERE item_id = 4242"))
            db.session.flush()
        db.session.rollback()


def test_database_refuses_unknown_decisions_and_closing_without_reason(open_request):
    with pytest.raises(IntegrityError):
        insert_item(open_request.id, "ignored", None, None)
    db.session.rollback()
    for values in (
        "close_reason = NULL, close_explanation = 'x'",
        "close_reason = 'nothing_found', close_explanation = ' '",
    ):
        with pytest.raises(IntegrityError, match="closed_with_reason"):
            db.session.execute(
                text(f"UPDATE removal_request SET status = 'closed', {values} WHERE id = :id"),
                {"id": open_request.id},
            )
            db.session.flush()
        db.session.rollback()
    with pytest.raises(IntegrityError, match="extension_at_most_60_days"):
        db.session.execute(
            text("UPDATE removal_request SET extension_days = 61 WHERE id = :id"), {"id": open_request.id}
        )
        db.session.flush()
    db.session.rollback()
