"""Quotes, likes, watching and unread posts, through the pages members use."""

from __future__ import annotations

import re

from sqlalchemy import select

from forum.community import services as forums
from forum.extensions import db
from forum.members import services
from forum.members.models import MemberProfile, PostLike, PostQuote
from moderation import services as moderation


def handle(user) -> str:
    return db.session.get(MemberProfile, user.id).handle


def test_quote_link_fills_the_reply_form_without_javascript(client_for, alice, bob, category):
    topic = forums.create_topic(alice, category, "Docks", "Thunderbolt docks are **great**.\nSecond line.")
    page = client_for(bob).get(f"/forums/topics/{topic.id}?page=1").text
    quote_url = f"/forums/posts/{topic.opening.id}/quote"
    assert quote_url in page
    response = client_for(bob).get(quote_url)
    assert response.status_code == 302 and f"quote={topic.opening.id}" in response.location
    form = client_for(bob).get(response.location).text
    textarea = re.search(r'<textarea[^>]*id="reply-body"[^>]*>(.*?)</textarea>', form, re.S).group(1)
    assert f"&gt; [@{handle(alice)} wrote](/forums/posts/{topic.opening.id}):" in textarea
    assert "&gt; Thunderbolt docks are **great**." in textarea and "&gt; Second line." in textarea


def test_quote_notifies_and_renders_as_blockquote(client, alice, bob, make_trusted, category):
    topic = forums.create_topic(alice, category, "Docks", "Original words kiwi")
    reply = forums.create_reply(bob, topic.id, services.quote_source(bob, topic.opening.id) + "I agree.")
    assert db.session.get(PostQuote, (reply.id, topic.opening.id)) is not None
    notes = [n["note"] for n in services.list_notifications(alice)[1] if n["note"].kind != "moderation"]
    assert [n.kind for n in notes] == ["quote"]  # a quote beats "a reply in your topic"
    # Mentions inside quoted text notify nobody again.
    carol = make_trusted(display_name="Carol Cook")
    said = forums.create_reply(bob, topic.id, f"Ask @{handle(carol)}")
    forums.create_reply(alice, topic.id, services.quote_source(alice, said.id))
    assert len([n for n in services.list_notifications(carol)[1] if n["note"].kind == "mention"]) == 1
    page = client.get(f"/forums/topics/{topic.id}?page=1").text
    assert "<blockquote>" in page and page.count("Original words kiwi") == 2


def test_quote_of_removed_post_shows_quoted_post_removed_everywhere(
    app, client, alice, bob, moderator, category
):
    topic = forums.create_topic(alice, category, "Docks", "Opening text")
    quoted = forums.create_reply(alice, topic.id, "Soon removed wallaby words")
    reply = forums.create_reply(bob, topic.id, services.quote_source(bob, quoted.id) + "My answer quokka")
    moderation.remove_submission("forum_post", quoted.id, moderator, reason="abusive")
    db.session.commit()
    page = client.get(f"/forums/topics/{topic.id}?page=1").text
    assert "wallaby" not in page and "quoted post removed" in page and "My answer quokka" in page
    # The stored text is unchanged (published as submitted); only what is shown changes.
    assert "wallaby" in db.session.get(type(reply), reply.id).body
    # Profile excerpts and search say the same.
    assert "wallaby" not in client.get(f"/members/{bob.id}").text
    alice_profile = client.get(f"/members/{alice.id}").text
    assert f'href="/forums/posts/{quoted.id}"' not in alice_profile
    assert "Published forum posts</dt><dd>4<" in alice_profile  # 3 topics that made her trusted, and this one
    # The author is told in-site, as by mail, without the words.
    told = [n for n in services.list_notifications(alice)[1] if n["note"].kind == "moderation"][0]
    assert told["sentence"].startswith("Your forum post was removed:") and "wallaby" not in told["sentence"]
    results = client.get("/search?q=quokka").text
    assert "quokka" in results and "wallaby" not in results
    assert f"/forums/posts/{reply.id}" not in client.get("/search?q=wallaby").text


def test_like_once_not_own_unlike_and_count(client_for, alice, bob, make_trusted, category):
    topic = forums.create_topic(alice, category, "Docks", "Opening")
    post_id = topic.opening.id
    bob_client = client_for(bob)
    assert bob_client.post(f"/forums/posts/{post_id}/like").status_code == 302
    assert bob_client.post(f"/forums/posts/{post_id}/like").status_code == 302  # again: nothing changes
    assert db.session.scalar(select(db.func.count()).select_from(PostLike)) == 1
    page = bob_client.get(f"/forums/topics/{topic.id}?page=1").text
    assert "1 like<" in page and ">Unlike</button>" in page
    assert client_for(alice).post(f"/forums/posts/{post_id}/like").status_code == 403
    bob_client.post(f"/forums/posts/{post_id}/unlike")
    assert db.session.scalar(select(db.func.count()).select_from(PostLike)) == 0
    assert [n for n in services.list_notifications(alice)[1] if n["note"].kind == "like"] == []


def test_likes_are_grouped_in_one_notification(app, alice, bob, make_trusted, category):
    topic = forums.create_topic(alice, category, "Docks", "Opening")
    carol, dan = make_trusted(display_name="Carol Cook"), make_trusted(display_name="Dan Dee")
    for liker in (bob, carol, dan):
        services.like(liker, topic.opening.id)
    likes = [n for n in services.list_notifications(alice)[1] if n["note"].kind == "like"]
    assert len(likes) == 1 and likes[0]["sentence"] == "Dan Dee and 2 others liked your post"
    services.unlike(dan, topic.opening.id)
    likes = [n for n in services.list_notifications(alice)[1] if n["note"].kind == "like"]
    assert likes[0]["sentence"] == "Carol Cook and 1 other liked your post"


def test_likes_on_unpublished_posts_are_refused_and_vanish_with_removal(
    client_for, alice, bob, moderator, make_user, category
):
    topic = forums.create_topic(alice, category, "Docks", "Opening")
    reply = forums.create_reply(alice, topic.id, "A reply")
    services.like(bob, reply.id)
    assert services.profile_page(alice, services.profile_of(alice), None)["likes_received"] == 1
    moderation.remove_submission("forum_post", reply.id, moderator, reason="abusive")
    assert services.profile_page(alice, services.profile_of(alice), None)["likes_received"] == 0
    assert [n for n in services.list_notifications(alice)[1] if n["note"].kind == "like"] == []
    assert client_for(bob).post(f"/forums/posts/{reply.id}/like").status_code == 404
    pending = forums.create_reply(make_user(), topic.id, "pending")
    assert client_for(bob).post(f"/forums/posts/{pending.id}/like").status_code == 404


def test_watch_unwatch_buttons_and_auto_watch(client_for, alice, bob, make_trusted, category):
    topic = forums.create_topic(alice, category, "Docks", "Opening")
    assert services.is_watching(alice, topic.id)  # started it
    carol = make_trusted(display_name="Carol Cook")
    carol_client = client_for(carol)
    page = carol_client.get(f"/forums/topics/{topic.id}").text
    assert ">Watch</button>" in page
    carol_client.post(f"/forums/topics/{topic.id}/watch")
    assert services.is_watching(carol, topic.id)
    assert ">Unwatch</button>" in carol_client.get(f"/forums/topics/{topic.id}?page=1").text
    carol_client.post(f"/forums/topics/{topic.id}/unwatch")
    assert not services.is_watching(carol, topic.id)
    # Replying watches automatically, but never overrides an explicit Unwatch.
    forums.create_reply(carol, topic.id, "A reply")
    assert not services.is_watching(carol, topic.id)
    forums.create_reply(bob, topic.id, "Bob's reply")
    assert services.is_watching(bob, topic.id)
    kinds = {n["note"].kind for n in services.list_notifications(carol)[1]}
    assert "watched" not in kinds


def test_topic_list_shows_new_posts_and_opening_goes_to_first_unread(app, client_for, alice, bob, category):
    app.config["FORUM_POSTS_PER_PAGE"] = 2
    topic = forums.create_topic(alice, category, "Docks", "Opening")
    forums.create_reply(alice, topic.id, "Reply one")
    bob_client = client_for(bob)
    bob_client.get(f"/forums/topics/{topic.id}")  # reads page 1 (both posts)
    listing = bob_client.get(f"/forums/{category.slug}").text
    assert "new post" not in listing
    second = forums.create_reply(alice, topic.id, "Reply two")
    forums.create_reply(alice, topic.id, "Reply three")
    listing = bob_client.get(f"/forums/{category.slug}").text
    assert "2 new posts" in listing and f"/forums/posts/{second.id}" in listing
    response = bob_client.get(f"/forums/topics/{topic.id}")
    assert response.status_code == 302 and response.location.endswith(f"?page=2#post-{second.id}")
    bob_client.get(response.location)
    assert "new post" not in bob_client.get(f"/forums/{category.slug}").text
    assert bob_client.get(f"/forums/topics/{topic.id}").status_code == 200  # nothing unread: no redirect


def test_permalinks_are_not_diverted_to_the_first_unread_post(app, client_for, alice, bob, category):
    topic = forums.create_topic(alice, category, "Docks", "Opening")
    bob_client = client_for(bob)
    bob_client.get(f"/forums/topics/{topic.id}")
    first = forums.create_reply(alice, topic.id, "One")
    forums.create_reply(alice, topic.id, "Two")
    response = bob_client.get(f"/forums/posts/{topic.opening.id}")
    assert response.location.endswith(f"/forums/topics/{topic.id}?page=1#post-{topic.opening.id}")
    assert bob_client.get(response.location).status_code == 200
    assert f"#post-{first.id}" not in response.location


def test_posts_of_hidden_topics_cannot_be_quoted(app, client_for, alice, bob, make_user, category):
    from moderation import flags

    app.config["FLAG_HIDE_THRESHOLD"] = 1
    hidden_topic = forums.create_topic(alice, category, "Hidden soon", "Opening")
    secret = forums.create_reply(alice, hidden_topic.id, "Words of a hidden topic emu")
    flags.flag_item("forum_post", hidden_topic.opening.id, make_user(), "abusive")
    other = forums.create_topic(alice, category, "Open", "Opening")
    bob_client = client_for(bob)
    assert bob_client.get(f"/forums/posts/{secret.id}/quote").status_code == 404
    page = bob_client.get(f"/forums/topics/{other.id}?quote={secret.id}").text
    assert "emu" not in page and "can no longer be quoted" in page


def test_likes_and_watching_are_rate_limited_per_member(app_config, request):
    app_config.update(RATELIMIT_ENABLED=True, RATELIMIT_VOTES="3 per hour")
    client_for, alice, bob = (request.getfixturevalue(n) for n in ("client_for", "alice", "bob"))
    topic = forums.create_topic(alice, request.getfixturevalue("category"), "Docks", "Opening")
    bob_client = client_for(bob)
    codes = [
        bob_client.post(f"/forums/posts/{topic.opening.id}/like").status_code,
        bob_client.post(f"/forums/posts/{topic.opening.id}/unlike").status_code,
        bob_client.post(f"/forums/topics/{topic.id}/watch").status_code,
        bob_client.post(f"/forums/topics/{topic.id}/unwatch").status_code,
        bob_client.post(f"/forums/posts/{topic.opening.id}/like").status_code,
    ]
    assert codes == [302, 302, 302, 429, 429]
    # The budget is per member: another member is not held back.
    assert client_for(alice).post(f"/forums/topics/{topic.id}/unwatch").status_code == 302


def test_suspended_members_cannot_like(client_for, alice, bob, moderator, category):
    from datetime import timedelta

    from forum.accounts import suspensions
    from forum.timeutil import utcnow

    topic = forums.create_topic(alice, category, "Docks", "Opening")
    suspensions.suspend_member(moderator, bob.id, "Cool <b>off</b>", utcnow().date() + timedelta(days=3))
    response = client_for(bob).post(f"/forums/posts/{topic.opening.id}/like")
    assert response.status_code == 403
    assert "Cool &lt;b&gt;off&lt;/b&gt;" in response.text
    assert db.session.scalar(select(db.func.count()).select_from(PostLike)) == 0


def test_topics_never_opened_since_joining_are_new(
    app, client_for, alice, bob, make_trusted, category, count_queries
):
    from datetime import timedelta

    from sqlalchemy import update

    from forum.community.models import ForumTopic
    from forum.models import User
    from forum.timeutil import utcnow

    old = forums.create_topic(alice, category, "Old news", "Before Carol came")
    forums.create_reply(bob, old.id, "Still before")
    carol = make_trusted(display_name="Carol Cook")
    # Topics started before she joined are not new to her; make the clock's order certain.
    db.session.execute(update(ForumTopic).values(created_at=utcnow() - timedelta(hours=2)))  # all so far
    db.session.get(User, carol.id).created_at = utcnow() - timedelta(hours=1)
    db.session.commit()
    fresh = forums.create_topic(alice, category, "Fresh topic", "After Carol came")
    forums.create_reply(bob, fresh.id, "A reply")
    forums.create_reply(carol, fresh.id, "Carol's own reply")  # her own post is not new to her
    carol_client = client_for(carol)
    listing = carol_client.get(f"/forums/{category.slug}").text
    assert listing.count("new post") == 1
    assert f'href="/forums/posts/{fresh.opening.id}" class="status-tag unread-tag">2 new posts<' in listing
    # Opening it shows page 1 (where the first new post is) and reads it.
    assert carol_client.get(f"/forums/topics/{fresh.id}").status_code == 200
    assert "new post" not in carol_client.get(f"/forums/{category.slug}").text
    # Constant queries: more unopened topics add none.
    with count_queries() as before:
        carol_client.get(f"/forums/{category.slug}")
    for n in range(3):
        forums.create_topic(alice, category, f"More {n}", "Body")
    carol_client.get(f"/forums/{category.slug}")  # the page cache is refilled once after changes
    with count_queries() as after:
        assert "1 new post" in carol_client.get(f"/forums/{category.slug}").text
    assert after[0] == before[0]
