"""Whatever is kept for speed (stored HTML, counts, averages, last activity, cached pages)
changes in the transaction of the decision: a removal, rejection, withdrawal or edit shows at once
on every page, count, average, feed and API answer, for anonymous visitors served from the cache too."""

from __future__ import annotations

from sqlalchemy import select

from forum.blog import services as blog
from forum.catalog.models import Product
from forum.community import services as forums
from forum.community.models import ForumCategory, ForumTopic
from forum.extensions import db
from forum.speed.models import RenderedText
from moderation import services as moderation


def _warm(client, *paths):
    """Fill the page cache (and answer each page once) before the change."""
    for path in paths:
        assert client.get(path).status_code == 200, path
        assert client.get(path).status_code == 200, path


def _stored(kind, item_id):
    return db.session.scalar(
        select(RenderedText).where(RenderedText.kind == kind, RenderedText.item_id == item_id)
    )


def test_review_removal_changes_every_page_count_average_and_api(client, product, add_reviews, moderator):
    five = add_reviews(product, 1, rating=5, prefix="Great")[0]
    add_reviews(product, 1, rating=1, prefix="Poor")
    pages = [
        "/products",
        "/products/CAB-USB-C-2M",
        f"/reviews/{five.id}",
        f"/api/reviews/{five.id}",
        "/api/products/CAB-USB-C-2M/reviews",
        "/",
    ]
    _warm(client, *pages)
    api = client.get("/api/products/CAB-USB-C-2M/reviews").get_json()
    assert (api["review_count"], api["average_rating"], api["histogram"]["5"]) == (2, 3.0, 1)
    assert _stored("review", five.id) is not None

    moderation.remove_submission("review", five.id, moderator, reason="abusive")

    api = client.get("/api/products/CAB-USB-C-2M/reviews").get_json()
    assert (api["review_count"], api["average_rating"], api["histogram"]["5"]) == (1, 1.0, 0)
    assert [r["title"] for r in api["reviews"]] == ["Poor title 0"]
    page = client.get("/products/CAB-USB-C-2M").get_data(as_text=True)
    assert "Great title 0" not in page and "Great body 0" not in page
    assert "1 review" in page
    listing = client.get("/products").get_data(as_text=True)
    assert "1 review" in listing and "2 reviews" not in listing
    assert client.get(f"/reviews/{five.id}").status_code == 404
    assert client.get(f"/api/reviews/{five.id}").status_code == 404
    assert _stored("review", five.id) is None  # stored HTML erased with the text
    kept = db.session.get(Product, product.id)
    db.session.refresh(kept)
    assert (kept.review_count, kept.rating_sum, kept.stars_5, kept.stars_1) == (1, 1, 0, 1)


def test_withdrawn_review_is_gone_at_once(client, product, add_reviews):
    from forum.catalog import services as catalog
    from forum.models import User

    review = add_reviews(product, 1, prefix="Mine")[0]
    _warm(client, "/products/CAB-USB-C-2M", "/api/products/CAB-USB-C-2M/reviews")
    catalog.withdraw_review(db.session.get(User, review.author_id), review.id)
    assert "Mine title 0" not in client.get("/products/CAB-USB-C-2M").get_data(as_text=True)
    assert client.get("/api/products/CAB-USB-C-2M/reviews").get_json()["review_count"] == 0


def test_rejected_review_never_counts(client, product, make_user, moderator):
    from forum.catalog import services as catalog

    review = catalog.submit_review(make_user(), product, 5, "Spam", "Buy things")
    _warm(client, "/api/products/CAB-USB-C-2M/reviews")
    moderation.reject_submission("review", review.id, moderator, reason="spam")
    assert client.get("/api/products/CAB-USB-C-2M/reviews").get_json()["review_count"] == 0
    assert db.session.get(Product, product.id).review_count == 0


def test_forum_reply_removal_changes_topic_category_and_index(client, add_topic, moderator, category):
    topic = add_topic(replies=2)
    replies = [p for p in forums.topic_posts(None, topic).items if not p.is_opening]
    gone = replies[-1]
    paths = ["/forums", "/forums/cables", f"/forums/topics/{topic.id}"]
    _warm(client, *paths)
    assert "2 replies" in client.get(f"/forums/topics/{topic.id}").get_data(as_text=True)
    assert _stored("forum_post", gone.id) is not None

    moderation.remove_submission("forum_post", gone.id, moderator, reason="abusive")

    topic_page = client.get(f"/forums/topics/{topic.id}").get_data(as_text=True)
    assert "Reply <em>number</em> 1" not in topic_page and "1 reply" in topic_page
    assert _stored("forum_post", gone.id) is None
    kept = db.session.get(ForumTopic, topic.id)
    db.session.refresh(kept)
    assert (kept.post_count, kept.reply_count) == (2, 1)
    cat = db.session.get(ForumCategory, category.id)
    db.session.refresh(cat)
    assert (cat.topic_count, cat.post_count) == (1, 2)
    assert cat.last_activity_at == kept.last_activity_at == replies[0].published_at
    index = client.get("/forums").get_data(as_text=True)
    assert ">2<" in index or " 2 " in index


def test_withdrawn_topic_leaves_category_and_index(client, add_topic, category, staff_author):
    topic = add_topic(replies=1, title="Soon gone")
    add_topic(title="Stays")
    _warm(client, "/forums", "/forums/cables", f"/forums/topics/{topic.id}")
    forums.withdraw_post(staff_author, topic.opening.id)
    assert "Soon gone" not in client.get("/forums/cables").get_data(as_text=True)
    assert client.get(f"/forums/topics/{topic.id}").status_code == 404
    cat = db.session.get(ForumCategory, category.id)
    db.session.refresh(cat)
    assert (cat.topic_count, cat.post_count) == (1, 1)


def test_edit_shows_at_once_for_cached_pages(client, add_topic, staff_author):
    topic = add_topic()
    _warm(client, f"/forums/topics/{topic.id}")
    forums.edit_post(staff_author, topic.opening.id, "Which cable?", "Now with **new** words")
    page = client.get(f"/forums/topics/{topic.id}").get_data(as_text=True)
    assert "<strong>new</strong>" in page and "Opening <strong>post</strong>" not in page


def test_moved_topic_moves_the_counts(client, add_topic, category, moderator):
    other = forums.add_category("Chargers")
    topic = add_topic(replies=1)
    _warm(client, "/forums", "/forums/cables", "/forums/chargers")
    forums.move_topic(moderator, topic.id, other.id)
    counts = {c.slug: (c.topic_count, c.post_count) for c in db.session.scalars(select(ForumCategory))}
    for c in db.session.scalars(select(ForumCategory)):
        db.session.refresh(c)
    counts = {c.slug: (c.topic_count, c.post_count) for c in db.session.scalars(select(ForumCategory))}
    assert counts == {"cables": (0, 0), "chargers": (1, 2)}
    assert "Which cable?" in client.get("/forums/chargers").get_data(as_text=True)
    assert "Which cable?" not in client.get("/forums/cables").get_data(as_text=True)


def test_display_name_change_reaches_cached_pages(client, add_topic, staff_author):
    topic = add_topic()
    _warm(client, f"/forums/topics/{topic.id}")
    staff_author.display_name = "Renamed Person"
    db.session.commit()
    assert "Renamed Person" in client.get(f"/forums/topics/{topic.id}").get_data(as_text=True)


def test_blog_comment_removal_and_post_unpublish(client, blog_post, editor, make_user, moderator):
    comment = blog.add_comment(make_user(), blog_post.slug, "A comment https://example.org")
    moderation.approve_submission("blog_comment", comment.id, moderator)
    _warm(client, "/blog", "/blog/hello-world", "/blog/feed.atom")
    assert "A comment" in client.get("/blog/hello-world").get_data(as_text=True)
    moderation.remove_submission("blog_comment", comment.id, moderator, reason="spam")
    assert "A comment" not in client.get("/blog/hello-world").get_data(as_text=True)
    assert _stored("blog_comment", comment.id) is None

    assert _stored("blog_post", blog_post.id) is not None
    blog.unpublish_post(editor, blog_post.id)
    assert client.get("/blog/hello-world").status_code == 404
    assert "Hello world" not in client.get("/blog").get_data(as_text=True)
    assert "Hello world" not in client.get("/blog/feed.atom").get_data(as_text=True)
    assert _stored("blog_post", blog_post.id) is None


def test_removed_review_leaves_cached_search_results_at_once(client, product, add_reviews, moderator):
    from forum.search.indexing import drain_all

    review = add_reviews(product, 1, prefix="Zanzibar")[0]
    db.session.info.pop("search_outbox_committed", None)  # as the end of a request does
    report = drain_all(include_not_due=True)
    assert not report.busy and not report.failed, report
    _warm(client, "/search?q=zanzibar")
    link = f"/reviews/{review.id}"
    assert link in client.get("/search?q=zanzibar").get_data(as_text=True)
    moderation.remove_submission("review", review.id, moderator, reason="spam")
    # even before the index is told (the outbox is applied after the request), the answer changes
    assert link not in client.get("/search?q=zanzibar").get_data(as_text=True)
