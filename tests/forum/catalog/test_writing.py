"""Writing, replacing and withdrawing reviews through the web pages."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from forum.catalog import services as catalog
from forum.catalog.models import REVIEW_BODY_MAX, REVIEW_TITLE_MAX, Review
from forum.extensions import db, limiter
from moderation import services as moderation
from moderation.models import ModerationLog
from tests.conftest import csrf_token_from

from .conftest import element_text


def _reviews():
    db.session.expire_all()
    return db.session.scalars(select(Review).order_by(Review.id)).all()


def test_anonymous_sees_log_in_link_and_cannot_post(client, product):
    html = client.get(f"/products/{product.sku}").get_data(as_text=True)
    assert f'href="/login?next=/products/{product.sku}">Log in to write a review</a>' in html
    assert 'name="title"' not in html
    response = client.post(
        f"/products/{product.sku}/reviews", data={"rating": "5", "title": "x", "body": "y"}
    )
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert _reviews() == []


def test_form_has_labelled_rating_radios_and_limits(client, product, member, login_as):
    login_as(member)
    html = client.get(f"/products/{product.sku}").get_data(as_text=True)
    assert "<legend>Your rating</legend>" in html
    for n in range(1, 6):
        assert f'id="rating-{n}" name="rating" type="radio" value="{n}"' in html
        assert f'<label for="rating-{n}">{n} star' in html
    assert '<label for="title">Title</label>' in html and '<label for="body">Your review</label>' in html
    assert (
        f"Up to {REVIEW_TITLE_MAX:,} characters" in html and f"up to {REVIEW_BODY_MAX:,} characters" in html
    )


def test_submit_stores_exactly_and_is_pending(client, product, member, login_as, moderator):
    login_as(member)
    title = "  Spaces kept\t "
    body = "\r\n  First paragraph.\r\n\r\nSecond\tparagraph with <b>HTML</b> & ünïcödé 🎧  \r\n"
    response = client.post(
        f"/products/{product.sku}/reviews", data={"rating": "4", "title": title, "body": body}
    )
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "awaiting moderation" in page
    [review] = _reviews()
    assert (review.status, review.rating, review.title, review.body) == ("pending", 4, title, body)
    # Invisible to the public until approved.
    assert f'id="review-{review.id}"' not in client.get(f"/products/{product.sku}").get_data(as_text=True)
    assert client.get(f"/reviews/{review.id}").status_code == 404
    assert client.get(f"/api/reviews/{review.id}").status_code == 404
    assert client.get(f"/api/products/{product.sku}/reviews").get_json()["reviews"] == []

    moderation.approve_submission("review", review.id, moderator)
    api = client.get(f"/api/reviews/{review.id}").get_json()
    assert (api["title"], api["body"]) == (title, body)
    html = client.get(f"/reviews/{review.id}").get_data(as_text=True)
    assert element_text(html, "review-title") == title
    assert element_text(html, "review-body") == body.replace("\r\n", "\n")


@pytest.mark.parametrize(
    "data, field, message",
    [
        ({"rating": "", "title": "T", "body": "B"}, "rating", "Choose a rating from 1 to 5 stars."),
        ({"rating": "6", "title": "T", "body": "B"}, "rating", "Choose a rating from 1 to 5 stars."),
        ({"rating": "abc", "title": "T", "body": "B"}, "rating", "Choose a rating from 1 to 5 stars."),
        ({"title": "T", "body": "B"}, "rating", "Choose a rating from 1 to 5 stars."),
        ({"rating": "3", "title": "", "body": "B"}, "title", "Write a title."),
        ({"rating": "3", "title": " \t\r\n ", "body": "B"}, "title", "Write a title."),
        ({"rating": "3", "body": "B"}, "title", "Write a title."),
        ({"rating": "3", "title": "T", "body": ""}, "body", "Write a review."),
        (
            {"rating": "3", "title": "T" * (REVIEW_TITLE_MAX + 1), "body": "B"},
            "title",
            f"The title is {REVIEW_TITLE_MAX + 1} characters long; the limit is {REVIEW_TITLE_MAX}.",
        ),
        (
            {"rating": "3", "title": "T", "body": "é" * (REVIEW_BODY_MAX + 1)},
            "body",
            f"The review is {REVIEW_BODY_MAX + 1} characters long; the limit is {REVIEW_BODY_MAX}.",
        ),
        (
            {"rating": "3", "title": "T", "body": "x" * 100_000},
            "body",
            f"The review is 100000 characters long; the limit is {REVIEW_BODY_MAX}.",
        ),
        ({"rating": "3", "title": "NUL\x00", "body": "B"}, "title", "NUL character"),
        ({"rating": "3", "title": "T", "body": "a\x00b"}, "body", "NUL character"),
    ],
)
def test_bad_input_gets_422_with_message_beside_the_field(
    client, product, member, login_as, data, field, message
):
    login_as(member)
    response = client.post(f"/products/{product.sku}/reviews", data=data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    errors = element_text(html, f"{field}-error")
    assert message in errors
    assert 'id="write-review"' in html  # the page with the form, not a bare error page
    assert _reviews() == []
    if data.get("title") and "\x00" not in data["title"] and len(data["title"]) < 200:
        assert f'value="{data["title"]}"' in html  # what was typed is kept for correcting


def test_one_pending_review_per_customer_and_product(client, product, member, login_as):
    login_as(member)
    assert (
        client.post(
            f"/products/{product.sku}/reviews", data={"rating": "3", "title": "A", "body": "a"}
        ).status_code
        == 302
    )
    html = client.get(f"/products/{product.sku}").get_data(as_text=True)
    assert 'id="own-pending"' in html and "awaiting moderation" in html
    assert 'name="title"' not in html
    response = client.post(
        f"/products/{product.sku}/reviews", data={"rating": "4", "title": "B", "body": "b"}
    )
    assert response.status_code == 422
    assert "already have a review of this product awaiting moderation" in response.get_data(as_text=True)
    assert [r.title for r in _reviews()] == ["A"]


def test_replacement_keeps_old_published_until_approved(
    client, product, member, login_as, publish, moderator
):
    old = publish(member, product, 2, "First try", "Flimsy.")
    login_as(member)
    html = client.get(f"/products/{product.sku}").get_data(as_text=True)
    assert (
        'id="own-published"' in html and "replaces your current review once a moderator approves it" in html
    )
    response = client.post(
        f"/products/{product.sku}/reviews", data={"rating": "4", "title": "Update", "body": "Better now."}
    )
    assert response.status_code == 302
    new = _reviews()[-1]
    assert new.replaces_id == old.id and new.status == "pending"
    api = client.get(f"/api/products/{product.sku}/reviews").get_json()
    assert [r["id"] for r in api["reviews"]] == [old.id] and api["average_rating"] == 2.0

    moderation.approve_submission("review", new.id, moderator)
    api = client.get(f"/api/products/{product.sku}/reviews").get_json()
    assert [r["id"] for r in api["reviews"]] == [new.id] and (api["average_rating"], api["review_count"]) == (
        4.0,
        1,
    )
    assert client.get(f"/reviews/{old.id}").status_code == 404
    assert db.session.get(Review, old.id).status == "superseded"


def test_rejected_replacement_leaves_old_review_published(client, product, member, publish, moderator):
    old = publish(member, product, 5, "Love it", "Great.")
    new = catalog.submit_review(member, product, 1, "Spam", "Buy at spam.example")
    moderation.reject_submission("review", new.id, moderator, reason="spam")
    api = client.get(f"/api/products/{product.sku}/reviews").get_json()
    assert [r["id"] for r in api["reviews"]] == [old.id]


def test_withdraw_from_my_account(client, product, member, login_as, publish, app_config):
    published = publish(member, product, 3, "Okay", "Fine.")
    other_product = type(product)(sku="OTHER", name="Other", description="")
    db.session.add(other_product)
    db.session.commit()
    pending = catalog.submit_review(member, other_product, 1, "Broke", "Broke in a day.")
    login_as(member)
    html = client.get("/account").get_data(as_text=True)
    section = element_text(html, f"my-review-{pending.id}")
    assert "Awaiting moderation" in section and "Broke" in section
    assert "Published" in element_text(html, f"my-review-{published.id}")
    assert f'href="/reviews/{published.id}"' in html
    assert html.count('action="/reviews/') == 2  # a Withdraw button for each live review

    response = client.post(f"/reviews/{pending.id}/withdraw")
    assert response.status_code == 302 and response.headers["Location"].endswith("/account")
    response = client.post(f"/reviews/{published.id}/withdraw")
    db.session.expire_all()
    assert db.session.get(Review, published.id).status == "withdrawn"
    assert db.session.get(Review, pending.id).status == "withdrawn"
    html = client.get("/account").get_data(as_text=True)
    assert "Withdrawn by you" in html and 'action="/reviews/' not in html
    assert client.get(f"/reviews/{published.id}").status_code == 404
    assert client.get(f"/api/products/{product.sku}/reviews").get_json()["review_count"] == 0
    # Withdrawing twice is explained, not an error page.
    response = client.post(f"/reviews/{published.id}/withdraw", follow_redirects=True)
    assert response.status_code == 200 and "already decided" in response.get_data(as_text=True)
    assert [
        r.action for r in ModerationLog.query.filter_by(subject_id=published.id).order_by(ModerationLog.seq)
    ] == ["submitted", "approve", "withdraw"]


def test_my_account_shows_rejection_reason(client, product, member, login_as, moderator):
    review = catalog.submit_review(member, product, 1, "Call me", "Ring 0123 456789")
    moderation.reject_submission(
        "review", review.id, moderator, reason="personal_information", note="Phone number"
    )
    login_as(member)
    section = element_text(client.get("/account").get_data(as_text=True), f"my-review-{review.id}")
    assert (
        "Not published" in section
        and "Contains personal information" in section
        and "Phone number" in section
    )


def test_only_the_author_can_withdraw(client, product, member, make_user, login_as, publish):
    review = publish(member, product)
    login_as(make_user())
    assert client.post(f"/reviews/{review.id}/withdraw").status_code == 404
    assert client.post("/reviews/9999/withdraw").status_code == 404
    assert db.session.get(Review, review.id).status == "published"


def test_author_can_withdraw_from_the_review_page(client, product, member, login_as, publish):
    review = publish(member, product)
    assert "Withdraw my review" not in client.get(f"/reviews/{review.id}").get_data(as_text=True)
    login_as(member)
    html = client.get(f"/reviews/{review.id}").get_data(as_text=True)
    assert "Withdraw my review" in html
    response = client.post(f"/reviews/{review.id}/withdraw", data={"next": f"/products/{product.sku}"})
    assert response.headers["Location"].endswith(f"/products/{product.sku}")
    # An outside address in `next` is ignored.
    review2 = catalog.submit_review(member, product, 2, "Again", "Again.")
    response = client.post(f"/reviews/{review2.id}/withdraw", data={"next": "https://evil.example/"})
    assert response.headers["Location"].endswith("/account")


@pytest.fixture
def csrf_on(app_config):
    app_config["WTF_CSRF_ENABLED"] = True


@pytest.fixture
def rate_limited(app_config):
    app_config.update(RATELIMIT_ENABLED=True, RATELIMIT_POSTING="3 per hour")


def test_csrf_is_required_on_review_forms(csrf_on, client, product, member, publish):
    review = publish(member, product)
    login_as_csrf = client.get("/login").get_data(as_text=True)
    client.post(
        "/login",
        data={
            "email": member.email,
            "password": "correct horse battery staple",
            "csrf_token": csrf_token_from(login_as_csrf),
        },
    )
    assert (
        client.post(
            f"/products/{product.sku}/reviews", data={"rating": "5", "title": "T", "body": "B"}
        ).status_code
        == 400
    )
    assert client.post(f"/reviews/{review.id}/withdraw").status_code == 400
    assert db.session.get(Review, review.id).status == "published"
    html = client.get(f"/products/{product.sku}").get_data(as_text=True)
    response = client.post(
        f"/products/{product.sku}/reviews",
        data={"rating": "5", "title": "T", "body": "B", "csrf_token": csrf_token_from(html)},
    )
    assert response.status_code == 302


def test_posting_is_rate_limited_per_user(rate_limited, client, product, member, make_user, login_as):
    limiter.reset()
    login_as(member)
    statuses = [
        client.post(
            f"/products/{product.sku}/reviews", data={"rating": "", "title": "", "body": ""}
        ).status_code
        for _ in range(4)
    ]
    assert statuses == [422, 422, 422, 429]
    # Another account from the same address has its own allowance.
    client.post("/logout")
    login_as(make_user())
    assert (
        client.post(
            f"/products/{product.sku}/reviews", data={"rating": "5", "title": "T", "body": "B"}
        ).status_code
        == 302
    )
    limiter.reset()


def test_oversized_request_is_refused_with_a_clear_message(client, product, member, login_as):
    login_as(member)
    response = client.post(
        f"/products/{product.sku}/reviews", data={"rating": "3", "title": "T", "body": "🎧" * 50_000}
    )
    assert response.status_code == 413
    assert "larger than we accept" in response.get_data(as_text=True)
    assert _reviews() == []


def test_get_on_the_form_address_goes_to_the_product_page(client, product, member, login_as):
    login_as(member)
    response = client.get(f"/products/{product.sku}/reviews")
    assert response.status_code == 302 and response.headers["Location"].endswith(
        f"/products/{product.sku}#write-review"
    )


def test_no_edit_route_exists(app):
    """Reviews are never edited: the only non-GET routes that touch a review are submitting and
    withdrawing; the others write beside it (votes, the company's reply, invitations, orders)."""
    allowed_posts = {
        "catalog.submit_review",
        "catalog.withdraw_review",
        "catalog.helpful",
        "catalog.helpful_undo",
        "catalog.reply",
        "catalog.invitation_opt_out",
        "api.receive_order",
    }
    checked = 0
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(("/reviews", "/products", "/api")):
            continue
        checked += 1
        methods = set(rule.methods) - {"HEAD", "OPTIONS"}
        assert not {"PUT", "PATCH", "DELETE"} & methods, rule
        assert "edit" not in rule.rule and "edit" not in rule.endpoint, rule
        if methods != {"GET"}:
            assert rule.endpoint in allowed_posts and methods <= {"GET", "POST"}, rule
    assert checked >= 7


def test_failed_form_keeps_what_was_typed(client, product, member, login_as):
    login_as(member)
    body = '\r\n  Kept "exactly" <b>as typed</b>\t'
    response = client.post(
        f"/products/{product.sku}/reviews", data={"rating": "4", "title": "", "body": body}
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'checked id="rating-4"' in html
    # The textarea's first newline is eaten by HTML parsers, so the widget adds one: the text round-trips.
    assert element_text(html, "body") == "\r\n" + body


def test_suspended_member_cannot_review_and_is_told_why(client, app, product, member, moderator, login_as):
    from datetime import timedelta

    from forum.accounts import suspensions
    from forum.catalog.models import Review
    from forum.timeutil import utcnow

    suspensions.suspend_member(moderator, member.id, "Repeated spam", utcnow().date() + timedelta(days=3))
    login_as(member)
    response = client.post(
        f"/products/{product.sku}/reviews", data={"rating": "4", "title": "Hi", "body": "Buy my stuff"}
    )
    assert response.status_code == 403
    assert "Repeated spam" in response.get_data(as_text=True)
    assert Review.query.count() == 0
