"""flask search reindex / check / sync / status."""

from __future__ import annotations

from forum.extensions import db
from forum.search import indexing
from forum.search.backend import SearchRequest
from forum.search.query import parse
from forum.search.registry import SearchDocument
from forum.timeutil import utcnow

from .conftest import indexed


def _tamper(backend, delete=None, add=None):
    with backend.writing(db.session, 5) as writer:
        if delete:
            writer.delete(delete)
        if add:
            writer.index(add)
    db.session.commit()


def test_check_is_clean_then_reports_missing_and_extra(app, runner, publish, submit, drain, backend):
    reviews = [publish(f"Tern {n}", "tern") for n in range(3)]
    pending = submit("Pending tern", "tern")
    drain()
    result = runner.invoke(args=["search", "check"])
    assert result.exit_code == 0, result.output
    assert "OK: 3 published item(s), 3 indexed, 0 missing, 0 extra" in result.output

    _tamper(
        backend,
        delete=f"review:{reviews[0].id}",
        add=SearchDocument("review", pending.id, "Pending tern", "tern", None, utcnow(), "/", "reviews"),
    )
    result = runner.invoke(args=["search", "check"])
    assert result.exit_code == 1
    assert f"missing from the index (published): review:{reviews[0].id}" in result.output
    assert f"in the index but not published: review:{pending.id}" in result.output
    assert "1 missing, 1 extra" in result.output


def test_reindex_rebuilds_from_the_database(app, runner, publish, drain, backend):
    reviews = [publish(f"Avocet {n}", "avocet") for n in range(4)]
    drain()
    _tamper(
        backend,
        delete=f"review:{reviews[1].id}",
        add=SearchDocument("review", 999, "Ghost", "avocet", None, utcnow(), "/", "reviews"),
    )
    result = runner.invoke(args=["search", "reindex"])
    assert result.exit_code == 0, result.output
    assert "Indexing 4 published item(s)" in result.output and "Indexed 4 item(s)." in result.output
    assert indexed(backend) == {f"review:{r.id}" for r in reviews}
    assert runner.invoke(args=["search", "check"]).exit_code == 0


def test_searches_keep_working_and_changes_are_kept_during_a_rebuild(
    app, publish, submit, moderator, drain, backend
):
    """Reindex builds a new index aside; changes committed meanwhile wait in the outbox and follow."""
    from moderation import services as moderation

    old = [publish(f"Dunlin {n}", "dunlin") for n in range(3)]
    late = submit("Late dunlin", "dunlin")
    drain()
    seen_during = []
    from sqlalchemy.orm import Session

    def documents():
        with Session(db.engine) as session:
            for document in indexing.iter_published_documents(session):
                # Mid-rebuild: searches still answer from the old index...
                seen_during.append(backend.search(SearchRequest(parse("dunlin"), limit=50)).total)
                yield document
        # ...and a moderator approves something the new index's snapshot did not contain.
        moderation.approve_submission("review", late.id, moderator)
        db.session.info.pop("search_outbox_committed", None)

    with Session(db.engine) as session:
        backend.rebuild(documents(), session, 5)
        session.commit()
    assert seen_during == [3, 3, 3]
    assert indexing.pending_count() == 1
    indexing.drain_all()
    assert indexed(backend) == {f"review:{r.id}" for r in old} | {f"review:{late.id}"}


def test_status_and_sync(app, runner, publish):
    publish("Sanderling", "sanderling")
    db.session.info.pop("search_outbox_committed", None)
    result = runner.invoke(args=["search", "status"])
    assert result.exit_code == 0 and "Queued changes: 1" in result.output
    result = runner.invoke(args=["search", "sync"])
    assert result.exit_code == 0 and "Applied 1 change(s); 0 still queued." in result.output


def test_reindex_with_worker_processes(app, runner, publish, drain, backend, search_page):
    if backend.name != "whoosh":
        return
    backend.reindex_procs = 2
    reviews = [publish(f"Curlew {n}", f"curlew number {n}") for n in range(12)]
    drain()
    result = runner.invoke(args=["search", "reindex"])
    assert result.exit_code == 0, result.output
    assert indexed(backend) == {f"review:{r.id}" for r in reviews}
    assert runner.invoke(args=["search", "check"]).exit_code == 0
