"""A buyer's whole journey in a real browser: the shop's order arrives, the invitation mail
comes, the buyer follows its link, creates an account with that address, writes a review with a
photo; a moderator approves it, an editor answers it, and everyone sees a verified purchase with
the photo (without its GPS data) and the company's reply."""

from __future__ import annotations

import hashlib
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from PIL import ExifTags, Image

from tests.e2e.conftest import E2E_PASSWORD

pytestmark = pytest.mark.e2e

SKU = "E2E-HEADPHONES-1"
BUYER = "invited.buyer@example.com"


def _log_in(page, email: str):
    page.goto("/login")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(E2E_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    assert page.locator(".flashes").inner_text().startswith("Signed in as")


def _photo_with_gps(path):
    image = Image.new("RGB", (900, 600), (40, 90, 160))
    exif = Image.Exif()
    exif[ExifTags.Base.Model] = "Buyer's phone"
    exif[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N",
        ExifTags.GPS.GPSLatitude: (48.0, 8.0, 30.0),
        ExifTags.GPS.GPSLongitudeRef: "E",
        ExifTags.GPS.GPSLongitude: (11.0, 34.0, 12.0),
    }
    image.save(path, format="JPEG", exif=exif)


def test_buyer_goes_from_invitation_mail_to_a_verified_review_with_photo_and_reply(
    live_server, new_page, create_user, tmp_path
):
    products = tmp_path / "products.csv"
    products.write_text(f"sku,name,description\n{SKU},Studio headphones,Closed-back.\n", encoding="utf-8")
    live_server.flask("products", "import", str(products))
    ordered = (datetime.now(UTC) - timedelta(days=20)).strftime("%Y-%m-%dT%H:%M:%SZ")
    orders = tmp_path / "orders.csv"
    orders.write_text(f"order_id,email,sku,ordered_at\nE2E-5001,{BUYER},{SKU},{ordered}\n", encoding="utf-8")
    assert "1 orders created" in live_server.flask("orders", "import", str(orders)).stdout
    assert "Queued 1 review invitation" in live_server.flask("reviews", "send-invitations").stdout

    mail = live_server.wait_for_mail(BUYER, subject="How was your order? Tell other shoppers")
    assert str(mail["List-Unsubscribe"]).strip().startswith("<" + live_server)
    body = mail.get_content()
    link = re.search(re.escape(live_server) + r"/reviews/invitation/\S+", body).group(0)

    # The buyer follows the link, creates an account with that address and lands on the form.
    buyer = new_page()
    buyer.goto(link)
    buyer.get_by_role("link", name="Create an account").click()
    buyer.get_by_label("Email address").fill(BUYER)
    buyer.get_by_label("Display name (shown with what you post)").fill("Invited Buyer")
    buyer.get_by_label("Password (at least 8 characters)").fill(E2E_PASSWORD)
    buyer.get_by_label("Repeat the password").fill(E2E_PASSWORD)
    buyer.get_by_role("button", name="Create account").click()
    assert buyer.url.endswith(f"/products/{SKU}#write-review")
    assert "verified purchase" in buyer.locator("#invited").inner_text()
    buyer.get_by_label("4 stars (good)").check()
    buyer.get_by_label("Title").fill("Comfortable, clear sound")
    buyer.get_by_label("Your review").fill("Wore them all day. The photo shows the case.")
    photo = tmp_path / "headphones.jpg"
    _photo_with_gps(photo)
    buyer.get_by_label("Photos (optional)").set_input_files(str(photo))
    buyer.get_by_role("button", name="Send for moderation").click()
    assert "awaiting moderation" in buyer.locator(".flashes").inner_text()
    # The link was single use.
    assert buyer.goto(link).status == 410

    # A moderator sees the review and its photo in the queue and approves it.
    create_user("invite.moderator@example.com", role="moderator")
    desk = new_page()
    _log_in(desk, "invite.moderator@example.com")
    desk.goto("/moderation")
    row = desk.locator("tr.desk-row", has_text="Comfortable, clear sound")
    assert row.count() == 1
    row.locator("a.desk-open").click()
    item = desk.locator("main")
    assert item.locator("img").count() == 1  # the moderator sees the photo before deciding
    item.get_by_role("button", name="Approve", exact=True).click()
    assert "published" in desk.locator(".flashes").inner_text()

    # An editor answers it as the company.
    create_user("invite.editor@example.com", role="editor", display_name="Sam from the shop")
    editor = new_page()
    _log_in(editor, "invite.editor@example.com")
    editor.goto(f"/products/{SKU}")
    editor.get_by_role("link", name=re.compile("Reply as the shop")).click()
    editor.get_by_label("The company's reply").fill("Thank you! Glad they fit well.")
    editor.get_by_role("button", name="Publish the reply").click()
    assert "published under the review" in editor.locator(".flashes").inner_text()
    assert live_server.wait_for_mail(BUYER, subject="The shop answered your review")

    # Anyone: verified purchase, the photo (no GPS left), the company's reply.
    visitor = new_page()
    visitor.goto(f"/products/{SKU}")
    review = visitor.locator("article.review", has_text="Comfortable, clear sound")
    assert "Verified purchase" in review.inner_text()
    assert "Reply from the shop" in review.inner_text() and "Glad they fit well." in review.inner_text()
    image = review.locator(".review-photos img")
    assert image.count() == 1
    assert image.evaluate("img => img.complete && img.naturalWidth") == 900
    served = visitor.request.get(image.get_attribute("src")).body()
    clean = Image.open(io.BytesIO(served))
    assert not clean.getexif() and b"Buyer's phone" not in served
    review.get_by_role("link", name=re.compile("Permanent link")).click()
    visitor.get_by_role("link", name="How to check the fingerprint yourself").click()
    listed = visitor.locator("code.photo-sha256").inner_text()
    assert hashlib.sha256(served).hexdigest() == listed
