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
    assert query.text() == 'battery "fast charger" cable OR wire batt* -noise'


def test_operators_of_other_syntaxes_are_plain_separators():
    for raw, words in [
        ("title:battery", ["title", "battery"]),
        ("(battery AND cable) NOT noise", ["battery", "and", "cable", "not", "noise"]),
        ("batt?ry~2 cable^3", ["batt", "ry", "2", "cable", "3"]),
        ("{a TO z} [x TO y]", ["a", "to", "z", "x", "to", "y"]),
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
    assert parse("a*").groups == [[Clause("word", ("a",))]]
    query = parse("aaa* bbb* ccc* ddd* eee*")
    assert sum(c.kind == "prefix" for c in query.clauses()) == 3
    assert parse("*").is_empty
    assert parse("*battery").groups == [[Clause("word", ("battery",))]]


def test_long_queries_are_cut_and_the_user_told():
    query = parse("word " * 1000)
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
