"""A review removed at the requester's request is gone from every public surface,
its text is erased, and the moderation log still verifies."""

from __future__ import annotations

from sqlalchemy import select, text

from forum.extensions import db
from moderation.audit import verify_chain
from moderation.models import ModerationLog
from moderation.removal import services as removal


def drain_search_index():
    from forum.search import indexing

    db.session.info.pop("search_outbox_committed", None)
    indexing.drain_all(include_not_due=True)


def test_removed_review_is_gone_from_pages_average_api_search_and_database(
    client, shop, publish_review, make_user, moderator, submit_and_confirm, runner
):
    jane = make_user("member", email="jane@example.com")
    removed = publish_review(
        author=jane, rating=1, title="Quokka kettle woes", body="Quokka: signed Jane Roe, 12 Elm Street."
    )
    kept = publish_review(rating=5, title="Lovely", body="No complaints at all.")
    drain_search_index()
    product_page = client.get(f"/products/{shop.sku}").get_data(as_text=True)
    assert "Quokka kettle woes" in product_page
    assert client.get(f"/api/products/{shop.sku}/reviews").get_json()["average_rating"] == 3.0
    assert f'href="/reviews/{removed.id}"' in client.get("/search?q=quokka").get_data(as_text=True)

    rr, _ = submit_and_confirm(links=[f"/reviews/{removed.id}"])
    removal.decide_item(rr.id, rr.items[0].id, moderator, "remove")
    drain_search_index()

    product_page = client.get(f"/products/{shop.sku}").get_data(as_text=True)
    assert "Quokka" not in product_page and "Lovely" in product_page
    listing = client.get(f"/api/products/{shop.sku}/reviews").get_json()
    assert listing["average_rating"] == 5.0 and listing["review_count"] == 1
    assert [r["id"] for r in listing["reviews"]] == [kept.id]
    assert client.get(f"/api/reviews/{removed.id}").status_code == 404
    assert client.get(f"/reviews/{removed.id}").status_code == 404
    assert client.get(f"/reviews/{removed.id}/verify").status_code == 404
    search = client.get("/search?q=quokka").get_data(as_text=True)
    assert f'href="/reviews/{removed.id}"' not in search and "Jane Roe" not in search
    products = client.get("/products").get_data(as_text=True)
    assert "Quokka" not in products

    # Erased in the database too; the tombstone keeps id, dates and fingerprint.
    row = db.session.execute(
        text("SELECT title, body, status, fingerprint, created_at FROM review WHERE id = :id"),
        {"id": removed.id},
    ).one()
    assert (row.title, row.body, row.status, row.fingerprint) == (None, None, "removed", removed.fingerprint)
    assert row.created_at is not None
    dumped = " ".join(
        str(v) for r in db.session.execute(select(ModerationLog)).scalars() for v in vars(r).values()
    )
    assert "Quokka" not in dumped and "Elm Street" not in dumped
    assert verify_chain().ok
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output


def test_requester_still_sees_what_happened_to_an_erased_item(
    client, publish_review, moderator, submit_and_confirm
):
    review = publish_review(title="Erase me", body="Private stuff.")
    rr, status_token = submit_and_confirm(links=[f"/reviews/{review.id}"])
    removal.decide_item(rr.id, rr.items[0].id, moderator, "remove")
    html = client.get(f"/removal-request/status/{status_token}").get_data(as_text=True)
    assert f"Product review #{review.id}" in html and "Removed." in html
    assert "Private stuff." not in html and "Erase me" not in html
