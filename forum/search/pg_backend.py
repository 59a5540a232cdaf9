"""The PostgreSQL full-text backend (SEARCH_BACKEND=postgres).

For deployments with several app hosts: the index lives in the database that
every host already shares. `search_document` holds a tsvector with a GIN index
and the filter columns; `search_term` the words seen, for spelling suggestions.

The tsvector is not made by PostgreSQL's parser: it is written from the terms of
`analysis.analyze`, the very analysis the Whoosh backend indexes with (accents
folded, CJK bigrams, the same stop words and porter2 stems), title words weighted
'A' and body words 'B' (body positions start after a gap, so a phrase never spans
title and body). Queries are tsquery values built from the same terms, so both
backends find the same documents for the same query. Ranking is BM25 computed in
SQL (`Ranking`: term frequencies read by ts_rank_cd, document frequencies counted
with the GIN index, the length of a document measured in distinct terms), plus
ALL_WORDS_BONUS for documents that match every group: those are ranked first, the
others only when they do not fill the page, and only the matches that can still
reach the page are scored (the same pages as scoring every match). Snippets are
made in Python from the database text, as for Whoosh.

Writers serialise on a transaction-level advisory lock and write through the
caller's session, so index rows and the outbox rows they apply commit together.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    delete,
    func,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, TSVECTOR, insert
from sqlalchemy.exc import DBAPIError, OperationalError
from whoosh.support.levenshtein import distance as edit_distance

from .analysis import fold, stem, term_positions, terms_of, words_of
from .backend import IndexBusy, IndexWriter, SearchBackend, SearchHits, SearchRequest
from .query import Clause, ParsedQuery
from .ranking import ALL_WORDS_BONUS, BM25_B, BM25_K1, TITLE_WEIGHT
from .registry import SearchDocument

LOCK_KEY = 0x5EA2C4  # pg advisory lock id of the search index writer
LOCK_POLL = 0.02
MAX_POSITION = 16383  # PostgreSQL's largest tsvector position
MAX_POSITIONS_PER_TERM = 255
STATS_TTL = 60.0  # seconds the collection size, mean length and term frequencies are reused
MAX_CACHED_FREQUENCIES = 50_000  # terms whose document frequency is remembered (then forgotten at once)
# Ranking: the rarest words whose documents together are at most this many are ranked first
# (then a bar for the others, see Ranking.best); with more common words than MAX_PRUNED_TERMS,
# every match is scored (their combinations would be too many to write down).
FIRST_PASS_DOCUMENTS = 3000
MAX_PRUNED_TERMS = 6
# ts_rank_cd's weights {D, C, B, A}: a title ('A') position counts 1, a body ('B') one
# 1/TITLE_WEIGHT (weights are at most 1), so a term's rank times TITLE_WEIGHT is its weighted tf.
TF_WEIGHTS = f"{{0.1, 0.2, {1 / TITLE_WEIGHT!r}, 1}}"

# Not part of the models' metadata: these tables exist only on PostgreSQL (migration 0003).
metadata = MetaData()
search_document = Table(
    "search_document",
    metadata,
    Column("doc_id", String(64), primary_key=True),
    Column("kind", String(30), nullable=False),
    Column("item_id", Integer, nullable=False),
    Column("grp", String(10), nullable=False),
    Column("product_sku", String(64)),
    Column("category", String(100)),
    Column("published_at", DateTime, nullable=False),
    Column("tsv", TSVECTOR, nullable=False),
)
search_term = Table("search_term", metadata, Column("term", String(64), primary_key=True))
TABLE_NAMES = ("search_document", "search_term")


def _clean(value: str | None) -> str:
    return (value or "").replace("\x00", " ")


def _quote(term: str) -> str:
    """A lexeme in tsvector/tsquery input syntax."""
    return "'" + term.replace("\\", "\\\\").replace("'", "''") + "'"


def tsvector_text(title: str | None, body: str | None) -> str:
    """The tsvector (input syntax) of a document: our own terms, title 'A', body 'B'."""
    entries: dict[str, list[str]] = {}
    title_positions = term_positions(_clean(title))
    last = 0
    for term, positions in title_positions.items():
        entries[term] = [f"{p + 1}A" for p in positions]
        last = max(last, max(positions) + 1)
    offset = last + 2  # a gap: a phrase never spans title and body
    for term, positions in term_positions(_clean(body)).items():
        entries.setdefault(term, []).extend(f"{min(MAX_POSITION, p + offset)}B" for p in positions)
    return " ".join(
        f"{_quote(term)}:{','.join(positions[:MAX_POSITIONS_PER_TERM])}"
        for term, positions in entries.items()
    )


def _terms_query(terms: list[str]) -> str:
    """One term, or consecutive terms as a phrase."""
    if len(terms) == 1:
        return _quote(terms[0])
    return "(" + " <-> ".join(_quote(t) for t in terms) + ")"


def _clause_tsquery(clause: Clause) -> str | None:
    if clause.kind == "prefix":
        prefix = fold(clause.words[0])
        return "(" + " | ".join(f"{_quote(p)}:*" for p in dict.fromkeys((prefix, stem(prefix)))) + ")"
    terms = clause.terms()
    return _terms_query(terms) if terms else None


def _group_tsquery(group: list[Clause]) -> str | None:
    parts = [q for q in map(_clause_tsquery, group) if q]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else "(" + " | ".join(parts) + ")"


class TsQueries:
    """The tsqueries of a parsed query: what matches, and what matches every group."""

    def __init__(self, query: ParsedQuery):
        self.match: str | None = None
        self.every: str | None = None
        groups = []
        for index, group in enumerate(query.groups):
            q = _group_tsquery(group)
            if q is None:
                if index in query.required:
                    return
                continue
            groups.append((q, index in query.required))
        if not groups:
            return
        required = [q for q, must in groups if must]
        match = " & ".join(required) if required else " | ".join(q for q, _ in groups)
        excluded = [q for q in map(_clause_tsquery, query.excluded) if q]
        if excluded:
            match = f"({match}) & !({' | '.join(excluded)})"
        self.match = match
        if len(groups) > 1 and len(required) < len(groups):
            self.every = " & ".join(q for q, _ in groups)
        self.terms = list(dict.fromkeys(t for c in query.clauses() for t in c.terms()))


class _Writer(IndexWriter):
    def __init__(self, session):
        self.session = session

    def index(self, document: SearchDocument) -> None:
        row = _row(document)
        statement = insert(search_document).values(**row)
        statement = statement.on_conflict_do_update(
            index_elements=["doc_id"],
            set_={k: statement.excluded[k] for k in row if k != "doc_id"},
        )
        # A savepoint: one failing document must not abort the other changes of the drain.
        with self.session.begin_nested():
            self.session.execute(statement)
            _add_terms(self.session, words_of(_clean(document.title) + " " + _clean(document.body)))

    def delete(self, doc_id: str) -> None:
        with self.session.begin_nested():
            self.session.execute(delete(search_document).where(search_document.c.doc_id == doc_id))


def _tsv(value):
    return func.cast(value, TSVECTOR)


def _row(document: SearchDocument) -> dict:
    published = document.published_at.astimezone(UTC).replace(tzinfo=None)
    return dict(
        doc_id=document.doc_id,
        kind=document.kind,
        item_id=document.item_id,
        grp=document.group,
        product_sku=document.product_sku,
        category=document.category,
        published_at=published,
        tsv=_tsv(bindparam(None, tsvector_text(document.title, document.body), type_=String)),
    )


def _add_terms(session, words: Iterable[str]) -> None:
    terms = sorted({w for w in words if len(w) <= 64})
    if terms:
        session.execute(
            text("INSERT INTO search_term (term) SELECT unnest(:terms) ON CONFLICT DO NOTHING").bindparams(
                bindparam("terms", type_=ARRAY(String))
            ),
            {"terms": terms},
        )


class OutOfTime(Exception):
    """The search's time budget was spent before ranking ended."""


class Ranking:
    """BM25 ranking of the documents matching a search, in SQL.

    For each query term in the document: idf * tf (k1 + 1) / (tf + k1 (1 - b + b len / mean)),
    tf counting a title occurrence TITLE_WEIGHT times, len the distinct terms of the document.
    tf is read by ts_rank_cd (C code) with a one-term query: without normalisation it is the
    sum of the weights of the term's positions, here 1 for a title ('A') position and
    1/TITLE_WEIGHT for a body ('B') one, so times TITLE_WEIGHT it is the weighted count.
    (Unnesting every matching tsvector in SQL to count positions cost ten times as much.)
    The @@ test first skips the call for the terms a document does not have: most of them.
    """

    def __init__(
        self,
        session,
        params: dict,
        stats: dict[str, tuple[int, float]],
        mean_length: float,
        deadline: float = math.inf,
    ):
        self.session = session
        self.deadline = deadline  # time.monotonic() past which ranking gives up (OutOfTime)
        self.stats = stats  # term -> (documents, idf)
        self.params = dict(params, k1=BM25_K1, b=BM25_B, mean_length=max(mean_length, 1.0))
        # Per term, (k1 + 1) (1 - norm / (tf + norm)): tf (k1 + 1) / (tf + norm) with tf written
        # (and so computed) once, and 0 when the document does not have the term.
        norm = "(:k1 * (1 - :b + :b * length(d.tsv) / :mean_length))"
        parts = []
        for n, (term, (_, idf)) in enumerate(stats.items()):
            self.params[f"term{n}"], self.params[f"idf{n}"] = _quote(term), idf
            query = f"CAST(:term{n} AS tsquery)"
            tf = (
                f"CASE WHEN d.tsv @@ {query} "
                f"THEN ts_rank_cd('{TF_WEIGHTS}', d.tsv, {query}) * {TITLE_WEIGHT} ELSE 0 END"
            )
            parts.append(f":idf{n} * (:k1 + 1) * (1 - {norm} / ({tf} + {norm}))")
        self.score = " + ".join(parts) or "0"

    def best(self, where: str, limit: int) -> list[tuple[str, float]]:
        """The `limit` best documents matching `where`, best first (ties: newest first), with scores.

        The same as scoring every match, without scoring most of them when a query has common
        words beside rarer ones (questions): a term adds less than idf (k1 + 1) to any document's
        score. So the documents with one of the rarer words are ranked first; the k-th best score
        among them is a bar that only documents with enough of the common words could still
        reach (the sum of those words' bounds at least the bar), and only those are ranked next.
        A document with fewer of them scores below the bar: the k found are better. Exact.
        """
        rarest_first = sorted(self.stats, key=lambda t: self.stats[t][0])
        rare: list[str] = []
        documents = 0
        for term in rarest_first:
            if rare and documents + self.stats[term][0] > FIRST_PASS_DOCUMENTS:
                break
            rare.append(term)
            documents += self.stats[term][0]
        common = rarest_first[len(rare) :]
        if not common or len(common) > MAX_PRUNED_TERMS:
            return [(doc_id, score) for doc_id, score, _ in self._top(where, limit)]
        params = {"rare": " | ".join(map(_quote, rare))}
        found = self._top(f"{where} AND d.tsv @@ CAST(:rare AS tsquery)", limit, params)
        rest = f"{where} AND NOT d.tsv @@ CAST(:rare AS tsquery)"
        if len(found) == limit:
            bar = found[-1][1]
            bound = {t: self.stats[t][1] * (BM25_K1 + 1) for t in common}
            # The smallest sets of common words whose bounds reach the bar (a set is one of
            # the smallest when it falls below the bar without its weakest word).
            reaching = [
                subset
                for size in range(1, len(common) + 1)
                for subset in itertools.combinations(common, size)
                if (total := sum(bound[t] for t in subset)) >= bar
                and total - min(bound[t] for t in subset) < bar
            ]
            if not reaching:
                return [(doc_id, score) for doc_id, score, _ in found]
            params["reaching"] = " | ".join("(" + " & ".join(map(_quote, s)) + ")" for s in reaching)
            rest += " AND d.tsv @@ CAST(:reaching AS tsquery)"
        # (Fewer than `limit` with a rarer word: every other match may be needed, even those
        # found by a prefix alone, scoring 0.)
        found += self._top(rest, limit, params)
        # Best first, ties newest first, then by doc_id, as ORDER BY in _top (two stable sorts;
        # Python orders doc ids by code point, the database by its collation: a difference only
        # for documents of equal score published in the same microsecond).
        found.sort(key=lambda row: row[0])
        found.sort(key=lambda row: (row[1], row[2]), reverse=True)
        return [(doc_id, score) for doc_id, score, _ in found[:limit]]

    def _top(self, where: str, limit: int, params: dict | None = None) -> list[tuple[str, float, Any]]:
        # Ranking takes up to four statements: together they get what is left of the budget.
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise OutOfTime
        if left != math.inf:
            self.session.execute(text(f"SET LOCAL statement_timeout = {max(1, int(left * 1000))}"))
        return [
            (doc_id, float(score), published)
            for doc_id, score, published in self.session.execute(
                text(f"""
                SELECT d.doc_id, {self.score} AS score, d.published_at
                FROM search_document d WHERE {where}
                ORDER BY score DESC, d.published_at DESC, d.doc_id
                LIMIT :limit"""),
                dict(self.params, **(params or {}), limit=limit),
            )
        ]


class PostgresBackend(SearchBackend):
    name = "postgres"

    def __init__(self, db):
        self.db = db
        self._stats: tuple[float, int, float] | None = None  # (taken at, documents, mean length)
        self._stats_lock = threading.Lock()
        self._frequencies: dict[str, int] = {}  # term -> documents, counted with the stats

    # --- writing -------------------------------------------------------------

    @staticmethod
    def _lock(session, timeout: float) -> None:
        deadline = time.monotonic() + max(timeout, 0)
        while not session.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": LOCK_KEY}).scalar():
            if time.monotonic() >= deadline:
                raise IndexBusy("the search index is being written by another process")
            time.sleep(LOCK_POLL)

    @contextlib.contextmanager
    def writing(self, session, timeout: float, reload=None):
        self._lock(session, timeout)
        self._forget_frequencies()
        yield _Writer(session)

    def rebuild(self, documents: Iterable[SearchDocument], session, timeout: float) -> int:
        # One transaction: searches see the old rows until the caller commits.
        self._lock(session, timeout)
        self._forget_frequencies()
        session.execute(delete(search_document))
        session.execute(delete(search_term))
        count = 0
        batch: list[dict] = []
        words: set[str] = set()

        def flush():
            if batch:
                session.execute(
                    insert(search_document).values(
                        doc_id=bindparam("doc_id"),
                        kind=bindparam("kind"),
                        item_id=bindparam("item_id"),
                        grp=bindparam("grp"),
                        product_sku=bindparam("product_sku"),
                        category=bindparam("category"),
                        published_at=bindparam("published_at"),
                        tsv=_tsv(bindparam("tsv", type_=String)),
                    ),
                    batch,
                )
                batch.clear()

        for document in documents:
            row = _row(document)
            row["tsv"] = tsvector_text(document.title, document.body)
            words.update(words_of(_clean(document.title) + " " + _clean(document.body)))
            batch.append(row)
            count += 1
            if len(batch) >= 500:
                flush()
        flush()
        _add_terms(session, words)
        # The GIN index keeps new entries in a pending list that every search reads through
        # until a vacuum merges it (after a rebuild: thousands of rows, and searches several
        # times slower); the planner's statistics are those of the old rows. Both now, in this
        # transaction, instead of whenever autovacuum comes by.
        with contextlib.suppress(DBAPIError), session.begin_nested():  # (an index owned by another role)
            session.execute(text("SELECT gin_clean_pending_list('ix_search_document_tsv')"))
        session.execute(text("ANALYZE search_document"))
        return count

    def clear(self, session, timeout: float) -> None:
        self._lock(session, timeout)
        self._forget_frequencies()
        session.execute(delete(search_document))
        session.execute(delete(search_term))

    # --- reading ---------------------------------------------------------------

    def _where(self, request: SearchRequest, tsquery: str):
        conditions = ["d.tsv @@ CAST(:match AS tsquery)"]
        params: dict[str, Any] = {"match": tsquery}
        if request.kinds is not None:
            conditions.append("d.kind = ANY(:kinds)")
            params["kinds"] = list(request.kinds) or ["-"]
        if request.product_sku:
            conditions.append("d.product_sku = :sku")
            params["sku"] = request.product_sku
        if request.category:
            conditions.append("d.category = :category")
            params["category"] = request.category
        return " AND ".join(conditions), params

    def search(self, request: SearchRequest) -> SearchHits:
        queries = TsQueries(request.query)
        if queries.match is None:
            return SearchHits(0, [])
        session = self.db.session
        deadline = time.monotonic() + request.time_budget
        # A time budget for this search's statements only (cancelled past it, as "ran out of time").
        session.execute(text(f"SET LOCAL statement_timeout = {max(1, int(request.time_budget * 1000))}"))
        try:
            hits = self._search(session, request, queries, deadline)
        except OperationalError as error:
            if "statement timeout" not in str(error):
                raise
            session.rollback()  # (which also ends the SET LOCAL)
            return SearchHits(0, [], exact=False)
        session.execute(text("RESET statement_timeout"))
        return hits

    def _collection(self, session) -> tuple[int, float]:
        """(documents, mean distinct terms per document), reused for STATS_TTL seconds."""
        with self._stats_lock:
            stats = self._stats
        if stats is None or time.monotonic() - stats[0] > STATS_TTL:
            count, mean = session.execute(
                text("SELECT count(*), coalesce(avg(length(tsv)), 0) FROM search_document")
            ).one()
            stats = (time.monotonic(), int(count), float(mean))
            with self._stats_lock:
                self._stats = stats
                self._frequencies.clear()  # counted again with the collection
        return stats[1], stats[2]

    def _idf(self, session, terms: list[str]) -> dict[str, tuple[int, float]]:
        """(documents, BM25 idf) of each term found, document frequencies counted with the GIN index.

        The counts are reused, like the collection size, for STATS_TTL seconds (this
        process's own writes forget them): common words come back in query after query,
        and counting a word in 5,000 documents reads 5,000 rows."""
        if not terms:
            return {}
        total = self._collection(session)[0]
        with self._stats_lock:
            known = {t: self._frequencies[t] for t in terms if t in self._frequencies}
        missing = [t for t in terms if t not in known]
        if missing:
            rows = session.execute(
                text(
                    "SELECT t.term, (SELECT count(*) FROM search_document WHERE tsv @@ CAST(t.q AS tsquery)) "
                    "FROM unnest(CAST(:terms AS text[]), CAST(:queries AS text[])) AS t(term, q)"
                ),
                {"terms": missing, "queries": [_quote(t) for t in missing]},
            ).all()
            counted = {term: int(n) for term, n in rows}
            with self._stats_lock:
                if len(self._frequencies) > MAX_CACHED_FREQUENCIES:
                    self._frequencies.clear()
                self._frequencies.update(counted)
            known.update(counted)
        total = max(total, max(known.values(), default=0))
        return {t: (n, math.log(1 + (total - n + 0.5) / (n + 0.5))) for t in terms if (n := known[t])}

    def _forget_frequencies(self) -> None:
        with self._stats_lock:
            self._frequencies.clear()

    def _search(self, session, request: SearchRequest, queries: TsQueries, deadline: float) -> SearchHits:
        where, params = self._where(request, queries.match)  # type: ignore[arg-type]  # not None: see search()
        total = session.execute(
            text(f"SELECT count(*) FROM search_document d WHERE {where}"), params
        ).scalar_one()
        if not total:
            return SearchHits(0, [])
        if request.sort == "newest":
            rows = session.execute(
                text(
                    f"SELECT d.doc_id FROM search_document d WHERE {where} "
                    "ORDER BY d.published_at DESC, d.doc_id OFFSET :offset LIMIT :limit"
                ),
                dict(params, offset=request.offset, limit=request.limit),
            ).all()
            return SearchHits(total, [(doc_id, 0.0) for (doc_id,) in rows])
        stats = self._idf(session, queries.terms)
        _, mean_length = self._collection(session)
        if queries.every:
            params["every"] = queries.every
        rank = Ranking(session, params, stats, mean_length, deadline)
        wanted = request.offset + request.limit
        try:
            # A savepoint: out of time, the fallback below still runs, and the statement_timeout
            # set by the ranking goes back to the whole budget with it.
            with session.begin_nested():
                # Two phases, as on Whoosh: the documents with every word (often few) are ranked
                # first, and the others only when those do not fill the page. ALL_WORDS_BONUS
                # puts every one of the first before any of the others, so the pages are the
                # same as ranking all matches at once, without scoring thousands for nothing.
                first: list[tuple[str, float]] = []
                rest_where = where
                if queries.every:
                    first = [
                        (doc_id, score + ALL_WORDS_BONUS)
                        for doc_id, score in rank.best(
                            f"{where} AND d.tsv @@ CAST(:every AS tsquery)", wanted
                        )
                    ]
                    rest_where = f"{where} AND NOT d.tsv @@ CAST(:every AS tsquery)"
                rest = []
                if len(first) < wanted:
                    rest = rank.best(rest_where, wanted - len(first))
                rows = (first + rest)[request.offset : wanted]
        except (OperationalError, OutOfTime) as error:
            if isinstance(error, OperationalError) and "statement timeout" not in str(error):
                raise
            # BM25 over very many matches (dozens of common words at scale) ran out of time:
            # the documents with all the words still come first, then PostgreSQL's own ts_rank
            # (C code, no idf), so the page is never empty when something matches.
            bonus = "0"
            if queries.every:
                bonus = f"CASE WHEN d.tsv @@ CAST(:every AS tsquery) THEN {ALL_WORDS_BONUS} ELSE 0 END"
            rows = session.execute(
                text(f"""
                SELECT d.doc_id, ts_rank('{{0.1, 0.2, 0.4, 1.0}}', d.tsv, CAST(:match AS tsquery), 1)
                                 + {bonus} AS score
                FROM search_document d WHERE {where}
                ORDER BY score DESC, d.published_at DESC, d.doc_id
                OFFSET :offset LIMIT :limit"""),
                dict(params, offset=request.offset, limit=request.limit),
            ).all()
        return SearchHits(total, [(doc_id, float(score or 0)) for doc_id, score in rows])

    def has_term(self, word: str) -> bool:
        terms = terms_of(word)
        if not terms:
            return True  # a stop word: nothing to correct
        return session_exists(self.db.session, " & ".join(_quote(t) for t in terms))

    def suggest(self, word: str, public_text: Callable[[str], str | None], limit: int = 3) -> list[str]:
        word = word.lower()
        target = fold(word)
        if len(target) < 3 or len(terms_of(word)) != 1:
            return []
        maxdist = 1 if len(target) <= 4 else 2
        candidates = (
            self.db.session.execute(
                select(search_term.c.term).where(
                    func.char_length(search_term.c.term).between(len(word) - maxdist, len(word) + maxdist),
                    search_term.c.term != word,
                )
            )
            .scalars()
            .all()
        )
        ranked = sorted(
            (d, term)
            for term in candidates
            if fold(term)[:1] == target[:1]
            and fold(term) != target
            and (d := edit_distance(fold(term), target, maxdist + 1)) <= maxdist
        )
        found: list[str] = []
        for _, term in ranked[: limit * 4]:
            terms = terms_of(term)
            if not terms:
                continue
            doc_ids = (
                self.db.session.execute(
                    text("SELECT doc_id FROM search_document WHERE tsv @@ CAST(:q AS tsquery) LIMIT 5"),
                    {"q": _terms_query(terms)},
                )
                .scalars()
                .all()
            )
            if any(public_text(doc_id) for doc_id in doc_ids) and term not in found:
                found.append(term)
            if len(found) >= limit:
                break
        return found

    def doc_ids(self) -> set[str]:
        return set(self.db.session.execute(select(search_document.c.doc_id)).scalars())

    def size_bytes(self) -> int:
        return int(
            self.db.session.execute(
                text(
                    "SELECT pg_total_relation_size('search_document') + pg_total_relation_size('search_term')"
                )
            ).scalar_one()
        )


def session_exists(session, tsquery: str) -> bool:
    return (
        session.execute(
            text("SELECT 1 FROM search_document WHERE tsv @@ CAST(:q AS tsquery) LIMIT 1"), {"q": tsquery}
        ).first()
        is not None
    )
