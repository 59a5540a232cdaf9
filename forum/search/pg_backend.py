"""The PostgreSQL full-text backend (SEARCH_BACKEND=postgres).

For deployments with several app hosts: the index lives in the database that
every host already shares. `search_document` holds a weighted tsvector (title
'A', body 'B') with a GIN index and the filter columns; `search_term` the
words seen, for spelling suggestions. Queries use websearch_to_tsquery (plus
to_tsquery prefixes), ranking is ts_rank with length normalisation, and
snippets come from ts_headline run on HTML-escaped text.

Writers serialise on a transaction-level advisory lock and write through the
caller's session, so index rows and the outbox rows they apply commit together.
"""

from __future__ import annotations

import contextlib
import re
import time
from datetime import timezone
from typing import Callable, Iterable

from markupsafe import Markup, escape
from whoosh.support.levenshtein import distance as edit_distance
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
    literal,
    literal_column,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, TSVECTOR, insert
from sqlalchemy.exc import OperationalError

from .analysis import words_of
from .backend import IndexBusy, IndexWriter, SearchBackend, SearchHits, SearchRequest
from .query import ParsedQuery
from .registry import SearchDocument

CONFIG = "english"
LOCK_KEY = 0x5EA2C4  # pg advisory lock id of the search index writer
LOCK_POLL = 0.02
# ts_rank weights {D, C, B, A}: a title word (A) counts 2.5 times a body word (B).
RANK_WEIGHTS = "{0.1, 0.2, 0.4, 1.0}"
RANK_NORMALIZATION = 1       # divide by 1 + log(document length)
MARK_START, MARK_END = "\ue000", "\ue001"   # private-use characters, removed from texts first
HEADLINE_OPTIONS = (f'StartSel="{MARK_START}", StopSel="{MARK_END}", MaxWords=35, MinWords=15, '
                    'MaxFragments=2, FragmentDelimiter=" … "')
TITLE_HEADLINE_OPTIONS = f'StartSel="{MARK_START}", StopSel="{MARK_END}", HighlightAll=true'
PREFIX_SAFE = re.compile(r"^\w+$", re.UNICODE)

# Not part of the models' metadata: these tables exist only on PostgreSQL (migration 0003).
metadata = MetaData()
search_document = Table(
    "search_document", metadata,
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
    # PostgreSQL text cannot hold NUL; the markers must not occur in content.
    return (value or "").replace("\x00", " ").replace(MARK_START, " ").replace(MARK_END, " ")


def _indexable(value: str | None) -> str:
    """What to_tsvector and ts_headline read: the text HTML-escaped.

    PostgreSQL's parser treats "<script>" in plain text as a tag and skips it; escaped, it
    is the word "script" like any other, and ts_headline sees the very same words.
    """
    return str(escape(_clean(value)))


_CONFIG = literal_column(f"'{CONFIG}'::regconfig")


def _tsvector(title, body):
    return func.setweight(func.to_tsvector(_CONFIG, title), literal_column("'A'")).op("||")(
        func.setweight(func.to_tsvector(_CONFIG, body), literal_column("'B'"))
    )


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


def _row(document: SearchDocument) -> dict:
    published = document.published_at.astimezone(timezone.utc).replace(tzinfo=None)
    return dict(
        doc_id=document.doc_id,
        kind=document.kind,
        item_id=document.item_id,
        grp=document.group,
        product_sku=document.product_sku,
        category=document.category,
        published_at=published,
        tsv=_tsvector(literal(_indexable(document.title)), literal(_indexable(document.body))),
    )


def _add_terms(session, words: Iterable[str]) -> None:
    terms = sorted({w for w in words if len(w) <= 64})
    if terms:
        session.execute(
            text("INSERT INTO search_term (term) SELECT unnest(:terms) ON CONFLICT DO NOTHING")
            .bindparams(bindparam("terms", type_=ARRAY(String)))
            , {"terms": terms},
        )


def _websearch_text(query: ParsedQuery, clauses_filter) -> str:
    parts = []
    for group in query.groups:
        chosen = [c for c in group if clauses_filter(c)]
        if chosen:
            parts.append(" or ".join(c.display() for c in chosen))
    parts += ["-" + c.display() for c in query.excluded]
    return " ".join(parts)


def build_tsquery(query: ParsedQuery):
    """The tsquery for `query` (an SQL expression), or None when it cannot match anything."""
    required = []
    plain_groups = [g for g in query.groups if all(c.kind != "prefix" for c in g)]
    prefix_groups = [g for g in query.groups if any(c.kind == "prefix" for c in g)]
    plain = ParsedQuery(plain_groups, list(query.excluded))
    websearch = _websearch_text(plain, lambda c: True)
    if websearch:
        required.append(func.websearch_to_tsquery(_CONFIG, websearch))
    for group in prefix_groups:
        alternatives = []
        for clause in group:
            if clause.kind == "prefix":
                prefix = clause.words[0]
                if not PREFIX_SAFE.match(prefix):
                    continue
                alternatives.append(func.to_tsquery(literal_column("'simple'::regconfig"), prefix + ":*").op("||")(
                    func.to_tsquery(_CONFIG, prefix + ":*")))
            else:
                alternatives.append(func.websearch_to_tsquery(_CONFIG, clause.display()))
        if not alternatives:
            return None
        combined = alternatives[0]
        for other in alternatives[1:]:
            combined = combined.op("||")(other)
        required.append(combined)
    if not required:
        return None
    combined = required[0]
    for other in required[1:]:
        combined = combined.op("&&")(other)
    return combined


class PostgresBackend(SearchBackend):
    name = "postgres"

    def __init__(self, db):
        self.db = db

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
        yield _Writer(session)

    def rebuild(self, documents: Iterable[SearchDocument], session, timeout: float) -> int:
        # One transaction: searches see the old rows until the caller commits.
        self._lock(session, timeout)
        session.execute(delete(search_document))
        session.execute(delete(search_term))
        count = 0
        batch: list[dict] = []
        words: set[str] = set()

        def flush():
            if batch:
                session.execute(
                    insert(search_document).values(
                        doc_id=bindparam("doc_id"), kind=bindparam("kind"), item_id=bindparam("item_id"),
                        grp=bindparam("grp"), product_sku=bindparam("product_sku"),
                        category=bindparam("category"), published_at=bindparam("published_at"),
                        tsv=_tsvector(bindparam("title", type_=String), bindparam("body", type_=String)),
                    ),
                    batch,
                )
                batch.clear()

        for document in documents:
            row = _row(document)
            row.pop("tsv")
            row["title"], row["body"] = _indexable(document.title), _indexable(document.body)
            words.update(words_of(_clean(document.title) + " " + _clean(document.body)))
            batch.append(row)
            count += 1
            if len(batch) >= 500:
                flush()
        flush()
        _add_terms(session, words)
        return count

    def clear(self, session, timeout: float) -> None:
        self._lock(session, timeout)
        session.execute(delete(search_document))
        session.execute(delete(search_term))

    # --- reading ---------------------------------------------------------------

    def _where(self, request: SearchRequest, tsquery):
        conditions = [search_document.c.tsv.op("@@")(tsquery)]
        if request.kinds is not None:
            conditions.append(search_document.c.kind.in_(request.kinds or ["-"]))
        if request.product_sku:
            conditions.append(search_document.c.product_sku == request.product_sku)
        if request.category:
            conditions.append(search_document.c.category == request.category)
        return conditions

    def search(self, request: SearchRequest) -> SearchHits:
        tsquery = build_tsquery(request.query)
        if tsquery is None:
            return SearchHits(0, [])
        session = self.db.session
        # A time budget for this statement only (cancelled past it, as "ran out of time").
        session.execute(text(f"SET LOCAL statement_timeout = {max(1, int(request.time_budget * 1000))}"))
        try:
            hits = self._search(session, request, tsquery)
        except OperationalError as error:
            if "statement timeout" not in str(error):
                raise
            session.rollback()   # (which also ends the SET LOCAL)
            return SearchHits(0, [], exact=False)
        session.execute(text("RESET statement_timeout"))
        return hits

    def _search(self, session, request: SearchRequest, tsquery) -> SearchHits:
        query_cte = select(tsquery.label("q")).cte("q")
        conditions = self._where(request, query_cte.c.q)
        total = session.execute(
            select(func.count()).select_from(search_document).join(query_cte, literal(True)).where(*conditions)
        ).scalar_one()
        if not total:
            return SearchHits(0, [])
        rank = func.ts_rank(literal_column(f"'{RANK_WEIGHTS}'::real[]"),
                            search_document.c.tsv, query_cte.c.q, RANK_NORMALIZATION)
        statement = (
            select(search_document.c.doc_id, rank.label("rank"))
            .select_from(search_document).join(query_cte, literal(True))
            .where(*conditions)
        )
        if request.sort == "newest":
            statement = statement.order_by(search_document.c.published_at.desc(), search_document.c.doc_id)
        else:
            statement = statement.order_by(rank.desc(), search_document.c.published_at.desc(),
                                           search_document.c.doc_id)
        rows = session.execute(statement.offset(request.offset).limit(request.limit)).all()
        return SearchHits(total, [(doc_id, float(score or 0)) for doc_id, score in rows])

    def highlight(self, query: ParsedQuery, texts: list[str], *, whole: bool = False) -> list[Markup]:
        tsquery = build_tsquery(query)
        if tsquery is None or not texts:
            return [Markup("")] * len(texts)
        # ts_headline drops anything that looks like an HTML tag, so it gets the escaped text
        # (entities pass through untouched) and only our markers become markup.
        escaped = [_indexable(t) for t in texts]
        options = TITLE_HEADLINE_OPTIONS if whole else HEADLINE_OPTIONS
        rows = func.unnest(bindparam("texts", value=escaped, type_=ARRAY(String))).table_valued(
            "body", with_ordinality="ord").render_derived(name="t")
        statement = select(rows.c.ord, func.ts_headline(_CONFIG, rows.c.body, tsquery, options)).order_by(rows.c.ord)
        return [_marks_to_html(headline) for _, headline in self.db.session.execute(statement)]

    def has_term(self, word: str) -> bool:
        return self.db.session.execute(
            select(literal(1)).where(search_document.c.tsv.op("@@")(func.plainto_tsquery(_CONFIG, word))).limit(1)
        ).first() is not None

    def suggest(self, word: str, public_text: Callable[[str], str | None], limit: int = 3) -> list[str]:
        word = word.lower()
        if len(word) < 3 or not PREFIX_SAFE.match(word):
            return []
        maxdist = 1 if len(word) <= 4 else 2
        candidates = self.db.session.execute(
            select(search_term.c.term).where(
                func.left(search_term.c.term, 1) == word[0],
                func.char_length(search_term.c.term).between(len(word) - maxdist, len(word) + maxdist),
                search_term.c.term != word,
            )
        ).scalars().all()
        ranked = sorted(
            (d, term) for term in candidates if (d := edit_distance(term, word, maxdist + 1)) <= maxdist
        )
        found: list[str] = []
        for _, term in ranked[: limit * 4]:
            doc_ids = self.db.session.execute(
                select(search_document.c.doc_id)
                .where(search_document.c.tsv.op("@@")(func.plainto_tsquery(_CONFIG, term)))
                .limit(5)
            ).scalars().all()
            if any(public_text(doc_id) for doc_id in doc_ids):
                found.append(term)
            if len(found) >= limit:
                break
        return found

    def doc_ids(self) -> set[str]:
        return set(self.db.session.execute(select(search_document.c.doc_id)).scalars())

    def size_bytes(self) -> int:
        return int(self.db.session.execute(
            text("SELECT pg_total_relation_size('search_document') + pg_total_relation_size('search_term')")
        ).scalar_one())


def _marks_to_html(headline: str | None) -> Markup:
    """ts_headline output (escaped text plus our markers) as Markup; "" if nothing matched."""
    if not headline or MARK_START not in headline:
        return Markup("")
    if "<" in headline or ">" in headline:   # cannot happen with escaped input; never trust it blindly
        headline = str(escape(headline))
    return Markup(headline.replace(MARK_START, "<mark>").replace(MARK_END, "</mark>"))
