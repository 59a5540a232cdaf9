"""Keeping the index in step with the database: drain, reindex, check.

The database is the source of truth. Every change reaches the index through a
`search_outbox` row written in the same transaction as the change, and a drain
makes the index agree with the item's state *at drain time* (indexed if public,
deleted otherwise). Drains run under the backend's single-writer lock and read
the items only once they hold it, so two processes draining at once apply the
changes in commit order and never lose one; a drain that cannot get the lock
in time, or fails, leaves its rows for the next one. Nothing here raises to
the person whose action caused the change.

When drains run (never inside a request):
  - `flask worker`, within a second of the commit (forum/worker.py);
  - `flask search sync`, `flask search reindex` and `flask search check`;
  - with WORKER_INLINE (tests only), at the end of an app context that committed rows.
The worker also repairs drift (`repair_drift`, every SEARCH_CHECK_MINUTES) and removes
what a killed reindex left (`cleanup_index`).
"""

from __future__ import annotations

import contextlib
import contextvars
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from flask import current_app, has_request_context
from sqlalchemy import Select, delete, func, inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from forum.extensions import db
from forum.timeutil import utcnow

from ..database import remember_committed
from .backend import BackendUnavailable, IndexBusy, SearchBackend
from .models import SearchOutbox
from .registry import SEARCHABLES, Searchable, SearchDocument, doc_id, parse_doc_id

MAX_BACKOFF_SECONDS = 3600
_draining: contextvars.ContextVar[bool] = contextvars.ContextVar("search_draining", default=False)


# --- the backend --------------------------------------------------------------


def create_backend(app) -> SearchBackend:
    name = (app.config.get("SEARCH_BACKEND") or "whoosh").strip().lower()
    if name == "whoosh":
        from .whoosh_backend import WhooshBackend

        return WhooshBackend(
            app.config["SEARCH_INDEX_DIR"],
            app.config["SEARCH_REINDEX_LIMITMB"],
            app.config["SEARCH_REINDEX_PROCS"],
        )
    if name == "postgres":
        dialect = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).get_backend_name()
        if dialect != "postgresql":
            raise BackendUnavailable(
                "SEARCH_BACKEND=postgres keeps the index in PostgreSQL, but the database is "
                f"{dialect!r}. Set DATABASE_URL to a PostgreSQL database or use SEARCH_BACKEND=whoosh."
            )
        from .pg_backend import PostgresBackend

        return PostgresBackend(db)
    raise BackendUnavailable(f"Unknown SEARCH_BACKEND {name!r}: use 'whoosh' or 'postgres'.")


def get_backend() -> SearchBackend:
    return current_app.extensions["search"]


# --- loading content -------------------------------------------------------------


def _primary_key(model):
    return inspect(model).primary_key[0]


def load_items(session, searchable: Searchable, ids: Iterable[int], *, fresh: bool = False) -> dict:
    ids = list(ids)
    if not ids:
        return {}
    pk = _primary_key(searchable.model)
    statement: Select = select(searchable.model).where(pk.in_(ids))
    if searchable.load_options:
        statement = statement.options(*searchable.load_options())
    if fresh:
        statement = statement.execution_options(populate_existing=True)
    return {getattr(obj, pk.key): obj for obj in session.scalars(statement).unique()}


@contextlib.contextmanager
def url_context():
    """to_document() builds links with url_for, which needs a request outside of one."""
    if has_request_context():
        yield
        return
    token = _draining.set(True)  # the fake request's teardown must not start another drain
    try:
        with current_app.test_request_context("/"):
            yield
    finally:
        _draining.reset(token)


# --- drain ------------------------------------------------------------------------


@dataclass
class DrainReport:
    applied: int = 0  # outbox rows applied and removed
    failed: int = 0  # rows kept for a later attempt
    busy: bool = False  # the index was locked by another writer for too long
    errors: list[str] = field(default_factory=list)


def _due():
    return SearchOutbox.next_attempt_at <= utcnow()


def pending_count(session=None) -> int:
    session = session or db.session
    return session.scalar(select(func.count()).select_from(SearchOutbox)) or 0


def has_due_rows() -> bool:
    with Session(db.engine) as session:
        return session.scalar(select(SearchOutbox.id).where(_due()).limit(1)) is not None


def drain(max_rows: int = 500, timeout: float | None = None, *, include_not_due: bool = False) -> DrainReport:
    """Apply up to `max_rows` outbox rows. Never raises: failures stay in the outbox."""
    report = DrainReport()
    backend = get_backend()
    if timeout is None:
        timeout = current_app.config["SEARCH_LOCK_TIMEOUT"]
    token = _draining.set(True)
    try:
        with Session(db.engine) as session:
            condition = [] if include_not_due else [_due()]
            if session.scalar(select(SearchOutbox.id).where(*condition).limit(1)) is None:
                return report
            session.rollback()  # read the rows afresh once the lock is held
            try:
                failures: dict[tuple[str, int], str] = {}

                def reload(doc_ids: list[str]) -> list[SearchDocument]:
                    return [document for _, document in public_documents(doc_ids, session).values()]

                with backend.writing(session, timeout, reload) as writer:
                    rows = session.scalars(
                        select(SearchOutbox).where(*condition).order_by(SearchOutbox.id).limit(max_rows)
                    ).all()
                    by_kind: dict[str, list[int]] = defaultdict(list)
                    for key in dict.fromkeys((row.kind, row.item_id) for row in rows):
                        by_kind[key[0]].append(key[1])
                    with url_context():
                        for kind, ids in by_kind.items():
                            _apply_kind(session, writer, kind, ids, failures)
                now = utcnow()
                done = [row.id for row in rows if (row.kind, row.item_id) not in failures]
                if done:
                    session.execute(delete(SearchOutbox).where(SearchOutbox.id.in_(done)))
                for row in rows:
                    error = failures.get((row.kind, row.item_id))
                    if error is not None:
                        row.attempts += 1
                        row.last_error = error[:2000]
                        row.next_attempt_at = now + timedelta(
                            seconds=min(2**row.attempts, MAX_BACKOFF_SECONDS)
                        )
                session.commit()
                report.applied, report.failed = len(done), len(rows) - len(done)
                report.errors = sorted(set(failures.values()))
            except IndexBusy as error:
                session.rollback()
                report.busy = True
                report.errors.append(str(error))
    except Exception as error:  # the outbox keeps everything; never fail the caller
        report.errors.append(f"{type(error).__name__}: {error}")
        current_app.logger.exception("search index update failed; the changes stay queued")
    finally:
        _draining.reset(token)
    if report.failed:
        current_app.logger.warning(
            "search: %d change(s) could not be indexed: %s", report.failed, "; ".join(report.errors)
        )
    return report


def _apply_kind(session, writer, kind: str, ids: list[int], failures: dict) -> None:
    searchable = SEARCHABLES.get(kind)
    if searchable is None:
        for item_id in ids:
            failures[(kind, item_id)] = f"no searchable kind {kind!r} is registered"
        return
    try:
        objects = load_items(session, searchable, ids, fresh=True)
    except Exception as error:
        for item_id in ids:
            failures[(kind, item_id)] = f"loading {kind}: {type(error).__name__}: {error}"
        return
    for item_id in ids:
        try:
            obj = objects.get(item_id)
            if obj is not None and searchable.is_public(obj):
                writer.index(searchable.to_document(obj))
            else:
                writer.delete(doc_id(kind, item_id))
        except Exception as error:
            failures[(kind, item_id)] = f"{kind} {item_id}: {type(error).__name__}: {error}"


def drain_all(timeout: float | None = None, include_not_due: bool = False) -> DrainReport:
    """Drain until the outbox is empty (or only failing rows remain)."""
    total = DrainReport()
    while True:
        report = drain(timeout=timeout, include_not_due=include_not_due)
        total.applied += report.applied
        total.failed += report.failed
        total.busy = total.busy or report.busy
        total.errors.extend(report.errors)
        if report.busy or report.applied == 0 or report.failed:
            return total


# --- after commit ------------------------------------------------------------------


remember_committed(SearchOutbox, "search_outbox")


def drain_committed() -> None:
    """At the end of a request/app context: apply what it committed."""
    if _draining.get():
        return
    try:
        committed = db.session.info.pop("search_outbox_committed", None)
    except Exception:
        return
    if committed:
        drain()


# --- reindex and check -------------------------------------------------------------


def published_count() -> int:
    total = 0
    for searchable in SEARCHABLES.values():
        total += (
            db.session.scalar(select(func.count()).select_from(searchable.published_query().subquery())) or 0
        )
    return total


def iter_published_documents(session, progress: Callable[[int], None] | None = None):
    done = 0
    with url_context():
        for searchable in list(SEARCHABLES.values()):
            statement = searchable.published_query()
            if searchable.load_options:
                statement = statement.options(*searchable.load_options())
            statement = statement.execution_options(yield_per=1000)
            for obj in session.scalars(statement):
                if searchable.is_public(obj):
                    yield searchable.to_document(obj)
                done += 1
                if progress and done % 500 == 0:  # redrawing a progress bar per item is not free
                    progress(500)
    if progress and done % 500:
        progress(done % 500)


def reindex(progress: Callable[[int], None] | None = None, timeout: float = 120.0) -> int:
    """Rebuild the index from the database; searches keep using the old one until the swap."""
    backend = get_backend()
    with Session(db.engine) as session:
        count = backend.rebuild(iter_published_documents(session, progress), session, timeout)
        session.commit()
    drain_all(include_not_due=True)
    return count


@dataclass
class CheckReport:
    missing: list[str]  # published but not in the index
    extra: list[str]  # in the index but not published (or gone)
    indexed: int
    published: int
    pending: int  # outbox rows still waiting

    @property
    def ok(self) -> bool:
        return not self.missing and not self.extra


def expected_doc_ids() -> set[str]:
    expected: set[str] = set()
    for searchable in SEARCHABLES.values():
        pk = _primary_key(searchable.model)
        statement = searchable.published_query().with_only_columns(pk).order_by(None)
        expected.update(doc_id(searchable.kind, item_id) for item_id in db.session.scalars(statement))
    return expected


def check(sync: bool = True) -> CheckReport:
    if sync:
        drain_all(include_not_due=True)
    db.session.rollback()
    expected = expected_doc_ids()
    actual = get_backend().doc_ids()
    return CheckReport(
        missing=sorted(expected - actual, key=_sort_key),
        extra=sorted(actual - expected, key=_sort_key),
        indexed=len(actual),
        published=len(expected),
        pending=pending_count(),
    )


def repair_drift() -> int:
    """Make the index agree with the database again; returns how many items were repaired.

    Whatever `check` finds missing or extra goes through the outbox (the drain then
    decides from the item's state), and the drift is logged, since it means some change
    once escaped the outbox.
    """
    from . import enqueue_delete, enqueue_index

    report = check(sync=True)
    if report.ok:
        return 0
    for value in report.missing:
        kind, item_id = parse_doc_id(value)
        enqueue_index(kind, item_id)
    for value in report.extra:
        try:
            kind, item_id = parse_doc_id(value)
        except ValueError:
            continue
        enqueue_delete(kind, item_id)
    db.session.commit()
    db.session.info.pop("search_outbox_committed", None)
    drain_all(include_not_due=True)
    current_app.logger.warning(
        "search index drift repaired: %d missing (%s), %d extra (%s)",
        len(report.missing),
        ", ".join(report.missing[:20]),
        len(report.extra),
        ", ".join(report.extra[:20]),
    )
    return len(report.missing) + len(report.extra)


def cleanup_index(timeout: float = 1.0) -> int:
    """Remove what an interrupted reindex or drain left; 0 when a writer is at work (next time)."""
    try:
        removed = get_backend().cleanup(timeout)
    except IndexBusy:
        return 0
    if removed:
        current_app.logger.warning(
            "search index: removed what an interrupted writer left: %s", ", ".join(removed[:20])
        )
    return len(removed)


def _sort_key(value: str):
    try:
        kind, item_id = parse_doc_id(value)
        return (kind, item_id)
    except ValueError:
        return (value, 0)


def public_documents(doc_ids: list[str], session=None) -> dict[str, tuple[object, SearchDocument]]:
    """The public ones among `doc_ids`, freshly read from the database: {doc_id: (obj, document)}."""
    session = session or db.session
    wanted: dict[str, list[int]] = defaultdict(list)
    for value in doc_ids:
        try:
            kind, item_id = parse_doc_id(value)
        except ValueError:
            continue
        wanted[kind].append(item_id)
    found = {}
    with url_context():
        for kind, ids in wanted.items():
            searchable = SEARCHABLES.get(kind)
            if searchable is None:
                continue
            for item_id, obj in load_items(session, searchable, ids, fresh=True).items():
                if searchable.is_public(obj):
                    found[doc_id(kind, item_id)] = (obj, searchable.to_document(obj))
    return found


def documents_text(document: SearchDocument) -> str:
    return f"{document.title}\n{document.body}"


__all__ = [
    "CheckReport",
    "DrainReport",
    "check",
    "cleanup_index",
    "create_backend",
    "drain",
    "drain_all",
    "drain_committed",
    "get_backend",
    "has_due_rows",
    "public_documents",
    "reindex",
    "repair_drift",
]
