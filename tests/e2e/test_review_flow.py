"""A review's whole journey in a real browser: a customer writes it on the product page, it
waits unseen, a moderator approves it in /moderation, and it appears on the product page
exactly as written, with the fingerprint anyone can recompute."""

from __future__ import annotations

import hashlib
import json
import re

import pytest

from tests.e2e.conftest import E2E_PASSWORD

pytestmark = pytest.mark.e2e

SKU = "E2E-KETTLE-1"
# Markup, quotes, spacing and blank lines: all must come back exactly, shown as text.
TITLE = '  <b>Loud</b> but "works" & boils fast  '
BODY = "First paragraph <script>alert('x')</script>\n\n    Indented second paragraph.\nSee https://example.com/kettle?a=1&b=2 ✓"


def _log_in(page, email: str):
    page.goto("/login")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(E2E_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    assert page.locator(".flashes").inner_text().startswith("Signed in as")


@pytest.fixture
def product(live_server, tmp_path):
    csv_file = tmp_path / "products.csv"
    csv_file.write_text(
        f"sku,name,description\n{SKU},Quiet kettle 1.7 l,Stainless steel.\n", encoding="utf-8"
    )
    live_server.flask("products", "import", str(csv_file))
    return SKU


def test_review_goes_from_submission_through_the_queue_to_the_product_page(
    live_server, new_page, product, create_user
):
    customer = create_user("flow.customer@example.com", display_name="Flow Customer")
    moderator = create_user("flow.moderator@example.com", role="moderator", display_name="Flow Moderator")

    # The customer writes a two-star review.
    shopper = new_page()
    _log_in(shopper, customer.email)
    shopper.goto(f"/products/{product}")
    shopper.get_by_label("2 stars (poor)").check()
    shopper.get_by_label("Title").fill(TITLE)
    shopper.get_by_label("Your review").fill(BODY)
    shopper.get_by_role("button", name="Send for moderation").click()
    assert "moderation" in shopper.locator(".flashes").inner_text().lower()

    # Browsers send a textarea's line breaks as CRLF: that is what was submitted and stored.
    submitted_body = BODY.replace("\n", "\r\n")
    fingerprint = hashlib.sha256(
        json.dumps([TITLE, submitted_body], ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    ).hexdigest()

    # Pending: nobody sees it on the product page yet.
    visitor = new_page()
    visitor.goto(f"/products/{product}")
    assert visitor.locator("article.review").count() == 0
    assert "Loud" not in visitor.locator("main").inner_text()

    # The moderator sees it in the queue, exactly as it will be published, and approves it.
    desk = new_page()
    _log_in(desk, moderator.email)
    nav = desk.get_by_role("navigation", name="Main")
    assert re.search(r"Moderation\s*\d+", nav.get_by_role("link", name=re.compile("Moderation")).inner_text())
    nav.get_by_role("link", name=re.compile("Moderation")).click()
    row = desk.locator("tr.desk-row", has_text='<b>Loud</b> but "works"')
    assert row.count() == 1 and "Flow Customer" in row.inner_text()
    row.locator("a.desk-open").click()
    item = desk.locator("main")
    assert item.locator("dd.review-title").text_content() == TITLE
    assert item.locator("dd.review-body").text_content() == BODY  # the DOM turns CRLF into LF
    assert item.locator("dd.fingerprint").text_content() == fingerprint
    assert "2 of 5" in item.inner_text() and "Flow Customer" in item.inner_text()
    item.get_by_role("button", name="Approve", exact=True).click()
    assert "published exactly as submitted" in desk.locator(".flashes").inner_text()
    desk.goto("/moderation")
    assert desk.locator("tr.desk-row", has_text='<b>Loud</b> but "works"').count() == 0

    # Now it is public, word for word, with its fingerprint.
    visitor.goto(f"/products/{product}")
    review = visitor.locator("article.review")
    assert review.count() == 1
    assert review.locator(".review-title").text_content() == TITLE
    assert review.locator(".review-body").text_content() == BODY
    assert review.locator(".review-body a").get_attribute("rel") == "nofollow ugc noopener"
    assert visitor.locator("script", has_text="alert").count() == 0
    review.get_by_role("link", name=re.compile("Permanent link and fingerprint")).click()
    assert visitor.locator("#fingerprint").text_content() == fingerprint
    assert "Published as submitted" in visitor.locator("main").inner_text()

    # The JSON API returns the submitted bytes, and the author was told.
    review_id = int(re.search(r"/reviews/(\d+)", visitor.url).group(1))
    api = visitor.request.get(f"/api/reviews/{review_id}").json()
    assert (api["title"], api["body"], api["sha256"]) == (TITLE, submitted_body, fingerprint)
    mail = live_server.wait_for_mail(customer.email, "Your review is published")
    assert fingerprint in mail.get_content()
