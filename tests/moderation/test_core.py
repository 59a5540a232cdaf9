"""The state machine, the transition function and the hash-chained log, through the services."""

import pytest
from sqlalchemy import text

from forum.catalog import services as catalog
from forum.catalog.models import Product, Review
from forum.extensions import db
from forum.fingerprint import content_fingerprint
from moderation import services as moderation
from moderation.audit import verify_chain
from moderation.models import ImmutableRowError, ModerationLog
from moderation.services import AlreadyDecided


@pytest.fixture
def product(app):
    product = Product(sku="CAB-USB-C-2M", name="USB-C cable, 2 m", description="Braided.")
    db.session.add(product)
    db.session.commit()
    return product


def test_submit_approve_publishes_exact_text(product, member, moderator):
    title, body = "  Great <b>cable</b>  ", "Works.\n\n\tTwo paragraphs ✓ "
    review = catalog.submit_review(member, product, 4, title, body)
    assert review.status == "pending"
    assert review.fingerprint == content_fingerprint(title, body)
    moderation.approve_submission("review", review.id, moderator)
    db.session.expire_all()
    stored = db.session.get(Review, review.id)
    assert (stored.status, stored.title, stored.body) == ("published", title, body)
    assert [r.action for r in ModerationLog.query.order_by(ModerationLog.seq)] == ["submitted", "approve"]
    assert verify_chain().ok


def test_reject_needs_a_content_reason(product, member, moderator):
    review = catalog.submit_review(member, product, 1, "Bad", "Broke in a day.")
    with pytest.raises(Exception):  # noqa: B017  (any refusal will do; this test is about the outcome)
        moderation.reject_submission("review", review.id, moderator, reason="negative")
    with pytest.raises(Exception):  # noqa: B017  (any refusal will do; this test is about the outcome)
        moderation.reject_submission("review", review.id, moderator, reason="")
    moderation.reject_submission("review", review.id, moderator, reason="spam", note="link farm")
    assert db.session.get(Review, review.id).status == "rejected"


def test_second_decision_on_same_version_conflicts(product, member, moderator, make_user):
    other = make_user("moderator", display_name="Other Mod")
    review = catalog.submit_review(member, product, 5, "Nice", "Good.")
    version = review.version
    moderation.approve_submission("review", review.id, moderator, expected_version=version)
    with pytest.raises(AlreadyDecided) as info:
        moderation.reject_submission("review", review.id, other, reason="spam", expected_version=version)
    assert "Mo Derator" in info.value.message
    assert ModerationLog.query.filter_by(action="reject").count() == 0


def test_orm_guard_refuses_text_change(product, member):
    review = catalog.submit_review(member, product, 3, "Okay", "Fine.")
    review.body = "Edited"
    with pytest.raises(ImmutableRowError):
        db.session.commit()
    db.session.rollback()


@pytest.mark.parametrize("column, value", [("title", "'x'"), ("body", "'x'"), ("rating", "5")])
def test_database_trigger_refuses_text_change(product, member, column, value):
    review = catalog.submit_review(member, product, 3, "Okay", "Fine.")
    with pytest.raises(Exception, match="cannot change"):
        db.session.execute(text(f"UPDATE review SET {column} = {value} WHERE id = :id"), {"id": review.id})
    db.session.rollback()


def test_log_is_append_only_in_database(product, member):
    catalog.submit_review(member, product, 3, "Okay", "Fine.")
    with pytest.raises(Exception, match="append-only"):
        db.session.execute(text("UPDATE moderation_log SET reason = 'x'"))
    db.session.rollback()
    with pytest.raises(Exception, match="append-only"):
        db.session.execute(text("DELETE FROM moderation_log"))
    db.session.rollback()


def test_replacement_supersedes_on_approval(product, member, moderator):
    first = catalog.submit_review(member, product, 2, "Meh", "Meh.")
    moderation.approve_submission("review", first.id, moderator)
    second = catalog.submit_review(member, product, 4, "Better now", "Firmware fixed it.")
    assert db.session.get(Review, first.id).status == "published"
    moderation.approve_submission("review", second.id, moderator)
    db.session.expire_all()
    assert db.session.get(Review, first.id).status == "superseded"
    assert db.session.get(Review, second.id).status == "published"
    assert verify_chain().ok
