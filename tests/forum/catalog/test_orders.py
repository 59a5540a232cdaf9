"""Orders (CSV import, signed webhook) and verified purchases."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from forum.catalog import orders
from forum.catalog import services as catalog
from forum.catalog.trust_models import Order, OrderItem, ReviewFacts
from forum.extensions import db
from forum.timeutil import utcnow
from moderation.audit import verify_chain
from moderation.models import ModerationLog

SECRET = "test-webhook-secret"


@pytest.fixture
def app_config(app_config):
    app_config["ORDERS_WEBHOOK_SECRET"] = SECRET
    return app_config


def _order_json(order_id="A-1001", email="Buyer@Example.com", skus=("CAB-USB-C-2M",), when=None):
    return json.dumps(
        {
            "order_id": order_id,
            "email": email,
            "ordered_at": (when or utcnow() - timedelta(days=3)).isoformat(),
            "items": [{"sku": s} for s in skus],
        }
    ).encode()


def _post(client, body: bytes, headers=None, secret=SECRET, timestamp=None):
    signed = orders.sign(secret, body, timestamp) if headers is None else headers
    return client.post("/api/orders", data=body, headers={**signed, "Content-Type": "application/json"})


def _orders():
    return db.session.scalar(select(func.count()).select_from(Order)), db.session.scalar(
        select(func.count()).select_from(OrderItem)
    )


# --- the webhook ---------------------------------------------------------------------------


def test_signed_order_is_stored_once(client):
    body = _order_json(skus=("CAB-USB-C-2M", "MON-24"))
    first = _post(client, body)
    assert first.status_code == 201 and first.get_json() == {"order_id": "A-1001", "status": "created"}
    again = _post(client, body)  # the same order twice (a retry, or the same request replayed in time)
    assert again.status_code == 200 and again.get_json()["status"] == "unchanged"
    assert _orders() == (1, 2)
    order = db.session.scalar(select(Order))
    assert order.email == "buyer@example.com" and sorted(i.sku for i in order.items) == [
        "CAB-USB-C-2M",
        "MON-24",
    ]


@pytest.mark.parametrize(
    "case",
    [
        "no headers",
        "wrong secret",
        "body changed",
        "old timestamp",
        "future timestamp",
        "bad timestamp",
        "no prefix",
        "empty signature",
    ],
)
def test_anything_but_a_fresh_correct_signature_is_401(client, case):
    body = _order_json()
    now = int(time.time())
    headers = orders.sign(SECRET, body, now)
    sent = body
    if case == "no headers":
        headers = {}
    elif case == "wrong secret":
        headers = orders.sign("another secret", body, now)
    elif case == "body changed":
        sent = body.replace(b"A-1001", b"A-1002")
    elif case == "old timestamp":  # a captured request replayed later
        headers = orders.sign(SECRET, body, now - 301)
    elif case == "future timestamp":
        headers = orders.sign(SECRET, body, now + 301)
    elif case == "bad timestamp":
        headers = {**headers, "X-Timestamp": "1e9"}
    elif case == "no prefix":
        headers = {**headers, "X-Signature": headers["X-Signature"].removeprefix("sha256=")}
    elif case == "empty signature":
        headers = {**headers, "X-Signature": "sha256="}
    response = _post(client, sent, headers=headers)
    assert response.status_code == 401 and response.is_json
    assert _orders() == (0, 0)


def test_signature_covers_the_timestamp(client):
    """Changing X-Timestamp to make an old capture look fresh breaks the signature."""
    body = _order_json()
    old = orders.sign(SECRET, body, int(time.time()) - 3600)
    forged = {"X-Timestamp": str(int(time.time())), "X-Signature": old["X-Signature"]}
    assert _post(client, body, headers=forged).status_code == 401


def test_without_a_configured_secret_nothing_is_accepted(app, client):
    app.config["ORDERS_WEBHOOK_SECRET"] = None
    body = _order_json()
    assert _post(client, body, headers=orders.sign("", body)).status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"order_id": "A"}',
        json.dumps(
            {
                "order_id": "A",
                "email": "nobody",
                "ordered_at": "2026-01-01T00:00:00Z",
                "items": [{"sku": "X"}],
            }
        ).encode(),
        json.dumps(
            {"order_id": "A", "email": "a@example.com", "ordered_at": "yesterday", "items": [{"sku": "X"}]}
        ).encode(),
        json.dumps(
            {
                "order_id": "A",
                "email": "a@example.com",
                "ordered_at": "2999-01-01T00:00:00Z",
                "items": [{"sku": "X"}],
            }
        ).encode(),
        json.dumps(
            {"order_id": "A", "email": "a@example.com", "ordered_at": "2026-01-01T00:00:00Z", "items": []}
        ).encode(),
        json.dumps(
            {
                "order_id": "A",
                "email": "a@example.com",
                "ordered_at": "2026-01-01T00:00:00Z",
                "items": [{"sku": "a b"}],
            }
        ).encode(),
        '{"order_id": "\udc80"}'.encode("utf-8", "surrogatepass"),
    ],
)
def test_bad_orders_get_a_clear_4xx_and_store_nothing(client, body):
    response = _post(client, body)
    assert response.status_code in (400, 422) and response.is_json
    assert response.get_json()
    assert _orders() == (0, 0)


def test_same_order_id_with_other_data_is_refused(client):
    assert _post(client, _order_json()).status_code == 201
    response = _post(client, _order_json(email="someone.else@example.com"))
    assert response.status_code == 422
    assert db.session.scalar(select(Order.email)) == "buyer@example.com"


# --- the CSV import ---------------------------------------------------------------------------


def test_csv_import_is_idempotent(runner, tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text(
        "order_id,email,sku,ordered_at\n"
        "S-1,ann@example.com,CAB-1,2026-11-01T10:00:00Z\n"
        "S-1,ann@example.com,MON-2,2026-11-01T10:00:00Z\n"
        "S-2,bob@example.com,CAB-1,2026-11-02\n",
        encoding="utf-8",
    )
    result = runner.invoke(args=["orders", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "2 orders created" in result.output
    assert _orders() == (2, 3)
    result = runner.invoke(args=["orders", "import", str(path)])
    assert result.exit_code == 0 and "0 orders created" in result.output and "2 unchanged" in result.output
    assert _orders() == (2, 3)


def test_csv_with_bad_rows_imports_nothing_and_names_each_line(runner, tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text(
        "order_id,email,sku,ordered_at\n"
        "S-1,ann@example.com,CAB-1,2026-11-01T10:00:00Z\n"
        "S-2,not-an-address,CAB-1,2026-11-01T10:00:00Z\n"
        "S-3,bob@example.com,CAB-1,last tuesday\n"
        "S-4,bob@example.com,CAB-1\n"
        "S-1,other@example.com,MON-2,2026-11-01T10:00:00Z\n",
        encoding="utf-8",
    )
    result = runner.invoke(args=["orders", "import", str(path)])
    assert result.exit_code == 1
    for line in (3, 4, 5, 6):
        assert f"line {line}:" in result.output
    assert "line 2:" not in result.output
    assert _orders() == (0, 0)


def test_csv_needs_the_exact_header(runner, tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("id,mail,sku,date\nS-1,ann@example.com,CAB-1,2026-11-01\n", encoding="utf-8")
    result = runner.invoke(args=["orders", "import", str(path)])
    assert result.exit_code == 1 and "order_id,email,sku,ordered_at" in result.output
    assert _orders() == (0, 0)


# --- verified purchases ----------------------------------------------------------------------------


def _buy(email, sku, days_ago=3, ref="O-1"):
    orders._store({ref: {"email": email, "ordered_at": utcnow() - timedelta(days=days_ago), "skus": [sku]}})
    db.session.commit()


def _confirm(user):
    orders.mark_email_confirmed(user)
    db.session.commit()


def test_verified_purchase_needs_a_confirmed_address_and_an_earlier_order(
    client, product, make_user, publish
):
    buyer, unconfirmed, stranger = make_user(), make_user(), make_user()
    _buy(buyer.email, product.sku, ref="O-1")
    _buy(unconfirmed.email, product.sku, ref="O-2")
    _confirm(buyer)
    _confirm(stranger)
    verified = publish(buyer, product, 1, "Broke", "Stopped working.")  # a 1-star review is verified too
    not_confirmed = publish(unconfirmed, product, 5)
    no_order = publish(stranger, product, 5)
    facts = {f.review_id: f.verified_purchase for f in db.session.scalars(select(ReviewFacts))}
    assert facts == {verified.id: True, not_confirmed.id: False, no_order.id: False}

    data = client.get(f"/api/products/{product.sku}/reviews").get_json()
    assert {r["id"]: r["verified_purchase"] for r in data["reviews"]} == facts
    assert client.get(f"/api/reviews/{verified.id}").get_json()["verified_purchase"] is True
    html = client.get(f"/products/{product.sku}").get_data(as_text=True)
    assert html.count("Verified purchase</strong>") == 1
    assert "Verified purchase</strong>" in client.get(f"/reviews/{verified.id}").get_data(as_text=True)

    # Logged: the "submitted" row says what was decided.
    reasons = dict(
        db.session.execute(
            select(ModerationLog.subject_id, ModerationLog.reason).where(ModerationLog.action == "submitted")
        ).all()
    )
    assert reasons == {verified.id: "verified_purchase", not_confirmed.id: None, no_order.id: None}
    assert verify_chain().ok


def test_verified_status_never_changes_after_submission(product, make_user, publish):
    late, early = make_user(), make_user()
    _confirm(late)
    _confirm(early)
    review = publish(late, product, 4)
    _buy(late.email, product.sku, days_ago=0, ref="AFTER")  # an order that arrives afterwards changes nothing
    _buy(early.email, product.sku, ref="BEFORE")
    earlier = publish(early, product, 2)
    orders.erase_orders_of_email(early.email)  # nor does the order's later erasure
    db.session.commit()
    assert db.session.get(ReviewFacts, review.id).verified_purchase is False
    assert db.session.get(ReviewFacts, earlier.id).verified_purchase is True


def test_order_dated_after_submission_does_not_verify(product, make_user):
    buyer = make_user()
    _confirm(buyer)
    orders._store(
        {
            "LATER": {
                "email": buyer.email,
                "ordered_at": utcnow() + timedelta(minutes=1),
                "skus": [product.sku],
            }
        }
    )
    db.session.commit()
    review = catalog.submit_review(buyer, product, 5, "T", "B")
    assert db.session.get(ReviewFacts, review.id).verified_purchase is False


def test_confirming_the_address_by_mailed_link(client, product, make_user, login_as, sent_mail):
    buyer = make_user()
    _buy(buyer.email, product.sku)
    login_as(buyer)
    html = client.get(f"/products/{product.sku}").get_data(as_text=True)
    assert 'id="confirm-email"' in html
    assert client.post("/account/confirm-email", data={"next": f"/products/{product.sku}"}).status_code == 302
    link = (
        next(m for m in sent_mail if m.subject == "Confirm your email address")
        .body.split("http://localhost")[1]
        .split()[0]
    )
    assert client.get(link).status_code == 302
    assert client.get(link).status_code == 410  # single use
    html = client.get(f"/products/{product.sku}").get_data(as_text=True)
    assert 'id="will-be-verified"' in html
    client.post(f"/products/{product.sku}/reviews", data={"rating": "3", "title": "Fine", "body": "OK."})
    review_id = db.session.scalar(select(ReviewFacts.review_id))
    assert db.session.get(ReviewFacts, review_id).verified_purchase is True


# --- personal data ---------------------------------------------------------------------------------


def test_orders_are_exported_and_erased_with_the_account(client, make_user, login_as):
    buyer = make_user()
    _buy(buyer.email, "CAB-1", ref="MINE")
    _buy("someone@example.com", "CAB-1", ref="THEIRS")
    login_as(buyer)
    exported = client.get("/account/export.json").get_json()
    assert [o["order_id"] for o in exported["orders"]] == ["MINE"]
    assert "MINE" in client.get("/account").get_data(as_text=True)
    response = client.post(
        "/account/delete", data={"password": "correct horse battery staple", "confirm": "y"}
    )
    assert response.status_code in (302, 303), response.get_data(as_text=True)
    assert list(db.session.scalars(select(Order.order_ref))) == ["THEIRS"]


def test_retention_deletes_old_orders(app, runner):
    _buy("old@example.com", "CAB-1", days_ago=731, ref="OLD")
    _buy("new@example.com", "CAB-1", days_ago=729, ref="NEW")
    result = runner.invoke(args=["orders", "purge-expired"])
    assert result.exit_code == 0 and "Deleted 1 order" in result.output
    assert list(db.session.scalars(select(Order.order_ref))) == ["NEW"]
    app.config["ORDERS_RETENTION_DAYS"] = 10
    assert orders.purge_expired_orders() == 1
    assert _orders() == (0, 0)


def test_a_confirmed_removal_request_for_everything_erases_the_orders(app):
    from moderation.removal import services as removal
    from moderation.removal.models import RemovalEvent
    from tests.moderation.removal.conftest import confirm_token_in, outbox

    _buy("jane@example.com", "CAB-1", ref="JANE")
    _buy("other@example.com", "CAB-1", ref="OTHER")
    removal.submit_request(
        "jane@example.com", "everything", "", "whole", "Please delete everything about me."
    )
    assert _orders()[0] == 2  # nothing happens before the owner of the mailbox confirms
    removal.confirm_request(confirm_token_in(outbox("jane@example.com")[-1].body_text))
    assert list(db.session.scalars(select(Order.order_ref))) == ["OTHER"]
    messages = list(
        db.session.scalars(select(RemovalEvent.message).where(RemovalEvent.action == "personal_data_erased"))
    )
    assert messages == ["We deleted 1 order(s) the shop had sent us for your address."]
