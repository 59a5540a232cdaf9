"""What can be searched: a registry of searchable kinds of content.

Each area registers a `Searchable` for each kind of content it publishes. The
search package only ever reads content through these: `published_query` for a
full rebuild, `is_public` to re-check every result against the database, and
`to_document` to turn one object into the text that is indexed and shown.

Registering a kind that is also a moderation `ContentKind` hooks its
transitions: publishing queues an index update, leaving "published" queues a
delete, in the same transaction as the decision.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from forum.registries import AppDict

GROUPS = ("reviews", "forum", "blog")
GROUP_LABELS = {"reviews": "Reviews", "forum": "Forums", "blog": "Blog"}


@dataclass
class SearchDocument:
    """The searchable view of one published item."""

    kind: str  # "review", "forum_post", "blog_post", "blog_comment"
    item_id: int
    title: str
    body: str  # plain text (strip markup before putting it here)
    author: str | None  # display name, or None for a deleted account
    published_at: datetime  # aware UTC
    url: str  # link to the item on the site
    group: str  # "reviews" | "forum" | "blog"
    product_sku: str | None = None
    product_name: str | None = None
    rating: int | None = None
    category: str | None = None  # forum category slug (filter value)
    category_name: str | None = None  # shown next to the result

    @property
    def doc_id(self) -> str:
        return doc_id(self.kind, self.item_id)


def doc_id(kind: str, item_id: int) -> str:
    return f"{kind}:{int(item_id)}"


def parse_doc_id(value: str) -> tuple[str, int]:
    kind, _, item_id = value.rpartition(":")
    return kind, int(item_id)


@dataclass
class Searchable:
    kind: str
    group: str
    model: type
    # obj -> SearchDocument. Called with an app and request context (url_for works).
    to_document: Callable[[Any], SearchDocument]
    # () -> Select of every object that must be in the index (published only).
    published_query: Callable[[], Any]
    # obj -> bool: is this object public right now? Results failing it are dropped.
    is_public: Callable[[Any], bool]
    # Optional: () -> list of loader options (joinedload...) used when loading many objects.
    load_options: Callable[[], list] | None = None
    label: str = ""
    extra: dict = field(default_factory=dict)


# The app's searchable kinds (a per-app registry: forum.registries).
SEARCHABLES: AppDict = AppDict("search.searchables")


def register_searchable(searchable: Searchable, app=None) -> Searchable:
    """Add (or replace) a searchable kind; hook its moderation transitions if it has any.

    Call it after `moderation.kinds.register_kind` for the same kind name (each
    `create_app` builds new ContentKind objects, so call both in your init_app).
    """
    if searchable.group not in GROUPS:
        raise ValueError(f"unknown search group {searchable.group!r}; use one of {GROUPS}")
    SEARCHABLES.for_app(app)[searchable.kind] = searchable
    attach_transition_hooks(app)
    return searchable


def searchable_for(kind: str) -> Searchable | None:
    return SEARCHABLES.get(kind)


def kinds_in_group(group: str) -> list[str]:
    return [s.kind for s in SEARCHABLES.values() if s.group == group]


def _index_on_transition(subject, action, actor, from_state) -> None:
    """Moderation hook: keep the index in step with the item's public state."""
    from moderation.kinds import kind_of
    from moderation.states import PENDING, PUBLIC_STATES

    from . import enqueue_delete, enqueue_index

    kind = kind_of(subject).name
    if kind not in SEARCHABLES:
        return
    if subject.status in PUBLIC_STATES:
        enqueue_index(kind, subject.id)
    elif from_state != PENDING:
        # Pending items are never indexed, so only later states need a delete.
        enqueue_delete(kind, subject.id)


def attach_transition_hooks(app=None) -> None:
    """Idempotent: make sure every searchable moderated kind carries the hook."""
    from moderation.kinds import KINDS

    kinds = KINDS.for_app(app)
    for name in SEARCHABLES.for_app(app):
        kind = kinds.get(name)
        if kind is not None and _index_on_transition not in kind.on_transition:
            kind.on_transition.append(_index_on_transition)
