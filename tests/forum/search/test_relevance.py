"""Issue 11: questions as typed, best match first, operators only when meant, accents, CJK,
did you mean, and the same result sets on both backends (parity)."""

from __future__ import annotations

import json
import re

import pytest

from forum.extensions import db
from forum.search import services
from forum.search.backend import SearchRequest
from forum.search.query import MAX_CLAUSES, parse

from ...conftest import TEST_DATA, TEST_DATABASE_URL
from .conftest import result_ids


def search(q, **options):
    """The search service, after the worker applied what the test committed (as it would first)."""
    from forum.search import indexing

    db.session.info.pop("search_outbox_committed", None)
    indexing.drain_all(include_not_due=True)
    return services.search(q, **options)


PARITY = json.loads((TEST_DATA / "search" / "parity.json").read_text(encoding="utf-8"))


@pytest.fixture
def corpus(publish):
    """The parity corpus, published as reviews: {title: review}."""
    return {title: publish(title, body) for title, body in PARITY["documents"]}


def titles(page) -> list[str]:
    return [r.title for r in page.results]


def found(q: str, **options) -> set[str]:
    return set(titles(search(q, per_page=50, **options)))


def test_a_question_typed_as_people_type_it_finds_the_best_match_first(corpus):
    page = search("what is the best cable to connect my laptop to a 4k monitor at 60hz")
    assert page.total >= 5  # any meaningful word: most documents mention a cable, a laptop or a monitor
    assert page.results[0].title in {"HDMI 2.1 cable for a 4K monitor", "DisplayPort cable"}
    assert not page.notices


def test_documents_with_all_words_rank_first_then_most_words(publish, search_page):
    both = publish("Plain review", "The braided cable works with the charger.")
    cable_only = publish("Cable cable cable", "A braided cable, cable, cable and nothing else.")
    charger_only = publish("Charger", "Just a charger.")
    ids = result_ids(search_page("cable charger")[1])
    assert ids[0] == both.id and set(ids) == {both.id, cable_only.id, charger_only.id}
    ids = result_ids(search_page("braided cable charger")[1])
    assert ids[:2] == [both.id, cable_only.id]


def test_a_word_in_most_bodies_does_not_outweigh_a_rare_word_by_being_in_a_title(
    app, backend, publish, search_page
):
    """One idf per word for title and body, on both backends. Whoosh's stock BM25F gave the title
    its own idf: "flow", in most bodies but one title, ranked that title above the one document
    with the rare "wing" (on Cranfield this cost Whoosh 0.03 MAP; docs/search.md)."""
    for n in range(8):
        publish(f"Report {n}", f"The flow around body {n} was measured.")
    titled = publish("Flow", "Notes from the tunnel.")
    rare = publish("Measurements", "The wing was measured.")
    ids = result_ids(search_page("flow wing")[1])
    assert ids[0] == rare.id and titled.id in ids and len(ids) == 10
    if backend.name == "whoosh":
        import math

        searcher = backend._searcher()
        # Robertson's idf, as pg_backend and the bench anchor, n = the larger field frequency (8).
        assert searcher.idf("title", "flow") == searcher.idf("body", "flow")
        assert searcher.idf("body", "flow") == pytest.approx(math.log(1 + (10 - 8 + 0.5) / (8 + 0.5)))


def test_a_query_never_returns_nothing_when_some_word_occurs(corpus):
    assert found("zzzz nothing matches cable") >= {"Great USB-C cable", "DisplayPort cable"}
    assert found("zzzz qqqq") == set()


def test_stop_words_neither_count_nor_need_to_match(corpus):
    stop_words = "what is the " * 40
    page = search(stop_words + " wi-fi")
    assert titles(page) and set(titles(page)) <= {"Wi-Fi router", "Monitor arm"}
    assert not page.notices
    assert parse(stop_words).is_empty
    page = search("the and of")
    assert page.message and "no words we can look for" in page.message


def test_a_question_of_64_words_is_searched_whole(corpus):
    filler = " ".join(f"zq{n}x" for n in range(MAX_CLAUSES - 1))
    assert "Battery pack" in found(filler + " batteries")  # the 64th meaningful word counts
    page = search(filler + " zzlast batteries")  # the 65th does not, and the user is told
    assert "Battery pack" not in titles(page)
    assert any("first 64 words" in n for n in page.notices)


def test_lowercase_and_or_not_are_plain_words(corpus):
    assert parse("cable or charger and not this").text() == "cable charger"
    assert found("cable or charger") == found("cable charger")
    both = found("cable AND laptop")
    assert both and all(
        t in {"HDMI 2.1 cable for a 4K monitor", "Great USB-C cable", "DisplayPort cable", "数据线评测"}
        for t in both
    )
    assert found("cable OR charger") == found("cable charger")
    assert found("headphones NOT battery") == {
        "Noise cancelling headphones",
        "Headphones without noise cancelling",
    } - {t for t in found("battery")}


def test_hyphen_inside_a_word_is_text_minus_at_the_start_excludes(corpus):
    assert parse("usb-c").excluded == [] and parse("wi-fi 4k-ready").excluded == []
    assert "Great USB-C cable" in found("usb-c")
    assert found("wi-fi") == {"Wi-Fi router", "Monitor arm"}
    assert found("4k-ready") >= {"Travel adapter"}
    assert "Noise cancelling headphones" not in found("headphones -battery")
    assert found("headphones -battery") == set()  # both mention a battery
    assert found("noise cancelling -wired") == {"Noise cancelling headphones"}


def test_phrases_must_match_in_order(corpus):
    assert found('"noise cancelling"') == {
        "Noise cancelling headphones",
        "Headphones without noise cancelling",
    }
    assert found('"cancelling noise"') == set()


def test_accents_are_folded_and_shown_as_written(corpus):
    for q in ("cafe", "café", "CAFÉ", "cafe\u0301"):
        assert found(q) == {"Café review", "Cafe charger"}, q
    assert found("muller") == found("Müller") == {"Café review"}
    assert found("naive") == {"Café review"}
    page = search("cafe")
    marked = {str(r.title_html) for r in page.results}
    assert "<mark>Café</mark> review" in marked and "<mark>Cafe</mark> charger" in marked
    assert any("<mark>café</mark>" in str(r.snippet) for r in page.results)


def test_chinese_japanese_and_korean_words_inside_sentences(corpus):
    assert found("数据线") == {"数据线评测"}
    assert found("笔记本") == {"数据线评测"}
    assert found("東京") == {"東京で買ったケーブル"}
    assert found("ケーブル") == {"東京で買ったケーブル"}
    assert found("케이블") == {"한국어 리뷰"}
    assert found("노트북 충전") == {"한국어 리뷰"}
    assert found("据") == {"数据线评测"}  # one character
    page = search("笔记本")
    assert "<mark>笔记本</mark>" in str(page.results[0].snippet)


def test_did_you_mean_a_word_as_written_never_a_stem_never_a_known_word(publish, search_page):
    publish("Long battery life", "The battery lasts a week. Running fine at the café.")
    status, html = search_page("batery")
    assert status == 200 and "No results" in html
    assert re.search(r'Did you mean <a href="/search\?q=battery"><q class="user-text">battery</q></a>', html)
    # Something is found for "lasts", and the misspelled word is still corrected.
    page = search("batery lasts")
    assert page.results and page.suggestion == "battery lasts"
    # As written in the text, not the stem ("runn", "run"), accents kept.
    assert search("runnning").suggestion == "running"
    assert search("caffé").suggestion == "café"
    # Spelled right and found: no correction.
    for q in ("battery", "batteries", "cafe", "lasts running"):
        assert search(q).suggestion is None, q


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="needs PostgreSQL (TEST_DATABASE_URL) to run both backends")
@pytest.mark.parametrize("order", ["as listed", "reversed", "shuffled"])
def test_parity_both_backends_find_the_same_documents(app, corpus, tmp_path, order):
    """Indexed in several orders: which documents come first must not change what is found."""
    import random

    from forum.search.indexing import iter_published_documents
    from forum.search.pg_backend import PostgresBackend
    from forum.search.whoosh_backend import WhooshBackend

    documents = sorted(iter_published_documents(db.session), key=lambda d: d.doc_id)
    assert len(documents) == len(PARITY["documents"])
    if order == "reversed":
        documents.reverse()
    elif order == "shuffled":
        random.Random(20261201).shuffle(documents)
    whoosh = WhooshBackend(str(tmp_path / "parity-index"))
    whoosh.rebuild(documents, db.session, 5)
    postgres = PostgresBackend(db)
    postgres.rebuild(documents, db.session, 5)
    db.session.commit()
    compared = 0
    # (The exclusion queries used to diverge now and then: Whoosh's AndNot kept an excluded
    # first match when the rebuild happened to index a "battery" review first; see
    # whoosh_backend._AndNotMatcher and test_search.py's test of it.)
    for q in PARITY["queries"]:
        # A generous budget: on a loaded machine a partial (timed-out) answer is not a parity failure.
        request = SearchRequest(query=parse(q), limit=100, time_budget=30)
        if request.query.is_empty:
            continue
        w, p = whoosh.search(request), postgres.search(request)
        assert {d for d, _ in w.hits} == {d for d, _ in p.hits}, q
        assert w.total == p.total, q
        # Ranking may differ only among ties; the documents matching every word come first on both.
        compared += 1
    assert compared >= 25
    whoosh.close()


def test_postgres_out_of_time_for_bm25_still_shows_all_words_first(app, backend, corpus, monkeypatch):
    if backend.name != "postgres":
        pytest.skip("PostgreSQL ranking fallback")
    from sqlalchemy.exc import OperationalError

    real = db.session.execute

    def execute(statement, *args, **kwargs):
        if "ts_rank_cd(" in str(statement):  # a BM25 statement: as if past statement_timeout
            raise OperationalError(
                str(statement), {}, Exception("canceling statement due to statement timeout")
            )
        return real(statement, *args, **kwargs)

    monkeypatch.setattr(db.session, "execute", execute)
    page = search("laptop monitor")
    assert page.total >= 3 and len(page.results) == page.total
    assert page.results[0].title in {"HDMI 2.1 cable for a 4K monitor", "DisplayPort cable"}


def test_postgres_ranking_past_the_budget_still_shows_all_words_first(app, backend, corpus, monkeypatch):
    """Ranking takes several statements: they share what is left of the time budget, and
    past it the fallback ranks the page (the total stays exact)."""
    if backend.name != "postgres":
        pytest.skip("PostgreSQL ranking fallback")
    from forum.search import pg_backend

    top = pg_backend.Ranking._top

    def spent(self, *args, **kwargs):
        self.deadline = 0.0  # as if the count and the first statements had used it all
        return top(self, *args, **kwargs)

    monkeypatch.setattr(pg_backend.Ranking, "_top", spent)
    real = db.session.execute
    fallbacks = []

    def execute(statement, *args, **kwargs):
        if "ts_rank(" in str(statement):
            fallbacks.append(statement)
        return real(statement, *args, **kwargs)

    monkeypatch.setattr(db.session, "execute", execute)
    page = search("laptop monitor")
    assert len(fallbacks) == 1
    assert page.total >= 3 and len(page.results) == page.total and page.total_exact
    assert page.results[0].title in {"HDMI 2.1 cable for a 4K monitor", "DisplayPort cable"}


def test_pages_list_all_words_documents_first_then_the_rest_once(publish, make_user):
    both = {
        publish("Cable and charger", f"Cable number {n} with its charger.", author=make_user()).id
        for n in range(3)
    }
    cable = {publish("Cable", f"Just cable number {n}.", author=make_user()).id for n in range(9)}
    seen = []
    for page in (1, 2, 3):
        result = search("charger cable", per_page=5, page=page)
        assert result.total == 12
        seen += [int(r.doc_id.split(":")[1]) for r in result.results]
    assert len(seen) == 12 and set(seen[:3]) == both and set(seen[3:]) == cable
    assert search("charger cable -number", per_page=5).total == 0
    assert search("charger cable", group="blog").total == 0
