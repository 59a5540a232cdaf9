"""The blog in a real browser: an editor writes, previews and publishes a post; a member
comments; the comment waits unseen until a moderator approves it in /moderation; then it
shows under the post exactly as written, and the feed lists the post."""

from __future__ import annotations

import re
from xml.etree import ElementTree as ET

import pytest

from tests.e2e.conftest import E2E_PASSWORD

pytestmark = pytest.mark.e2e

TITLE = "Spring <sale> & “news”"
BODY = "We have **big** news.\n\n- cables\n- kettles\n\n[javascript trick](javascript:alert(1))"
COMMENT = "Will the <b>kettle</b> be on sale?\n\n  Thanks! https://example.com/kettle?a=1&b=2"


def _log_in(page, email: str):
    page.goto("/login")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(E2E_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    assert page.locator(".flashes").inner_text().startswith("Signed in as")


def test_post_and_comment_go_through_the_blog_and_the_queue(live_server, new_page, create_user):
    editor = create_user("blog.editor@example.com", role="editor", display_name="Blog Editor")
    member = create_user("blog.member@example.com", display_name="Blog Member")
    moderator = create_user("blog.moderator@example.com", role="moderator", display_name="Blog Moderator")

    # The editor previews (nothing saved), then publishes.
    desk = new_page()
    _log_in(desk, editor.email)
    desk.goto("/blog")
    desk.get_by_role("link", name="Write and manage posts").click()
    desk.get_by_role("link", name="Write a new post").click()
    desk.get_by_label("Title").fill(TITLE)
    desk.get_by_label("Text (Markdown").fill(BODY)
    desk.get_by_role("button", name="Preview").click()
    preview = desk.locator("section.preview")
    assert "nothing is saved yet" in preview.inner_text()
    assert preview.locator("strong", has_text="big").count() == 1
    assert preview.locator("a[href^='javascript']").count() == 0
    desk.get_by_role("button", name="Publish").click()
    assert "published" in desk.locator(".flashes").inner_text()
    assert desk.locator("h1#post-title").text_content() == TITLE
    post_url = desk.url
    assert post_url.endswith("/blog/spring-sale-news")

    # A member comments; the comment waits unseen.
    reader = new_page()
    _log_in(reader, member.email)
    reader.goto(post_url)
    reader.get_by_label("Your comment").fill(COMMENT)
    reader.get_by_role("button", name="Send for moderation").click()
    assert "moderator will read your comment" in reader.locator(".flashes").inner_text()
    visitor = new_page()
    visitor.goto(post_url)
    assert visitor.locator("article.comment").count() == 0
    assert "0 comments" in visitor.locator("#comments-heading").inner_text()

    # The moderator approves it in the one queue, where it shows exactly as written.
    mod = new_page()
    _log_in(mod, moderator.email)
    mod.goto("/moderation?kind=blog_comment")
    row = mod.locator("tr.desk-row", has_text="Thanks!")
    assert row.count() == 1
    row.locator("a.desk-open").click()
    item = mod.locator("main")
    assert item.locator(".queue-text").text_content() == COMMENT  # the DOM turns CRLF into LF
    assert TITLE in item.inner_text()
    item.get_by_role("button", name="Approve", exact=True).click()
    assert "published exactly as submitted" in mod.locator(".flashes").inner_text()

    # Now it shows under the post, as text, with a safe clickable link.
    visitor.goto(post_url)
    comment = visitor.locator("article.comment")
    assert comment.count() == 1
    assert comment.locator(".comment-body").text_content() == COMMENT
    assert comment.locator(".comment-body b").count() == 0
    assert comment.locator(".comment-body a").get_attribute("rel") == "nofollow ugc noopener"
    assert "Blog Member" in comment.inner_text()
    assert "1 comment" in visitor.locator("#comments-heading").inner_text()
    mail = live_server.wait_for_mail(member.email, "Your comment is published")
    assert re.search(r"/blog/comments/\d+", mail.get_content())

    # The feed lists the post (valid XML), and the editor can unpublish it again.
    feed = ET.fromstring(visitor.request.get("/blog/feed.atom").body())
    titles = [e.text for e in feed.iter("{http://www.w3.org/2005/Atom}title")]
    assert TITLE in titles
    desk.goto("/blog/manage")
    desk.locator("tr", has_text="Spring").get_by_role("button", name=re.compile("Unpublish")).click()
    assert "unpublished" in desk.locator(".flashes").inner_text()
    assert visitor.goto(post_url).status == 404
