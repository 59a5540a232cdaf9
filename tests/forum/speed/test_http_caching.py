"""Public pages answer conditional requests; anonymous GETs write no session; nothing personal is shared."""

from __future__ import annotations

import pytest

from moderation import services as moderation

PUBLIC_PAGES = [
    "/",
    "/products",
    "/products/CAB-USB-C-2M",
    "/forums",
    "/forums/cables",
    "/blog",
    "/blog/feed.atom",
    "/blog/hello-world",
    "/api/products/CAB-USB-C-2M/reviews",
]


@pytest.fixture
def store(product, add_reviews, add_topic, blog_post):
    reviews = add_reviews(product, 2)
    topic = add_topic(replies=2)
    return {"reviews": reviews, "topic": topic}


@pytest.fixture
def csrf_on(app_config):
    """As in production: forms carry CSRF tokens (which live in the session)."""
    app_config["WTF_CSRF_ENABLED"] = True
    return app_config


@pytest.mark.parametrize("path", PUBLIC_PAGES + ["TOPIC", "REVIEW"])
def test_anonymous_get_has_validators_and_no_session(csrf_on, client, store, path):
    path = {
        "TOPIC": f"/forums/topics/{store['topic'].id}",
        "REVIEW": f"/reviews/{store['reviews'][0].id}",
    }.get(path, path)
    response = client.get(path)
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    assert response.headers["ETag"]
    assert response.headers["Cache-Control"] == "public, no-cache"
    assert "Cookie" in response.headers["Vary"]
    again = client.get(path, headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304
    assert again.get_data() == b""
    assert again.headers["ETag"] == response.headers["ETag"]
    assert "Set-Cookie" not in again.headers


def test_topic_and_review_pages_answer_304_then_200_after_a_change(client, store, moderator):
    topic, review = store["topic"], store["reviews"][0]
    for path in (f"/forums/topics/{topic.id}", f"/reviews/{review.id}", f"/api/reviews/{review.id}"):
        first = client.get(path)
        assert first.status_code == 200 and first.headers["ETag"]
        assert client.get(path, headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
    etag = client.get("/products/CAB-USB-C-2M").headers["ETag"]
    moderation.remove_submission("review", review.id, moderator, reason="spam")
    after = client.get("/products/CAB-USB-C-2M", headers={"If-None-Match": etag})
    assert after.status_code == 200
    assert after.headers["ETag"] != etag
    assert "Review title 0" not in after.get_data(as_text=True)
    assert client.get(f"/reviews/{review.id}").status_code == 404
    assert client.get(f"/api/reviews/{review.id}").status_code == 404


def test_signed_in_pages_are_private(csrf_on, client, store, login_as, member):
    client.get("/login")
    from tests.conftest import csrf_token_from

    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    assert (
        client.post(
            "/login",
            data={"email": member.email, "password": "correct horse battery staple", "csrf_token": token},
        ).status_code
        == 302
    )
    response = client.get("/products/CAB-USB-C-2M")
    assert response.status_code == 200
    assert 'name="csrf_token"' in response.get_data(as_text=True)  # members get working forms
    assert response.headers["Cache-Control"] == "private, no-cache"
    assert "Cookie" in response.headers["Vary"]


def test_a_signed_in_page_is_never_served_to_anonymous_visitors(app, store, login_as, member):
    signed_in = app.test_client()
    from tests.conftest import login

    login(signed_in, member.email)
    personal = signed_in.get("/products/CAB-USB-C-2M").get_data(as_text=True)
    assert "Log out" in personal
    anonymous = app.test_client().get("/products/CAB-USB-C-2M").get_data(as_text=True)
    assert "Log out" not in anonymous and "Log in to write a review" in anonymous
    # and the other way round: the anonymous page, now cached, is not shown to the member
    assert "Log out" in signed_in.get("/products/CAB-USB-C-2M").get_data(as_text=True)


def test_anonymous_pages_are_served_from_the_cache(app, client, store, count_statements):
    from forum.speed import pagecache

    client.get("/products/CAB-USB-C-2M")
    reads = pagecache.token_reads
    with count_statements() as counter:
        response = client.get("/products/CAB-USB-C-2M")
    assert response.status_code == 200
    assert counter.count == 0  # no session, no view
    assert pagecache.token_reads == reads + 1  # one read of the versions, nothing else
    assert app.extensions["page_cache"].hits >= 1


def test_a_flash_for_an_anonymous_visitor_is_not_cached(app, client, store):
    with client.session_transaction() as session:
        session["_flashes"] = [("info", "Only for you")]
    first = client.get("/products/CAB-USB-C-2M")
    assert "Only for you" in first.get_data(as_text=True)
    assert first.headers["Cache-Control"] == "private, no-cache"
    assert "Only for you" not in app.test_client().get("/products/CAB-USB-C-2M").get_data(as_text=True)


def test_head_and_search_pages(app, client, store):
    from forum.search.indexing import drain_all

    drain_all(include_not_due=True)
    first = client.get("/search?q=title")
    assert first.status_code == 200 and first.headers["Cache-Control"] == "public, no-cache"
    assert client.get("/search?q=title", headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
    head = client.head("/products/CAB-USB-C-2M")
    assert head.status_code == 200 and head.get_data() == b"" and head.headers["ETag"]


@pytest.fixture
def search_limited(app_config):
    app_config.update(RATELIMIT_ENABLED=True, RATELIMIT_SEARCH="3 per minute")
    return app_config


def test_cached_search_answers_stay_behind_the_rate_limit(search_limited, client, store):
    """Other kept pages may be answered before the app; search answers only after its per-address limit."""
    codes = [client.get("/search?q=title").status_code for _ in range(5)]
    assert codes[:3] == [200, 200, 200]
    assert codes[3:] == [429, 429]


def test_cached_page_for_another_host_is_not_reused(client, store):
    a = client.get("/products/CAB-USB-C-2M", base_url="http://shop-a.example")
    b = client.get("/products/CAB-USB-C-2M", base_url="http://shop-b.example")
    assert "shop-a.example" in a.get_data(as_text=True)
    assert "shop-b.example" in b.get_data(as_text=True) and "shop-a.example" not in b.get_data(as_text=True)
