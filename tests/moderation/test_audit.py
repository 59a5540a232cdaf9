"""`flask audit verify` and `flask audit log`: the hash chain detects edited, deleted and
reordered rows; the database refuses UPDATE and DELETE; erasing text keeps the chain valid."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select, text

from forum.catalog.models import Review
from forum.extensions import db
from moderation import services as moderation
from moderation.audit import HASHED_FIELDS, compute_row_hash, verify_chain
from moderation.models import ModerationLog, ModerationLogHead


def is_postgres() -> bool:
    return db.engine.dialect.name == "postgresql"


@pytest.fixture
def log_rows(submit, moderator):
    """Six log rows: three submissions, an approval, a rejection and an approval."""
    reviews = [submit(rating=r, title=f"Review {r}") for r in (1, 3, 5)]
    moderation.approve_submission("review", reviews[0].id, moderator)
    moderation.reject_submission("review", reviews[1].id, moderator, reason="spam")
    moderation.approve_submission("review", reviews[2].id, moderator)
    rows = db.session.scalars(select(ModerationLog).order_by(ModerationLog.id)).all()
    assert [row.seq for row in rows] == [1, 2, 3, 4, 5, 6]
    return rows


@pytest.fixture
def tamper(app):
    """Run raw SQL with the append-only triggers out of the way (as an attacker with DB access would)."""
    if is_postgres():
        db.session.execute(text("ALTER TABLE moderation_log DISABLE TRIGGER USER"))
    else:
        db.session.execute(text("DROP TRIGGER moderation_log_no_update"))
        db.session.execute(text("DROP TRIGGER moderation_log_no_delete"))
    db.session.commit()

    def run(*statements):
        for statement in statements:
            db.session.execute(text(statement))
        db.session.commit()
        db.session.expire_all()

    yield run
    db.session.rollback()
    if is_postgres():
        db.session.execute(text("ALTER TABLE moderation_log ENABLE TRIGGER USER"))
        db.session.commit()


def verify(runner):
    result = runner.invoke(args=["audit", "verify"])
    return result.exit_code, result.output


def test_intact_chain_exits_0_with_count_and_head(runner, log_rows):
    code, output = verify(runner)
    assert code == 0, output
    head = db.session.get(ModerationLogHead, 1)
    assert "6 rows checked" in output
    assert f"Head hash: {head.last_hash}" in output
    assert head.last_hash == log_rows[-1].row_hash


def test_empty_log_is_intact(runner, app):
    code, output = verify(runner)
    assert code == 0 and "0 rows checked" in output


def test_edited_row_is_detected(runner, log_rows, tamper):
    tamper("UPDATE moderation_log SET reason = 'off_topic' WHERE seq = 5")
    code, output = verify(runner)
    assert code == 1
    assert "BROKEN at row 5" in output and "edited" in output


def test_edited_and_rehashed_row_is_detected_at_the_next_row(runner, log_rows, tamper):
    row = log_rows[3]
    fields = {name: getattr(row, name) for name in HASHED_FIELDS}
    fields["action"] = "reject"
    forged = compute_row_hash(row.prev_hash, fields)
    tamper(f"UPDATE moderation_log SET action = 'reject', row_hash = '{forged}' WHERE seq = 4")
    code, output = verify(runner)
    assert code == 1
    assert "BROKEN at row 5" in output and "does not follow" in output


def test_deleted_middle_row_is_detected(runner, log_rows, tamper):
    tamper("DELETE FROM moderation_log WHERE seq = 3")
    code, output = verify(runner)
    assert code == 1
    assert "BROKEN at row 4" in output and "expected 3" in output


def test_deleted_first_row_is_detected(runner, log_rows, tamper):
    tamper("DELETE FROM moderation_log WHERE seq = 1")
    code, output = verify(runner)
    assert code == 1 and "expected 1" in output


def test_deleted_last_row_is_detected(runner, log_rows, tamper):
    tamper("DELETE FROM moderation_log WHERE seq = 6")
    code, output = verify(runner)
    assert code == 1
    assert "BROKEN at row 6" in output and "deleted" in output


def test_reordered_rows_are_detected(runner, log_rows, tamper):
    # Swap the positions (ids) of rows 2 and 3.
    tamper(
        "UPDATE moderation_log SET id = -id WHERE seq IN (2, 3)",
        f"UPDATE moderation_log SET id = {log_rows[2].id} WHERE id = -{log_rows[1].id}",
        f"UPDATE moderation_log SET id = {log_rows[1].id} WHERE id = -{log_rows[2].id}",
    )
    code, output = verify(runner)
    assert code == 1
    assert "BROKEN at row 3" in output and "out of order" in output


def test_swapped_contents_with_links_kept_in_place_are_detected(runner, log_rows, tamper):
    # Move the content of rows 4 and 5 but leave seq and hashes where they were.
    a, b = log_rows[3], log_rows[4]
    tamper(
        f"UPDATE moderation_log SET action = '{b.action}', subject_id = {b.subject_id}, "
        f"reason = {'NULL' if b.reason is None else repr(b.reason)}, actor_id = {b.actor_id} WHERE seq = 4",
        f"UPDATE moderation_log SET action = '{a.action}', subject_id = {a.subject_id}, "
        f"reason = {'NULL' if a.reason is None else repr(a.reason)}, actor_id = {a.actor_id} WHERE seq = 5",
    )
    code, output = verify(runner)
    assert code == 1 and "BROKEN at row 4" in output


def test_database_refuses_update_and_delete_of_log_rows(log_rows):
    for statement in (
        "UPDATE moderation_log SET reason = 'spam' WHERE seq = 1",
        "DELETE FROM moderation_log WHERE seq = 6",
        "DELETE FROM moderation_log",
    ):
        with pytest.raises(Exception, match="append-only"):
            db.session.execute(text(statement))
            db.session.flush()
        db.session.rollback()
    assert db.session.scalar(select(db.func.count()).select_from(ModerationLog)) == 6
    assert verify_chain().ok


def test_erasing_a_removed_review_keeps_the_chain_valid(runner, submit, moderator):
    review = submit(title="My name is Jane Doe", body="Call me on 555-0100")
    moderation.approve_submission("review", review.id, moderator)
    moderation.transition(
        db.session.get(Review, review.id),
        "remove",
        None,
        system=True,
        reason="removal_request",
        reference="removal:1",
    )
    db.session.commit()
    db.session.expire_all()
    stored = db.session.get(Review, review.id)
    assert (stored.status, stored.title, stored.body) == ("removed", None, None)
    assert stored.fingerprint == review.fingerprint
    code, output = verify(runner)
    assert code == 0 and "3 rows checked" in output
    # The log never held the text.
    for row in db.session.scalars(select(ModerationLog)):
        assert "Jane" not in repr([getattr(row, name) for name in HASHED_FIELDS])


def test_audit_log_prints_entries(runner, log_rows):
    result = runner.invoke(args=["audit", "log"])
    assert result.exit_code == 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 6
    assert re.match(r"1\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+review#\d+\s+submitted new->pending", lines[0])
    assert "reason=spam (Spam or advertising)" in lines[4]
    one = runner.invoke(args=["audit", "log", "--kind", "review", "--id", str(log_rows[1].subject_id)])
    assert one.exit_code == 0
    assert [line.split()[4] for line in one.output.strip().splitlines()] == ["submitted", "reject"]
    assert runner.invoke(args=["audit", "log", "--limit", "2"]).output.count("\n") == 2
    assert runner.invoke(args=["audit", "log", "--id", "3"]).exit_code != 0
    assert (
        "No log entries." in runner.invoke(args=["audit", "log", "--kind", "forum_post", "--id", "99"]).output
    )
