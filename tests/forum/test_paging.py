"""Ids in paths and page numbers in query strings: 404 or a clear 400, never 500."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from forum.paging import DB_INT_MAX, MAX_PAGE, parse_positive_int

ODD_NUMBERS = [
    "0",
    "-1",
    "²",
    "٣",
    "１",
    "",
    " 2",
    "1.5",
    "1e3",
    str(DB_INT_MAX + 1),
    "99999999999999999999999999",
    "0x10",
    "+3",
    "%00",
]


def test_parse_positive_int_accepts_only_plain_ascii_digits_in_range():
    assert parse_positive_int("1", 10) == 1 and parse_positive_int("10", 10) == 10
    for raw in ["0", "11", "-1", "²", "٣", "", None, " 1", "1 ", "1_0", "01a"]:
        assert parse_positive_int(raw, 10) is None, raw


@pytest.mark.parametrize("value", ODD_NUMBERS + [str(DB_INT_MAX)])
@pytest.mark.parametrize(
    "pattern",
    [
        "/reviews/{}",
        "/api/reviews/{}",
        "/forums/topics/{}",
        "/forums/posts/{}",
        "/blog/comments/{}",
        "/reviews/{}/verify/payload.json",
    ],
)
def test_odd_ids_in_paths_are_404(client, pattern, value):
    response = client.get(pattern.format(quote(value, safe="")))
    assert response.status_code == 404, (pattern, value, response.status_code)


@pytest.mark.parametrize("value", ODD_NUMBERS)
def test_odd_ids_on_moderator_pages_are_404(client, moderator, login_as, value):
    login_as(moderator)
    for pattern in ("/moderation/items/review/{}", "/moderation/removal-requests/{}"):
        assert client.get(pattern.format(quote(value, safe=""))).status_code == 404


LISTS = [
    "/products",
    "/forums",
    "/blog",
    "/search?q=kettle",
    "/moderation",
    "/moderation/removal-requests",
    "/moderation/flags",
    "/transparency",
]


@pytest.mark.parametrize("value", ODD_NUMBERS + [str(MAX_PAGE), str(MAX_PAGE + 1)])
def test_every_list_takes_any_page_value_without_error(client, moderator, login_as, value):
    login_as(moderator)
    for url in LISTS:
        joiner = "&" if "?" in url else "?"
        response = client.get(f"{url}{joiner}page={quote(value, safe='')}")
        assert response.status_code == 200, (url, value, response.status_code)
        response = client.get(f"{url}{joiner}page={quote(value, safe='')}&page=2")
        assert response.status_code == 200, (url, value, "repeated")


def test_the_api_refuses_a_repeated_page(client):
    from forum.catalog.models import Product
    from forum.extensions import db

    db.session.add(Product(sku="P-1", name="Pan", description=""))
    db.session.commit()
    response = client.get("/api/products/P-1/reviews?page=1&page=2")
    assert response.status_code == 400
    assert response.get_json()["message"] == "Give page only once."
    response = client.get("/api/products/P-1/reviews?page=%C2%B2")
    assert response.status_code == 400
    assert "page must be a whole number from 1 to" in response.get_json()["message"]
