"""Gone means gone: only published content is ever in the index or in results."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from forum import create_app
from forum.catalog import services as catalog
from forum.catalog.models import Review
from forum.extensions import db
from forum.search import indexing, services
from forum.search.backend import SearchRequest
from forum.search.models import SearchOutbox
from forum.search.query import parse
from moderation import services as moderation

from .conftest import indexed, result_ids

PROJECT = Path(__file__).resolve().parents[3]


def _hits(backend, q):
    return {doc_id for doc_id, _ in backend.search(SearchRequest(parse(q), limit=50)).hits}


@pytest.mark.parametrize(
    "state",
    ["pending", "rejected", "withdrawn", "hidden", "removed", "superseded", "withdrawn while pending"],
)
def test_only_published_reviews_are_indexed(
    state, submit, publish, moderator, drain, backend, search_page, make_user, product
):
    author = make_user()
    if state == "pending":
        review = submit("Kestrel cable", "kestrel", author=author)
    elif state == "rejected":
        review = submit("Kestrel cable", "kestrel", author=author)
        moderation.reject_submission("review", review.id, moderator, reason="off_topic")
    elif state == "withdrawn while pending":
        review = submit("Kestrel cable", "kestrel", author=author)
        catalog.withdraw_review(author, review.id)
    else:
        review = publish("Kestrel cable", "kestrel", author=author)
        drain()
        assert _hits(backend, "kestrel") == {f"review:{review.id}"}
        if state == "withdrawn":
            catalog.withdraw_review(author, review.id)
        elif state == "hidden":
            moderation.transition(review, "hide", moderator, reason="abusive")
            db.session.commit()
        elif state == "removed":
            moderation.transition(review, "remove", moderator, reason="spam")
            db.session.commit()
        elif state == "superseded":
            newer = publish("Osprey cable", "osprey replaces it", author=author)
            drain()
            assert _hits(backend, "osprey") == {f"review:{newer.id}"}
    drain()
    assert db.session.get(Review, review.id).status == state.split()[0]
    assert _hits(backend, "kestrel") == set()
    assert f"review:{review.id}" not in indexed(backend)
    status, html = search_page("kestrel")
    assert status == 200 and result_ids(html) == []


def test_removed_is_gone_at_once_in_a_long_lived_process(
    app, publish, moderator, backend, search_page, drain
):
    """One process, one thread, a searcher opened before the removal: never shown again."""
    review = publish("Walrus charger", "The walrus charger is fine.")
    other = publish("Walrus cable", "The walrus cable is fine.")
    status, html = search_page("walrus")  # (the worker drained) opens this thread's searcher
    assert set(result_ids(html)) == {review.id, other.id}
    assert _hits(backend, "walrus") == {f"review:{review.id}", f"review:{other.id}"}

    moderation.transition(review, "remove", moderator, reason="spam")
    db.session.commit()
    # Before the index is told (as if the drain were still running elsewhere): the page
    # re-checks every hit against the database.
    db.session.info.pop("search_outbox_committed", None)
    app.config["TEST_WORKER_BEFORE_SEARCH"] = False
    assert result_ids(search_page("walrus")[1]) == [other.id]
    # Once applied, the index itself no longer returns it, although this thread's searcher
    # was opened before the delete: it is reopened because the generation changed.
    drain()
    assert _hits(backend, "walrus") == {f"review:{other.id}"}
    assert result_ids(search_page("walrus")[1]) == [other.id]


def test_whoosh_searcher_is_reopened_not_refreshed(app, publish, drain, backend, moderator):
    """whoosh-reloaded's Searcher.refresh() may keep a deleted document: we reopen instead."""
    if backend.name != "whoosh":
        pytest.skip("whoosh only")
    review = publish("Puffin plug", "puffin")
    drain()
    before = backend._searcher()
    assert _hits(backend, "puffin") == {f"review:{review.id}"}
    moderation.transition(review, "remove", moderator, reason="spam")
    db.session.commit()
    drain()
    after = backend._searcher()
    assert after is not before
    assert _hits(backend, "puffin") == set()


def test_crash_between_commit_and_indexing_is_repaired_by_the_next_run(
    app_config, app, publish, moderator, backend, drain
):
    gone = publish("Heron adapter", "heron")
    drain()
    # Commit the state changes, then "die" before the index is updated.
    fresh = publish("Ibis adapter", "ibis")
    moderation.transition(gone, "remove", moderator, reason="spam")
    db.session.commit()
    db.session.info.pop("search_outbox_committed", None)
    assert f"review:{fresh.id}" not in indexed(backend)
    assert f"review:{gone.id}" in indexed(backend)
    assert db.session.scalar(select(db.func.count()).select_from(SearchOutbox)) == 2

    # The worker's next pass, in a new app instance (another process would be the same), repairs it.
    restarted = create_app(app_config)
    with restarted.app_context():
        from forum.worker import Worker

        Worker(restarted).search_step()
        page = services.search("ibis OR heron")
        assert [r.doc_id for r in page.results] == [f"review:{fresh.id}"]
        assert indexing.get_backend().doc_ids() == {f"review:{fresh.id}"}
        assert indexing.pending_count() == 0
        db.session.remove()
        db.engine.dispose()


def test_flask_search_sync_applies_what_a_crash_left(app_config, app, publish, drain):
    review = publish("Egret hub", "egret")
    db.session.info.pop("search_outbox_committed", None)  # crashed before the drain
    restarted = create_app(app_config)
    result = restarted.test_cli_runner().invoke(args=["search", "sync"])
    assert result.exit_code == 0, result.output
    assert "Applied 1 change(s); 0 still queued." in result.output
    with restarted.app_context():
        assert indexing.get_backend().doc_ids() == {f"review:{review.id}"}
        db.engine.dispose()


def test_failure_to_index_never_reaches_the_moderator_and_is_retried(
    app, submit, moderator, backend, monkeypatch, runner
):
    from forum.search.registry import SEARCHABLES

    broken = submit("Crane cable", "crane one")
    fine = submit("Crane charger", "crane two")
    real = SEARCHABLES["review"].to_document

    def flaky(review):
        if review.id == broken.id:
            raise RuntimeError("disk full")
        return real(review)

    monkeypatch.setattr(SEARCHABLES["review"], "to_document", flaky)
    moderation.approve_submission("review", broken.id, moderator)  # no exception for the moderator
    moderation.approve_submission("review", fine.id, moderator)
    report = indexing.drain_all()
    assert report.failed == 1 and "disk full" in report.errors[0]
    assert indexed(backend) == {f"review:{fine.id}"}
    row = db.session.scalar(select(SearchOutbox))
    assert (row.item_id, row.attempts) == (broken.id, 1) and "disk full" in row.last_error
    result = runner.invoke(args=["search", "sync"])
    assert result.exit_code == 1 and "disk full" in result.output

    monkeypatch.setattr(SEARCHABLES["review"], "to_document", real)
    result = runner.invoke(args=["search", "sync"])
    assert result.exit_code == 0, result.output
    assert indexed(backend) == {f"review:{broken.id}", f"review:{fine.id}"}


def test_a_busy_index_leaves_the_change_queued(app, publish, moderator, backend, search_page):
    """Another writer holds the index: the approval succeeds, the change waits, nothing is lost."""
    app.config["SEARCH_LOCK_TIMEOUT"] = 0.2
    holding, release = threading.Event(), threading.Event()
    engine = db.engine

    def hold():
        from sqlalchemy.orm import Session

        with Session(engine) as session, backend.writing(session, 5):
            holding.set()
            release.wait(10)
            session.commit()

    thread = threading.Thread(target=hold)
    thread.start()
    assert holding.wait(5)
    try:
        review = publish("Gannet plug", "gannet")
        db.session.info.pop("search_outbox_committed", None)
        report = indexing.drain()
        assert report.busy and report.applied == 0
        assert indexing.pending_count() == 1
    finally:
        release.set()
        thread.join()
    status, html = search_page("gannet")  # the next search applies it
    assert result_ids(html) == [review.id]
    assert indexing.pending_count() == 0


def test_concurrent_approvals_from_several_processes_are_all_indexed(
    app, app_config, make_user, product, moderator, backend
):
    workers, per_worker = 4, 5
    reviews = [
        catalog.submit_review(make_user(), product, 4, f"Plover {n}", f"plover review number {n}")
        for n in range(workers * per_worker)
    ]
    config = {k: v for k, v in app_config.items() if isinstance(v, (str, int, float, bool)) or v is None}
    config["SEARCH_LOCK_TIMEOUT"] = 30
    start_at = time.time() + 3
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.forum.search._approver",
                json.dumps(
                    {
                        "config": config,
                        "start_at": start_at,
                        "moderator_id": moderator.id,
                        "review_ids": [r.id for r in reviews[w::workers]],
                    }
                ),
            ],
            cwd=PROJECT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(workers)
    ]
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err[-3000:]
        report = json.loads(out.strip().splitlines()[-1])
        assert report["errors"] == [], report
    db.session.expire_all()
    assert all(db.session.get(Review, r.id).status == "published" for r in reviews)
    # Every approval reached the index through its own process's drain: nothing left, nothing lost.
    assert indexing.pending_count() == 0
    assert indexed(backend) == {f"review:{r.id}" for r in reviews}
    assert backend.search(SearchRequest(parse("plover"), limit=50)).total == len(reviews)


def test_whoosh_reuses_only_segment_readers_without_new_deletions(app, publish, drain, backend, moderator):
    if backend.name != "whoosh":
        pytest.skip("whoosh only")
    first = publish("Skua one", "skua")
    drain()
    _hits(backend, "skua")
    readers_before = {r.segment().segment_id(): r for r, _ in backend._searcher().reader().leaf_readers()}
    second = publish("Skua two", "skua")
    drain()
    assert _hits(backend, "skua") == {f"review:{first.id}", f"review:{second.id}"}
    readers_after = {r.segment().segment_id(): r for r, _ in backend._searcher().reader().leaf_readers()}
    kept = set(readers_before) & set(readers_after)
    assert kept and all(readers_after[k] is readers_before[k] for k in kept)  # unchanged: reused

    moderation.transition(first, "remove", moderator, reason="spam")
    db.session.commit()
    drain()
    assert _hits(backend, "skua") == {f"review:{second.id}"}  # its segment gained a deletion: reopened
    assert backend.search(SearchRequest(parse("skua"))).total == 1


def test_whoosh_merges_small_segments_by_indexing_them_again(app, publish, drain, backend):
    """Drains write one small segment each; merges re-read the documents from the database."""
    if backend.name != "whoosh":
        pytest.skip("whoosh only")
    from sqlalchemy import update

    reviews = []
    for n in range(3):
        reviews.append(publish(f"Shag {n}", "shag"))
        drain()
    # Made private behind the index's back (no outbox row): the next merge drops it.
    db.session.execute(update(Review).where(Review.id == reviews[0].id).values(status="hidden"))
    db.session.commit()
    for n in range(3, 9):
        reviews.append(publish(f"Shag {n}", "shag"))
        drain()
    segments = backend._index(backend._current_name())._segments()
    assert len(segments) < 6
    assert indexed(backend) == {f"review:{r.id}" for r in reviews[1:]}
    assert backend.search(SearchRequest(parse("shag"), limit=50)).total == 8
