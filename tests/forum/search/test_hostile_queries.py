"""Any text in the search box gives a page (results or a helpful message), never an error."""

from __future__ import annotations

import pytest

from ...conftest import naughty_strings

SYNTAX_ATTACKS = [
    '"',
    '""',
    '"""',
    '"unbalanced phrase',
    'unbalanced" quote',
    "(",
    ")",
    "((((((((",
    "))))",
    "(a OR b",
    "*",
    "**",
    "*:*",
    "?",
    "a*",
    "*a",
    "b*tt*ry",
    "?attery",
    "batt?ry",
    "ba*y",
    "a" * 41 + "*",
    " ".join(["w*"] * 60),
    " ".join(f"x{n}*" for n in range(60)),
    "AND",
    "OR",
    "NOT",
    "AND OR NOT",
    "foo AND",
    "OR foo",
    "NOT foo",
    "foo NOT",
    "- -- ---",
    "-",
    "-foo",
    '-"a b"',
    "+foo",
    "!foo",
    "&&",
    "||",
    "a & b | !c",
    "a <-> b",
    ":*",
    "'a':*",
    "foo:* & bar",
    "title:",
    "title:foo",
    "body:*",
    "kind:review",
    "doc_id:review:1",
    "grp:reviews",
    "published:[0 TO 9]",
    "field:[a TO z]",
    "{a TO z}",
    'title:"x y"~5',
    "foo~",
    "foo~2",
    "foo^10",
    "foo^",
    "NEAR/3",
    "a NEAR b",
    "\\",
    "\\\\",
    '\\"',
    "%",
    "%%",
    "_",
    "'; DROP TABLE review; --",
    "' OR 1=1 --",
    "$(reboot)",
    "`id`",
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "&lt;b&gt;",
    "\ue000mark\ue001",
    "\x00",
    "a\x00b",
    "\x1b[31mred",
    "\u202etxet",
    "\ufeffbom",
    "😀 🔋",
    "🔋*",
    "ünïcödé*",
    "日本語 検索",
    "x" * 10_000,
    "word " * 2_000,
    '"' * 500,
    "(" * 500,
    "*" * 500,
    "a OR " * 500,
    "-a " * 500,
]


def _assert_fine(client, **params):
    response = client.get("/search", query_string=params)
    assert response.status_code == 200, params
    html = response.get_data(as_text=True)
    assert "Something went wrong" not in html
    return html


@pytest.fixture
def corpus(publish):
    publish("Battery pack", "A battery that lasts, with a braided cable and a charger.")
    publish("Running cable", "Planned purchase; running fine. Naïve café owners like it 😀.")


def test_syntax_attacks(client, corpus):
    for q in SYNTAX_ATTACKS:
        _assert_fine(client, q=q)


def test_every_naughty_string_as_query(client, corpus):
    for q in naughty_strings("search query"):
        _assert_fine(client, q=q)


def test_every_naughty_string_in_the_other_parameters(client, corpus):
    for value in naughty_strings("search parameters") + [
        "-1",
        "0",
        "99999999999999999999999",
        "1e9",
        "NaN",
        "",
    ]:
        _assert_fine(client, q="battery", page=value, sort=value, group=value, product=value, category=value)


def test_a_query_shows_what_was_searched_and_the_notice(client, corpus):
    html = _assert_fine(client, q=" ".join(f"battery{n}" for n in range(70)))
    assert "Only the first 64 words of your search were used." in html
    html = _assert_fine(client, q="x" * 5_000)
    assert "only its first 1000 characters were used" in html
