"""A removal request in a real browser: from the footer link and the form, through the
confirmation mail and the Confirm button, to the moderator's decision and the outcome
on the requester's private status page."""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import E2E_PASSWORD

pytestmark = pytest.mark.e2e

SKU = "E2E-REMOVAL-1"


def _log_in(page, email: str):
    page.goto("/login")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(E2E_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    assert page.locator(".flashes").inner_text().startswith("Signed in as")


@pytest.fixture
def published_review(live_server, new_page, create_user, tmp_path):
    """A review by jane, published by a moderator; returns (its path, the moderator)."""
    csv_file = tmp_path / "products.csv"
    csv_file.write_text(f"sku,name,description\n{SKU},Removal test kettle,Steel.\n", encoding="utf-8")
    live_server.flask("products", "import", str(csv_file))
    author = create_user("removal.jane@example.com", display_name="Removal Jane")
    moderator = create_user(
        "removal.moderator@example.com", role="moderator", display_name="Removal Moderator"
    )

    writer = new_page()
    _log_in(writer, author.email)
    writer.goto(f"/products/{SKU}")
    writer.get_by_label("4 stars (good)").check()
    writer.get_by_label("Title").fill("Okay kettle, Jane Roe here")
    writer.get_by_label("Your review").fill("Delivered to 12 Elm Street. Boils fast.")
    writer.get_by_role("button", name="Send for moderation").click()

    desk = new_page()
    _log_in(desk, moderator.email)
    desk.goto("/moderation")
    desk.locator("tr.desk-row", has_text="Okay kettle, Jane Roe here").locator("a.desk-open").click()
    desk.get_by_role("button", name="Approve", exact=True).click()
    visitor = new_page()
    visitor.goto(f"/products/{SKU}")
    href = (
        visitor.locator("article.review", has_text="Elm Street")
        .locator('a[href^="/reviews/"]')
        .first.get_attribute("href")
    )
    return href, moderator, author


def test_request_from_the_form_to_the_outcome_page(live_server, new_page, published_review):
    review_path, moderator, author = published_review

    # The requester finds the form from any page's footer and fills it in.
    requester = new_page()
    requester.goto(review_path)
    requester.get_by_role("link", name="Ask us to remove content or personal information").click()
    assert requester.locator("h1").inner_text() == "Ask us to remove content or personal information"
    assert "What happens next" in requester.locator("main").inner_text()
    requester.get_by_label("Your email address").fill(author.email)
    requester.get_by_label("The pages I link to below").check()
    requester.get_by_label("Links to the pages (one per line)").fill(live_server + review_path)
    requester.get_by_label("Remove my personal information in it").check()
    requester.get_by_label("Anything else we should know (optional)").fill("It shows my street address.")
    requester.get_by_role("button", name="Send the request").click()
    assert requester.locator("h1").inner_text() == "Check your email"

    # The confirmation link from the mail shows a Confirm button; pressing it confirms.
    mail = live_server.wait_for_mail(author.email, "Please confirm your removal request")
    link = re.search(r"http://\S+/removal-request/confirm/\S+", mail.get_content()).group(0)
    requester.goto(link)
    requester.get_by_role("button", name="Confirm my request").click()
    assert "is confirmed" in requester.locator(".flashes").inner_text()
    status_url = requester.url
    assert "/removal-request/status/" in status_url
    assert "Being reviewed by our moderators" in requester.locator("main").inner_text()
    reference = re.search(r"RR-\d{4}-[A-Z0-9]{6}", requester.locator("h1").inner_text()).group(0)
    acknowledgement = live_server.wait_for_mail(author.email, "We received your removal request")
    assert reference in acknowledgement.get_content()

    # The moderator finds it in the one queue and removes the review.
    desk = new_page()
    _log_in(desk, moderator.email)
    desk.goto("/moderation")
    desk.get_by_role("link", name=re.compile(reference)).click()
    card = desk.locator("article.removal-item")
    assert "requester is the author" in card.inner_text()
    assert "Delivered to 12 Elm Street." in card.inner_text()
    card.get_by_label("Remove it everywhere").check()
    card.get_by_role("button", name="Record the decision").click()
    assert "is closed and the requester was emailed" in desk.locator(".flashes").inner_text()

    # The requester's private page shows the outcome; the review is gone.
    requester.goto(status_url)
    main = requester.locator("main").inner_text()
    assert "Completed: everything you asked about was removed" in main
    assert "Removed." in main and "If you disagree" in main
    outcome = live_server.wait_for_mail(author.email, "Your removal request: our decision")
    assert reference in outcome.get_content()
    gone = requester.goto(review_path)
    assert gone.status == 404
    requester.goto(f"/products/{SKU}")
    assert "Elm Street" not in requester.locator("main").inner_text()


def test_form_refuses_a_foreign_link_with_a_message(new_page):
    page = new_page()
    page.goto("/removal-request")
    page.get_by_label("Your email address").fill("someone@example.com")
    page.get_by_label("Links to the pages (one per line)").fill("https://elsewhere.example/reviews/1")
    response_holder = {}
    page.on(
        "response",
        lambda r: response_holder.setdefault("status", r.status) if r.request.method == "POST" else None,
    )
    page.get_by_role("button", name="Send the request").click()
    assert response_holder["status"] == 422
    assert "points to another website" in page.locator("#links-error").inner_text()
