"""A new member's forum topic in a real browser: written in Markdown, held (only its author sees it,
marked "awaiting moderation"), approved by a moderator in /moderation, then on the topic page for
everyone, rendered safely."""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import E2E_PASSWORD

pytestmark = pytest.mark.e2e

TITLE = 'Which <b>dock</b> for two "4K" screens?'
BODY = (
    "I need **two** 4K screens at 60 Hz.\n\n"
    "- laptop with USB4\n- [spec sheet](https://example.com/dock)\n\n"
    "<script>alert('x')</script> [click me](javascript:alert(1))"
)


def _log_in(page, email: str):
    page.goto("/login")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(E2E_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    assert page.locator(".flashes").inner_text().startswith("Signed in as")


@pytest.fixture
def category(live_server):
    result = live_server.flask(
        "forums", "add-category", "Docks & hubs", "--description", "USB-C docks, hubs, KVMs."
    )
    slug = re.search(r"/forums/([a-z0-9-]+)", result.stdout).group(1)
    return slug


def test_new_members_topic_goes_through_the_queue_to_the_topic_page(
    live_server, new_page, category, create_user
):
    member = create_user("forum.newbie@example.com", display_name="Forum Newbie")
    moderator = create_user("forum.moderator@example.com", role="moderator", display_name="Forum Moderator")

    # The new member starts a topic from the forum pages, with a preview first.
    writer = new_page()
    _log_in(writer, member.email)
    writer.goto("/forums")
    writer.get_by_role("link", name="Docks & hubs").click()
    writer.get_by_role("link", name="Start a new topic").click()
    writer.get_by_label("Title").fill(TITLE)
    writer.get_by_label("Message").fill(BODY)
    writer.get_by_role("button", name="Preview").click()
    assert writer.locator(".preview .markdown strong", has_text="two").count() == 1
    writer.get_by_role("button", name="Post topic").click()
    assert "awaiting moderation" in writer.locator(".flashes").inner_text()
    topic_url = writer.url
    assert re.search(r"/forums/topics/\d+$", topic_url)
    # Its author sees it, marked; the public does not.
    assert "Awaiting moderation" in writer.locator("main").inner_text()
    visitor = new_page()
    response = visitor.goto(topic_url)
    assert response.status == 404
    visitor.goto(f"/forums/{category}")
    assert "for two" not in visitor.locator("main").inner_text()
    assert "No topics yet" in visitor.locator("main").inner_text()

    # The moderator finds it in the queue, with its Markdown exactly as typed, and approves it.
    desk = new_page()
    _log_in(desk, moderator.email)
    desk.get_by_role("navigation", name="Main").get_by_role("link", name=re.compile("Moderation")).click()
    row = desk.locator("tr.desk-row", has_text=TITLE)
    assert row.count() == 1 and "New member" in row.inner_text()
    row.locator("a.desk-open").click()
    item = desk.locator("main")
    assert item.locator("pre.markdown-source").text_content() == BODY
    assert "Docks & hubs" in item.inner_text() and "new member" in item.inner_text()
    assert item.locator(".rendered-preview script").count() == 0
    item.get_by_role("button", name="Approve", exact=True).click()
    desk.goto("/moderation")
    assert desk.locator("tr.desk-row", has_text=TITLE).count() == 0

    # Now everyone sees it on the topic page, rendered, with nothing that runs.
    visitor.goto(f"/forums/{category}")
    visitor.get_by_role("link", name=TITLE).click()
    assert visitor.url == topic_url
    assert visitor.locator("h1").text_content() == TITLE
    post = visitor.locator("article.forum-post")
    assert post.count() == 1
    assert post.locator(".post-body strong", has_text="two").count() == 1
    assert post.locator(".post-body li").count() == 2
    link = post.locator(".post-body a", has_text="spec sheet")
    assert link.get_attribute("rel") == "nofollow ugc noopener"
    assert post.locator(".post-body a[href^='javascript']").count() == 0
    assert visitor.locator("script", has_text="alert").count() == 0
    assert "Awaiting moderation" not in visitor.locator("main").inner_text()
    assert live_server.wait_for_mail(member.email, "Your forum post is published") is not None
