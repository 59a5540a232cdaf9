"""Registry of the kinds of content that go through the one moderation queue.

A kind names its model (which carries ModeratedMixin) and how to show it; the
queue, the transition function and the log are the same for every kind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from forum.registries import AppDict, AppList, add_once

from .states import QUEUE_STATES


@dataclass
class ContentKind:
    name: str  # "review", "forum_post", "blog_comment"...
    label: str  # shown in the queue's kind filter
    model: type
    # Partial that shows the exact text as it will be published; rendered with
    # `item` (the model instance) and `kind` (this ContentKind).
    queue_template: str
    # Called before and after every transition, inside the transaction
    # (hook(subject, action, actor, from_state)): mail, search index, replacements...
    before_transition: list[Callable] = field(default_factory=list)
    on_transition: list[Callable] = field(default_factory=list)
    # Erases the text and personal data of a removed item, leaving a tombstone.
    erase: Callable | None = None
    # Extra options for the queue query (e.g. joined loads of product and author).
    queue_options: Callable | None = None
    public_url: Callable | None = None
    # Pages that show one item of this kind, so a link can be resolved to the
    # item (removal requests): {endpoint: url argument holding the item id},
    # e.g. {"catalog.review_page": "review_id"}. A value may instead be a
    # callable(view_args) -> item id or None; view_args has "_fragment" too.
    url_endpoints: dict = field(default_factory=dict)
    # States in which items of this kind are listed as content in the queue.
    # Flaggable kinds list only pending ones: their hidden items are shown with
    # their flags in the flags section, so nothing is listed twice.
    queue_states: tuple[str, ...] = QUEUE_STATES


# The app's content kinds (a per-app registry: forum.registries).
KINDS: AppDict = AppDict("moderation.kinds")


def register_kind(kind: ContentKind, app=None) -> ContentKind:
    KINDS.for_app(app)[kind.name] = kind
    return kind


def kind_of(subject) -> ContentKind:
    for kind in KINDS.values():
        if isinstance(subject, kind.model):
            return kind
    raise LookupError(f"{type(subject).__name__} is not a registered moderated kind")


# Other things that wait for a moderator but are not content (flags, removal
# requests) add a section to the queue page: a callable `provider(moderator)`
# returning a QueueSection or a list of them. Return the section even when it
# is empty (count=0, items=[]) so its key stays in the kind filter; None is
# accepted too. The queue shows sections that have items above the content
# list (and a section alone under ?kind=<key>), rendering `template` with
# `section` (the QueueSection) and `items`.
@dataclass
class QueueSection:
    key: str  # kind filter value, e.g. "removal_request"
    label: str  # heading and filter label
    template: str  # partial rendering `items`
    items: list
    count: int
    overdue: int = 0
    # One `moderation.desk.DeskRow` per entry for the desk's compact list (each
    # opening its own decision page). A section without rows is shown below the
    # list with its own template, as before.
    rows: list | None = None


QUEUE_SECTIONS: AppList = AppList("moderation.queue_sections")
# provider -> counter() returning (key, count, overdue) cheaply, for the header
# badge and the tabs on every page (without building the section's rows).
QUEUE_COUNTERS: AppDict = AppDict("moderation.queue_counters")


def register_queue_section(provider: Callable, counter: Callable | None = None, app=None) -> None:
    add_once(QUEUE_SECTIONS, provider, app)
    if counter is not None:
        QUEUE_COUNTERS.for_app(app)[provider] = counter


def queue_sections(moderator) -> list[QueueSection]:
    """Every registered section for this moderator (providers written as
    `provider()` that read flask_login.current_user are accepted too)."""
    import inspect

    sections: list[QueueSection] = []
    for provider in QUEUE_SECTIONS:
        try:
            takes_user = bool(inspect.signature(provider).parameters)
        except (TypeError, ValueError):
            takes_user = True
        result = provider(moderator) if takes_user else provider()
        if result is None:
            continue
        sections.extend(result if isinstance(result, (list, tuple)) else [result])
    return sections
