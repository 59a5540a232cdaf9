"""Two moderators deciding the same item at the same moment, on two real connections.

The first decision is paused inside its transaction (after claiming the row); the
second is started and, on PostgreSQL, we wait until the database reports it blocked
on the row lock. Then the first commits. Exactly one decision is recorded and the
second is told who decided.
"""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import create_engine, select, text

from forum.catalog.models import Review
from forum.extensions import db
from forum.models import User
from moderation import services as moderation
from moderation.audit import verify_chain
from moderation.kinds import KINDS
from moderation.models import ModerationLog
from moderation.services import AlreadyDecided

TIMEOUT = 15


def _wait_for_lock_waiter(url: str) -> None:
    """Poll PostgreSQL until some backend of this database waits on a lock."""
    engine = create_engine(url)
    try:
        deadline = time.monotonic() + TIMEOUT
        with engine.connect() as conn:
            while time.monotonic() < deadline:
                waiting = conn.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                    )
                ).scalar()
                if waiting:
                    return
                conn.rollback()
                time.sleep(0.02)
        raise AssertionError("the second decision never blocked on the row lock")
    finally:
        engine.dispose()


@pytest.fixture
def pause_first_decision(app):
    claimed, release = threading.Event(), threading.Event()

    def pause(subject, action, actor, from_state):
        if threading.current_thread().name == "first-moderator":
            claimed.set()
            release.wait(TIMEOUT)

    hooks = KINDS["review"].before_transition
    hooks.append(pause)
    yield claimed, release
    release.set()
    hooks.remove(pause)


@pytest.mark.parametrize("second_action", ["approve", "reject"])
def test_two_connections_one_decision(
    app, submit, moderator, make_user, pause_first_decision, sent_mail, second_action
):
    claimed, release = pause_first_decision
    other = make_user("moderator", display_name="Second Mod")
    review = submit(rating=2, title="Raced")
    review_id, version = review.id, review.version
    users = {"first-moderator": moderator.id, "second-moderator": other.id}
    results: dict[str, str] = {}

    def decide(action: str) -> None:
        name = threading.current_thread().name
        with app.app_context():
            try:
                user = db.session.get(User, users[name])
                if action == "approve":
                    moderation.approve_submission("review", review_id, user, expected_version=version)
                else:
                    moderation.reject_submission(
                        "review", review_id, user, reason="spam", expected_version=version
                    )
                results[name] = "decided"
            except AlreadyDecided as error:
                results[name] = error.message
            except Exception as error:  # reported below rather than lost in the thread
                results[name] = f"unexpected {type(error).__name__}: {error}"

    first = threading.Thread(target=decide, args=("approve",), name="first-moderator")
    second = threading.Thread(target=decide, args=(second_action,), name="second-moderator")
    first.start()
    assert claimed.wait(TIMEOUT), "the first decision did not start"
    second.start()
    if db.engine.dialect.name == "postgresql":
        _wait_for_lock_waiter(db.engine.url.render_as_string(hide_password=False))
    else:
        time.sleep(0.3)  # SQLite: the second waits on the write lock (busy_timeout)
    release.set()
    first.join(TIMEOUT)
    second.join(TIMEOUT)
    assert not first.is_alive() and not second.is_alive()

    assert results["first-moderator"] == "decided"
    assert "already decided by Mo Derator" in results["second-moderator"], results
    db.session.expire_all()
    assert db.session.get(Review, review_id).status == "published"
    actions = db.session.scalars(
        select(ModerationLog.action).where(ModerationLog.subject_id == review_id).order_by(ModerationLog.seq)
    ).all()
    assert actions == ["submitted", "approve"]
    assert [m.subject for m in sent_mail] == ["Your review is published"]
    assert verify_chain().ok


def test_racing_approvals_of_a_replacement_name_the_moderator(
    app, submit, moderator, make_user, pause_first_decision
):
    """Approving a replacement first supersedes the author's older review. The second
    moderator must still be told who decided the item they looked at (the row is claimed
    before any side effect), not that "the system" changed some other review."""
    claimed, release = pause_first_decision
    other = make_user("moderator", display_name="Second Mod")
    author = make_user()
    old = submit(rating=2, title="First take", author=author)
    moderation.approve_submission("review", old.id, moderator)
    replacement = submit(rating=4, title="Second take", author=author)
    review_id, version = replacement.id, replacement.version
    users = {"first-moderator": moderator.id, "second-moderator": other.id}
    results: dict[str, str] = {}

    def decide() -> None:
        name = threading.current_thread().name
        with app.app_context():
            try:
                moderation.approve_submission(
                    "review", review_id, db.session.get(User, users[name]), expected_version=version
                )
                results[name] = "decided"
            except AlreadyDecided as error:
                results[name] = error.message
            except Exception as error:
                results[name] = f"unexpected {type(error).__name__}: {error}"

    first = threading.Thread(target=decide, name="first-moderator")
    second = threading.Thread(target=decide, name="second-moderator")
    first.start()
    assert claimed.wait(TIMEOUT)
    second.start()
    if db.engine.dialect.name == "postgresql":
        _wait_for_lock_waiter(db.engine.url.render_as_string(hide_password=False))
    else:
        time.sleep(0.3)
    release.set()
    first.join(TIMEOUT)
    second.join(TIMEOUT)
    assert results["first-moderator"] == "decided"
    assert "already decided by Mo Derator" in results["second-moderator"], results
    db.session.expire_all()
    assert db.session.get(Review, old.id).status == "superseded"
    assert db.session.get(Review, review_id).status == "published"
    assert verify_chain().ok
