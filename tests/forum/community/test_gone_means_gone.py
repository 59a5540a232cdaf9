"""Gone means gone: pending, hidden, rejected, withdrawn and removed posts reach no page, list, count,
"last activity" or search result; and every status change goes through the one transition function."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import event

from forum.community import services
from forum.community.models import ForumPost
from forum.extensions import db
from moderation import flags
from moderation import services as moderation


@pytest.fixture
def thread(app, make_trusted, make_user, moderator, category):
    """A published topic with one reply in every state."""
    app.config["FLAG_HIDE_THRESHOLD"] = 1
    author = make_trusted(display_name="Tess Trusted")
    topic = services.create_topic(author, category, "Zanzibar cable thread", "The opening words quokka")
    replies = {}
    replies["published"] = services.create_reply(author, topic.id, "visible reply wombat")
    replies["pending"] = services.create_reply(
        make_user(display_name="Nick New"), topic.id, "pending reply platypus"
    )
    newbie = make_user(display_name="Rita Rejected")
    replies["rejected"] = services.create_reply(newbie, topic.id, "rejected reply echidna")
    moderation.reject_submission("forum_post", replies["rejected"].id, moderator, reason="spam")
    replies["hidden"] = services.create_reply(author, topic.id, "hidden reply numbat")
    flags.flag_item("forum_post", replies["hidden"].id, make_user(), "abusive")
    replies["removed"] = services.create_reply(author, topic.id, "removed reply bilby")
    moderation.remove_submission("forum_post", replies["removed"].id, moderator, reason="abusive")
    withdrawer = make_trusted(display_name="Wanda Withdrawn")
    replies["withdrawn"] = services.create_reply(withdrawer, topic.id, "withdrawn reply dingo")
    services.withdraw_post(withdrawer, replies["withdrawn"].id)
    db.session.expire_all()
    for state, reply in replies.items():
        assert db.session.get(ForumPost, reply.id).status == state
    return topic, replies


GONE_WORDS = ("platypus", "echidna", "numbat", "bilby", "dingo")


def test_only_published_posts_reach_pages_lists_and_counts(client, thread, category):
    topic, replies = thread
    page = client.get(f"/forums/topics/{topic.id}").text
    assert "wombat" in page
    for word in GONE_WORDS:
        assert word not in page
    assert "1 reply" in page
    assert services.topic_stats([topic.id])[topic.id].reply_count == 1
    summary = services.category_summaries()[category.id]
    # The trusted author's 3 approved topics, the withdrawer's 3, and this one: published posts only.
    assert summary.post_count == 3 + 3 + 2 and summary.topic_count == 3 + 3 + 1
    for post_id in (r.id for s, r in replies.items() if s != "published"):
        assert client.get(f"/forums/posts/{post_id}").status_code == 404
        assert client.get(f"/flag/forum_post/{post_id}").status_code in (302, 404)


def test_last_activity_ignores_posts_that_are_not_public(client, thread, category):
    topic, replies = thread
    stats = services.topic_stats([topic.id])[topic.id]
    visible = db.session.get(ForumPost, replies["published"].id)
    assert stats.last_activity_at == visible.published_at
    # A hidden or removed reply was published later; it still does not count.
    assert db.session.get(ForumPost, replies["hidden"].id).published_at > visible.published_at
    listing = client.get(f"/forums/{category.slug}").text
    row = listing[listing.index("Zanzibar cable thread") :].split("</tr>")[0]
    assert "Tess Trusted" in row and "Wanda" not in row


def test_erased_text_is_gone_from_the_database(thread):
    _, replies = thread
    for state in ("removed", "withdrawn"):
        post = db.session.get(ForumPost, replies[state].id)
        assert post.body is None and post.revisions == []
    assert (
        db.session.get(ForumPost, replies["rejected"].id).body == "rejected reply echidna"
    )  # the author can see why


def test_a_topic_whose_opening_post_is_hidden_disappears_with_its_replies(
    app, client, thread, make_user, category
):
    topic, _ = thread
    flags.flag_item("forum_post", topic.opening.id, make_user(), "spam")
    assert client.get(f"/forums/topics/{topic.id}").status_code == 404
    assert "Zanzibar" not in client.get(f"/forums/{category.slug}").text
    assert "Zanzibar" not in client.get("/forums").text
    summary = services.category_summaries()[category.id]
    assert summary.topic_count == 6 and summary.post_count == 6


def _search(client, query, **params) -> set[int]:
    """Ids of the forum posts a search lists, once the worker applied what was committed before."""
    from forum.search.indexing import drain_all

    db.session.info.pop("search_outbox_committed", None)
    drain_all()
    response = client.get("/search", query_string={"q": query, **params})
    assert response.status_code == 200
    return {int(n) for n in re.findall(r'href="/forums/posts/(\d+)"', response.text)}


def _has_search(app) -> bool:
    return "search.search" in app.view_functions


def test_search_finds_published_posts_only(app, client, thread, category):
    if not _has_search(app):
        pytest.skip("search is not installed in this build")
    topic, replies = thread
    assert _search(client, "quokka") == {topic.opening.id}
    assert _search(client, "wombat", group="forum") == {replies["published"].id}
    assert _search(client, "wombat", group="forum", category=category.slug) == {replies["published"].id}
    assert _search(client, "wombat", group="forum", category="no-such-category") == set()
    for word in GONE_WORDS:
        assert _search(client, word) == set(), word


def test_search_forgets_a_post_as_soon_as_it_leaves_and_follows_moves(
    app, client, thread, make_user, moderator, category
):
    # (the worker applies the changes committed before each search: `_search`)
    if not _has_search(app):
        pytest.skip("search is not installed in this build")
    topic, replies = thread
    reply_id = replies["published"].id
    assert _search(client, "wombat") == {reply_id}
    other = services.add_category("Elsewhere", "")
    services.move_topic(moderator, topic.id, other.id)
    assert _search(client, "wombat", group="forum", category=other.slug) == {reply_id}
    assert _search(client, "wombat", group="forum", category=category.slug) == set()
    services.edit_post(replies["published"].author, reply_id, None, "edited reply kangaroo")
    assert _search(client, "kangaroo") == {reply_id}
    assert _search(client, "wombat") == set()
    # The opening post hidden: the whole topic, replies included, leaves the results.
    flags.flag_item("forum_post", topic.opening.id, make_user(), "spam")
    assert _search(client, "quokka") == set()
    assert _search(client, "kangaroo") == set()
    # Not merely filtered out of results: the index itself agrees with the database.
    check = app.test_cli_runner().invoke(args=["search", "check"])
    assert check.exit_code == 0, check.output
    flags.keep_item("forum_post", topic.opening.id, moderator)
    assert _search(client, "kangaroo") == {reply_id}
    assert _search(client, "quokka") == {topic.opening.id}


def test_search_document_of_a_post(app, thread, category):
    from forum.search.registry import searchable_for

    topic, replies = thread
    searchable = searchable_for("forum_post")
    assert searchable is not None and searchable.group == "forum"
    with app.test_request_context():
        document = searchable.to_document(db.session.get(ForumPost, replies["published"].id))
    assert document.title == "Re: Zanzibar cable thread"
    assert document.category == category.slug and document.category_name == category.name
    assert document.url == f"/forums/posts/{replies['published'].id}"
    published_ids = set(db.session.scalars(searchable.published_query().with_only_columns(ForumPost.id)))
    assert replies["published"].id in published_ids and topic.opening.id in published_ids
    assert not published_ids & {r.id for s, r in replies.items() if s != "published"}


# --- one code path -------------------------------------------------------------------


def test_status_is_only_ever_changed_by_the_transition_function(
    monkeypatch, app, client_for, make_user, moderator, category
):
    """Watch every UPDATE of forum_post: any that writes `status` must come from moderation.services.transition."""
    inside = {"depth": 0}
    real_transition = moderation.transition

    def watched_transition(*args, **kwargs):
        inside["depth"] += 1
        try:
            return real_transition(*args, **kwargs)
        finally:
            inside["depth"] -= 1

    # Every caller looks the function up on the module at call time.
    monkeypatch.setattr(moderation, "transition", watched_transition)
    status_writes = []

    def watch(conn, cursor, statement, parameters, context, executemany):
        if re.match(r"\s*UPDATE forum_post\b", statement) and re.search(
            r"\bstatus\s*=", statement.split("WHERE")[0]
        ):
            status_writes.append(inside["depth"] > 0)

    event.listen(db.engine, "before_cursor_execute", watch)
    try:
        app.config["FLAG_HIDE_THRESHOLD"] = 1
        member = make_user()
        held = services.create_topic(member, category, "Held", "text")  # pending
        moderation.approve_submission("forum_post", held.opening.id, moderator)  # approve
        services.edit_post(member, held.opening.id, "Held", "edited")  # edit: no status write
        staff = services.create_topic(moderator, category, "Staff", "text")  # auto_publish
        reply = services.create_reply(make_user("admin"), staff.id, "reply")
        flags.flag_item("forum_post", reply.id, member, "spam")  # hide
        flags.keep_item("forum_post", reply.id, moderator)  # approve
        rejected = services.create_topic(member, category, "Rejected", "text")
        moderation.reject_submission("forum_post", rejected.opening.id, moderator, reason="spam")  # reject
        flags.remove_item("forum_post", reply.id, moderator, reason="abusive")  # remove
        services.withdraw_post(member, held.opening.id)  # withdraw
        services.set_locked(moderator, staff.id, True)
        services.move_topic(moderator, staff.id, services.add_category("Other", "").id)
        from forum.accounts import services as accounts
        from tests.conftest import STRONG_PASSWORD

        accounts.delete_account(member, STRONG_PASSWORD)  # remove (system)
        # And through the pages.
        other = make_user()
        page_topic = services.create_topic(other, category, "Via pages", "x")
        client_for(other).post(f"/forums/posts/{page_topic.opening.id}/delete")
    finally:
        event.remove(db.engine, "before_cursor_execute", watch)
    assert status_writes and all(status_writes), status_writes
    assert len(status_writes) >= 8


def test_removal_requests_resolve_links_to_forum_posts(app, thread):
    resolver = pytest.importorskip("moderation.removal.services")
    topic, replies = thread
    reply_id = replies["published"].id
    with app.test_request_context(base_url="http://shop.example"):
        for link, expected in (
            (f"http://shop.example/forums/posts/{reply_id}", reply_id),
            (f"/forums/posts/{reply_id}/edit", reply_id),
            (f"http://shop.example/forums/topics/{topic.id}", topic.opening.id),
            (f"http://shop.example/forums/topics/{topic.id}?page=1#post-{reply_id}", reply_id),
        ):
            kind, item_id = resolver.resolve_link(link)
            assert (kind.name, item_id) == ("forum_post", expected), link
