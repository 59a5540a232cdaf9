"""Blog posts and approved comments are in search while public; drafts, unpublished posts
and comments that are not published are never in the index (gone means gone)."""

from __future__ import annotations

import pytest

from forum.blog import services as blog
from forum.search.indexing import check, get_backend
from moderation import services as moderation

from .conftest import end_of_request


def _indexed() -> set[str]:
    return get_backend().doc_ids()


def _search(client, words: str, group: str = "blog") -> str:
    response = client.get("/search", query_string={"q": words, "group": group})
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_published_posts_are_found_drafts_never(client, make_post, editor):
    shown = make_post("Zebra crossing news", "Our zebracrossingword announcement.")
    draft = make_post("Draft giraffe", "A giraffeword secret.", state="draft")
    assert f"blog_post:{shown.id}" in _indexed() and f"blog_post:{draft.id}" not in _indexed()
    page = _search(client, "zebracrossingword")
    assert "Zebra crossing news" in page and f"/blog/{shown.slug}" in page
    assert "Draft giraffe" not in _search(client, "giraffeword")

    blog.update_post(editor, shown.id, "Zebra crossing news", "Rewritten with okapiword.")
    end_of_request()
    assert "Zebra crossing news" in _search(client, "okapiword")
    assert "Zebra crossing news" not in _search(client, "zebracrossingword")

    blog.unpublish_post(editor, shown.id)
    end_of_request()
    assert f"blog_post:{shown.id}" not in _indexed()
    assert "Zebra crossing news" not in _search(client, "okapiword")
    assert not check(sync=False).missing and not check(sync=False).extra


@pytest.mark.parametrize("state", ["pending", "rejected", "withdrawn", "hidden", "removed"])
def test_only_published_comments_are_in_the_index(client, member, post, make_comment, state):
    kept = make_comment(member, post, "A quokkaword comment.", state="published")
    gone = make_comment(member, post, "A wombatword comment.", state=state)
    assert f"blog_comment:{kept.id}" in _indexed()
    assert f"blog_comment:{gone.id}" not in _indexed()
    assert f"/blog/comments/{kept.id}" in _search(client, "quokkaword")
    assert f"/blog/comments/{gone.id}" not in _search(client, "wombatword")
    assert not check(sync=False).extra


def test_comments_follow_their_post_out_of_and_into_search(client, editor, member, post, make_comment):
    comment = make_comment(member, post, "Talking about narwhalword.", state="published")
    blog.unpublish_post(editor, post.id)
    end_of_request()
    assert f"blog_comment:{comment.id}" not in _indexed()
    assert f"/blog/comments/{comment.id}" not in _search(client, "narwhalword")
    blog.publish_post(editor, post.id)
    end_of_request()
    assert {f"blog_comment:{comment.id}", f"blog_post:{post.id}"} <= _indexed()
    assert f"/blog/comments/{comment.id}" in _search(client, "narwhalword")


def test_approving_a_comment_indexes_it(app, member, moderator, post):
    comment = blog.add_comment(member, post.slug, "Pending pangolinword.")
    end_of_request()
    assert f"blog_comment:{comment.id}" not in _indexed()
    moderation.approve_submission("blog_comment", comment.id, moderator)
    end_of_request()
    assert f"blog_comment:{comment.id}" in _indexed()
