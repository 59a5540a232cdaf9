"""The public request form: what it says, how links resolve, no enumeration, rate limits."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from forum.catalog import services as catalog
from forum.extensions import db
from moderation import services as moderation
from moderation.removal.models import RemovalItem, RemovalRequest
from tests.conftest import csrf_token_from

from .conftest import confirm_token_in, outbox


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_form_explains_what_happens_and_is_linked_from_every_page(client):
    home = client.get("/").get_data(as_text=True)
    assert 'href="/removal-request"' in home
    response = client.get("/removal-request")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "What happens next" in html
    assert "within 30 days of your confirmation" in html and "48 hours" in html
    # Every field has a visible label (radio groups: a legend).
    for field in ("email", "links", "details"):
        assert f'<label for="{field}"' in html
    assert "<legend>What should we remove?</legend>" in html
    assert "<legend>What kind of removal?</legend>" in html
    assert "Everything posted with this email address" in html
    assert "Remove my personal information in it" in html


def test_signed_in_member_gets_their_address_filled_in(client, member, login_as):
    login_as(member)
    html = client.get("/removal-request").get_data(as_text=True)
    assert 'value="member@example.com"' in html


def test_same_answer_whether_or_not_the_address_has_content(client, publish_review, make_user, form_data):
    author = make_user("member", email="jane@example.com")
    publish_review(author=author)
    known = client.post("/removal-request", data=form_data(email="jane@example.com", scope="everything"))
    unknown = client.post("/removal-request", data=form_data(email="nobody@example.com", scope="everything"))
    assert known.status_code == unknown.status_code == 200
    assert known.get_data() == unknown.get_data()
    assert "Check your email" in known.get_data(as_text=True)
    # Both addresses get the same confirmation mail; nothing is looked up before confirmation.
    assert [m.subject for m in outbox("jane@example.com")] == ["Please confirm your removal request"]
    assert [m.subject for m in outbox("nobody@example.com")] == ["Please confirm your removal request"]
    assert count(RemovalItem) == 0


def test_confirmation_mail_quotes_nothing_the_requester_wrote(client, publish_review, form_data):
    review = publish_review()
    details = "BUY CHEAP PILLS at pills.example now"
    response = client.post(
        "/removal-request",
        data=form_data(links=f"/reviews/{review.id}", details=details, email="victim@example.com"),
    )
    assert response.status_code == 200
    [mail] = outbox("victim@example.com")
    assert details not in mail.body_text and f"/reviews/{review.id}" not in mail.body_text
    assert mail.subject == "Please confirm your removal request"
    token = confirm_token_in(mail.body_text)
    assert len(token) >= 43  # 256 random bits, URL-safe
    stored = db.session.scalars(select(RemovalRequest)).one()
    assert stored.status == "unconfirmed"
    assert stored.confirm_token_hash != token and token not in (stored.confirm_token_hash or "")
    import hashlib

    assert stored.confirm_token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert stored.reference.startswith("RR-") and stored.details == details


def test_each_bad_link_gets_its_own_message(client, publish_review, shop, form_data):
    review = publish_review()
    links = "\n".join(
        [
            f"/reviews/{review.id}",  # fine
            f"http://localhost/reviews/{review.id}",  # fine, and the same item
            "https://evil.example/reviews/1",  # another site
            f"/products/{shop.sku}",  # a page, but not one item
            "/reviews/999999",  # no such review
            "hello there",  # not a link
            "javascript:alert(1)",  # not http(s)
            "/no/such/page",
        ]
    )
    response = client.post("/removal-request", data=form_data(links=links))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Line 1" not in html and "Line 2" not in html
    assert "Line 3 (https://evil.example/reviews/1): this link points to another website" in html
    assert f"Line 4 (/products/{shop.sku}): this page is not a single review" in html
    assert "Line 5 (/reviews/999999): we could not find anything at this link" in html
    assert "Line 6 (hello there): this is not a link" in html
    assert "Line 7 (javascript:alert(1)): this is not a link to a page of this site" in html
    assert "Line 8 (/no/such/page): there is no page at this address" in html
    assert count(RemovalRequest) == 0 and outbox() == []


def test_links_are_needed_unless_everything_is_asked(client, form_data):
    response = client.post("/removal-request", data=form_data(links="  \n \n"))
    assert response.status_code == 422
    assert "Paste at least one link" in response.get_data(as_text=True)
    assert client.post("/removal-request", data=form_data(scope="everything")).status_code == 200


def test_missing_choices_and_address_are_explained(client):
    response = client.post("/removal-request", data={"links": "/reviews/1"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    for message in (
        "Enter your email address.",
        "Choose what you want removed.",
        "Choose what kind of removal you ask for.",
    ):
        assert message in html


def test_repeated_links_name_one_item(client, publish_review, form_data):
    review = publish_review()
    links = f"/reviews/{review.id}\nhttp://localhost/reviews/{review.id}\n /reviews/{review.id} "
    assert client.post("/removal-request", data=form_data(links=links)).status_code == 200
    assert count(RemovalItem) == 1


def test_withdrawn_and_removed_items_still_resolve(client, publish_review, make_user, moderator, form_data):
    author = make_user("member")
    withdrawn = publish_review(author=author)
    catalog.withdraw_review(author, withdrawn.id)
    removed = publish_review()
    moderation.transition(removed, "remove", moderator, reason="spam")
    db.session.commit()
    links = f"/reviews/{withdrawn.id}\n/reviews/{removed.id}"
    assert client.post("/removal-request", data=form_data(links=links)).status_code == 200
    assert sorted(i.item_id for i in db.session.scalars(select(RemovalItem))) == sorted(
        [withdrawn.id, removed.id]
    )


def test_nul_characters_are_refused_with_a_message(client, form_data):
    response = client.post("/removal-request", data=form_data(scope="everything", details="a\x00b"))
    assert response.status_code == 422
    assert "NUL character" in response.get_data(as_text=True)
    assert count(RemovalRequest) == 0


def test_overlong_fields_are_refused_with_a_message(client, form_data):
    response = client.post("/removal-request", data=form_data(scope="everything", details="x" * 5001))
    assert response.status_code == 422
    assert "the limit is 5000" in response.get_data(as_text=True)
    many = "\n".join(f"/reviews/{n}" for n in range(1, 52))
    response = client.post("/removal-request", data=form_data(links=many))
    assert response.status_code == 422
    assert "at most 50 links" in response.get_data(as_text=True)


def test_the_form_needs_its_csrf_token(app_config, app, client, form_data):
    app.config["WTF_CSRF_ENABLED"] = True
    response = client.post("/removal-request", data=form_data(scope="everything"))
    assert response.status_code == 400
    page = client.get("/removal-request").get_data(as_text=True)
    data = {**form_data(scope="everything"), "csrf_token": csrf_token_from(page)}
    assert client.post("/removal-request", data=data).status_code == 200


# --- rate limits ------------------------------------------------------------------


@pytest.fixture
def limited(app_config):
    app_config.update(
        RATELIMIT_ENABLED=True, RATELIMIT_REMOVAL_IP="3 per hour", RATELIMIT_REMOVAL_EMAIL="2 per hour"
    )
    return app_config


def test_rate_limited_per_address(limited, app, form_data):
    client = app.test_client()
    for n in range(3):
        response = client.post(
            "/removal-request", data=form_data(email=f"person{n}@example.com", scope="everything")
        )
        assert response.status_code == 200
    response = client.post(
        "/removal-request", data=form_data(email="person9@example.com", scope="everything")
    )
    assert response.status_code == 429
    assert "Please wait a little" in response.get_data(as_text=True)
    assert client.get("/removal-request").status_code == 200  # reading the form is not limited
    other_ip = client.post(
        "/removal-request",
        data=form_data(email="person8@example.com", scope="everything"),
        environ_base={"REMOTE_ADDR": "10.0.0.9"},
    )
    assert other_ip.status_code == 200


def test_rate_limited_per_email_across_ip_addresses(limited, app, form_data):
    client = app.test_client()
    for n in range(2):
        response = client.post(
            "/removal-request",
            data=form_data(email="Target@Example.com ", scope="everything"),
            environ_base={"REMOTE_ADDR": f"10.0.1.{n}"},
        )
        assert response.status_code == 200
    response = client.post(
        "/removal-request",
        data=form_data(email="target@example.com", scope="everything"),
        environ_base={"REMOTE_ADDR": "10.0.1.50"},
    )
    assert response.status_code == 429
    assert len(outbox("target@example.com")) == 2
