"""My account: my topics and replies with their status, deleting my own directly, export, account deletion."""

from __future__ import annotations

import json

from sqlalchemy import select

from forum.accounts import services as accounts
from forum.community import services
from forum.community.models import ForumPost, ForumPostRevision
from forum.extensions import db
from moderation import services as moderation
from moderation.models import ModerationLog
from tests.conftest import STRONG_PASSWORD


def test_my_account_lists_my_posts_with_status(client_for, member, moderator, category, published_topic):
    held = services.create_topic(member, category, "My <held> topic", "text")
    reply = services.create_reply(member, published_topic.id, "my reply")
    rejected = services.create_topic(member, category, "Rejected one", "text")
    moderation.reject_submission("forum_post", rejected.opening.id, moderator, reason="off_topic")
    page = client_for(member).get("/account").text
    assert "My forum posts (3)" in page
    assert "My &lt;held&gt; topic" in page and "awaiting moderation" in page
    assert "Which USB-C cable for 100 W?" in page  # the topic my reply is in
    assert "rejected" in page and "Not about the product or topic" in page
    assert f'action="/forums/posts/{held.opening.id}/delete"' in page
    assert f'action="/forums/posts/{reply.id}/delete"' in page
    assert f'action="/forums/posts/{rejected.opening.id}/delete"' not in page


def test_author_deletes_own_reply_directly_from_my_account(client, client_for, make_trusted, published_topic):
    author = make_trusted()
    reply = services.create_reply(author, published_topic.id, "a reply I regret")
    services.edit_post(author, reply.id, None, "a reply I regret, edited")
    mine = client_for(author)
    response = mine.post(f"/forums/posts/{reply.id}/delete", data={"next": "account"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/account")
    db.session.expire_all()
    post = db.session.get(ForumPost, reply.id)
    assert (post.status, post.body) == ("withdrawn", None)
    assert db.session.scalar(select(ForumPostRevision)) is None
    assert "a reply I regret" not in client.get(f"/forums/topics/{published_topic.id}").text
    entry = db.session.scalars(
        select(ModerationLog)
        .where(ModerationLog.subject_id == reply.id, ModerationLog.subject_kind == "forum_post")
        .order_by(ModerationLog.seq)
    ).all()[-1]
    assert (entry.action, entry.actor_id, entry.actor_role) == ("withdraw", author.id, "author")
    assert "deleted by you" in mine.get("/account").text


def test_deleting_my_topic_takes_the_conversation_with_it(
    client, client_for, published_topic, make_trusted, category
):
    services.create_reply(make_trusted(), published_topic.id, "someone else's reply")
    author = published_topic.opening.author
    confirm = client_for(author).get(f"/forums/posts/{published_topic.opening.id}/delete")
    assert confirm.status_code == 200 and "deletes the whole topic" in confirm.text
    client_for(author).post(f"/forums/posts/{published_topic.opening.id}/delete")
    assert client.get(f"/forums/topics/{published_topic.id}").status_code == 404
    assert "Which USB-C cable" not in client.get(f"/forums/{category.slug}").text


def test_nobody_deletes_someone_elses_post(client_for, make_user, moderator, published_topic):
    post_id = published_topic.opening.id
    assert client_for(make_user()).post(f"/forums/posts/{post_id}/delete").status_code == 404
    assert client_for(moderator).post(f"/forums/posts/{post_id}/delete").status_code == 404
    assert db.session.get(ForumPost, post_id).status == "published"


def test_export_contains_my_posts_and_their_earlier_versions(client_for, member, category, moderator):
    topic = services.create_topic(member, category, "Exported", "first text")
    services.edit_post(member, topic.opening.id, "Exported", "second text")
    response = client_for(member).get("/account/export.json")
    data = json.loads(response.get_data(as_text=True))
    [post] = data["forum_posts"]
    assert (post["kind"], post["status"], post["title"], post["body"]) == (
        "topic",
        "pending",
        "Exported",
        "second text",
    )
    assert post["earlier_versions"][0]["body"] == "first text"
    assert data["forum_suspensions"] == []


def test_deleting_my_account_takes_my_posts_down_and_erases_them(
    client, member, make_user, category, moderator, published_topic
):
    from moderation.states import PUBLISHED

    app_config_threshold = services.trust_threshold()
    posts = []
    for n in range(app_config_threshold):
        topic = services.create_topic(member, category, f"Mine {n}", f"words {n}")
        moderation.approve_submission("forum_post", topic.opening.id, moderator)
        posts.append(topic.opening.id)
    reply = services.create_reply(member, published_topic.id, "my published reply")
    assert reply.status == PUBLISHED
    explanation = client.get("/account/delete")  # anonymous: redirected; explanation is for the owner
    assert explanation.status_code == 302
    accounts.delete_account(member, STRONG_PASSWORD)
    db.session.expire_all()
    for post_id in posts + [reply.id]:
        post = db.session.get(ForumPost, post_id)
        assert (post.status, post.body, post.author_id) == ("removed", None, None)
        assert post.decision_reason == "account_deleted"
    assert "my published reply" not in client.get(f"/forums/topics/{published_topic.id}").text


def test_account_deletion_page_explains_what_happens_to_forum_posts(client_for, member):
    page = client_for(member).get("/account/delete").text
    assert "forum topics and replies" in page


def test_my_account_shows_my_suspension(client_for, member, moderator):
    from datetime import timedelta

    from forum.accounts import suspensions
    from forum.timeutil import utcnow

    suspensions.suspend_member(
        moderator, member.id, "Shouting <in> capitals", utcnow().date() + timedelta(days=2)
    )
    page = client_for(member).get("/account").text
    assert "Suspensions of your account" in page and "Shouting &lt;in&gt; capitals" in page
