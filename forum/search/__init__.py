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
    SearchDocument,
    Searchable,
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


def init_app(app) -> None:
    from . import kinds

    kinds.register_review_searchable()
