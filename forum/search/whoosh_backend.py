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
import fcntl
import heapq
import itertools
import math
import os
import secrets
import shutil
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC
from pathlib import Path

from whoosh import columns, fields
from whoosh import index as whoosh_index
from whoosh.codec.whoosh3 import W3Codec
from whoosh.collectors import TimeLimit, TimeLimitCollector
from whoosh.matching import AndNotMatcher
from whoosh.query import And, AndMaybe, AndNot, ConstantScoreQuery, NullQuery, Or, Phrase, Term
from whoosh.reading import EmptyReader, MultiReader, SegmentReader
from whoosh.scoring import BM25F
from whoosh.searching import Searcher
from whoosh.sorting import FieldFacet
from whoosh.support.levenshtein import distance as edit_distance
from whoosh.writing import NO_MERGE

from .analysis import (
    CommonPairs,
    FastPositions,
    SearchAnalyzer,
    analyze,
    choose_common_terms,
    fold,
    pair_term,
    stem,
    terms_of,
)
from .backend import IndexBusy, IndexWriter, SearchBackend, SearchHits, SearchRequest
from .postings import BulkPostings, term_leaves
from .query import Clause, ParsedQuery
from .ranking import ALL_WORDS_BONUS, BM25_B, BM25_K1, TITLE_WEIGHT
from .registry import SearchDocument

TITLE_BOOST = TITLE_WEIGHT  # a word in the title counts this much more than in the body (measured)
MAX_PREFIX_TERMS = 64  # a prefix ("batt*") expands to at most this many terms
MAX_COLLECT = 1000  # deepest result reachable through pagination
COMMON_TERMS = 300  # terms whose adjacent pairs get their own postings (CommonPairs)
COMMON_SAMPLE = 20_000  # documents a rebuild reads to choose them
KEEP_OLD_DIRS = 1  # previous index directories kept for searchers still reading them
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


TEXT_FIELDS = ("title", "body")


class SearchBM25(BM25F):
    """Whoosh's BM25F scoring with one BM25 idf per term for title and body.

    Stock BM25F gives each field its own idf, log(N / (df + 1)) + 1, from that field's
    document frequency: a word found in few titles but in many bodies got a large title
    idf, then multiplied by the title boost, and a word in every document still weighed 1.
    On the Cranfield collection that cost 0.03 MAP (docs/search.md). Here the idf is
    Robertson's log(1 + (N - n + 0.5) / (n + 0.5)), the formula of the PostgreSQL backend
    and of bench/relevance.py's anchor, with n the larger of the term's title and body
    document frequencies: a lower bound of the documents containing it anywhere (exact
    when titles repeat their words in the body), read from the term index, no postings.
    """

    def idf(self, searcher, fieldname, text):
        if fieldname not in TEXT_FIELDS:
            return super().idf(searcher, fieldname, text)
        parent = searcher.get_parent()
        total = parent.doc_count_all()
        found = max(parent.doc_frequency(name, text) for name in TEXT_FIELDS)
        return math.log(1 + (total - found + 0.5) / (found + 0.5))


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
        pairs=pairs,  # adjacent pairs of common terms of the body (phrase queries)
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
        pairs=body,  # the same string: analysed once for both fields
        published=int(document.published_at.astimezone(UTC).timestamp() * 1_000_000),
    )
    if document.product_sku:
        values["sku"] = document.product_sku
    if document.category:
        values["category"] = document.category
    return values


class _AndNotMatcher(AndNotMatcher):
    """Whoosh's AndNotMatcher, checking its first document too.

    Whoosh's checks the first document of the wanted side against the excluded side only
    when the excluded side happens to start on that very document: when it starts on an
    earlier one, the first match is kept even if it is excluded. So "headphones -battery"
    found a review of headphones with a battery whenever a battery review came earlier in
    the index (the parity test's "divergence", depending on the order of the rebuild).
    """

    def _find_first(self):
        if self.a.is_active() and self.b.is_active():
            self._find_next()  # skips the excluded side forward, then past excluded documents


class _AndNot(AndNot):
    """AndNot with `_AndNotMatcher` (normalize(), with_boost() and replace() keep the class)."""

    def matcher(self, searcher, context=None):
        return _AndNotMatcher(
            self.a.matcher(searcher, context), self.b.matcher(searcher, searcher.boolean_context())
        )


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


MERGE_LIMIT = 5_000  # segments bigger than this are never merged by a drain
MERGE_FACTOR = 4  # this many segments of one size tier are merged into one


def _tier(doc_count: int) -> int:
    tier = 0
    while doc_count >= MERGE_FACTOR:
        doc_count //= MERGE_FACTOR
        tier += 1
    return tier


def segments_to_merge(segments) -> list:
    """Tiered merging: MERGE_FACTOR segments of one size tier become one.

    Each drain writes a small segment. A merge costs about its size, so a merge of n
    documents happens once every n drains and the cost per publication stays small and
    even (Whoosh's MERGE_SMALL now and then merges hundreds of documents inside one drain,
    i.e. at the end of a moderator's request). Segments above MERGE_LIMIT (a rebuild's)
    are never merged: `flask search reindex` compacts the index.
    """
    tiers: dict[int, list] = {}
    for segment in segments:
        count = segment.doc_count_all()
        if count <= MERGE_LIMIT:
            tiers.setdefault(_tier(count), []).append(segment)
    for tier in sorted(tiers):
        if len(tiers[tier]) >= MERGE_FACTOR:
            return tiers[tier]
    return []


def tiered_merge(writer, segments):
    """Whoosh merge policy for `segments_to_merge`, copying postings with add_reader.

    Only used when the documents cannot be re-read from the database: copying a small
    segment's postings costs about ten times indexing its documents again.
    """
    group = segments_to_merge(segments)
    for segment in group:
        reader = SegmentReader(writer.storage, writer.schema, segment)
        writer.add_reader(reader)
        reader.close()
    return [segment for segment in segments if segment not in group]


def _segment_state(segment) -> tuple:
    """What a segment's reader depends on: the segment and its deleted documents."""
    deleted = tuple(sorted(segment.deleted_docs())) if segment.deleted_count() else ()
    return segment.segment_id(), deleted


class _Writer(IndexWriter):
    """Writes through a whoosh writer; finds existing documents with the searcher of the same
    generation (taken under the lock), so adding a new document opens no other reader."""

    def __init__(self, writer, searcher):
        self.writer = writer
        self.searcher = searcher
        self.changed = False
        self.touched: set[str] = set()

    def _delete_existing(self, doc_id: str) -> None:
        if self.searcher is None:
            self.writer.delete_by_term("doc_id", doc_id)
            return
        for docnum in self.searcher.document_numbers(doc_id=doc_id):
            self.writer.delete_document(docnum)

    def index(self, document: SearchDocument) -> None:
        self._delete_existing(document.doc_id)
        self.writer.add_document(**document_fields(document))
        self.changed = True
        self.touched.add(document.doc_id)

    def delete(self, doc_id: str) -> None:
        self._delete_existing(doc_id)
        self.changed = True
        self.touched.add(doc_id)


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
        # Names sort in creation order (cleanup tells abandoned from older by it), also
        # for two directories made within the same second.
        name = f"ix-{time.strftime('%Y%m%dT%H%M%S')}-{time.time_ns() % 10**9:09d}-{secrets.token_hex(3)}"
        path = self.root / name
        path.mkdir()
        return path

    def _point_current_to(self, path: Path) -> None:
        tmp = self.root / f".current-{secrets.token_hex(4)}"
        os.symlink(path.name, tmp)
        os.replace(tmp, self._current_link)  # atomic: readers see the old or the new index

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
    def writing(self, session, timeout: float, reload=None):
        with self.lock.hold(timeout):
            ix = self._index(self._ensure_index())
            # Holding the lock, nobody else can change the index: this searcher and the
            # writer see the same generation, so document numbers agree.
            searcher = self._searcher()
            # Our lock is the real one; whoosh's own lock is then always free.
            writer = ix.writer(timeout=timeout, codec=SearchCodec())
            if searcher is not None and [s.segment_id() for s in writer.segments] != [
                r.segment().segment_id() for r, _ in searcher.reader().leaf_readers() if r.segment()
            ]:
                searcher = None  # (cannot happen under the lock; fall back to whoosh's own lookup)
            wrapper = _Writer(writer, searcher)
            try:
                yield wrapper
            except BaseException:
                writer.cancel()
                raise
            if not wrapper.changed:
                writer.cancel()
                return
            group = segments_to_merge(writer.segments)
            if group and reload is not None and searcher is not None:
                self._merge_by_reindexing(writer, searcher, group, wrapper.touched, reload)
            else:
                writer.commit(mergetype=tiered_merge)

    @staticmethod
    def _merge_by_reindexing(writer, searcher, group, touched, reload) -> None:
        """Merge `group` by indexing its documents again from the database into this commit.

        Ten times cheaper than copying postings; documents no longer public (drift) drop out.
        """
        merged_ids = {segment.segment_id() for segment in group}
        doc_ids: set = set()
        for leaf, _ in searcher.reader().leaf_readers():
            if leaf.segment() is not None and leaf.segment().segment_id() in merged_ids:
                doc_ids.update(fields["doc_id"] for _, fields in leaf.iter_docs())
        try:
            documents = reload(sorted(doc_ids - touched))
        except Exception:  # the database failed us: merge another time
            writer.commit(mergetype=NO_MERGE)
            return
        for document in documents:
            writer.add_document(**document_fields(document))
        writer.commit(
            mergetype=lambda _writer, segments: [
                segment for segment in segments if segment.segment_id() not in merged_ids
            ]
        )

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
                if ix.doc_count() != count:  # never swap in an incomplete index
                    raise RuntimeError(f"the new index holds {ix.doc_count()} documents instead of {count}")
            except BaseException:
                shutil.rmtree(path, ignore_errors=True)
                raise
            self._point_current_to(path)
            self._remove_old_dirs()
        return count

    def clear(self, session, timeout: float) -> None:
        self.rebuild([], session, timeout)

    def cleanup(self, timeout: float) -> list[str]:
        """Under the writer lock (so no rebuild or drain is running): remove index directories
        a killed rebuild never swapped in (newer than the live one), older directories beyond
        KEEP_OLD_DIRS, stray `.current-*` links, and files of the live index that no
        generation uses (segments of a killed drain, old tables of contents)."""
        removed: list[str] = []
        with self.lock.hold(timeout):
            live = self._current_name()
            for stray in self.root.glob(".current-*"):
                with contextlib.suppress(OSError):
                    stray.unlink()
                    removed.append(stray.name)
            directories = sorted(p.name for p in self.root.glob("ix-*") if p.is_dir())
            if live is None:
                abandoned, older = directories, []
            else:
                abandoned = [name for name in directories if name > live]
                older = [name for name in directories if name < live]
            keep = set(older[-KEEP_OLD_DIRS:]) if KEEP_OLD_DIRS else set()
            for name in abandoned + [n for n in older if n not in keep]:
                shutil.rmtree(self.root / name, ignore_errors=True)
                self._indexes.pop(name, None)
                removed.append(name + "/")
            if live is not None and (self.root / live).is_dir():
                ix = self._index(live)
                storage = ix.storage
                before = set(storage.list())
                toc = ix._read_toc()
                whoosh_index.clean_files(storage, ix.indexname, toc.generation, toc.segments)
                removed.extend(f"{live}/{name}" for name in sorted(before - set(storage.list())))
        return removed

    # --- reading -----------------------------------------------------------

    def _searcher(self):
        """This thread's searcher for the latest generation of the live index (None if none yet).

        Reopened whenever the live directory or its generation changed, never "refreshed":
        whoosh-reloaded's Searcher.refresh() reuses a segment's reader even when the segment
        gained deletions, so a deleted document can still be found. Here a segment's reader
        is reused only when the segment *and its deleted documents* are unchanged; the rest
        (new segments, segments with new deletions) is opened afresh.
        """
        local = self._local
        name = self._current_name()
        if name is None:
            return None
        ix = self._index(name)
        if getattr(local, "key", None) == (name, ix.latest_generation()):
            return local.searcher
        toc = ix._read_toc()
        old = getattr(local, "searcher", None)
        reusable = {}
        if old is not None and local.key[0] == name:
            reusable = {
                _segment_state(r.segment()): r
                for r, _ in old.reader().leaf_readers()
                if r.segment() is not None
            }
        readers = []
        for segment in toc.segments:
            reader = reusable.pop(_segment_state(segment), None)
            if reader is None:
                reader = SegmentReader(ix.storage, toc.schema, segment, generation=toc.generation)
            readers.append(reader)
        if not readers:
            reader = EmptyReader(toc.schema)
        elif len(readers) == 1:
            reader = readers[0]
        else:
            reader = MultiReader(readers, generation=toc.generation)
        local.searcher = Searcher(reader, weighting=SearchBM25(B=BM25_B, K1=BM25_K1), fromindex=ix)
        local.key = (name, toc.generation)
        if old is not None and local.key[0] != name:
            with contextlib.suppress(Exception):
                old.close()
        for unused in reusable.values():
            with contextlib.suppress(Exception):
                unused.close()
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
            prefix = fold(clause.words[0])
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
        stems = clause.terms()
        if not stems:
            return None, []  # only stop words
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
        """(whoosh query or None, stems to highlight).

        Any group may match (all required groups must); documents matching every group
        get ALL_WORDS_BONUS on top of their BM25F score, so they rank first.
        """
        q, highlight_terms, _ = self._build(query, reader)
        return q, highlight_terms

    def _build(self, query: ParsedQuery, reader):
        """(query or None or NullQuery, highlight terms, (groups [(query, required)], excluded queries))."""
        highlight_terms: list[str] = []
        groups = []  # (query, required)
        for index, group in enumerate(query.groups):
            alternatives = []
            for clause in group:
                q, terms = self._clause_query(clause, reader)
                if q is not None:
                    alternatives.append(q)
                    highlight_terms.extend(terms)
            if alternatives:
                groups.append(
                    (alternatives[0] if len(alternatives) == 1 else Or(alternatives), index in query.required)
                )
            elif index in query.required:
                # A required group that matches no word (a prefix nothing starts with).
                return NullQuery, highlight_terms, None
        if not groups:
            return (NullQuery if query.groups else None), highlight_terms, None
        required = [q for q, must in groups if must]
        optional = [q for q, must in groups if not must]
        if required:
            positive = required[0] if len(required) == 1 else And(required)
            if optional:
                positive = AndMaybe(positive, optional[0] if len(optional) == 1 else Or(optional))
        else:
            positive = optional[0] if len(optional) == 1 else Or(optional)
        # (A bonus of 0 means plain BM25F order: bench/relevance.py measures both.)
        every = And([q for q, _ in groups]) if len(groups) > 1 and optional and ALL_WORDS_BONUS > 0 else None
        excluded = [q for q, _ in (self._clause_query(c, reader) for c in query.excluded) if q is not None]
        if excluded:
            positive = _AndNot(positive, Or(excluded))
            if every is not None:
                every = _AndNot(every, Or(excluded))
        parts = {"groups": groups, "excluded": excluded, "plain": positive, "every": every}
        if every is not None:
            # One query with the same order (what a caller without search() gets): every
            # document matching all groups gets the bonus. search() ranks in two phases instead.
            positive = Or([positive, ConstantScoreQuery(every, ALL_WORDS_BONUS)])
        return positive, highlight_terms, parts

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
            q, _, parts = self._build(request.query, searcher.reader())
            if q is None or q is NullQuery:
                return SearchHits(0, [])
            limit = min(request.offset + request.limit, MAX_COLLECT)
            if request.offset >= limit:
                return SearchHits(0, [])
            options = dict(limit=limit, terms=False)
            if request.sort == "newest":
                options["sortedby"] = FieldFacet("published", reverse=True)
            # A time budget: "time OR way OR make OR ..." over common words would otherwise
            # score most of the index. Out of time, the best hits found so far are shown.
            # (The filter must wrap the time limit: it filters in its own matching loop.)
            started = time.monotonic()
            filter_query = self._filter(request)
            if filter_query is not None:
                # Part of the query (scoring nothing) rather than a FilterCollector: that one
                # bypasses the time limit and is not applied when counting.
                q = And([q, ConstantScoreQuery(filter_query, 0.0)])
            if request.sort != "newest" and parts is not None:
                if all(term_leaves(group) is not None for group, _ in parts["groups"]):
                    # Words and prefixes (what people type): ranked from the posting lists.
                    return self._rank_in_bulk(searcher, request, parts, filter_query, limit)
                if parts["every"] is not None:
                    return self._all_words_first(searcher, request, parts, filter_query, limit)
            collector = self._collector(searcher, **options)
            limited = TimeLimitCollector(collector, timelimit=request.time_budget, use_alarm=False)
            try:
                searcher.search_with_collector(q, limited)
                timed_out = False
            except TimeLimit:
                timed_out = True
            results = limited.results()
            hits = [(hit["doc_id"], hit.score or 0.0) for hit in results[request.offset : limit]]
            if timed_out:
                return SearchHits(
                    max(results.scored_length(), collector.count() if collector.computes_count() else 0),
                    hits,
                    exact=False,
                )
            remaining = request.time_budget - (time.monotonic() - started)
            if request.sort == "newest":  # the sorting collector saw every match
                total, exact = len(results), True
            else:
                total, exact = self._count(searcher, q, remaining)
            return SearchHits(total, hits, exact)

        return self._with_searcher(run, SearchHits(0, []))

    @staticmethod
    def _collector(searcher, **options):
        """Whoosh's top-N collector, without its matcher replacement.

        Every ten matches the collector "replaces" the matcher tree by a cheaper one that can
        still beat the N-th best score so far; over several segments with a filter this
        dropped documents that belonged on the page (test_search.py's comparison with the
        bulk ranking found one scoring 9.54 left out for one scoring 9.50). Block skipping
        (supports_block_quality) stays on.
        """
        collector = searcher.collector(**options)
        collector.replace = 0
        return collector

    @staticmethod
    def _matching(searcher, bulk: BulkPostings, parts, filter_query) -> tuple[set[int], set[int]]:
        """(documents the query matches, those matching every group), as sets of document numbers.

        Each group's documents come from its posting lists in bulk (BulkPostings.docs), or for
        phrases from Whoosh's matchers; set algebra in C does the rest. `every` is empty when
        the query gives no all-words bonus (one group, or only required groups).
        """

        def docs(q) -> set[int]:
            leaves = term_leaves(q)
            return bulk.docs(leaves) if leaves is not None else set(searcher.docs_for_query(q))

        groups = parts["groups"]
        sets = [docs(q) for q, _ in groups]
        required = [found for found, (_, must) in zip(sets, groups) if must]
        matching = set.intersection(*required) if required else set().union(*sets)
        every = set.intersection(*sets) if parts["every"] is not None else set()
        for q in parts["excluded"]:
            gone = docs(q)
            matching -= gone
            every -= gone
        if filter_query is not None:
            allowed = bulk.filter_docs(filter_query)
            if allowed is None:
                allowed = set(searcher.docs_for_query(filter_query))
            matching &= allowed
            every &= allowed
        return matching, every

    def _rank_in_bulk(self, searcher, request: SearchRequest, parts, filter_query, limit: int) -> SearchHits:
        """Rank a query of words and prefixes from its posting lists, read in bulk.

        Whoosh's own way walks its matcher tree: several Python calls per posting and tree
        level, for each of ~12,700 matches of a 12-word question at 100,000 documents (and
        block skipping barely helps with fourteen title/body terms), then once more to count
        them. Here (see postings.py) each term's postings are read once: the sets give the
        exact total and the documents with every word, and the matching documents are scored
        with Whoosh's BM25F formula, one loop step per posting. The best `limit`: the all-words
        documents (`every`, ALL_WORDS_BONUS) first, each part by BM25F, ties by document
        number (as Whoosh's collector breaks them): the order Whoosh gives.

        The total is always exact. Past the time budget (only for dozens of common words),
        the rarest words are still scored and the commonest left out (BulkPostings.bm25), the
        documents with all the words first: the same promise as PostgreSQL's fallback to ts_rank.
        """
        bulk = BulkPostings(searcher, time.monotonic() + request.time_budget)
        matching, every = self._matching(searcher, bulk, parts, filter_query)
        leaves = [leaf for group, _ in parts["groups"] for leaf in term_leaves(group) or ()]
        scores = bulk.bm25(leaves, matching)

        def key(docnum: int):
            return (-scores[docnum], docnum)

        ranked = [(d, scores[d] + ALL_WORDS_BONUS) for d in heapq.nsmallest(limit, every, key=key)]
        if len(ranked) < limit and len(matching) > len(every):
            rest = heapq.nsmallest(limit - len(ranked), (d for d in matching if d not in every), key=key)
            ranked += [(d, scores[d]) for d in rest]
        stored = searcher.stored_fields
        hits = [(stored(docnum)["doc_id"], score) for docnum, score in ranked[request.offset : limit]]
        return SearchHits(len(matching), hits)

    def _all_words_first(
        self, searcher, request: SearchRequest, parts, filter_query, limit: int
    ) -> SearchHits:
        """Rank a several-word query with phrases: documents matching every group first, then the rest, each by BM25F.

        One query carrying the bonus would make Whoosh score every match (a constant-score
        part defeats its block skipping). Instead: each group's documents as a set (the exact
        total and the all-words documents), then the best all-words documents, and only if
        they do not fill the page, the best of the plain query with block skipping (asking
        for as many more as there are all-words documents).
        """
        deadline = time.monotonic() + request.time_budget
        matching, every = self._matching(searcher, BulkPostings(searcher, deadline), parts, filter_query)
        if time.monotonic() > deadline:
            return SearchHits(len(matching), [], exact=False)

        def restrict(q):
            return q if filter_query is None else And([q, ConstantScoreQuery(filter_query, 0.0)])

        def best(q, count: int) -> tuple[list, bool]:
            collector = self._collector(searcher, limit=count, terms=False)
            limited = TimeLimitCollector(
                collector, timelimit=max(deadline - time.monotonic(), 0.01), use_alarm=False
            )
            try:
                searcher.search_with_collector(restrict(q), limited)
                timed_out = False
            except TimeLimit:
                timed_out = True
            return [(hit.docnum, hit["doc_id"], hit.score or 0.0) for hit in limited.results()], timed_out

        ranked: list = []
        timed_out = False
        if every:
            ranked, timed_out = best(parts["every"], min(limit, len(every)))
            ranked = [(docnum, doc_id, score + ALL_WORDS_BONUS) for docnum, doc_id, score in ranked]
        if len(ranked) < limit and not timed_out and len(matching) > len(every):
            rest, timed_out = best(parts["plain"], limit - len(ranked) + len(every))
            ranked += [hit for hit in rest if hit[0] not in every][: limit - len(ranked)]
        hits = [(doc_id, score) for _, doc_id, score in ranked[request.offset : limit]]
        return SearchHits(len(matching), hits, exact=not timed_out)

    @staticmethod
    def _count(searcher, query, budget: float) -> tuple[int, bool]:
        """(number of matches, exact?): counting walks every match, so it gets a budget too.

        The ranking collector skips blocks that cannot reach the first page, so it does not
        know the total (and its has_exact_length() judges by the last segment only).
        """
        deadline = time.monotonic() + max(budget, 0.05)
        count = 0
        for count, _ in enumerate(searcher.docs_for_query(query), 1):
            if count % 1000 == 0 and time.monotonic() > deadline:
                return count, False
        return count, True

    def has_term(self, word: str) -> bool:
        stems = terms_of(word)
        if not stems:
            return True  # a stop word: nothing to correct

        def run(searcher):
            reader = searcher.reader()
            return all(
                any(reader.doc_frequency(field, term) for field in ("body", "title")) for term in stems
            )

        return self._with_searcher(run, False)

    def suggest(self, word: str, public_text: Callable[[str], str | None], limit: int = 3) -> list[str]:
        stems = terms_of(word)
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
            ranked = sorted(
                candidates, key=lambda t: (edit_distance(t, target), -reader.doc_frequency("body", t), t)
            )
            found = []
            for term in ranked[: limit * 4]:
                surface = self._public_surface_word(searcher, term, public_text)
                if surface and surface not in found and fold(surface) != fold(word):
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
