"""Promise 2: no suppression by sentiment. No reason mentions rating or opinion, and no
decision, queue position or outcome depends on the rating."""

from __future__ import annotations

import inspect
import re

from forum.catalog.models import Product, Review
from forum.extensions import db
from moderation import services, states
from moderation.forms import BulkForm, RejectForm

SENTIMENT_WORDS = re.compile(
    r"rating|star|negative|positive|sentiment|opinion|critic|complain|unfavou?rable|low|bad review|score",
    re.IGNORECASE,
)


def test_no_rejection_reason_mentions_rating_or_sentiment():
    for code, label in states.REJECTION_REASONS.items():
        assert not SENTIMENT_WORDS.search(code), code
        assert not SENTIMENT_WORDS.search(label), label
    for code, label in states.SYSTEM_REASONS.items():
        assert not SENTIMENT_WORDS.search(code + " " + label), code


def test_reject_forms_offer_exactly_the_content_reasons(app):
    with app.test_request_context():
        for form in (RejectForm(formdata=None), BulkForm(formdata=None)):
            offered = [choice.value for choice in form.reason.choices if choice.value]
            assert offered == list(states.REJECTION_REASONS)


def test_decision_code_never_reads_the_rating():
    for function in (
        services.transition,
        services.approve_submission,
        services.reject_submission,
        services.remove_submission,
        services.decide_many,
        services.queue_items,
        services.refusal_action,
        services._performer,
    ):
        source = inspect.getsource(function)
        assert "rating" not in source, function.__name__


def _pending(make_user, rating, n):
    product = Product(sku=f"R{rating}-{n}", name=f"Product {rating}-{n}", description="")
    db.session.add(product)
    db.session.commit()
    from forum.catalog import services as catalog

    return catalog.submit_review(
        make_user(), product, rating, f"{rating} stars", "Same words for every rating."
    )


def test_every_decision_works_the_same_for_every_rating(mod_client, make_user, moderator):
    """Property over the whole input space: every rating x every decision."""
    decisions = [("approve", None), *(("reject", code) for code in states.REJECTION_REASONS)]
    outcomes = {}
    n = 0
    for rating in range(1, 6):
        for action, reason in decisions:
            n += 1
            review = _pending(make_user, rating, n)
            prefix = f"review-{review.id}"
            data = {f"{prefix}-version": str(review.version)}
            if reason:
                data[f"{prefix}-reason"] = reason
            response = mod_client.post(f"/moderation/items/review/{review.id}/{action}", data=data)
            db.session.expire_all()
            stored = db.session.get(Review, review.id)
            outcomes.setdefault((action, reason), set()).add(
                (
                    response.status_code,
                    stored.status,
                    stored.decision_reason,
                    stored.title == f"{rating} stars",
                )
            )
    for (action, reason), seen in outcomes.items():
        assert len(seen) == 1, (action, reason, seen)  # identical for all five ratings
        ((status_code, status, stored_reason, text_kept),) = seen
        assert status_code == 303 and text_kept
        assert status == ("published" if action == "approve" else "rejected")
        assert stored_reason == reason


def test_queue_order_ignores_rating(mod_client, make_user):
    ratings = [5, 1, 3, 1, 5, 2, 4]
    reviews = [_pending(make_user, rating, i) for i, rating in enumerate(ratings)]
    order = [
        int(m)
        for m in re.findall(r'id="row-review-(\d+)"', mod_client.get("/moderation").get_data(as_text=True))
    ]
    assert order == [r.id for r in reviews]  # oldest first, whatever the stars


def test_one_star_reviews_are_published_like_five_star_ones(mod_client, make_user, moderator):
    low = _pending(make_user, 1, "low")
    high = _pending(make_user, 5, "high")
    result = services.decide_many(
        [("review", low.id, low.version), ("review", high.id, high.version)], "approve", moderator
    )
    assert len(result["done"]) == 2 and not result["conflicts"]
    db.session.expire_all()
    assert db.session.get(Review, low.id).status == db.session.get(Review, high.id).status == "published"
