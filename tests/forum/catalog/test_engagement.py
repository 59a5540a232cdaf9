"""Helpful votes, star filters and sorts, company replies and the Flag link."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from forum.catalog import engagement
from forum.catalog.models import Review
from forum.catalog.trust_models import CompanyReply, CompanyReplyRevision, HelpfulVote, ReviewFacts
from forum.extensions import db
from forum.fingerprint import content_fingerprint
from moderation import services as moderation
from moderation.audit import verify_chain
from moderation.models import ModerationLog
from tests.conftest import csrf_token_from


def _count(review_id):
    return db.session.get(ReviewFacts, review_id).helpful_count


# --- helpful votes -------------------------------------------------------------------------------


def test_a_member_marks_a_review_helpful_once_and_can_take_it_back(
    client, product, make_user, login_as, publish
):
    author, voter = make_user(), make_user()
    review = publish(author, product)
    login_as(voter)
    assert client.post(f"/reviews/{review.id}/helpful").status_code == 302
    assert client.post(f"/reviews/{review.id}/helpful").status_code == 302  # again: nothing changes
    db.session.expire_all()
    assert _count(review.id) == 1
    assert len(db.session.scalars(select(HelpfulVote)).all()) == 1
    html = client.get(f"/products/{product.sku}").get_data(as_text=True)
    assert "1 person found this helpful" in html and "Undo “Helpful”" in html
    assert client.get(f"/api/reviews/{review.id}").get_json()["helpful_count"] == 1
    assert client.post(f"/reviews/{review.id}/helpful/undo").status_code == 302
    assert client.post(f"/reviews/{review.id}/helpful/undo").status_code == 302
    db.session.expire_all()
    assert _count(review.id) == 0
    assert client.get(f"/api/reviews/{review.id}").get_json()["helpful_count"] == 0


def test_votes_need_sign_in_not_own_review_and_a_published_review(
    client, product, make_user, login_as, publish, moderator
):
    author = make_user()
    review = publish(author, product)
    assert client.post(f"/reviews/{review.id}/helpful").status_code == 302  # to the login page
    login_as(author)
    client.post(f"/reviews/{review.id}/helpful")
    db.session.expire_all()
    assert _count(review.id) == 0
    assert "found this helpful" in client.get(f"/reviews/{review.id}").get_data(as_text=True)
    client.post("/logout")
    login_as(make_user())
    moderation.remove_submission("review", review.id, moderator, reason="spam")
    assert client.post(f"/reviews/{review.id}/helpful").status_code == 404
    assert client.post("/reviews/999999/helpful").status_code == 404


@pytest.fixture
def csrf_on(app_config):
    app_config["WTF_CSRF_ENABLED"] = True
    return app_config


def test_votes_need_csrf(csrf_on, client, product, make_user, login_as, publish):
    review = publish(make_user(), product)
    login_as_csrf(client, make_user())
    assert client.post(f"/reviews/{review.id}/helpful").status_code == 400
    token = csrf_token_from(client.get(f"/products/{product.sku}").get_data(as_text=True))
    assert client.post(f"/reviews/{review.id}/helpful", data={"csrf_token": token}).status_code == 302
    db.session.expire_all()
    assert _count(review.id) == 1


def login_as_csrf(client, user):
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login", data={"email": user.email, "password": "correct horse battery staple", "csrf_token": token}
    )
    assert response.status_code == 302


def test_a_deleted_account_takes_its_votes_and_the_counts_with_it(
    client, product, make_user, login_as, publish
):
    review = publish(make_user(), product)
    voter = make_user()
    engagement.vote_helpful(voter, review.id)
    assert _count(review.id) == 1
    login_as(voter)
    client.post("/account/delete", data={"password": "correct horse battery staple", "confirm": "y"})
    db.session.expire_all()
    assert _count(review.id) == 0


# --- filters and sorts ------------------------------------------------------------------------------


@pytest.fixture
def five_reviews(product, make_user, publish):
    reviews = {}
    for rating, title in ((5, "Five"), (4, "Four A"), (4, "Four B"), (2, "Two"), (1, "One")):
        reviews[title] = publish(make_user(), product, rating, title, f"Body {title}")
    voters = [make_user() for _ in range(3)]
    for voter in voters:
        engagement.vote_helpful(voter, reviews["Two"].id)
    engagement.vote_helpful(voters[0], reviews["Four B"].id)
    return reviews


def _titles(html):
    import re

    return re.findall(r'class="review-title user-text" id="review-\d+-title">([^<]+)<', html)


def test_star_filter_on_the_page_keeps_average_and_histogram(client, product, five_reviews):
    all_html = client.get(f"/products/{product.sku}").get_data(as_text=True)
    assert f'href="/products/{product.sku}?rating=4#reviews-heading"' in all_html
    html = client.get(f"/products/{product.sku}?rating=4").get_data(as_text=True)
    assert sorted(_titles(html)) == ["Four A", "Four B"]
    assert (
        "<strong>3.2</strong> out of 5 from 5 reviews" in html
    )  # every published review, whatever the filter
    assert "2 reviews (40%)" in html and "1 review (20%)" in html
    assert "Showing 2 reviews with 4 stars." in html
    assert f'<a href="/products/{product.sku}#reviews-heading">Show all 5 reviews</a>' in html
    assert _titles(client.get(f"/products/{product.sku}?rating=3").get_data(as_text=True)) == []
    # Forgiving: a bad value shows everything.
    assert len(_titles(client.get(f"/products/{product.sku}?rating=9").get_data(as_text=True))) == 5


def test_sorts_on_the_page(client, product, five_reviews):
    assert _titles(client.get(f"/products/{product.sku}?sort=helpful").get_data(as_text=True))[:2] == [
        "Two",
        "Four B",
    ]
    assert _titles(client.get(f"/products/{product.sku}?sort=highest").get_data(as_text=True))[0] == "Five"
    assert _titles(client.get(f"/products/{product.sku}?sort=lowest").get_data(as_text=True))[0] == "One"
    html = client.get(f"/products/{product.sku}?sort=helpful&rating=4").get_data(as_text=True)
    assert _titles(html) == ["Four B", "Four A"]
    assert '<option value="helpful" selected>Most helpful first</option>' in html
    assert '<input type="hidden" name="rating" value="4">' in html


def test_filters_and_sorts_in_the_api(client, product, five_reviews):
    url = f"/api/products/{product.sku}/reviews"
    data = client.get(url + "?rating=4&sort=helpful").get_json()
    assert [r["title"] for r in data["reviews"]] == ["Four B", "Four A"]
    assert data["rating"] == 4 and data["total"] == 2
    assert data["review_count"] == 5 and data["average_rating"] == 3.2
    assert data["histogram"] == {"1": 1, "2": 1, "3": 0, "4": 2, "5": 1}
    assert [r["helpful_count"] for r in client.get(url + "?sort=helpful").get_json()["reviews"]][:2] == [3, 1]
    assert client.get(url).get_json()["rating"] is None
    for bad in ("0", "6", "four", "", "4.0"):
        response = client.get(url + f"?rating={bad}")
        assert response.status_code == 400 and "rating" in response.get_json()["message"]
    assert client.get(url + "?sort=best").status_code == 400


# --- company replies ----------------------------------------------------------------------------


def test_editor_replies_once_edits_are_kept_and_the_review_never_changes(
    client, product, make_user, login_as, publish, sent_mail
):
    author = make_user(email="author@example.com")
    review = publish(author, product, 2, "Broke fast", "The plug broke.")
    before = (review.title, review.body, review.rating, review.fingerprint)
    editor = make_user("editor", display_name="Erin from the shop")
    login_as(editor)
    assert client.get(f"/reviews/{review.id}/reply").status_code == 200
    response = client.post(
        f"/reviews/{review.id}/reply", data={"body": "Sorry! Please contact us for a replacement."}
    )
    assert response.status_code == 302
    mail = [m for m in sent_mail if m.to == ["author@example.com"] and "answered" in m.subject]
    assert len(mail) == 1 and "Please contact us" in mail[0].body

    page = client.get(f"/reviews/{review.id}").get_data(as_text=True)
    assert "Reply from the shop" in page and "Please contact us for a replacement." in page
    api = client.get(f"/api/reviews/{review.id}").get_json()
    assert api["company_reply"]["body"] == "Sorry! Please contact us for a replacement."
    assert api["company_reply"]["author"] == "Erin from the shop" and api["company_reply"]["published_at"]
    assert api["title"] == "Broke fast" and api["sha256"] == review.fingerprint

    # Edit: the text changes, the earlier one is kept, still one reply, no second mail.
    client.post(f"/reviews/{review.id}/reply", data={"body": "Sorry! We sent you a new cable."})
    db.session.expire_all()
    assert len(db.session.scalars(select(CompanyReply)).all()) == 1
    assert [r.body for r in db.session.scalars(select(CompanyReplyRevision))] == [
        "Sorry! Please contact us for a replacement."
    ]
    assert (
        client.get(f"/api/reviews/{review.id}").get_json()["company_reply"]["body"]
        == "Sorry! We sent you a new cable."
    )
    assert len([m for m in sent_mail if "answered" in m.subject]) == 1

    # Logged with the reply's fingerprint; the review is untouched.
    logged = list(
        db.session.execute(
            select(ModerationLog.action, ModerationLog.fingerprint)
            .where(ModerationLog.action.like("company_reply%"))
            .order_by(ModerationLog.seq)
        )
    )
    assert logged == [
        ("company_reply", content_fingerprint("", "Sorry! Please contact us for a replacement.")),
        ("company_reply_edit", content_fingerprint("", "Sorry! We sent you a new cable.")),
    ]
    assert verify_chain().ok
    fresh = db.session.get(Review, review.id)
    assert (fresh.title, fresh.body, fresh.rating, fresh.fingerprint) == before


def test_only_editors_and_admins_reply(client, product, make_user, login_as, publish, moderator):
    review = publish(make_user(), product)
    for role in ("member", "moderator"):
        login_as(make_user(role))
        assert client.get(f"/reviews/{review.id}/reply").status_code == 403
        assert client.post(f"/reviews/{review.id}/reply", data={"body": "Hi"}).status_code == 403
        client.post("/logout")
    login_as(make_user("admin"))
    assert client.post(f"/reviews/{review.id}/reply", data={"body": ""}).status_code == 422
    assert client.post(f"/reviews/{review.id}/reply", data={"body": "x" * 5001}).status_code == 422
    pending = moderation_pending(make_user(), product)
    assert client.post(f"/reviews/{pending.id}/reply", data={"body": "Hi"}).status_code == 404
    assert db.session.scalar(select(CompanyReply)) is None


def moderation_pending(user, product):
    from forum.catalog import services as catalog

    return catalog.submit_review(user, product, 3, "Pending", "Waiting.")


@pytest.mark.parametrize("action", ["remove", "withdraw"])
def test_the_reply_is_gone_with_its_review(client, product, make_user, publish, moderator, action):
    author = make_user()
    review = publish(author, product)
    engagement.save_reply(make_user("editor"), review.id, "Thank you for the review.")
    engagement.vote_helpful(make_user(), review.id)
    if action == "remove":
        moderation.remove_submission("review", review.id, moderator, reason="personal_information")
    else:
        from forum.catalog import services as catalog

        catalog.withdraw_review(author, review.id)
    assert db.session.scalar(select(CompanyReply)) is None
    assert db.session.scalar(select(CompanyReplyRevision)) is None
    assert db.session.scalar(select(HelpfulVote)) is None
    assert client.get(f"/api/reviews/{review.id}").status_code == 404
    assert "Thank you for the review." not in client.get(f"/products/{product.sku}").get_data(as_text=True)


def test_a_hidden_review_hides_its_reply(client, product, make_user, publish):
    review = publish(make_user(), product)
    engagement.save_reply(make_user("editor"), review.id, "We answer this.")
    moderation.transition(db.session.get(Review, review.id), "hide", None, system=True, reason="flagged")
    db.session.commit()
    assert "We answer this." not in client.get(f"/products/{product.sku}").get_data(as_text=True)
    assert client.get(f"/reviews/{review.id}").status_code == 404


# --- flags -----------------------------------------------------------------------------------------


def test_every_published_review_has_a_flag_link_that_works(client, product, make_user, login_as, publish):
    author = make_user()
    review = publish(author, product)
    html = client.get(f"/products/{product.sku}").get_data(as_text=True)
    assert f'href="/flag/review/{review.id}"' in html
    assert f'href="/flag/review/{review.id}"' in client.get(f"/reviews/{review.id}").get_data(as_text=True)
    login_as(make_user())
    assert client.get(f"/flag/review/{review.id}").status_code == 200
    response = client.post(f"/flag/review/{review.id}", data={"reason": "spam", "note": ""})
    assert response.status_code == 302
    assert db.session.scalar(select(ModerationLog.action).where(ModerationLog.action == "flag")) == "flag"
