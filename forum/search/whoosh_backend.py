"""The embedded default backend: a Whoosh index in SEARCH_INDEX_DIR.

Layout of SEARCH_INDEX_DIR:
  write.lock        an fcntl lock: the one writer of the index, across processes
  current           symlink to the live index directory
  ix-<time>-<rand>  index directories; `flask search reindex` builds a new one and
                    swaps `current` atomically, so searches never see a half-built index

Only ids, filter values and the analysed text (positions, no stored text) are
kept. A searcher is reopened whenever the index generation (or the live
directory) changes: whoosh-reloaded's Searcher.refresh() can keep returning a
deleted document, so it is never used.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import fcntl
import os
import secrets
import shutil
import threading
import time
from datetime import timezone
from pathlib import Path
from typing import Callable, Iterable

from markupsafe import Markup, escape
from whoosh.support.levenshtein import distance as edit_distance
from whoosh import columns, fields
from whoosh import index as whoosh_index
from whoosh.codec.whoosh3 import W3Codec
from whoosh.query import And, AndNot, NullQuery, Or, Phrase, Term
from whoosh.scoring import BM25F
from whoosh.sorting import FieldFacet
from whoosh.writing import MERGE_SMALL

from . import snippets
from .analysis import (
    CommonPairs,
    FastPositions,
    SearchAnalyzer,
    analyze,
    choose_common_terms,
    pair_term,
    stem,
    terms_of,
)
from .backend import IndexBusy, IndexWriter, SearchBackend, SearchHits, SearchRequest
from .query import Clause, ParsedQuery
from .registry import SearchDocument

TITLE_BOOST = 2.5            # a word in the title counts this much more than in the body
MAX_PREFIX_TERMS = 64        # a prefix ("batt*") expands to at most this many terms
MAX_COLLECT = 1000           # deepest result reachable through pagination
COMMON_TERMS = 300           # terms whose adjacent pairs get their own postings (CommonPairs)
COMMON_SAMPLE = 20_000       # documents a rebuild reads to choose them
KEEP_OLD_DIRS = 1            # previous index directories kept for searchers still reading them
LOCK_POLL = 0.01


class SearchCodec(W3Codec):
    """Whoosh's codec without per-block length statistics.

    Writing them reads every posting's document length back from disk while the
    segment is written (about a sixth of a full rebuild); BM25 scoring still uses
    the exact lengths, only block-skipping bounds get looser, which measured no
    slower on our queries. Level 1 compression: same size here, less CPU.
    """

    length_stats = False

    def __init__(self):
        super().__init__(compression=1)


def build_schema(common_terms=frozenset()) -> fields.Schema:
    analyzer = SearchAnalyzer()
    pairs = fields.TEXT(analyzer=analyzer, phrase=False)
    pairs.format = CommonPairs(common_terms)
    pairs.scorable = False

    def text_field() -> fields.TEXT:
        field = fields.TEXT(analyzer=analyzer, phrase=True)
        field.format = FastPositions()
        return field

    return fields.Schema(
        doc_id=fields.ID(unique=True, stored=True),
        kind=fields.ID(),
        grp=fields.ID(),
        sku=fields.ID(),
        category=fields.ID(),
        title=text_field(),
        body=text_field(),
        pairs=pairs,          # adjacent pairs of common terms of the body (phrase queries)
        # Sort key only (microseconds since 1970), not searchable.
        published=fields.COLUMN(columns.NumericColumn("q")),
    )


def document_fields(document: SearchDocument) -> dict:
    body = document.body or ""
    values = dict(
        doc_id=document.doc_id,
        kind=document.kind,
        grp=document.group,
        title=document.title or "",
        body=body,
        pairs=body,   # the same string: analysed once for both fields
        published=int(document.published_at.astimezone(timezone.utc).timestamp() * 1_000_000),
    )
    if document.product_sku:
        values["sku"] = document.product_sku
    if document.category:
        values["category"] = document.category
    return values


class _Lock:
    """An exclusive fcntl lock on <root>/write.lock, waited for at most `timeout` seconds."""

    def __init__(self, path: Path):
        self.path = path

    @contextlib.contextmanager
    def hold(self, timeout: float):
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            deadline = time.monotonic() + max(timeout, 0)
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as error:
                    if error.errno not in (errno.EAGAIN, errno.EACCES):
                        raise
                    if time.monotonic() >= deadline:
                        raise IndexBusy("the search index is being written by another process") from None
                    time.sleep(LOCK_POLL)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


MERGE_LIMIT = 5_000          # segments bigger than this are never merged by a drain


def merge_small_segments(writer, segments):
    """Whoosh's MERGE_SMALL, but never touching a big segment (the one a rebuild wrote).

    Merging it would rewrite the whole index inside a drain, i.e. at the end of some
    moderator's request, holding the writer lock for minutes; `flask search reindex`
    is the way to compact the index.
    """
    big = [seg for seg in segments if seg.doc_count_all() > MERGE_LIMIT]
    small = [seg for seg in segments if seg.doc_count_all() <= MERGE_LIMIT]
    return big + MERGE_SMALL(writer, small)


class _Writer(IndexWriter):
    def __init__(self, writer):
        self.writer = writer
        self.changed = False

    def index(self, document: SearchDocument) -> None:
        self.writer.update_document(**document_fields(document))
        self.changed = True

    def delete(self, doc_id: str) -> None:
        self.writer.delete_by_term("doc_id", doc_id)
        self.changed = True


class WhooshBackend(SearchBackend):
    name = "whoosh"

    def __init__(self, root: str, reindex_limitmb: int = 512, reindex_procs: int = 1):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.reindex_limitmb = reindex_limitmb
        self.reindex_procs = max(1, int(reindex_procs))
        self.lock = _Lock(self.root / "write.lock")
        self.schema = build_schema()
        self._indexes: dict[str, whoosh_index.FileIndex] = {}
        self._indexes_lock = threading.Lock()
        self._local = threading.local()

    # --- directories -------------------------------------------------------

    @property
    def _current_link(self) -> Path:
        return self.root / "current"

    def _current_name(self) -> str | None:
        try:
            return os.readlink(self._current_link)
        except FileNotFoundError:
            return None

    def _new_dir(self) -> Path:
        name = f"ix-{time.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"
        path = self.root / name
        path.mkdir()
        return path

    def _point_current_to(self, path: Path) -> None:
        tmp = self.root / f".current-{secrets.token_hex(4)}"
        os.symlink(path.name, tmp)
        os.replace(tmp, self._current_link)   # atomic: readers see the old or the new index

    def _remove_old_dirs(self) -> None:
        live = self._current_name()
        old = sorted((p for p in self.root.glob("ix-*") if p.name != live), key=lambda p: p.stat().st_mtime)
        for path in old[:-KEEP_OLD_DIRS] if KEEP_OLD_DIRS else old:
            shutil.rmtree(path, ignore_errors=True)
            self._indexes.pop(path.name, None)

    def _index(self, name: str) -> whoosh_index.FileIndex:
        with self._indexes_lock:
            ix = self._indexes.get(name)
            if ix is None:
                ix = self._indexes[name] = whoosh_index.open_dir(str(self.root / name))
            return ix

    def _ensure_index(self) -> str:
        """Name of the live index directory, creating an empty index the first time (under the lock)."""
        name = self._current_name()
        if name is not None:
            return name
        path = self._new_dir()
        whoosh_index.create_in(str(path), self.schema)
        self._point_current_to(path)
        return path.name

    # --- writing -----------------------------------------------------------

    @contextlib.contextmanager
    def writing(self, session, timeout: float):
        with self.lock.hold(timeout):
            ix = self._index(self._ensure_index())
            # Our lock is the real one; whoosh's own lock is then always free.
            writer = ix.writer(timeout=timeout, codec=SearchCodec())
            wrapper = _Writer(writer)
            try:
                yield wrapper
            except BaseException:
                writer.cancel()
                raise
            if wrapper.changed:
                writer.commit(mergetype=merge_small_segments)
            else:
                writer.cancel()

    def rebuild(self, documents: Iterable[SearchDocument], session, timeout: float) -> int:
        count = 0
        with self.lock.hold(timeout):
            path = self._new_dir()
            try:
                documents = iter(documents)
                sample = list(itertools.islice(documents, COMMON_SAMPLE))
                common = choose_common_terms((d.body or "" for d in sample), COMMON_TERMS)
                documents = itertools.chain(sample, documents)
                ix = whoosh_index.create_in(str(path), build_schema(common))
                # Big segments written as separate files: opening a searcher then maps the files
                # instead of copying a compound file into memory. With reindex_procs > 1, worker
                # processes analyse and write one segment each while this one reads the database.
                options = dict(limitmb=self.reindex_limitmb, compound=False, codec=SearchCodec())
                if self.reindex_procs > 1:
                    options.update(procs=self.reindex_procs, multisegment=True, batchsize=500)
                writer = ix.writer(**options)
                try:
                    for document in documents:
                        writer.add_document(**document_fields(document))
                        count += 1
                except BaseException:
                    writer.cancel()
                    raise
                writer.commit(optimize=False)
                if ix.doc_count() != count:   # never swap in an incomplete index
                    raise RuntimeError(f"the new index holds {ix.doc_count()} documents instead of {count}")
            except BaseException:
                shutil.rmtree(path, ignore_errors=True)
                raise
            self._point_current_to(path)
            self._remove_old_dirs()
        return count

    def clear(self, session, timeout: float) -> None:
        self.rebuild([], session, timeout)

    # --- reading -----------------------------------------------------------

    def _searcher(self):
        """This thread's searcher, reopened when the live index or its generation changed."""
        local = self._local
        name = self._current_name()
        if name is None:
            return None
        ix = self._index(name)
        key = (name, ix.latest_generation())
        if getattr(local, "key", None) != key:
            old = getattr(local, "searcher", None)
            local.searcher = ix.searcher(weighting=BM25F(B=0.75, K1=1.2))
            local.key = key
            if old is not None:
                with contextlib.suppress(Exception):
                    old.close()
        return local.searcher

    def _forget_searcher(self) -> None:
        old = getattr(self._local, "searcher", None)
        self._local.key = None
        self._local.searcher = None
        if old is not None:
            with contextlib.suppress(Exception):
                old.close()

    def _with_searcher(self, action, empty):
        for attempt in (1, 2):
            searcher = self._searcher()
            if searcher is None:
                return empty
            try:
                return action(searcher)
            except (OSError, ValueError):
                # A file removed by a concurrent merge or swap: reopen once.
                self._forget_searcher()
                if attempt == 2:
                    raise
        return empty

    def _clause_query(self, clause: Clause, reader):
        if clause.kind == "prefix":
            prefix = clause.words[0]
            terms: list[str] = []
            for candidate in dict.fromkeys((prefix, stem(prefix))):
                for fieldname in ("body", "title"):
                    for btext in reader.expand_prefix(fieldname, candidate):
                        term = btext.decode("utf-8") if isinstance(btext, bytes) else btext
                        if term not in terms:
                            terms.append(term)
                        if len(terms) >= MAX_PREFIX_TERMS:
                            break
                    if len(terms) >= MAX_PREFIX_TERMS:
                        break
            if not terms:
                return None, []
            parts = [Term("title", t, boost=TITLE_BOOST) for t in terms] + [Term("body", t) for t in terms]
            return Or(parts), terms
        stems = [term for word in clause.words for term, _, _, _ in analyze(word)]
        if not stems:
            return None, []   # only stop words
        if len(stems) == 1:
            term = stems[0]
            return Or([Term("title", term, boost=TITLE_BOOST), Term("body", term)]), stems
        common = self._common_terms(reader)
        if len(stems) == 2 and stems[0] in common and stems[1] in common:
            # Two common words: their pair term says where they are adjacent (CommonPairs);
            # the word terms give the score.
            in_body = And([Term("body", stems[0]), Term("body", stems[1]), Term("pairs", pair_term(*stems))])
        else:
            in_body = Phrase("body", stems)
        return Or([Phrase("title", stems, boost=TITLE_BOOST), in_body]), stems

    @staticmethod
    def _common_terms(reader) -> frozenset:
        schema = getattr(reader, "schema", None)
        if schema is None or "pairs" not in schema:
            return frozenset()
        return getattr(schema["pairs"].format, "common", frozenset())

    def build_query(self, query: ParsedQuery, reader):
        """(whoosh query or None, stems to highlight)."""
        highlight_terms: list[str] = []
        required = []
        for group in query.groups:
            alternatives = []
            for clause in group:
                q, terms = self._clause_query(clause, reader)
                if q is not None:
                    alternatives.append(q)
                    highlight_terms.extend(terms)
            if alternatives:
                required.append(alternatives[0] if len(alternatives) == 1 else Or(alternatives))
            elif any(c.kind == "prefix" for c in group):
                # A prefix that matches no word: nothing can match the whole query.
                return NullQuery, highlight_terms
        if not required:
            return None, highlight_terms
        positive = required[0] if len(required) == 1 else And(required)
        excluded = [q for q, _ in (self._clause_query(c, reader) for c in query.excluded) if q is not None]
        if excluded:
            positive = AndNot(positive, Or(excluded))
        return positive, highlight_terms

    def _filter(self, request: SearchRequest):
        parts = []
        if request.kinds is not None:
            parts.append(Or([Term("kind", k) for k in request.kinds]) if request.kinds else NullQuery)
        if request.product_sku:
            parts.append(Term("sku", request.product_sku))
        if request.category:
            parts.append(Term("category", request.category))
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else And(parts)

    def search(self, request: SearchRequest) -> SearchHits:
        def run(searcher):
            q, _ = self.build_query(request.query, searcher.reader())
            if q is None or q is NullQuery:
                return SearchHits(0, [])
            limit = min(request.offset + request.limit, MAX_COLLECT)
            if request.offset >= limit:
                return SearchHits(0, [])
            options = dict(limit=limit, filter=self._filter(request), terms=False)
            if request.sort == "newest":
                options["sortedby"] = FieldFacet("published", reverse=True)
            results = searcher.search(q, **options)
            hits = [(hit["doc_id"], hit.score or 0.0) for hit in results[request.offset:limit]]
            return SearchHits(len(results), hits)

        return self._with_searcher(run, SearchHits(0, []))

    def highlight(self, query: ParsedQuery, texts: list[str], *, whole: bool = False) -> list[Markup]:
        stems, prefix_terms = self.highlight_terms(query)
        if not stems and not prefix_terms:
            return [Markup("")] * len(texts)

        def is_match(term: str, word: str) -> bool:
            return term in stems or term in prefix_terms

        make = snippets.highlight_whole if whole else snippets.snippet
        return [make(text, is_match) if text else Markup("") for text in texts]

    def highlight_terms(self, query: ParsedQuery) -> tuple[frozenset, frozenset]:
        """(stems of searched words and phrases, index terms a prefix expanded to)."""
        stems = frozenset(t for c in query.clauses() if c.kind != "prefix" for w in c.words for t in terms_of(w))
        prefix_clauses = [c for c in query.clauses() if c.kind == "prefix"]
        expanded: list[str] = []
        if prefix_clauses:
            def run(searcher):
                reader = searcher.reader()
                for clause in prefix_clauses:
                    expanded.extend(self._clause_query(clause, reader)[1])
                return expanded
            self._with_searcher(run, [])
        return stems, frozenset(expanded)

    def suggest(self, word: str, public_text: Callable[[str], str | None], limit: int = 3) -> list[str]:
        stems = [t for t, _, _, _ in analyze(word)]
        if len(stems) != 1 or len(word) < 3:
            return []
        target = stems[0]

        def run(searcher):
            reader = searcher.reader()
            maxdist = 1 if len(word) <= 4 else 2
            candidates = set()
            for fieldname in ("body", "title"):
                for btext in reader.terms_within(fieldname, target, maxdist, prefix=1):
                    candidates.add(btext.decode("utf-8") if isinstance(btext, bytes) else btext)
            candidates.discard(target)
            if not candidates:
                return []
            ranked = sorted(candidates, key=lambda t: (edit_distance(t, target), -reader.doc_frequency("body", t), t))
            found = []
            for term in ranked[: limit * 4]:
                surface = self._public_surface_word(searcher, term, public_text)
                if surface and surface not in found and surface != word:
                    found.append(surface)
                if len(found) >= limit:
                    break
            return found

        return self._with_searcher(run, [])

    @staticmethod
    def _public_surface_word(searcher, term: str, public_text) -> str | None:
        """How `term` is written in a public document (stems are not words), or None."""
        query = Or([Term("title", term), Term("body", term)])
        for hit in searcher.search(query, limit=5, terms=False):
            text = public_text(hit["doc_id"])
            if not text:
                continue
            for found, _, start, end in analyze(text):
                if found == term:
                    return text[start:end].lower()
        return None

    def doc_ids(self) -> set[str]:
        def run(searcher):
            reader = searcher.reader()
            return {reader.stored_fields(n)["doc_id"] for n in reader.all_doc_ids()}

        return self._with_searcher(run, set())

    def size_bytes(self) -> int:
        name = self._current_name()
        if name is None:
            return 0
        return sum(f.stat().st_size for f in (self.root / name).iterdir() if f.is_file())

    def close(self) -> None:
        self._forget_searcher()

