"""Published as submitted: every naughty string, in the title and in the body.

Each string goes through the real path: HTTP form -> submit_review -> approval
by the moderation service -> product page, review page, verify page, JSON-LD
and JSON API. What comes out must be exactly what went in (HTML pages are
compared as a browser parses them, which turns CR LF into LF; the API and the
JSON-LD keep every byte). A refused string gets a 422 with a message, never a 500.
"""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import select

from forum.catalog.models import REVIEW_TITLE_MAX, Product, Review
from forum.extensions import db
from forum.fingerprint import content_fingerprint
from forum.models import User
from moderation import services as moderation
from tests.conftest import naughty_strings

from .conftest import as_browser_sees, element_text, scripts_in

REVIEWERS = 10  # one product page (10 reviews) shows one review by each reviewer


def _fingerprint_from_api(data: dict) -> str:
    payload = json.dumps([data["title"], data["body"]], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _cases() -> list[tuple[str, str, str]]:
    """(title, body, which string is under test) for every naughty string in each field."""
    cases = []
    for n, text in enumerate(naughty_strings("review form")):
        if len(text) <= REVIEW_TITLE_MAX:
            cases.append((text, text, text))  # both fields at once
        else:
            cases.append((f"Long string {n}", text, text))
    return cases


def test_every_naughty_string_is_published_exactly(app, client, make_user, moderator):
    reviewers = [make_user("member") for _ in range(REVIEWERS)]
    cases = _cases()
    products = [
        Product(sku=f"NAUGHTY-{n}", name=f"Test product {n}", description="")
        for n in range(len(cases) // REVIEWERS + 1)
    ]
    db.session.add_all(products)
    db.session.commit()
    skus = [p.sku for p in products]

    accepted: dict[tuple[int, int], tuple[str, str]] = {}  # (product id, author id) -> (title, body)
    refused = []
    for index, reviewer in enumerate(reviewers):
        client.post("/logout")
        client.post("/login", data={"email": reviewer.email, "password": "correct horse battery staple"})
        for case_no in range(index, len(cases), REVIEWERS):
            title, body, text = cases[case_no]
            product = products[case_no // REVIEWERS]
            response = client.post(
                f"/products/{product.sku}/reviews",
                data={"rating": str(1 + case_no % 5), "title": title, "body": body},
            )
            if response.status_code == 302:
                accepted[(product.id, reviewer.id)] = (title, body)
                continue
            assert response.status_code == 422, (text, response.status_code)
            page = response.get_data(as_text=True)
            refused.append(text)
            # Only blank text is refused here, and the refusal is explained beside both fields.
            assert not text.strip(), f"refused unexpectedly: {text!r}"
            assert "Write a title." in page and "Write a review." in page

    assert len(refused) <= 3, refused
    reviews = db.session.scalars(select(Review).order_by(Review.id)).all()
    assert len(reviews) == len(accepted)
    expected = {review.id: accepted[(review.product_id, review.author_id)] for review in reviews}
    moderator_id = moderator.id
    for review_id in expected:
        moderation.approve_submission("review", review_id, db.session.get(User, moderator_id))
        # A small identity map: each commit expires every object the session holds.
        db.session.expunge_all()

    for review_id, (title, body) in expected.items():
        stored = db.session.get(Review, review_id)
        db.session.expunge(stored)
        assert (stored.status, stored.title, stored.body) == ("published", title, body)
        assert stored.fingerprint == content_fingerprint(title, body)

        if review_id % 10 == 0:  # the per-product API below shows every review; this endpoint a sample
            api = client.get(f"/api/reviews/{review_id}").get_json()
            assert (api["title"], api["body"]) == (title, body), repr(body)
            assert api["sha256"] == stored.fingerprint == _fingerprint_from_api(api)

        page = client.get(f"/reviews/{review_id}").get_data(as_text=True)
        assert as_browser_sees(element_text(page, "review-title")) == as_browser_sees(title)
        assert as_browser_sees(element_text(page, "review-body")) == as_browser_sees(body)
        assert stored.fingerprint in page

    seen = set()
    for sku in skus:
        api = client.get(f"/api/products/{sku}/reviews?per_page=100").get_json()
        for item in api["reviews"]:
            seen.add(item["id"])
            assert (item["title"], item["body"]) == expected[item["id"]]
            assert _fingerprint_from_api(item) == item["sha256"] == content_fingerprint(*expected[item["id"]])
        page = client.get(f"/products/{sku}").get_data(as_text=True)
        jsonld = json.loads(
            next(body for attrs, body in scripts_in(page) if attrs.get("type") == "application/ld+json")
        )
        assert [(r["name"], r["reviewBody"]) for r in jsonld.get("review", [])] == [
            (i["title"], i["body"]) for i in api["reviews"]
        ]
        for item in api["reviews"]:
            assert as_browser_sees(element_text(page, f"review-{item['id']}-title")) == as_browser_sees(
                item["title"]
            )
            assert as_browser_sees(element_text(page, f"review-{item['id']}-body")) == as_browser_sees(
                item["body"]
            )
    assert seen == set(expected)


def test_verify_page_shows_the_hashed_payload_for_naughty_strings(app, client, member, publish):
    samples = [s for s in naughty_strings() if s.strip()][::25] + ["tab\there", "  spaces  ", "a\r\nb\rc\n"]
    products = [Product(sku=f"V-{n}", name=f"P {n}", description="") for n in range(len(samples))]
    db.session.add_all(products)
    db.session.commit()
    for product, text in zip(products, samples):
        review = publish(member, product, 3, text[:REVIEW_TITLE_MAX], text)
        page = client.get(f"/reviews/{review.id}/verify").get_data(as_text=True)
        payload = json.dumps([review.title, review.body], ensure_ascii=False, separators=(",", ":"))
        assert element_text(page, "payload") == payload
        raw = client.get(f"/reviews/{review.id}/verify/payload.json").data
        assert raw == payload.encode("utf-8")
        assert hashlib.sha256(raw).hexdigest() == review.fingerprint
