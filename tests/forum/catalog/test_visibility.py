"""Only published reviews count: pending, rejected, withdrawn, superseded, hidden and removed ones
are absent from pages, averages, histograms, counts, JSON-LD and the API. Low ratings are published
like any other: nothing decides by rating."""

from __future__ import annotations

import inspect
import json

from forum.catalog import services as catalog
from forum.catalog.models import Review
from forum.extensions import db
from moderation import services as moderation
from moderation.states import REJECTION_REASONS

from .conftest import scripts_in


def _state_zoo(product, make_user, publish, moderator):
    """One review in every state; only the two published ones (ratings 1 and 3) are public."""
    published_low = publish(make_user(), product, 1, "Terrible", "Died after a week.")
    published_mid = publish(make_user(), product, 3, "Okay", "Does the job.")
    pending = catalog.submit_review(make_user(), product, 5, "PENDING-TEXT", "pending body")
    rejected = catalog.submit_review(make_user(), product, 5, "REJECTED-TEXT", "Buy cheap at spam.example")
    moderation.reject_submission("review", rejected.id, moderator, reason="spam")
    withdrawer = make_user()
    withdrawn = publish(withdrawer, product, 5, "WITHDRAWN-TEXT", "withdrawn body")
    catalog.withdraw_review(withdrawer, withdrawn.id)
    replacer = make_user()
    superseded = publish(replacer, product, 5, "SUPERSEDED-TEXT", "old body")
    replacement = catalog.submit_review(replacer, product, 2, "Replacement", "Got worse.")
    moderation.approve_submission("review", replacement.id, moderator)
    removed = publish(make_user(), product, 5, "REMOVED-TEXT", "removed body")
    moderation.transition(removed, "remove", None, system=True, reason="removal_request")
    db.session.commit()
    hidden = publish(make_user(), product, 5, "HIDDEN-TEXT", "hidden body")
    moderation.transition(hidden, "hide", None, system=True, reason="flagged")
    db.session.commit()
    return {
        "public": [published_low, published_mid, db.session.get(Review, replacement.id)],
        "hidden": [pending, rejected, withdrawn, superseded, removed, hidden],
    }


def test_only_published_reviews_anywhere(client, product, make_user, publish, moderator):
    zoo = _state_zoo(product, make_user, publish, moderator)
    db.session.expire_all()
    assert {r.status for r in zoo["hidden"]} == {
        "pending",
        "rejected",
        "withdrawn",
        "superseded",
        "removed",
        "hidden",
    }
    public_ids = {r.id for r in zoo["public"]}
    # 1 + 3 + 2 = 6 over 3 reviews
    summary = catalog.rating_summaries([product.id])[product.id]
    assert (summary.review_count, summary.average_rating) == (3, 2.0)
    assert summary.histogram == {"1": 1, "2": 1, "3": 1, "4": 0, "5": 0}

    api = client.get(f"/api/products/{product.sku}/reviews").get_json()
    assert {r["id"] for r in api["reviews"]} == public_ids
    assert (api["review_count"], api["average_rating"], api["histogram"], api["total"]) == (
        3,
        2.0,
        summary.histogram,
        3,
    )

    html = client.get(f"/products/{product.sku}").get_data(as_text=True)
    listing = client.get("/products").get_data(as_text=True)
    jsonld = json.loads(next(b for a, b in scripts_in(html) if a.get("type") == "application/ld+json"))
    assert jsonld["aggregateRating"]["reviewCount"] == 3 and jsonld["aggregateRating"]["ratingValue"] == 2.0
    assert {r["name"] for r in jsonld["review"]} == {r.title for r in zoo["public"]}
    assert (
        "<strong>2.0</strong> out of 5 from 3 reviews" in html
        and "<strong>2.0</strong> out of 5 from 3 reviews" in listing
    )
    for review in zoo["hidden"]:
        marker = f"{review.status.upper()}-TEXT"
        assert marker not in html, review.status
        assert client.get(f"/reviews/{review.id}").status_code == 404, review.status
        assert client.get(f"/reviews/{review.id}/verify").status_code == 404, review.status
        assert client.get(f"/api/reviews/{review.id}").status_code == 404, review.status
    for review in zoo["public"]:
        assert client.get(f"/reviews/{review.id}").status_code == 200


def test_removed_review_text_is_erased(client, product, member, publish):
    review = publish(member, product, 4, "Name and address", "Lives at 1 High Street")
    moderation.transition(review, "remove", None, system=True, reason="removal_request")
    db.session.commit()
    db.session.expire_all()
    stored = db.session.get(Review, review.id)
    assert (stored.status, stored.title, stored.body) == ("removed", None, None)
    assert client.get(f"/api/products/{product.sku}/reviews").get_json()["reviews"] == []


def test_low_ratings_are_published_like_any_other(client, product, make_user, publish):
    for rating in (1, 1, 1, 2):
        publish(make_user(), product, rating, "Bad", "Really bad.")
    api = client.get(f"/api/products/{product.sku}/reviews").get_json()
    assert (api["review_count"], api["average_rating"]) == (4, 1.25)


def test_no_rating_based_path_exists():
    """No reason mentions rating or sentiment, and the public read side filters on status only."""
    for code, label in REJECTION_REASONS.items():
        text = (code + " " + label).lower()
        assert not any(word in text for word in ("rating", "negative", "star", "sentiment", "low"))
    source = inspect.getsource(catalog.published_reviews_query) + inspect.getsource(catalog.rating_summaries)
    assert (
        "Review.status == PUBLISHED" in source
        and "Review.rating <" not in source
        and "Review.rating >" not in source
    )


def test_deleting_the_account_takes_its_reviews_down(client, product, member, publish):
    from forum.accounts import services as accounts
    from forum.accounts.services import export_account_data

    review = publish(member, product, 2, "Mine", "My words.")
    exported = export_account_data(member)["reviews"]
    assert [
        (r["id"], r["status"], r["title"], r["body"], r["sha256"], r["product_name"]) for r in exported
    ] == [(review.id, "published", "Mine", "My words.", review.fingerprint, product.name)]
    review_id = review.id
    accounts.delete_account(member, "correct horse battery staple")
    db.session.expire_all()
    stored = db.session.get(Review, review_id)
    assert (stored.status, stored.title, stored.body, stored.author_id) == ("removed", None, None, None)
    assert client.get(f"/reviews/{review_id}").status_code == 404
    assert client.get(f"/api/products/{product.sku}/reviews").get_json()["review_count"] == 0
