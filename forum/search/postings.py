"""Whole posting lists, read in bulk, for queries made of plain terms (the Whoosh backend).

A several-word query ("how do i pair my headphones with a laptop") matches thousands of
documents at 100,000 documents. Walking Whoosh's matcher tree for them costs several Python
calls per posting and tree level (`is_active`, `id`, `next`, `score`, `replace` of every
Or/And node) and block skipping barely helps with fourteen title/body terms: that was most
of the 12-word questions' time (docs/search.md). Here each term's postings are read block by
block straight from its segment's posting list (a decoded block is a list of document
numbers and a list of term frequencies), so the cost is one cheap loop step per posting:

  - document sets per word come from C set operations (totals, all-words documents);
  - BM25F scores are computed for the matching documents with the same formula, statistics
    and boosts as Whoosh's BM25FScorer (idf and average length of the whole index, the
    document's length as Whoosh stores it, a byte), so the order is the one Whoosh gives.

Only the Whoosh 3 codec's block format is read directly; any other matcher (a term with one
posting is stored inline in the term table) is walked through the ordinary matcher API.
"""

from __future__ import annotations

import time
import weakref
from array import array
from collections.abc import Iterable

from whoosh.codec.whoosh3 import LENGTHS_COLUMN, W3LeafMatcher
from whoosh.matching.wrappers import FilterMatcher
from whoosh.query import And, NullQuery, Or, Term
from whoosh.util.numeric import byte_to_length, length_to_byte

from .ranking import BM25_B, BM25_K1

TermLeaf = tuple[str, str, float]  # (field, term text, boost)

# Per leaf (segment) reader, the encoded length byte of each document, per field: read once
# per segment (segments are reused across searcher generations while they are unchanged).
_LENGTHS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
# Per searcher (one generation of the index), the documents of each filter (kind, product,
# category): the same few filters are asked for again and again, a group's kinds may cover
# most of the index.
_FILTERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
MAX_CACHED_FILTERS = 8  # a group's kinds: ~7 MB of set for 80,000 documents


def term_leaves(query) -> list[TermLeaf] | None:
    """The (field, text, boost) terms of a query made only of Terms joined by Or, else None.

    Whoosh scores such a query as the sum of its terms' scores (each times its boost),
    the same term counted as often as it occurs. Anything else (phrases, And, a boosted Or)
    is scored by Whoosh's own matchers.
    """
    if type(query) is Term:
        return [(query.fieldname, query.text, query.boost)]
    if type(query) is Or and query.boost == 1.0 and not query.minmatch and query.scale is None:
        leaves: list[TermLeaf] = []
        for sub in query.subqueries:
            found = term_leaves(sub)
            if found is None:
                return None
            leaves += found
        return leaves
    return None


class _Chunk:
    """One term's postings in one segment: local document numbers, frequencies, lengths."""

    __slots__ = ("offset", "ids", "weights", "lengths")

    def __init__(self, offset: int, ids: list[int], weights: list[float] | None, lengths):
        self.offset = offset
        self.ids = ids
        self.weights = weights
        self.lengths = lengths


def _read_matcher(matcher, with_weights: bool) -> tuple[list[int], list[float] | None]:
    """(document numbers, frequencies or None) of a fresh matcher, in posting order."""
    ids: list[int] = []
    weights: list[float] | None = [] if with_weights else None
    if type(matcher) is W3LeafMatcher and not matcher._byteids:
        # Block by block: a block's ids (and weights) are decoded in one go, what the matcher
        # does lazily on the first id() (weight()) call in a block; one Python step per block.
        while matcher.is_active():
            matcher._read_ids()
            ids.extend(matcher._ids)
            if weights is not None:
                matcher._read_weights()
                weights.extend(matcher._weights)
            matcher._next_block()
        return ids, weights
    while matcher.is_active():  # any other matcher, e.g. a single inlined posting
        ids.append(matcher.id())
        if weights is not None:
            weights.append(matcher.weight())
        matcher.next()
    return ids, weights


def _field_lengths(leaf, field: str):
    """Indexable by local document number: the length byte Whoosh stored for `field`."""
    per_field = _LENGTHS.get(leaf)
    if per_field is None:
        per_field = _LENGTHS[leaf] = {}
    lengths = per_field.get(field)
    if lengths is None:
        count = leaf.doc_count_all()
        try:
            # The lengths column is one byte per document (documents after the last one
            # written have the default 0); read it as one slice of the file.
            column = leaf._perdoc._cached_reader(f"_{field}_len", LENGTHS_COLUMN)
            raw = column._dbfile.get(column._basepos, column._count) if column is not None else b""
            lengths = bytes(raw) + bytes(max(0, count - len(raw)))
        except AttributeError:  # another reader type: through the public (slow) call
            lengths = array("B", (_to_byte(leaf.doc_field_length(n, field, 0)) for n in range(count)))
        per_field[field] = lengths
    return lengths


def _to_byte(length) -> int:
    return length_to_byte(length or 0)


class BulkPostings:
    """Posting lists of one searcher (one index generation), each term read once per query."""

    def __init__(self, searcher, deadline: float):
        self.searcher = searcher
        self.leaves = list(searcher.reader().leaf_readers())
        self.deadline = deadline
        self._terms: dict[tuple[str, str], list[_Chunk]] = {}

    def out_of_time(self) -> bool:
        return time.monotonic() > self.deadline

    def chunks(self, field: str, text: str) -> list[_Chunk]:
        key = (field, text)
        found = self._terms.get(key)
        if found is not None:
            return found
        found = []
        schema = self.searcher.schema
        if field in schema:
            btext = schema[field].to_bytes(text)
            for leaf, offset in self.leaves:
                if (field, btext) not in leaf:
                    continue
                matcher = leaf.postings(field, btext)
                deleted: frozenset = frozenset()
                if isinstance(matcher, FilterMatcher):  # the segment has deleted documents
                    deleted = leaf.deleted_docs_set
                    matcher = matcher.child
                # Frequencies and lengths only for the fields scored (title, body): the
                # filters' ID fields need the documents only.
                scorable = schema[field].scorable
                ids, weights = _read_matcher(matcher, with_weights=scorable)
                if deleted:
                    kept = [i for i, d in enumerate(ids) if d not in deleted]
                    ids = [ids[i] for i in kept]
                    weights = [weights[i] for i in kept] if weights is not None else None
                if ids:
                    found.append(
                        _Chunk(offset, ids, weights, _field_lengths(leaf, field) if scorable else None)
                    )
        self._terms[key] = found
        return found

    def docs(self, leaves: Iterable[TermLeaf]) -> set[int]:
        """Index-wide document numbers having any of the terms."""
        out: set[int] = set()
        for field, text, _ in leaves:
            for chunk in self.chunks(field, text):
                out.update(chunk.ids if not chunk.offset else map(chunk.offset.__add__, chunk.ids))
        return out

    def doc_frequency(self, field: str, text: str) -> int:
        return sum(len(chunk.ids) for chunk in self.chunks(field, text))

    def filter_docs(self, query) -> set[int] | None:
        """Documents of a filter query (Terms joined by And/Or, or NullQuery), cached per searcher.

        None for a query of any other shape (the caller then asks Whoosh).
        """
        cache = _FILTERS.get(self.searcher)
        if cache is None:
            cache = _FILTERS[self.searcher] = {}
        key = repr(query)
        found = cache.get(key)
        if found is None:
            found = self._filter_docs(query)
            if found is None:
                return None
            if len(cache) >= MAX_CACHED_FILTERS:
                cache.clear()
            cache[key] = found
        return found

    def _filter_docs(self, query) -> set[int] | None:
        if query is NullQuery:
            return set()
        if type(query) is And:
            parts: list[set[int]] = []
            for sub in query.subqueries:
                found = self._filter_docs(sub)
                if found is None:
                    return None
                parts.append(found)
            return set.intersection(*parts) if parts else set()
        leaves = term_leaves(query)
        return None if leaves is None else self.docs(leaves)

    def bm25(self, leaves: list[TermLeaf], docs: set[int]) -> dict[int, float]:
        """The BM25F score of each document of `docs`, summed over `leaves`.

        The formula and statistics are BM25FScorer's (whoosh.scoring.bm25): idf and average
        field length of the whole index, the document's field length decoded from its byte.
        Terms are added rarest first: when the time budget runs out, the remaining (most
        common) terms are left out (the rarest is always scored), so the scores hold the
        words that say most about a document (as PostgreSQL then ranks by its ts_rank: an
        approximate order, the total still exact).
        """
        searcher = self.searcher
        scores = dict.fromkeys(docs, 0.0)
        k1, b = BM25_K1, BM25_B
        k1_plus_1 = k1 + 1
        present = [leaf for leaf in leaves if self.doc_frequency(leaf[0], leaf[1])]
        ordered = sorted(present, key=lambda leaf: self.doc_frequency(leaf[0], leaf[1]))
        for index, (field, text, boost) in enumerate(ordered):
            if index and self.out_of_time():  # (the rarest term always counts)
                break
            chunks = self.chunks(field, text)
            if not searcher.schema[field].scorable:
                # Whoosh's WeightScorer scores the frequency: 1.0 in the ID fields (filters,
                # never searched words), whose frequencies are not read.
                for chunk in chunks:
                    for local in chunk.ids:
                        if local + chunk.offset in scores:
                            scores[local + chunk.offset] += boost
                continue
            btext = searcher.schema[field].to_bytes(text)
            idf = searcher.idf(field, btext)
            avgfl = searcher.avg_field_length(field) or 1
            # The length part of the denominator for each possible length byte.
            norms = [k1 * ((1 - b) + b * byte_to_length(n) / avgfl) for n in range(256)]
            for chunk in chunks:
                offset, lengths = chunk.offset, chunk.lengths
                assert chunk.weights is not None  # (read for every scored field)
                for local, tf in zip(chunk.ids, chunk.weights):
                    docnum = local + offset
                    if docnum in scores:
                        scores[docnum] += boost * (idf * ((tf * k1_plus_1) / (tf + norms[lengths[local]])))
        return scores
