"""Topics and replies: who is held, who publishes at once, what everyone else sees."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from forum.community import services
from forum.community.models import ForumPost, ForumTopic
from forum.errors import PermissionDenied
from forum.extensions import db
from moderation import services as moderation
from moderation.audit import verify_chain
from moderation.models import ModerationLog


def _log_actions(post_id):
    return [
        r.action
        for r in db.session.scalars(
            select(ModerationLog)
            .where(ModerationLog.subject_kind == "forum_post", ModerationLog.subject_id == post_id)
            .order_by(ModerationLog.seq)
        )
    ]


def test_new_member_topic_is_held_then_published_by_a_moderator(
    client, member, moderator, category, login_as
):
    topic = services.create_topic(member, category, "My first question", "Hello **all**")
    post = topic.opening
    assert post.status == "pending" and post.held_because == "new_member"
    # Invisible to the public, the list and the category counts...
    assert client.get(f"/forums/topics/{topic.id}").status_code == 404
    assert "My first question" not in client.get(f"/forums/{category.slug}").text
    assert services.category_summaries().get(category.id) is None
    # ...but its author sees it, marked.
    login_as(member)
    page = client.get(f"/forums/topics/{topic.id}")
    assert page.status_code == 200 and "Awaiting moderation" in page.text
    assert "Awaiting moderation" in client.get(f"/forums/{category.slug}").text

    moderation.approve_submission("forum_post", post.id, moderator)
    client.post("/logout")
    page = client.get(f"/forums/topics/{topic.id}")
    assert page.status_code == 200
    assert "<strong>all</strong>" in page.text and "Awaiting moderation" not in page.text
    assert _log_actions(post.id) == ["submitted", "approve"]
    assert verify_chain().ok


def test_members_publish_at_once_after_the_trust_threshold(member, moderator, category):
    posts = []
    for n in range(3):
        topic = services.create_topic(member, category, f"Topic {n}", "text")
        posts.append(topic.opening)
        assert topic.opening.status == "pending"
    # Two approved are not enough; topics and replies count together.
    moderation.approve_submission("forum_post", posts[0].id, moderator)
    moderation.approve_submission("forum_post", posts[1].id, moderator)
    reply = services.create_reply(member, posts[0].topic_id, "still held")
    assert reply.status == "pending"
    moderation.approve_submission("forum_post", reply.id, moderator)
    assert services.is_trusted(member)
    topic = services.create_topic(member, category, "Now trusted", "publishes at once")
    assert topic.opening.status == "published" and topic.opening.held_because is None
    assert _log_actions(topic.opening.id) == ["submitted", "auto_publish"]
    entry = db.session.scalars(select(ModerationLog).where(ModerationLog.action == "auto_publish")).first()
    assert entry.actor_role == "system"


def test_trust_threshold_is_configurable(app, make_user, moderator, category):
    app.config["FORUM_TRUST_THRESHOLD"] = 1
    user = make_user()
    first = services.create_topic(user, category, "One", "one")
    moderation.approve_submission("forum_post", first.opening.id, moderator)
    assert services.create_reply(user, first.id, "two").status == "published"


@pytest.mark.parametrize("role", ["moderator", "admin"])
def test_staff_posts_publish_at_once(make_user, category, role):
    staff = make_user(role)
    topic = services.create_topic(
        staff,
        category,
        "Announcement",
        "Read this [please](https://a.example) [and](https://b.example) [this](https://c.example)",
    )
    assert topic.opening.status == "published"
    assert services.create_reply(staff, topic.id, "and a reply").status == "published"


def test_link_heavy_posts_from_members_without_trust_are_held(
    app, make_user, moderator, category, published_topic
):
    app.config["FORUM_TRUST_THRESHOLD"] = 0  # everyone trusted: only the link rule can hold
    user = make_user()
    assert (
        services.create_reply(
            user, published_topic.id, "two links [a](https://a.example) https://b.example"
        ).status
        == "published"
    )
    app.config["FORUM_TRUST_THRESHOLD"] = 3
    held = services.create_reply(
        user, published_topic.id, "[a](https://a.example) [b](https://b.example) [c](https://c.example)"
    )
    assert held.status == "pending" and held.held_because == "links"


def test_link_limit_is_configurable_and_trusted_members_may_link(app, make_trusted, category):
    trusted = make_trusted()
    many = " ".join(f"[l{n}](https://l{n}.example)" for n in range(6))
    assert services.create_topic(trusted, category, "Links", many).opening.status == "published"
    app.config["FORUM_HOLD_LINKS_OVER"] = 10
    assert services.hold_reason(trusted, many) is None


def test_replies_publish_in_the_topic_and_counts_follow(
    client, make_trusted, make_user, moderator, published_topic, category
):
    other = make_trusted(display_name="Otto Other")
    newbie = make_user(display_name="Nina New")
    services.create_reply(other, published_topic.id, "Try the 2 m braided one.")
    held = services.create_reply(newbie, published_topic.id, "HELD REPLY TEXT")
    page = client.get(f"/forums/topics/{published_topic.id}")
    assert "Try the 2 m braided one." in page.text and "HELD REPLY TEXT" not in page.text
    listing = client.get(f"/forums/{category.slug}").text
    row = listing[listing.index("Which USB-C cable for 100 W?") :]
    assert "<td>1</td>" in row.split("</tr>")[0]  # one published reply, the held one not counted
    assert "Otto Other" in row.split("</tr>")[0]  # last activity by
    moderation.approve_submission("forum_post", held.id, moderator)
    assert services.topic_stats([published_topic.id])[published_topic.id].reply_count == 2
    assert "HELD REPLY TEXT" in client.get(f"/forums/topics/{published_topic.id}").text


def test_pinned_topics_come_first_then_last_activity(client, make_trusted, moderator, category):
    author = make_trusted()
    old = services.create_topic(author, category, "Old but pinned", "x")
    newer = services.create_topic(author, category, "Newer topic", "y")
    services.set_pinned(moderator, old.id, True)
    page = client.get(f"/forums/{category.slug}").text
    assert page.index("Old but pinned") < page.index("Newer topic")
    services.create_reply(author, old.id, "bump")
    services.set_pinned(moderator, old.id, False)
    services.create_reply(author, newer.id, "bump newer")
    page = client.get(f"/forums/{category.slug}").text
    assert page.index("Newer topic") < page.index("Old but pinned")


def test_topic_pages_are_paginated_and_permalinks_find_the_page(app, client, make_trusted, category):
    app.config["FORUM_POSTS_PER_PAGE"] = 3
    author = make_trusted()
    topic = services.create_topic(author, category, "Long thread", "start")
    replies = [services.create_reply(author, topic.id, f"reply number {n}") for n in range(7)]
    first = client.get(f"/forums/topics/{topic.id}").text
    assert "reply number 1" in first and "reply number 2" not in first
    assert f"/forums/topics/{topic.id}?page=3" in first
    third = client.get(f"/forums/topics/{topic.id}?page=3").text
    assert "reply number 6" in third
    response = client.get(f"/forums/posts/{replies[6].id}")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/forums/topics/{topic.id}?page=3#post-{replies[6].id}")
    assert client.get(f"/forums/topics/{topic.id}?page=abc").status_code == 200
    assert client.get(f"/forums/topics/{topic.id}?page=999").status_code == 200


def test_category_topic_lists_are_paginated(app, client, make_trusted, category):
    app.config["FORUM_TOPICS_PER_PAGE"] = 2
    author = make_trusted()
    for n in range(3):
        services.create_topic(author, category, f"Listed {n}", "x")
    first = client.get(f"/forums/{category.slug}").text
    assert "Listed 2" in first and "Listed 1" in first and "Listed 0" not in first
    assert "Listed 0" in client.get(f"/forums/{category.slug}?page=2").text


def test_locked_topic_refuses_replies(client, make_trusted, moderator, published_topic, client_for):
    replier = make_trusted()
    services.set_locked(moderator, published_topic.id, True)
    with pytest.raises(PermissionDenied, match="locked"):
        services.create_reply(replier, published_topic.id, "too late")
    response = client_for(replier).post(
        f"/forums/topics/{published_topic.id}/reply", data={"body": "too late"}
    )
    assert response.status_code == 403 and "locked" in response.text
    page = client_for(replier).get(f"/forums/topics/{published_topic.id}").text
    assert "locked" in page and f'action="/forums/topics/{published_topic.id}/reply"' not in page
    assert db.session.scalar(select(ForumPost).where(ForumPost.body == "too late")) is None
    services.set_locked(moderator, published_topic.id, False)
    assert services.create_reply(replier, published_topic.id, "open again").status == "published"


def test_cannot_reply_to_a_topic_that_is_not_published(member, make_trusted, category):
    pending = services.create_topic(member, category, "Pending", "x")
    other = make_trusted()
    with pytest.raises(Exception):  # noqa: B017  (any refusal will do; this test is about the outcome)
        services.create_reply(other, pending.id, "sneaky")
    with pytest.raises(PermissionDenied):
        services.create_reply(member, pending.id, "my own, too early")


def test_posting_through_the_pages(client, member, category, login_as):
    login_as(member)
    assert client.get(f"/forums/{category.slug}/new").status_code == 200
    preview = client.post(
        f"/forums/{category.slug}/new", data={"title": "Cable", "body": "*preview me*", "preview": "1"}
    )
    assert preview.status_code == 200 and "<em>preview me</em>" in preview.text
    assert db.session.scalar(select(ForumTopic)) is None  # a preview stores nothing
    response = client.post(f"/forums/{category.slug}/new", data={"title": "Cable", "body": "*post me*"})
    assert response.status_code == 302
    topic = db.session.scalar(select(ForumTopic))
    assert response.headers["Location"].endswith(f"/forums/topics/{topic.id}")
    page = client.get(response.headers["Location"])
    assert "awaiting moderation" in page.text.lower()
    empty = client.post(f"/forums/{category.slug}/new", data={"title": "  ", "body": ""})
    assert empty.status_code == 422 and "Write a title." in empty.text


def test_reply_form_errors_are_422(client, make_trusted, published_topic, client_for):
    replier = client_for(make_trusted())
    response = replier.post(f"/forums/topics/{published_topic.id}/reply", data={"body": "   "})
    assert response.status_code == 422 and "Write a message." in response.text
    response = replier.post(f"/forums/topics/{published_topic.id}/reply", data={"body": "x" * 20_001})
    assert response.status_code == 422 and "limit is 20000" in response.text
    ok = replier.post(f"/forums/topics/{published_topic.id}/reply", data={"body": "A real reply"})
    assert ok.status_code == 302


def test_anonymous_visitors_must_log_in_to_post(client, category, published_topic):
    assert client.get(f"/forums/{category.slug}/new").status_code == 302
    response = client.post(f"/forums/topics/{published_topic.id}/reply", data={"body": "anon"})
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert "Log in" in client.get(f"/forums/topics/{published_topic.id}").text


def test_unknown_things_are_404(client, category):
    assert client.get("/forums/no-such-category").status_code == 404
    assert client.get("/forums/topics/999").status_code == 404
    assert client.get("/forums/posts/999").status_code == 404


def test_posting_is_rate_limited_per_member(app_config, make_user, category):
    app_config.update(RATELIMIT_ENABLED=True, RATELIMIT_POSTING="2 per hour")
    from forum import create_app
    from tests.conftest import login

    app = create_app(app_config)
    with app.app_context():
        from forum.community.models import ForumCategory

        slug = db.session.scalar(select(ForumCategory.slug))
    client = app.test_client()
    user = make_user()
    assert login(client, user.email).status_code == 302
    codes = [
        client.post(f"/forums/{slug}/new", data={"title": f"t{n}", "body": "b"}).status_code for n in range(3)
    ]
    assert codes == [302, 302, 429]
    # Previews do not count.
    assert (
        client.post(f"/forums/{slug}/new", data={"title": "t", "body": "b", "preview": "1"}).status_code
        == 200
    )
