"""Two members in a real browser: a mention brings one back (notification and mail), they reply
with a quote, the first is notified of the quote and likes the reply. Their first posts wait for
a moderator, as every new member's do; nothing is notified before that."""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import E2E_PASSWORD

pytestmark = pytest.mark.e2e


def _log_in(page, email: str):
    page.goto("/login")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(E2E_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    assert page.locator(".flashes").inner_text().startswith("Signed in as")


def _approve(desk, text: str):
    desk.goto("/moderation")
    row = desk.locator("tr.desk-row", has_text=text)
    assert row.count() == 1
    row.locator("a.desk-open").click()
    desk.locator("main").get_by_role("button", name="Approve", exact=True).click()
    desk.goto("/moderation")
    assert desk.locator("tr.desk-row", has_text=text).count() == 0


def _notifications_link(page):
    return page.get_by_role("navigation", name="Main").get_by_role("link", name=re.compile("^Notifications"))


def test_mention_notification_reply_quote_like(live_server, new_page, create_user):
    slug = re.search(
        r"/forums/([a-z0-9-]+)",
        live_server.flask("forums", "add-category", "Desk setups", "--description", "Show your desk.").stdout,
    ).group(1)
    ann = create_user("ann.mention@example.com", display_name="Ann Mention")
    ben = create_user("ben.quote@example.com", display_name="Ben Quote")
    moderator = create_user("community.moderator@example.com", role="moderator", display_name="Community Mod")
    desk = new_page()
    _log_in(desk, moderator.email)

    # Ben's handle is on his profile; Ann mentions him in a new topic.
    ann_page = new_page()
    _log_in(ann_page, ann.email)
    ben_page = new_page()
    _log_in(ben_page, ben.email)
    ben_page.goto("/account")
    ben_page.get_by_role("link", name="my public profile").click()
    handle = re.search(r"@([A-Za-z0-9_-]+)", ben_page.locator("dl.facts").inner_text()).group(1)
    ann_page.goto(f"/forums/{slug}")
    ann_page.get_by_role("link", name="Start a new topic").click()
    ann_page.get_by_label("Title").fill("Two screens or one ultrawide?")
    ann_page.get_by_label("Message").fill(f"I am torn. @{handle}, you have an ultrawide: worth it?")
    ann_page.get_by_role("button", name="Post topic").click()
    topic_url = ann_page.url
    # Held for a moderator: Ben hears nothing yet.
    ben_page.goto("/notifications")
    assert "mentioned you" not in ben_page.locator("main").inner_text()
    _approve(desk, "Two screens or one ultrawide?")  # the desk lists a topic by its title

    # Ben sees the unread count in the header, opens the notification and lands on the post.
    ben_page.goto("/forums")
    assert _notifications_link(ben_page).inner_text().replace("\n", " ").startswith("Notifications 1")
    _notifications_link(ben_page).click()
    ben_page.get_by_role("link", name=re.compile("Ann Mention mentioned you")).click()
    assert ben_page.url.split("?")[0] == topic_url
    mention = ben_page.locator("article.forum-post").first.get_by_role("link", name=f"@{handle}")
    assert mention.get_attribute("href") == f"/members/{handle}"
    mail = live_server.wait_for_mail(ben.email, subject="You were mentioned in the community forums")
    assert (
        "List-Unsubscribe=One-Click" == mail["List-Unsubscribe-Post"]
        and "/notifications/unsubscribe/" in mail["List-Unsubscribe"]
    )

    # He replies with a quote of Ann's post (the Quote link fills the form; no JavaScript needed).
    ben_page.locator("article.forum-post").first.get_by_role("link", name="Quote", exact=True).click()
    body = ben_page.get_by_label("Your reply")
    assert "wrote](/forums/posts/" in body.input_value() and "> I am torn." in body.input_value()
    body.fill(body.input_value() + "Absolutely worth it for spreadsheets.")
    ben_page.get_by_role("button", name="Post reply").click()
    assert "awaiting moderation" in ben_page.locator(".flashes").inner_text()
    _approve(desk, "wrote")  # a reply by its excerpt, which starts with the quote's attribution

    # Ann is told her post was quoted, reads the reply with the quote, and likes it.
    ann_page.goto("/notifications")
    ann_page.get_by_role("link", name=re.compile("Ben Quote quoted your post")).click()
    reply = ann_page.locator("article.forum-post", has_text="Absolutely worth it")
    assert reply.locator("blockquote", has_text="I am torn.").count() == 1
    reply.get_by_role("button", name="Like", exact=True).click()
    reply = ann_page.locator("article.forum-post", has_text="Absolutely worth it")
    assert "1 like" in reply.inner_text()
    assert reply.get_by_role("button", name="Unlike", exact=True).count() == 1
    # Ben sees the like among his notifications; author names lead to profiles.
    ben_page.goto("/notifications")
    assert "Ann Mention liked your post" in ben_page.locator("main").inner_text()
    ben_page.goto(topic_url + "?page=1")
    ben_page.locator("article.forum-post").first.get_by_role("link", name="Ann Mention", exact=True).click()
    assert ben_page.locator("h1").inner_text() == "Ann Mention"
    assert "Likes received" in ben_page.locator("main").inner_text()
