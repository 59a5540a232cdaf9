"""The query parser: web-search syntax, nothing else is an operator, sizes capped."""

from forum.search.analysis import stem, terms_of
from forum.search.query import MAX_CLAUSES, MAX_QUERY_CHARS, Clause, clean_text, parse


def test_words_phrases_exclusions_or_and_prefixes():
    query = parse('battery "fast charger" -noise cable OR wire batt*')
    assert query.groups == [
        [Clause("word", ("battery",))],
        [Clause("phrase", ("fast", "charger"))],
        [Clause("word", ("cable",)), Clause("word", ("wire",))],
        [Clause("prefix", ("batt",))],
    ]
    assert query.excluded == [Clause("word", ("noise",))]
    assert query.required == {1}  # a quoted phrase must match; words need not
    assert query.text() == 'battery "fast charger" cable OR wire batt* -noise'


def test_operators_only_in_capitals_hyphens_inside_words_are_text():
    query = parse("usb-c or wi-fi and not 4k-ready")
    assert query.groups == [
        [Clause("word", ("usb", "c"))],
        [Clause("word", ("wi", "fi"))],
        [Clause("word", ("4k", "ready"))],
    ]
    assert not query.excluded and not query.required
    query = parse("cable AND laptop NOT noise -hum OR")
    assert query.groups == [[Clause("word", ("cable",))], [Clause("word", ("laptop",))]]
    assert query.required == {0, 1}
    assert query.excluded == [Clause("word", ("noise",)), Clause("word", ("hum",))]
    assert parse(query.text()).required == {0, 1}


def test_stop_words_do_not_count_toward_the_cap():
    query = parse("the " * 60 + " ".join(f"w{n}x" for n in range(MAX_CLAUSES)))
    assert len(list(query.clauses())) == MAX_CLAUSES == 64 and not query.notices


def test_operators_of_other_syntaxes_are_plain_separators():
    for raw, words in [
        ("title:battery", ["title", "battery"]),
        ("(battery and cable) not noise", ["battery", "cable", "noise"]),
        ("batt?ry~2 cable^3", ["batt", "ry", "2", "cable", "3"]),
        ("{ab TO yz} [xy TO zz]", ["ab", "yz", "xy", "zz"]),
        ("<script>alert(1)</script>", ["script", "alert", "1", "script"]),
    ]:
        assert parse(raw).words() == words, raw


def test_unbalanced_quotes_and_lone_operators():
    assert parse('"fast charger').groups == [[Clause("phrase", ("fast", "charger"))]]
    assert parse('"').is_empty
    assert parse("OR").is_empty
    assert parse("- -- OR ( ) * ? ~ ^ : \\").is_empty
    assert parse("OR battery OR").groups == [[Clause("word", ("battery",))]]


def test_prefixes_need_three_characters_and_are_capped():
    assert parse("a*").is_empty  # one letter: nothing to search
    assert parse("ab*").groups == [[Clause("word", ("ab",))]]
    query = parse("aaa* bbb* ccc* ddd* eee*")
    assert sum(c.kind == "prefix" for c in query.clauses()) == 3
    assert parse("*").is_empty
    assert parse("*battery").groups == [[Clause("word", ("battery",))]]


def test_long_queries_are_cut_and_the_user_told():
    query = parse(" ".join(f"word{n}" for n in range(1000)))
    assert len(list(query.clauses())) == MAX_CLAUSES
    assert query.notices
    assert len(parse("x" * 10_000).text()) <= MAX_QUERY_CHARS


def test_control_characters_become_spaces():
    assert clean_text("bat\x00tery\x1b[31m\u200bcable\r\n") == "bat tery [31m cable"
    assert parse("bat\x00tery").words() == ["bat", "tery"]


def test_porter2_stems_not_old_porter():
    assert stem("running") == "run"
    assert stem("planned") == "plan"
    assert terms_of("The batteries are running") == ["batteri", "run"]


def test_accents_folded_and_cjk_bigrams():
    assert terms_of("Café Müller naïve") == terms_of("cafe muller naive") == ["cafe", "muller", "naiv"]
    assert terms_of("cafe\u0301") == ["cafe"]  # decomposed accent
    assert terms_of("数据线") == ["数据", "据线"]
    assert terms_of("usb数据线") == ["usb", "数据", "据线"]
