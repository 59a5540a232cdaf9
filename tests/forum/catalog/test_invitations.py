"""Review invitations: every buyer once, single-use links, opt-out without signing in, transparency."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import func, select

from forum.catalog import engagement, invitations, orders
from forum.catalog import services as catalog
from forum.catalog.models import Product, Review
from forum.catalog.trust_models import InvitationOptOut, ReviewFacts, ReviewInvitation
from forum.extensions import db
from forum.timeutil import utcnow
from moderation import services as moderation


def _order(ref, email, skus, days_ago=15):
    orders._store(
        {ref: {"email": email, "ordered_at": utcnow() - timedelta(days=days_ago), "skus": list(skus)}}
    )
    db.session.commit()


def _links(message):
    return re.findall(r"http://\S+/reviews/invitation/\S+", message.body)


def _opt_out_link(message):
    return re.search(r"http://\S+/reviews/invitations/opt-out/\S+", message.body).group(0)


def _path(url):
    return "/" + url.split("/", 3)[3]


def _invitations(sent_mail):
    from forum.mail import send_pending

    send_pending(include_not_due=True)  # services called outside a request: deliver what they queued
    return [m for m in sent_mail if m.subject.startswith("How was your order")]


def test_every_buyer_is_invited_once_whatever_they_said_before(
    app, product, make_user, publish, sent_mail, runner
):
    other = Product(sku="MON-24", name="24 inch monitor")
    db.session.add(other)
    db.session.commit()
    unhappy = make_user(email="unhappy@example.com")
    publish(unhappy, product, 1, "Terrible", "Broke at once.")  # a 1-star reviewer is invited like anyone
    _order("O-1", "unhappy@example.com", [product.sku, "MON-24", "NOT-IN-CATALOG"])
    _order("O-2", "happy@example.com", [product.sku])
    _order("O-3", "recent@example.com", [product.sku], days_ago=13)  # not yet due
    result = runner.invoke(args=["reviews", "send-invitations"])
    assert result.exit_code == 0 and "Queued 2 review invitation(s)" in result.output
    mails = _invitations(sent_mail)
    assert sorted(m.to[0] for m in mails) == ["happy@example.com", "unhappy@example.com"]
    to_unhappy = next(m for m in mails if m.to == ["unhappy@example.com"])
    assert len(_links(to_unhappy)) == 2  # one per product we sell
    assert "USB-C cable, 2 m" in to_unhappy.body and "24 inch monitor" in to_unhappy.body
    headers = to_unhappy.message()
    assert headers["List-Unsubscribe"] == f"<{_opt_out_link(to_unhappy)}>"
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # Nothing offered in return.
    assert "We offer nothing in return" in to_unhappy.body
    for word in ("voucher", "discount", "coupon", "prize"):
        assert word not in to_unhappy.body.lower()
    # Once: running again sends nothing more.
    assert invitations.send_due_invitations() == 0
    assert len(_invitations(sent_mail)) == 2
    assert invitations.send_due_invitations(now=utcnow() + timedelta(days=2)) == 1  # O-3 is due now
    assert db.session.scalar(select(func.count()).select_from(ReviewInvitation)) == 3


def test_invitation_link_leads_to_a_verified_review_and_is_single_use(
    client, product, make_user, login_as, sent_mail, moderator
):
    _order("O-1", "buyer@example.com", [product.sku])
    invitations.send_due_invitations()
    link = _path(_links(_invitations(sent_mail)[0])[0])

    # Signed out: sign in or create an account with that address (masked on the page).
    page = client.get(link)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "buyer@example.com" not in html and "b••••@example.com" in html
    assert "/register?next=" in html and "/login?next=" in html

    # Someone else's account cannot use it.
    login_as(make_user())
    assert client.get(link).status_code == 403
    client.post("/logout")

    buyer = make_user(email="buyer@example.com")
    login_as(buyer)
    response = client.get(link)
    assert response.status_code == 302 and response.headers["Location"].endswith(
        f"/products/{product.sku}#write-review"
    )
    html = client.get(f"/products/{product.sku}").get_data(as_text=True)
    assert 'id="invited"' in html
    token = link.rsplit("/", 1)[1]
    assert f'name="invitation" type="hidden" value="{token}"' in html
    response = client.post(
        f"/products/{product.sku}/reviews",
        data={"rating": "2", "title": "Meh", "body": "Not great.", "invitation": token},
    )
    assert response.status_code == 302
    review = db.session.scalar(select(Review))
    facts = db.session.get(ReviewFacts, review.id)
    assert facts.verified_purchase is True and facts.from_invitation is True  # the link confirmed the address
    assert client.get(link).status_code == 410  # single use
    moderation.approve_submission("review", review.id, moderator)
    assert client.get(f"/api/reviews/{review.id}").get_json()["verified_purchase"] is True


def test_a_spent_or_foreign_token_does_not_count_as_an_invitation(product, make_user):
    _order("O-1", "buyer@example.com", [product.sku])
    buyer = make_user(email="buyer@example.com")
    review = catalog.submit_review(buyer, product, 4, "T", "B", invitation_token="made-up-token")
    assert db.session.get(ReviewFacts, review.id).from_invitation is False


def test_opt_out_works_without_signing_in_and_stops_later_invitations(client, product, sent_mail):
    _order("O-1", "buyer@example.com", [product.sku])
    invitations.send_due_invitations()
    opt_out = _path(_opt_out_link(_invitations(sent_mail)[0]))
    page = client.get(opt_out)
    assert page.status_code == 200 and "Stop review invitations" in page.get_data(as_text=True)
    # One-click (RFC 8058): a mail client POSTs without any cookie or CSRF token.
    response = client.post(opt_out, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200 and 'id="opted-out"' in response.get_data(as_text=True)
    assert client.post(opt_out).status_code == 200  # again: fine, nothing changes
    assert db.session.scalar(select(func.count()).select_from(InvitationOptOut)) == 1
    _order("O-2", "Buyer@Example.com", [product.sku])
    assert invitations.send_due_invitations() == 0
    assert len(_invitations(sent_mail)) == 1
    assert (
        db.session.scalar(select(ReviewInvitation.status).where(ReviewInvitation.status == "opted_out"))
        == "opted_out"
    )
    assert client.get("/reviews/invitations/opt-out/not-a-token").status_code == 404


def test_old_orders_from_a_late_import_are_not_invited(product, sent_mail):
    _order("OLD", "buyer@example.com", [product.sku], days_ago=200)
    assert invitations.send_due_invitations() == 0
    assert db.session.scalar(select(ReviewInvitation.status)) == "too_old"


def test_transparency_shows_invitations_and_per_star_shares(client, product, make_user, publish, sent_mail):
    from io import BytesIO

    from PIL import Image

    from forum.catalog import photos

    _order("O-1", "buyer@example.com", [product.sku])
    invitations.send_due_invitations()
    buyer = make_user(email="buyer@example.com")
    orders.mark_email_confirmed(buyer)
    db.session.commit()
    token = _links(_invitations(sent_mail)[0])[0].rsplit("/", 1)[1]
    out = BytesIO()
    Image.new("RGB", (20, 20)).save(out, format="PNG")
    catalog.submit_review(
        buyer,
        product,
        5,
        "Great",
        "Yes.",
        invitation_token=token,
        photos_to_attach=photos.prepare_photos([("a.png", out.getvalue())]),
    )
    publish(make_user(), product, 5, "Also great", "Yes.")
    publish(make_user(), product, 1, "Bad", "No.")
    data = client.get("/transparency.json").get_json()
    trust = data["sections"]["review_trust"]
    assert trust["invitations_sent"] == 1
    assert trust["reviews_from_invitations"] == 1 and trust["reviews_submitted"] == 3
    five = next(r for r in trust["ratings"] if r["rating"] == 5)
    assert five["share_verified_percent"] == 50.0 and five["share_with_photos_percent"] == 50.0
    one = next(r for r in trust["ratings"] if r["rating"] == 1)
    assert one["share_verified_percent"] == 0.0
    html = client.get("/transparency").get_data(as_text=True)
    assert "Verified purchases and photos by star rating" in html and 'id="invitations-sent">1<' in html
    assert engagement.extras_for([]) == {}


def test_the_mailed_token_proves_the_address_even_without_opening_the_link_first(
    product, make_user, sent_mail
):
    _order("O-1", "buyer@example.com", [product.sku])
    invitations.send_due_invitations()
    token = _links(_invitations(sent_mail)[0])[0].rsplit("/", 1)[1]
    buyer = make_user(email="buyer@example.com")
    review = catalog.submit_review(buyer, product, 1, "Bad", "Broke.", invitation_token=token)
    facts = db.session.get(ReviewFacts, review.id)
    assert (facts.verified_purchase, facts.from_invitation) == (True, True)
    # Spent: a second review (a replacement) with the same token is not "from an invitation".
    moderation.approve_submission("review", review.id, make_user("moderator"))
    again = catalog.submit_review(buyer, product, 2, "Update", "Still bad.", invitation_token=token)
    assert db.session.get(ReviewFacts, again.id).from_invitation is False
