"""Full-text search over everything published.

Areas describe their content with `register_searchable(Searchable(...))` (see
registry.py) and record index changes with `enqueue_index` / `enqueue_delete`
in the transaction that makes the change. Nothing here commits: the calling
service does, and the change reaches the index after that commit.
"""

from __future__ import annotations

from flask import Blueprint

from .registry import (  # noqa: F401  (the public interface)
    GROUPS,
    SEARCHABLES,
    Searchable,
    SearchDocument,
    register_searchable,
)

bp = Blueprint("search", __name__)


def _enqueue(kind: str, item_id: int, op: str) -> None:
    from forum.extensions import db

    from .models import SearchOutbox

    db.session.add(SearchOutbox(kind=kind, item_id=int(item_id), op=op))


def enqueue_index(kind: str, item_id: int) -> None:
    """Record "(kind, item_id) was published or edited" in the current transaction (no commit).

    After commit the item is (re)indexed if it is public then, deleted otherwise.
    """
    _enqueue(kind, item_id, "index")


def enqueue_delete(kind: str, item_id: int) -> None:
    """Record "(kind, item_id) left the public" in the current transaction (no commit)."""
    _enqueue(kind, item_id, "delete")


DEFAULTS = {
    "SEARCH_BACKEND": "whoosh",  # or "postgres" (PostgreSQL databases only)
    "SEARCH_LOCK_TIMEOUT": 5.0,  # seconds a drain waits for another index writer
    "SEARCH_CHECK_MINUTES": 60,  # the worker compares the index with the database this often
    "SEARCH_TIME_BUDGET": 0.5,  # seconds one search may spend ranking before it shows what it has
    "SEARCH_PER_PAGE": 10,
    "SEARCH_MAX_PAGES": 50,
    "SEARCH_REINDEX_LIMITMB": 512,  # whoosh memory for a rebuild (per process) before spilling to disk
    "SEARCH_REINDEX_PROCS": 1,  # whoosh processes writing a rebuild
    "RATELIMIT_SEARCH": "60 per minute;600 per hour",
}


def init_app(app) -> None:
    from . import cli, indexing, kinds, views  # noqa: F401  (routes)
    from .registry import attach_transition_hooks

    for key, value in DEFAULTS.items():
        app.config.setdefault(key, value)
    # Fails at startup, with a clear message, if the backend cannot work here.
    app.extensions["search"] = indexing.create_backend(app)
    kinds.register_review_searchable()
    app.register_blueprint(bp)
    app.cli.add_command(cli.search_cli)
    _skip_backend_tables_in_migration_checks(app)

    # Areas registered after us may (re)create their ContentKinds: hook them too.
    app.before_request(attach_transition_hooks)

    # Requests only enqueue; `flask worker` applies the outbox. WORKER_INLINE (tests only)
    # runs the worker's drain at the end of an app context that committed rows.
    @app.teardown_appcontext
    def _index_after_commit(exc):
        if exc is None and app.config.get("WORKER_INLINE"):
            indexing.drain_committed()


def _skip_backend_tables_in_migration_checks(app) -> None:
    """search_document/search_term exist only on PostgreSQL and are not models:
    `flask db check` must not ask to drop them."""
    from .pg_backend import TABLE_NAMES

    migrate_state = app.extensions.get("migrate")
    if migrate_state is None:
        return
    previous = migrate_state.configure_args.get("include_object")
    if getattr(previous, "_search_tables_skipped", False):
        return

    def include_object(obj, name, type_, reflected, compare_to):
        if type_ == "table" and name in TABLE_NAMES:
            return False
        if (
            type_ in ("index", "column", "unique_constraint", "foreign_key_constraint")
            and getattr(getattr(obj, "table", None), "name", None) in TABLE_NAMES
        ):
            return False
        return previous(obj, name, type_, reflected, compare_to) if previous else True

    include_object._search_tables_skipped = True  # type: ignore[attr-defined]
    migrate_state.configure_args["include_object"] = include_object
