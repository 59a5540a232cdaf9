"""Product list, product page, review page: numbers, sorting, paging, JSON-LD, 404s."""

from __future__ import annotations

import json

import pytest

from forum.catalog import services as catalog
from forum.catalog.models import Product
from forum.extensions import db

from .conftest import element_text, scripts_in


def _jsonld(html: str) -> dict:
    blocks = [body for attrs, body in scripts_in(html) if attrs.get("type") == "application/ld+json"]
    assert len(blocks) == 1
    return json.loads(blocks[0])


def test_no_script_runs_on_catalog_pages(client, product, member, publish):
    review = publish(member, product, 5, "<script>alert(1)</script>", "<img src=x onerror=alert(2)>")
    for url in (
        "/products",
        f"/products/{product.sku}",
        f"/reviews/{review.id}",
        f"/reviews/{review.id}/verify",
    ):
        response = client.get(url)
        html = response.get_data(as_text=True)
        assert response.status_code == 200
        # Only data blocks: nothing executable, and the strict CSP stays in place.
        assert all(attrs.get("type") == "application/ld+json" for attrs, _ in scripts_in(html)), url
        assert "script-src 'self'" in response.headers["Content-Security-Policy"]
        assert "<img src=x" not in html and "<script>alert" not in html
        assert "style=" not in html


def test_products_list_shows_average_and_count_of_published_reviews(client, product, make_user, publish):
    other = Product(sku="HDMI-1", name="HDMI cable", description="")
    db.session.add(other)
    db.session.commit()
    publish(make_user(), product, 5)
    publish(make_user(), product, 2)
    catalog.submit_review(make_user(), product, 1, "Pending", "Not yet public.")
    html = client.get("/products").get_data(as_text=True)
    assert "USB-C cable, 2 m" in html and "HDMI cable" in html
    assert "<strong>3.5</strong> out of 5 from 2 reviews" in html
    assert "No reviews yet" in html


def test_products_list_is_paginated(client):
    db.session.add_all(Product(sku=f"P-{n:03}", name=f"Product {n:03}", description="") for n in range(30))
    db.session.commit()
    first = client.get("/products").get_data(as_text=True)
    second = client.get("/products?page=2").get_data(as_text=True)
    assert "Product 000" in first and "Product 023" in first and "Product 024" not in first
    assert "Product 024" in second and "Product 029" in second and "Product 000" not in second
    assert 'rel="next"' in first and 'rel="prev"' in second
    # A bad page number shows the first page rather than an error.
    assert client.get("/products?page=abc").status_code == 200
    assert client.get("/products?page=-3").status_code == 200
    assert "There are no products here on page 99" in client.get("/products?page=99").get_data(as_text=True)


def test_inactive_products_are_not_listed_and_404(client, product):
    product.active = False
    db.session.commit()
    assert "USB-C cable" not in client.get("/products").get_data(as_text=True)
    assert client.get(f"/products/{product.sku}").status_code == 404
    assert client.get(f"/api/products/{product.sku}/reviews").status_code == 404


@pytest.mark.parametrize(
    "url",
    [
        "/products/NO-SUCH-SKU",
        "/reviews/999",
        "/reviews/999/verify",
        "/reviews/999/verify/payload.json",
        "/reviews/abc",
    ],
)
def test_unknown_things_are_404(client, url):
    assert client.get(url).status_code == 404


def test_product_page_average_histogram_and_text(client, product, make_user, publish):
    for rating in (5, 5, 4, 1):
        publish(make_user(), product, rating)
    html = client.get(f"/products/{product.sku}").get_data(as_text=True)
    assert "<strong>3.8</strong> out of 5 from 4 reviews" in html
    # The histogram is readable as text, not only as bars.
    # Each row links to the reviews with that rating (?rating=N).
    for n in range(1, 6):
        assert f'<a href="/products/{product.sku}?rating={n}#reviews-heading">{n} star' in html
    assert '>5 stars<span class="visually-hidden">: show these reviews</span></a></th>' in html
    assert "2 reviews (50%)" in html
    assert "1 review (25%)" in html
    assert html.count("0 reviews (0%)") == 2
    assert element_text(html, f"review-{1}-title") == "Good cable"


def test_product_page_json_ld_matches_the_numbers(client, product, make_user, publish):
    reviews = [
        publish(make_user(), product, rating, f"Title {rating}", f"Body {rating}") for rating in (5, 4, 4, 2)
    ]
    html = client.get(f"/products/{product.sku}").get_data(as_text=True)
    data = _jsonld(html)
    assert data["@context"] == "https://schema.org" and data["@type"] == "Product"
    assert (data["name"], data["sku"]) == (product.name, product.sku)
    rating = data["aggregateRating"]
    assert rating["@type"] == "AggregateRating"
    assert (rating["ratingValue"], rating["reviewCount"], rating["bestRating"], rating["worstRating"]) == (
        3.75,
        4,
        5,
        1,
    )
    assert [r["reviewRating"]["ratingValue"] for r in data["review"]] == [2, 4, 4, 5]  # newest first
    assert {(r["name"], r["reviewBody"]) for r in data["review"]} == {(r.title, r.body) for r in reviews}
    assert all(r["@type"] == "Review" and r["author"]["name"] for r in data["review"])
    api = client.get(f"/api/products/{product.sku}/reviews").get_json()
    assert (api["average_rating"], api["review_count"]) == (rating["ratingValue"], rating["reviewCount"])


def test_product_without_reviews_has_no_aggregate_rating(client, product):
    data = _jsonld(client.get(f"/products/{product.sku}").get_data(as_text=True))
    assert "aggregateRating" not in data and "review" not in data


def test_review_page_json_ld(client, product, member, publish):
    review = publish(member, product, 3, "Title </script><script>x()</script>", "Body")
    html = client.get(f"/reviews/{review.id}").get_data(as_text=True)
    data = _jsonld(html)
    assert data["@type"] == "Review" and data["name"] == review.title
    assert data["itemReviewed"]["sku"] == product.sku
    assert "</script><script>" not in html


def test_reviews_sorted_and_paginated(client, product, make_user, publish):
    ratings = [3, 5, 1, 4, 2, 5, 1, 3, 4, 2, 5, 1]
    reviews = [
        publish(make_user(), product, rating, f"Review {n}", "Text") for n, rating in enumerate(ratings)
    ]

    def ids(url):
        html = client.get(url).get_data(as_text=True)
        return [r.id for r in reviews if f'id="review-{r.id}"' in html], html

    newest, html = ids(f"/products/{product.sku}")
    assert newest == sorted(r.id for r in reviews)[-10:]  # the 10 newest on page 1
    positions = [html.index(f'id="review-{i}"') for i in sorted(newest, reverse=True)]
    assert positions == sorted(positions)  # newest first
    page2, html2 = ids(f"/products/{product.sku}?page=2")
    assert page2 == [reviews[0].id, reviews[1].id]
    assert "sort=newest" in html2  # paging links keep the sort

    highest, html = ids(f"/products/{product.sku}?sort=highest&per_page=100")
    shown_ratings = sorted((html.index(f'id="review-{r.id}"'), r.rating) for r in reviews if r.id in highest)
    assert [rating for _, rating in shown_ratings] == sorted((r.rating for r in reviews), reverse=True)[:10]
    lowest, html = ids(f"/products/{product.sku}?sort=lowest")
    shown_ratings = sorted((html.index(f'id="review-{r.id}"'), r.rating) for r in reviews if r.id in lowest)
    assert [rating for _, rating in shown_ratings] == sorted(r.rating for r in reviews)[:10]
    assert '<option value="lowest" selected>' in html
    # Unknown sort falls back to newest; a far page is empty, not an error.
    assert client.get(f"/products/{product.sku}?sort=evil").status_code == 200
    assert client.get(f"/products/{product.sku}?page=50").status_code == 200


def test_review_page_shows_fingerprint_author_date_and_product(client, product, member, publish):
    review = publish(member, product, 4, "Solid", "Line one\n\nLine two")
    html = client.get(f"/reviews/{review.id}").get_data(as_text=True)
    assert "Published as submitted" in html
    assert f'<code class="fingerprint" id="fingerprint">{review.fingerprint}</code>' in html
    assert len(review.fingerprint) == 64
    assert "Mia Member" in html
    assert review.published_at.strftime("%Y") in html
    assert f'href="/products/{product.sku}"' in html
    assert f'href="/reviews/{review.id}/verify"' in html
    assert element_text(html, "review-body") == "Line one\n\nLine two"
    assert 'class="user-text review-body"' in html


def test_verify_page_explains_the_rule(client, product, member, publish):
    review = publish(member, product, 4, "Café ☕", 'He said "hi"\n')
    html = client.get(f"/reviews/{review.id}/verify").get_data(as_text=True)
    assert review.fingerprint in html
    assert "ensure_ascii=False" in html and 'separators=(",", ":")' in html
    assert "python3 -c" in html and "sha256sum" in html and "curl" in html
    assert element_text(html, "payload") == '["Café ☕","He said \\"hi\\"\\n"]'
    assert f"/api/reviews/{review.id}" in html


def test_links_in_reviews_are_clickable_and_marked(client, product, member, publish):
    review = publish(
        member, product, 4, "See http://title.example", "Manual at https://example.com/manual?a=1&b=2 here"
    )
    html = client.get(f"/products/{product.sku}").get_data(as_text=True)
    body = html[html.index(f'id="review-{review.id}-body"') :]
    body = body[: body.index("</div>")]
    assert '<a href="https://example.com/manual?a=1&amp;b=2" rel="nofollow ugc noopener">' in body
    # Titles stay plain text.
    title_html = html[html.index(f'id="review-{review.id}-title"') :]
    assert "<a " not in title_html[: title_html.index("</h3>")]


def test_html_in_review_is_shown_as_text(client, product, member, publish):
    review = publish(
        member,
        product,
        2,
        "<b>bold</b> & <i>co</i>",
        '<script>alert("x")</script>\n<a href="javascript:x">y</a>',
    )
    for url in (f"/products/{product.sku}", f"/reviews/{review.id}"):
        html = client.get(url).get_data(as_text=True)
        assert "&lt;b&gt;bold&lt;/b&gt; &amp; &lt;i&gt;co&lt;/i&gt;" in html
        assert "&lt;script&gt;alert(" in html
        assert '<a href="javascript' not in html


def test_naughty_addresses_and_query_values_never_500(client, product):
    from urllib.parse import quote

    from tests.conftest import naughty_strings

    for n, text in enumerate(naughty_strings("catalog addresses")):
        if "\x00" in text:
            continue
        quoted = quote(text, safe="")
        assert client.get(f"/products/{quoted}").status_code in (404, 308), text
        response = client.get(
            f"/api/products/{product.sku}/reviews", query_string={"page": text, "sort": text}
        )
        assert response.status_code in (200, 400), text
        if n % 5 == 0:  # a full page render: a sample is enough (the parsing is the same code)
            response = client.get(f"/products/{product.sku}", query_string={"page": text, "sort": text})
            assert response.status_code == 200, text
