"""The one small interface every search backend implements.

A backend stores, for each published item, its searchable text and the
values results are filtered and sorted by. It never decides what is public
(the registry's `is_public` does, on every result) and keeps no text that
is shown: titles and snippets are built from the database at display time.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

from markupsafe import Markup

from . import snippets
from .query import ParsedQuery
from .registry import SearchDocument

SORTS = ("relevance", "newest")


class IndexBusy(Exception):
    """Another process holds the index for writing; try again later (the outbox keeps the change)."""


class BackendUnavailable(RuntimeError):
    """The configured backend cannot work with this deployment (e.g. postgres on SQLite)."""


@dataclass
class SearchRequest:
    query: ParsedQuery
    kinds: list[str] | None = None  # restrict to these kinds (a group's kinds); None: all
    product_sku: str | None = None
    category: str | None = None
    sort: str = "relevance"
    offset: int = 0
    limit: int = 10
    time_budget: float = 1.0  # seconds; a slower search returns what it found so far


@dataclass
class SearchHits:
    total: int
    hits: list[tuple[str, float]] = field(default_factory=list)  # (doc_id, score), best first
    # False when the search ran out of its time budget: `total` is then a lower bound and
    # the hits the best of the part searched.
    exact: bool = True


class IndexWriter(ABC):
    """Changes inside `SearchBackend.writing()`; applied together when the block ends."""

    @abstractmethod
    def index(self, document: SearchDocument) -> None:
        """Add or replace the document."""

    @abstractmethod
    def delete(self, doc_id: str) -> None:
        """Remove the document if present."""


class SearchBackend(ABC):
    name: str

    @abstractmethod
    def writing(
        self,
        session,
        timeout: float,
        reload: Callable[[list[str]], list[SearchDocument]] | None = None,
    ) -> AbstractContextManager[IndexWriter]:
        """Exclusive writer: waits up to `timeout` seconds for other writers, else raises IndexBusy.

        `session` is the database session of the caller (the postgres backend writes through it;
        the caller commits it after the block). `reload(doc_ids)` returns the current public
        documents among `doc_ids`; a backend may use it to rewrite parts of its index.
        """

    @abstractmethod
    def search(self, request: SearchRequest) -> SearchHits: ...

    def highlight(self, query: ParsedQuery, texts: list[str], *, whole: bool = False) -> list[Markup]:
        """For each text, an escaped excerpt with matched words in <mark>; "" when nothing matches.

        whole=True marks matches in the whole text (titles) instead of choosing fragments.
        Both backends analyse text the same way, so they mark the same words, as written.
        """
        is_match = snippets.query_matcher(query)
        if is_match is None:
            return [Markup("")] * len(texts)
        make = snippets.highlight_whole if whole else snippets.snippet
        return [make(text, is_match) if text else Markup("") for text in texts]

    @abstractmethod
    def has_term(self, word: str) -> bool:
        """Does the index know this word (in any document, public or not)? Cheap."""

    @abstractmethod
    def suggest(self, word: str, public_text: Callable[[str], str | None], limit: int = 3) -> list[str]:
        """Close spellings of `word` found in public content (public_text(doc_id) -> text or None)."""

    @abstractmethod
    def doc_ids(self) -> set[str]:
        """Every document id in the index."""

    @abstractmethod
    def rebuild(self, documents: Iterable[SearchDocument], session, timeout: float) -> int:
        """Replace the whole index with `documents`; searches keep working meanwhile.

        Holds the writer lock from before `documents` is read until the new index is in
        place, so every change committed meanwhile is still in the outbox afterwards: the
        caller drains it once this returns (and, for postgres, commits `session` first).
        """

    @abstractmethod
    def clear(self, session, timeout: float) -> None: ...

    def cleanup(self, timeout: float) -> list[str]:
        """Remove what an interrupted writer (a killed reindex or drain) left behind.

        Returns what was removed (for the log); raises IndexBusy when a writer is at work.
        """
        return []

    def size_bytes(self) -> int:
        return 0

    def close(self) -> None:  # noqa: B027  (optional hook: backends without resources need not override it)
        pass
