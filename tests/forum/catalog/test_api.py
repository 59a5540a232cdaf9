"""The public JSON API: shape, paging, errors, and only published reviews."""

from __future__ import annotations

import hashlib
import json

import pytest


def test_product_reviews_shape(client, product, member, publish):
    review = publish(member, product, 4, "Tïtle “quoted” <b>", "Body\r\nline 2 ✓\t")
    response = client.get(f"/api/products/{product.sku}/reviews")
    assert response.status_code == 200 and response.mimetype == "application/json"
    data = response.get_json()
    assert {
        "sku",
        "name",
        "average_rating",
        "review_count",
        "histogram",
        "reviews",
        "page",
        "per_page",
        "total",
        "pages",
    } <= set(data)
    assert (data["sku"], data["name"], data["average_rating"], data["review_count"]) == (
        product.sku,
        product.name,
        4.0,
        1,
    )
    assert data["histogram"] == {"1": 0, "2": 0, "3": 0, "4": 1, "5": 0}
    assert (data["page"], data["per_page"], data["total"], data["pages"]) == (1, 20, 1, 1)
    [item] = data["reviews"]
    assert {"id", "rating", "title", "body", "author", "published_at", "sha256"} <= set(item)
    assert (item["id"], item["rating"], item["author"]) == (review.id, 4, "Mia Member")
    assert (item["title"], item["body"]) == (review.title, review.body)
    assert item["published_at"].startswith(review.published_at.strftime("%Y-%m-%dT%H:%M"))
    # Anyone can recompute the fingerprint from the API output alone.
    payload = json.dumps([item["title"], item["body"]], ensure_ascii=False, separators=(",", ":"))
    assert hashlib.sha256(payload.encode("utf-8")).hexdigest() == item["sha256"] == review.fingerprint
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_single_review(client, product, member, publish):
    review = publish(member, product, 2, "Short", "Broke.")
    data = client.get(f"/api/reviews/{review.id}").get_json()
    assert (data["id"], data["rating"], data["title"], data["body"], data["sha256"]) == (
        review.id,
        2,
        "Short",
        "Broke.",
        review.fingerprint,
    )
    assert data["product"] == {"sku": product.sku, "name": product.name}


def test_empty_product(client, product):
    data = client.get(f"/api/products/{product.sku}/reviews").get_json()
    assert (data["average_rating"], data["review_count"], data["reviews"], data["total"]) == (None, 0, [], 0)
    assert data["histogram"] == {str(n): 0 for n in range(1, 6)}


def test_paging_and_sorting(client, product, make_user, publish):
    ratings = [1, 5, 3, 4, 2, 5, 1]
    reviews = [publish(make_user(), product, r, f"R{n}", "x") for n, r in enumerate(ratings)]
    newest_ids = [r.id for r in reversed(reviews)]
    page1 = client.get(f"/api/products/{product.sku}/reviews?per_page=3").get_json()
    page3 = client.get(f"/api/products/{product.sku}/reviews?per_page=3&page=3").get_json()
    assert [r["id"] for r in page1["reviews"]] == newest_ids[:3]
    assert [r["id"] for r in page3["reviews"]] == newest_ids[6:]
    assert (page1["total"], page1["pages"], page3["page"]) == (7, 3, 3)
    assert client.get(f"/api/products/{product.sku}/reviews?per_page=3&page=9").get_json()["reviews"] == []
    highest = client.get(f"/api/products/{product.sku}/reviews?sort=highest").get_json()
    assert [r["rating"] for r in highest["reviews"]] == sorted(ratings, reverse=True)
    lowest = client.get(f"/api/products/{product.sku}/reviews?sort=lowest").get_json()
    assert [r["rating"] for r in lowest["reviews"]] == sorted(ratings)
    assert client.get(f"/api/products/{product.sku}/reviews?per_page=100").status_code == 200


@pytest.mark.parametrize(
    "query",
    [
        "page=0",
        "page=-1",
        "page=abc",
        "page=",
        "page=1.5",
        "page=%201",
        "page=100001",
        "per_page=0",
        "per_page=101",
        "per_page=1e3",
        "per_page=99999999999999999999",
        "page=١",
        "sort=rating",
        "sort=",
    ],
)
def test_bad_paging_values_are_400_json(client, product, query):
    response = client.get(f"/api/products/{product.sku}/reviews?{query}")
    assert response.status_code == 400
    data = response.get_json()
    assert data["status"] == 400 and data["message"]
    assert ("page" in data["message"]) or ("sort" in data["message"])


@pytest.mark.parametrize(
    "url", ["/api/products/NOPE/reviews", "/api/reviews/12345", "/api/reviews/abc", "/api/nothing"]
)
def test_unknown_is_404_json(client, url):
    response = client.get(url)
    assert response.status_code == 404
    assert response.get_json()["status"] == 404


def test_api_is_read_only(client, product, member, publish):
    review = publish(member, product)
    for method in ("post", "put", "patch", "delete"):
        assert getattr(client, method)(f"/api/reviews/{review.id}").status_code == 405
        assert getattr(client, method)(f"/api/products/{product.sku}/reviews").status_code == 405


def test_non_ascii_is_the_same_string_whatever_the_escaping(client, product, member, publish):
    title, body = "Ça marche 👍 \u2028 \u200b", '中文 \U0001f600 \\u00e9 "quoted" \x7f'
    review = publish(member, product, 5, title, body)
    raw = client.get(f"/api/reviews/{review.id}").get_data()
    assert raw.isascii() or "👍".encode() in raw  # whichever escaping the server chose...
    data = json.loads(raw)
    assert (data["title"], data["body"]) == (title, body)  # ...the parsed strings are identical
    assert (
        data["sha256"]
        == hashlib.sha256(
            json.dumps([data["title"], data["body"]], ensure_ascii=False, separators=(",", ":")).encode(
                "utf-8"
            )
        ).hexdigest()
    )
