"""Searching published content: found, ranked, filtered, sorted, paged, suggested, escaped."""

from __future__ import annotations

import re

import pytest

from forum.catalog.models import Review
from forum.extensions import db
from forum.search.backend import SearchRequest
from forum.search.query import parse
from forum.search.registry import SearchDocument
from forum.timeutil import utcnow

from .conftest import indexed, result_ids


def test_published_review_is_found_with_kind_product_rating_author_and_date(publish, search_page, make_user):
    author = make_user(display_name="Rita Reviewer")
    review = publish(
        "Sturdy braided cable",
        "The connector clicks in firmly and it charges my laptop.",
        rating=5,
        author=author,
    )
    status, html = search_page("connector")
    assert status == 200
    assert result_ids(html) == [review.id]
    assert "1 result" in html
    assert "Review" in html and "USB-C cable, 2 m" in html and "Rita Reviewer" in html
    assert "Rated 5 out of 5" in html
    assert review.published_at.date().isoformat() in html
    assert "<mark>connector</mark>" in html


def test_stemming_finds_other_forms_of_a_word(publish, search_page):
    review = publish("Charging fast", "It charged my phone while I was running errands.")
    for q in ("charges", "charge", "run", "runs"):
        assert result_ids(search_page(q)[1]) == [review.id], q


def test_any_word_matches_all_words_first_phrases_and_exclusions(publish, search_page):
    both = publish("Cable and charger", "The braided cable works with the charger.")
    cable_only = publish("Plain cable", "A braided cable, nothing else.")
    assert set(result_ids(search_page("braided cable")[1])) == {both.id, cable_only.id}
    assert result_ids(search_page("cable charger")[1]) == [both.id, cable_only.id]
    assert result_ids(search_page('"cable works"')[1]) == [both.id]
    assert result_ids(search_page('"works cable"')[1]) == []
    assert result_ids(search_page("cable -charger")[1]) == [cable_only.id]
    assert set(result_ids(search_page("charger OR nothing")[1])) == {both.id, cable_only.id}
    assert set(result_ids(search_page("brai*")[1])) == {both.id, cable_only.id}


def test_title_counts_more_than_body(publish, search_page):
    in_body = publish("Good value", "The adapter is small and the adapter feels solid.")
    in_title = publish("Adapter review", "Small and solid, fits every socket I tried.")
    assert result_ids(search_page("adapter")[1]) == [in_title.id, in_body.id]


def test_snippets_and_titles_are_escaped(publish, search_page):
    review = publish(
        '<script>alert("title")</script> battery',
        'Before <script>alert("x")</script><img src=x onerror=alert(1)> the battery & "quotes".',
    )
    status, html = search_page("battery")
    assert status == 200 and result_ids(html) == [review.id]
    results = html.split('class="result-list"', 1)[1]
    assert "<script>alert" not in results and "<img" not in results
    # (Each backend chooses its own excerpt around the match.)
    assert (
        "&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt; the <mark>battery</mark> &amp; &#34;quotes"
        in results
    )
    assert "&lt;script&gt;alert(&#34;title&#34;)&lt;/script&gt; <mark>battery</mark>" in results
    # Searching for the markup itself is plain text too.
    status, html = search_page('<script>alert("x")</script>')
    assert status == 200 and result_ids(html) == [review.id]
    assert "<script>alert" not in html.split("<main", 1)[1]


def test_did_you_mean_when_nothing_is_found(publish, search_page):
    publish("Long battery life", "The battery lasts a week.")
    status, html = search_page("batery")
    assert status == 200 and "No results" in html
    assert re.search(r'Did you mean <a href="/search\?q=battery"><q class="user-text">battery</q></a>', html)
    status, html = search_page("batery lasts")  # "lasts" finds the review; the typo is still corrected
    assert result_ids(html) and 'Did you mean <a href="/search?q=battery+lasts">' in html
    status, html = search_page("qwzxv")
    assert "Did you mean" not in html and "Nothing published matches your search." in html


def test_no_suggestion_from_removed_content(publish, search_page, moderator, drain):
    from moderation import services as moderation

    review = publish("Zanzibar trip", "Took the zanzibar ferry with it.")
    moderation.transition(review, "remove", moderator, reason="personal_information")
    db.session.commit()
    drain()
    status, html = search_page("zanzibaar")
    assert status == 200 and "Did you mean" not in html


def test_filter_by_group_and_product(publish, search_page, product, other_product):
    cable = publish("Works great", "Quality product.", on=product)
    charger = publish("Works great", "Quality product.", on=other_product)
    assert set(result_ids(search_page("quality")[1])) == {cable.id, charger.id}
    assert result_ids(search_page("quality", product="CHG-65W")[1]) == [charger.id]
    assert set(result_ids(search_page("quality", group="reviews")[1])) == {cable.id, charger.id}
    status, html = search_page("quality", group="blog")
    assert status == 200 and result_ids(html) == []
    # The product filter is shown and can be removed; each result offers it.
    html = search_page("quality", product="CHG-65W")[1]
    assert 'href="/search?q=quality"' in html
    assert "product=CAB-USB-C-2M" in search_page("quality")[1]


def test_filter_by_forum_category_in_the_backend(app, backend):
    """Forum posts carry a category; the backend filters on it (reviews have none)."""
    from forum.search.indexing import get_backend

    documents = [
        SearchDocument(
            "review",
            900 + i,
            "Tent pegs",
            "Strong tent pegs.",
            "A",
            utcnow(),
            "/x",
            "reviews",
            category=category,
        )
        for i, category in enumerate(["camping", "camping", "hiking"])
    ]
    with get_backend().writing(db.session, 5) as writer:
        for document in documents:
            writer.index(document)
    db.session.commit()
    hits = backend.search(SearchRequest(parse("tent"), category="camping"))
    assert hits.total == 2 and {d for d, _ in hits.hits} == {"review:900", "review:901"}
    assert backend.search(SearchRequest(parse("tent"), category="hiking")).total == 1
    assert backend.search(SearchRequest(parse("tent"), kinds=["forum_post"])).total == 0


def test_sort_by_relevance_or_newest(publish, search_page):
    first = publish("Charger", "charger charger charger")
    second = publish("Okay", "It has a charger.")
    third = publish("Fine", "Fine charger.")
    assert result_ids(search_page("charger")[1])[0] == first.id
    assert result_ids(search_page("charger", sort="newest")[1]) == [third.id, second.id, first.id]


def test_pagination_with_total(publish, search_page):
    reviews = [publish(f"Review {n}", f"Solid plug number {n}.") for n in range(23)]
    status, html = search_page("plug", sort="newest")
    assert status == 200 and "23 results" in html and "Showing 1–10 of 23" in html
    page1 = result_ids(html)
    page3 = result_ids(search_page("plug", sort="newest", page=3)[1])
    assert len(page1) == 10 and len(page3) == 3
    assert page1 == [r.id for r in reversed(reviews)][:10]
    assert 'href="/search?q=plug&amp;sort=newest&amp;page=2" rel="next"' in html
    status, html = search_page("plug", page=99)
    assert status == 200 and "There are no more results." in html


def test_common_words_only_explains(search_page, publish):
    publish()
    status, html = search_page("the and of")
    assert status == 200 and "no words we can look for" in html
    status, html = search_page("")
    assert status == 200 and "results-heading" not in html


def test_results_rechecked_against_database(app, publish, search_page, moderator):
    """Even before the index catches up, a removed review is never shown."""
    from moderation import services as moderation

    app.config["TEST_WORKER_BEFORE_SEARCH"] = False
    kept = publish("Kept review", "Nice charger cable.")
    removed = publish("Removed review", "Nice charger cable too.")
    db.session.info.pop("search_outbox_committed", None)
    from forum.search.indexing import drain_all

    drain_all()
    moderation.transition(removed, "remove", moderator, reason="spam")
    db.session.commit()
    db.session.info.pop("search_outbox_committed", None)  # the index is not told yet
    assert f"review:{removed.id}" in indexed(app.extensions["search"])
    status, html = search_page("charger")
    assert result_ids(html) == [kept.id] and "1 result" in html


def test_search_page_is_rate_limited_per_address(app_config, publish):
    app_config.update(RATELIMIT_ENABLED=True, RATELIMIT_SEARCH="3 per minute")
    from forum import create_app

    app = create_app(app_config)
    client = app.test_client()
    codes = [client.get("/search?q=cable").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    other = client.get("/search?q=cable", environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert other.status_code == 200
    with app.app_context():
        db.engine.dispose()


def test_postgres_backend_needs_postgresql(app_config):
    from forum import create_app
    from forum.search.backend import BackendUnavailable

    if app_config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("this deployment is PostgreSQL")
    app_config["SEARCH_BACKEND"] = "postgres"
    with pytest.raises(BackendUnavailable, match="PostgreSQL"):
        create_app(app_config)


def test_erased_text_leaves_nothing_to_highlight(publish, moderator, drain, search_page):
    from moderation import services as moderation

    review = publish("Private name", "Call Jonathan Smithers on 0123.")
    moderation.transition(review, "remove", moderator, reason="personal_information")
    db.session.commit()
    drain()
    assert db.session.get(Review, review.id).body is None
    assert result_ids(search_page("smithers")[1]) == []


def test_phrases_of_common_words_after_a_rebuild(app, runner, publish, drain, backend, search_page):
    """Whoosh indexes adjacent pairs of the corpus's common words; phrases stay exact."""
    adjacent = [publish(f"Review {n}", "It works great with my laptop.") for n in range(3)]
    apart = [publish(f"Other {n}", "Great price, and it works with my laptop.") for n in range(3)]
    drain()
    assert runner.invoke(args=["search", "reindex"]).exit_code == 0
    if backend.name == "whoosh":
        with backend._index(backend._current_name()).searcher() as searcher:
            assert {"work", "great"} <= backend._common_terms(searcher.reader())
    assert set(result_ids(search_page('"works great"')[1])) == {r.id for r in adjacent}
    assert set(result_ids(search_page("works great")[1])) == {r.id for r in adjacent + apart}
    # Written after the rebuild: the same index keeps using the same common words.
    later = publish("Later", "Honestly it works great.")
    drain()
    assert set(result_ids(search_page('"works great"')[1])) == {r.id for r in adjacent + [later]}
    assert set(result_ids(search_page('"great works"')[1])) == set()


def test_totals_are_exact_with_filters_over_several_segments(app, backend):
    """Counts come from the filtered query, over a rebuilt segment and a drained one."""
    from sqlalchemy.orm import Session

    documents = [
        SearchDocument(
            "review" if n % 4 else "forum_post",
            n,
            f"Plug {n}",
            "plug " * (1 + n % 7),
            "A",
            utcnow(),
            "/",
            "reviews" if n % 4 else "forum",
            product_sku=f"SKU-{n % 5}",
        )
        for n in range(1, 1201)
    ]
    with Session(db.engine) as session:
        backend.rebuild(documents, session, 5)
        session.commit()
    with backend.writing(db.session, 5) as writer:
        writer.index(SearchDocument("forum_post", 5000, "Plug", "plug", "A", utcnow(), "/", "forum"))
    db.session.commit()
    for request, expected in [
        (SearchRequest(parse("plug")), 1201),
        (SearchRequest(parse("plug"), kinds=["forum_post"]), 301),
        (SearchRequest(parse("plug"), kinds=["forum_post"], sort="newest"), 301),
        (SearchRequest(parse("plug"), product_sku="SKU-3"), 240),
        (SearchRequest(parse("plug"), product_sku="SKU-3", kinds=["review"]), 180),
    ]:
        hits = backend.search(request)
        assert (hits.total, hits.exact) == (expected, True), request


def test_a_search_out_of_time_shows_what_it_found(app, publish, search_page, backend, monkeypatch):
    if backend.name != "whoosh":
        pytest.skip("whoosh: the collector's time limit is simulated")
    from whoosh.collectors import TimeLimitCollector

    from forum.search import whoosh_backend

    for n in range(3):
        publish(f"Plug {n}", "A wall plug.")

    class OutOfTime(TimeLimitCollector):
        def prepare(self, top_searcher, q, context):
            super().prepare(top_searcher, q, context)
            self.greedy, self.timedout = True, True  # keep one hit, then stop

    monkeypatch.setattr(whoosh_backend, "TimeLimitCollector", OutOfTime)
    # A phrase: ranked by Whoosh's matchers (words alone are ranked from the posting lists).
    status, html = search_page('"wall plug"')
    assert status == 200 and len(result_ids(html)) == 1
    assert "More than 1 result" in html and "only part of them were ranked" in html


def test_words_out_of_time_still_rank_all_words_first_by_the_rarest_word(
    app, publish, search_page, backend, monkeypatch
):
    """Words are counted exactly; past the budget only the rarest term is scored, and the
    documents with every word still come first."""
    if backend.name != "whoosh":
        pytest.skip("whoosh: its bulk ranking's time budget is simulated")
    from forum.search import postings

    plain = [publish(f"Plug {n}", "A plug for the wall.").id for n in range(3)]
    rare = publish("Plug", "A travel plug.").id
    both = publish("Travel adapter", "A wall plug, for travel.").id
    monkeypatch.setattr(postings.BulkPostings, "out_of_time", lambda self: True)
    status, html = search_page("plug wall travel")
    assert status == 200 and "5 results" in html and "More than" not in html
    assert "only part of them were ranked" not in html
    ids = result_ids(html)
    assert ids[0] == both and set(ids[1:]) == {rare, *plain}


def test_author_names_link_to_profiles_in_constant_queries(app, publish, search_page, make_user, client):
    from sqlalchemy import event

    from forum.accounts.services import delete_account
    from forum.search import indexing
    from tests.conftest import STRONG_PASSWORD

    rita, gone = make_user(display_name="Rita Reviewer"), make_user(display_name="Gina Gone")
    publish("Sturdy cable", "The connector clicks in.", author=rita)
    publish("Other cable", "This connector is loose.", author=gone)
    html = search_page("connector")[1]
    assert (
        f'<a href="/members/{rita.id}" class="member-link"><span class="user-text">Rita Reviewer</span></a>'
        in html
    )
    delete_account(gone, STRONG_PASSWORD)
    html = search_page("connector")[1]
    assert "Gina Gone" not in html and f"/members/{gone.id}" not in html  # her reviews went with her
    assert gone.email not in html and rita.email not in html  # nothing private

    def queries_for(q):
        indexing.drain_all()
        counter = [0]

        def before(*args):
            counter[0] += 1

        event.listen(db.engine, "before_cursor_execute", before)
        try:
            assert client.get("/search", query_string={"q": q}).status_code == 200
        finally:
            event.remove(db.engine, "before_cursor_execute", before)
        return counter[0]

    one = queries_for("sturdy")
    for n in range(4):
        publish(f"Sturdy cable {n}", "Sturdy and fine.", author=make_user(display_name=f"Author {n}"))
    assert queries_for("sturdy") == one


def _rebuild(backend, documents) -> None:
    from sqlalchemy.orm import Session

    with Session(db.engine) as session:
        backend.rebuild(documents, session, 5)
        session.commit()


def test_an_excluded_word_excludes_whatever_order_documents_were_indexed_in(app, backend):
    """The excluded word's first document comes before the first wanted one in the index.

    Whoosh's own AndNot then kept its first match (the parity test's "headphones -battery"
    divergence, which depended on the order of the rebuild)."""
    texts = [
        ("Battery pack", "The battery charges my phone three times."),
        ("Noise cancelling headphones", "Great noise cancelling, the battery lasts 30 hours."),
        ("Wired headphones", "No noise cancelling, just sound."),
    ]
    _rebuild(
        backend,
        [
            SearchDocument("review", n, t, b, "A", utcnow(), "/", "reviews")
            for n, (t, b) in enumerate(texts, 1)
        ],
    )
    for q, expected in [
        ("headphones -battery", {"review:3"}),
        ("headphones NOT battery", {"review:3"}),
        ("headphones noise -battery", {"review:3"}),  # several words: the all-words-first path
        ('"noise cancelling" -battery', {"review:3"}),
        ("battery -headphones", {"review:1"}),
        ("battery phone -pack -noise", set()),
    ]:
        hits = backend.search(SearchRequest(parse(q)))
        assert ({d for d, _ in hits.hits}, hits.total, hits.exact) == (expected, len(expected), True), q


WORDS = "cable charger laptop monitor battery screen sound plug adapter travel".split()


def _document(n: int, rng) -> SearchDocument:
    return SearchDocument(
        "review" if n % 3 else "forum_post",
        n,
        " ".join(rng.sample(WORDS, 2)),
        " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 40))),
        "A",
        utcnow(),
        "/",
        "reviews" if n % 3 else "forum",
        product_sku=f"SKU-{n % 4}",
        category=None if n % 3 else f"cat-{n % 2}",
    )


def _by_score(hits) -> list[tuple[float, str]]:
    """(score, doc id) by score, ties by id; a tie cut by the end of the page left out."""
    scored = [(-round(score, 6), doc_id) for doc_id, score in hits]
    last = scored[-1][0] if scored else None
    return sorted(entry for entry in scored if entry[0] != last or len(scored) < 10)


def test_several_words_rank_the_same_as_whoosh_scores_them_over_segments_with_deletions(
    app, backend, monkeypatch
):
    """Several-word queries read the posting lists in bulk and score the matches themselves:
    the same totals, pages and scores as Whoosh's own matchers give, over a rebuilt segment with
    deleted documents and a drained one, with exclusions, filters, prefixes and phrases."""
    if backend.name != "whoosh":
        pytest.skip("compares the Whoosh backend's two ways of ranking")
    import random

    from forum.search import whoosh_backend

    rng = random.Random(4)
    _rebuild(backend, [_document(n, rng) for n in range(1, 401)])
    with backend.writing(db.session, 5) as writer:
        for n in [*range(401, 451), *range(1, 400, 7)]:  # new documents; rebuilt ones replaced
            writer.index(_document(n, rng))
        writer.delete("review:2")
    db.session.commit()
    leaves = [leaf for leaf, _ in backend._searcher().reader().leaf_readers()]
    assert len(leaves) == 2 and leaves[0].has_deletions()  # what this test is about

    requests = [
        SearchRequest(parse(q), offset=offset, limit=10, **filters)
        for q in (
            "cable",
            "plug*",
            "cable AND charger",
            "cable charger",
            "how do i plug my laptop to a monitor with a cable",
            "battery screen sound -travel",
            "adapter NOT cable travel",
            "batt* sound",
            'cable "laptop monitor" screen',
            "cable AND charger screen",
        )
        for offset in (0, 20)
        for filters in ({}, {"kinds": ["forum_post"]}, {"product_sku": "SKU-1"}, {"category": "cat-0"})
    ]
    bulk = [backend.search(request) for request in requests]
    monkeypatch.setattr(whoosh_backend, "term_leaves", lambda q: None)  # Whoosh's matchers throughout
    monkeypatch.setattr(whoosh_backend.BulkPostings, "filter_docs", lambda self, q: None)
    matchers = [backend.search(request) for request in requests]
    assert sum(hits.total for hits in bulk) > 1000
    for request, mine, whoosh in zip(requests, bulk, matchers):
        assert (mine.total, mine.exact) == (whoosh.total, whoosh.exact) == (mine.total, True), request
        # (Whoosh's matchers add 1.0 to every score under a filter: a ConstantScoreQuery of 0.0
        # counts as 1.0. The same for every document, so the order is the same.)
        shift = round(whoosh.hits[0][1] - mine.hits[0][1]) if mine.hits else 0
        assert shift in ((0, 1) if request.kinds or request.product_sku or request.category else (0,))
        # Equal scores may come out in either order: the two sum a document's terms in a
        # different order, so a tie can differ in its last bit (title and body share one idf).
        assert _by_score(mine.hits) == _by_score([(d, s - shift) for d, s in whoosh.hits]), request
        expected = sorted((s - shift for _, s in whoosh.hits), reverse=True)
        assert sorted((s for _, s in mine.hits), reverse=True) == pytest.approx(
            expected, rel=1e-12, abs=1e-9
        ), request


def test_documents_with_every_word_come_first_over_several_segments(app, backend):
    """All-words documents first, across segments and pages, the rest after them, each once."""
    import random

    rng = random.Random(9)
    documents = [_document(n, rng) for n in range(1, 341)]
    _rebuild(backend, documents[:300])
    with backend.writing(db.session, 5) as writer:
        for document in documents[300:]:
            writer.index(document)
    db.session.commit()

    def words(d: SearchDocument) -> set[str]:
        return set(f"{d.title} {d.body}".split())

    wanted = {"cable", "charger", "travel"}
    matching = {d.doc_id: words(d) for d in documents if words(d) & wanted and "sound" not in words(d)}
    every = {doc_id for doc_id, found in matching.items() if wanted <= found}
    assert 10 < len(every) < len(matching) - 10
    seen: list[str] = []
    for offset in range(0, len(matching) + 10, 10):
        hits = backend.search(SearchRequest(parse("cable charger travel -sound"), offset=offset, limit=10))
        assert (hits.total, hits.exact) == (len(matching), True)
        seen += [d for d, _ in hits.hits]
    assert len(seen) == len(set(seen)) == len(matching)
    assert set(seen[: len(every)]) == every and set(seen) == set(matching)


RARER = "hinge bezel gasket ferrite dongle".split()  # each in a few documents
MIDDLE = "strap lid knob".split()  # each in a fifth of them


def _bm25_of_every_match(backend, request: SearchRequest) -> list[tuple[str, float]]:
    """The page as PostgreSQL ranked before ts_rank_cd and the bar: BM25 of every match, tf
    counted by unnesting each matching tsvector (the reference for the ranking)."""
    from sqlalchemy import text

    from forum.search.pg_backend import TsQueries
    from forum.search.ranking import ALL_WORDS_BONUS, BM25_B, BM25_K1, TITLE_WEIGHT

    queries = TsQueries(request.query)
    where, params = backend._where(request, queries.match)
    stats = backend._idf(db.session, queries.terms)
    bonus = "0"
    if queries.every:
        bonus = f"CASE WHEN d.tsv @@ CAST(:every AS tsquery) THEN {ALL_WORDS_BONUS} ELSE 0 END"
        params["every"] = queries.every
    params.update(
        terms=list(stats),
        idfs=[idf for _, idf in stats.values()],
        k1=BM25_K1,
        b=BM25_B,
        title_weight=TITLE_WEIGHT,
        mean_length=max(backend._collection(db.session)[1], 1.0),
        offset=request.offset,
        limit=request.limit,
    )
    rows = db.session.execute(
        text(f"""
        SELECT d.doc_id, coalesce((
            SELECT sum(q.idf * u.tf * (:k1 + 1)
                       / (u.tf + :k1 * (1 - :b + :b * length(d.tsv) / :mean_length)))
            FROM (SELECT lexeme,
                         :title_weight * coalesce(cardinality(array_positions(weights, 'A')), 0)
                         + coalesce(cardinality(array_positions(weights, 'B')), 0) AS tf
                  FROM unnest(d.tsv)) u
            JOIN unnest(CAST(:terms AS text[]), CAST(:idfs AS float8[])) AS q(term, idf)
              ON q.term = u.lexeme
        ), 0) + {bonus} AS score
        FROM search_document d WHERE {where}
        ORDER BY score DESC, d.published_at DESC, d.doc_id
        OFFSET :offset LIMIT :limit"""),
        params,
    ).all()
    return [(doc_id, float(score)) for doc_id, score in rows]


def _but_last_tie(hits) -> set[str]:
    last = hits[-1][1] if len(hits) == 10 else None
    return {doc_id for doc_id, score in hits if last is None or score != pytest.approx(last, rel=1e-6)}


def test_postgres_ranks_the_pages_bm25_of_every_match_gives(app, backend, monkeypatch):
    """PostgreSQL reads tf with ts_rank_cd and ranks the rarer words' documents first, then only
    the documents with enough common words to reach the page: the same pages and scores as
    BM25 computed over every match, with exclusions, filters, prefixes, phrases and offsets."""
    if backend.name != "postgres":
        pytest.skip("compares the PostgreSQL ranking with BM25 over every match")
    import random

    from forum.search import pg_backend

    rng = random.Random(6)
    documents = []
    for n in range(1, 301):
        document = _document(n, rng)
        rare = [w for w in RARER if rng.random() < 0.04] + [w for w in MIDDLE if rng.random() < 0.2]
        if rng.random() < 0.3:
            document.title += " " + " ".join(rare)
        else:
            document.body += " " + " ".join(rare)
        documents.append(document)
    _rebuild(backend, documents[:250])
    with backend.writing(db.session, 5) as writer:
        for document in documents[250:]:
            writer.index(document)
    db.session.commit()
    # Small enough for a first pass over the rarer words and a bar for the common ones here.
    monkeypatch.setattr(pg_backend, "FIRST_PASS_DOCUMENTS", 40)
    passes: list[str] = []
    top = pg_backend.Ranking._top

    def recording_top(self, where, limit, params=None):
        passes.append(where)
        return top(self, where, limit, params)

    monkeypatch.setattr(pg_backend.Ranking, "_top", recording_top)
    requests = [
        SearchRequest(parse(q), offset=offset, limit=10, **filters)
        for q in (
            "hinge",
            "hinge cable",
            "hinge strap lid knob cable",
            "bezel gasket strap knob",
            "ferrite dongle hinge lid strap knob -plug",
            "bezel gasket cable charger",
            "how do i fix the hinge bezel of my laptop monitor with a cable",
            "dongle ferrite cable charger screen -travel",
            "bezel NOT sound cable plug",
            "gasket batt* sound",
            'dongle "laptop monitor" screen travel',
            "hinge AND cable charger screen",
            "cable charger laptop monitor battery screen sound plug adapter travel hinge",
        )
        for offset in (0, 10, 40)
        for filters in ({}, {"kinds": ["forum_post"]}, {"product_sku": "SKU-1"}, {"category": "cat-0"})
    ]
    for request in requests:
        hits = backend.search(request)
        expected = _bm25_of_every_match(backend, request)
        assert (hits.total, hits.exact) == (backend.search(request).total, True)
        # The same scores in the same order (tf read by ts_rank_cd is a float4: 1e-7 apart),
        # the same documents but where a tie is cut by the end of the page.
        assert [s for _, s in hits.hits] == pytest.approx([s for _, s in expected], rel=1e-6), request
        assert _but_last_tie(hits.hits) == _but_last_tie(expected), request
    assert any("reaching" in where for where in passes)  # the bar left common-word documents out
    assert any("rare" in where and "reaching" not in where for where in passes)


def test_postgres_rebuild_leaves_planner_statistics_of_the_new_rows(app, backend):
    """A rebuild analyzes the table (and merges the GIN index's pending list) in its transaction:
    without statistics the planner guessed a tenth of the matches, and searches read the
    pending list of every rebuilt row until a vacuum came by."""
    if backend.name != "postgres":
        pytest.skip("PostgreSQL's planner statistics")
    import random

    from sqlalchemy import text

    rng = random.Random(2)
    _rebuild(backend, [_document(n, rng) for n in range(1, 121)])
    tuples = db.session.execute(
        text("SELECT reltuples FROM pg_class WHERE relname = 'search_document'")
    ).scalar_one()
    assert tuples == 120
