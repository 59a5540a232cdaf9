"""Queries per page stay constant in the number of items: notifications, a topic full of
quotes and mentions, a profile."""

from __future__ import annotations

from forum.community import services as forums
from forum.extensions import db
from forum.members import services
from forum.members.models import MemberProfile


def handle(user) -> str:
    return db.session.get(MemberProfile, user.id).handle


def _activity(alice, bob, topic, n):
    """n replies by bob that quote alice, mention her and get liked by her."""
    for k in range(n):
        quoted = forums.create_reply(alice, topic.id, f"Alice says {k}")
        reply = forums.create_reply(
            bob, topic.id, services.quote_source(bob, quoted.id) + f"@{handle(alice)} ok {k}"
        )
        services.like(alice, reply.id)
        services.like(bob, quoted.id)


def _queries(count_queries, client, url):
    client.get(url)  # warm up (first request of a client, templates)
    with count_queries() as n:
        response = client.get(url)
    assert response.status_code == 200
    return n[0]


def test_queries_do_not_grow_with_items(app, client_for, alice, bob, category, count_queries):
    app.config["FORUM_POSTS_PER_PAGE"] = 100
    small = forums.create_topic(alice, category, "Small", "Opening")
    big = forums.create_topic(alice, category, "Big", "Opening")
    _activity(alice, bob, small, 2)
    alice_client = client_for(alice)
    counts_small = dict(
        topic=_queries(count_queries, alice_client, f"/forums/topics/{small.id}?page=1"),
        notifications=_queries(count_queries, alice_client, "/notifications"),
        profile=_queries(count_queries, alice_client, f"/members/{bob.id}"),
    )
    _activity(alice, bob, big, 6)
    counts_big = dict(
        topic=_queries(count_queries, alice_client, f"/forums/topics/{big.id}?page=1"),
        notifications=_queries(count_queries, alice_client, "/notifications"),
        profile=_queries(count_queries, alice_client, f"/members/{bob.id}"),
    )
    assert counts_big == counts_small, (counts_small, counts_big)
