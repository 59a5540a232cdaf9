"""The worker's search jobs: drift between index and database is repaired; a killed reindex is cleaned up."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from sqlalchemy import delete

from forum.extensions import db
from forum.search import indexing
from forum.search.models import SearchOutbox
from moderation import services as moderation

from .conftest import result_ids


def test_drift_is_repaired_and_logged_by_the_search_check_job(
    app, runner, publish, drain, backend, moderator, search_page, caplog
):
    kept = publish("Heron kettle", "heron")
    removed = publish("Heron lamp", "heron")
    drain()
    # Changes whose outbox rows were lost (the drift the issue measured): one published item
    # never reached the index, one removed item is still in it.
    lost = publish("Heron cable", "heron")
    moderation.transition(removed, "remove", moderator, reason="spam")
    db.session.commit()
    db.session.execute(delete(SearchOutbox))
    db.session.commit()
    db.session.info.pop("search_outbox_committed", None)
    assert backend.doc_ids() == {f"review:{kept.id}", f"review:{removed.id}"}

    result = runner.invoke(args=["worker", "run-job", "search-check"])
    assert result.exit_code == 0, result.output
    assert "search-check: 2" in result.output
    assert backend.doc_ids() == {f"review:{kept.id}", f"review:{lost.id}"}
    assert indexing.check(sync=False).ok
    assert f"drift repaired: 1 missing (review:{lost.id}), 1 extra (review:{removed.id})" in caplog.text
    app.config["TEST_WORKER_BEFORE_SEARCH"] = False
    assert sorted(result_ids(search_page("heron")[1])) == sorted([kept.id, lost.id])
    # Nothing to repair next time.
    assert indexing.repair_drift() == 0


def test_search_check_interval_comes_from_the_setting(app_config):
    from forum import create_app
    from forum.worker import jobs

    app_config["SEARCH_CHECK_MINUTES"] = 5
    assert jobs(create_app(app_config))["search-check"].every == timedelta(minutes=5)


@pytest.fixture
def whoosh_only(backend_name):
    if backend_name != "whoosh":
        pytest.skip("the PostgreSQL backend keeps no files")


def test_what_a_killed_reindex_left_is_removed(
    whoosh_only, app, runner, publish, drain, backend, search_page
):
    from whoosh import index as whoosh_index

    from forum.search.whoosh_backend import build_schema

    review = publish("Egret kettle", "egret")
    drain()
    assert runner.invoke(args=["search", "reindex"]).exit_code == 0  # leaves one older directory
    live = os.readlink(backend.root / "current")
    older = sorted(p.name for p in backend.root.glob("ix-*") if p.name != live)
    assert len(older) == 1

    # A reindex killed half-way: a new directory never swapped in, a temporary link, and a
    # drain killed mid-commit: segment files no table of contents knows.
    partial = backend._new_dir()
    writer = whoosh_index.create_in(str(partial), build_schema()).writer()
    writer.add_document(doc_id="review:999", kind="review", title="half", body="half")
    writer.commit()
    os.symlink(partial.name, backend.root / ".current-dead1234")
    orphan = backend.root / live / "MAIN_deadbeef1234.seg"
    orphan.write_bytes(b"left by a killed writer")

    # While a writer holds the lock (a reindex running), nothing is touched.
    with backend.lock.hold(1):
        assert indexing.cleanup_index(timeout=0.05) == 0
    assert partial.exists() and orphan.exists()

    result = runner.invoke(args=["worker", "run-job", "search-cleanup"])
    assert result.exit_code == 0 and "search-cleanup: 3" in result.output, result.output
    assert not partial.exists() and not orphan.exists()
    assert not (backend.root / ".current-dead1234").exists()
    assert os.readlink(backend.root / "current") == live
    assert (backend.root / older[0]).exists()  # kept for searchers still reading it
    assert result_ids(search_page("egret")[1]) == [review.id]
    assert indexing.check(sync=False).ok
