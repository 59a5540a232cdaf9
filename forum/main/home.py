"""What the home page shows a shopper arriving for the first time: the latest published
reviews, the best-rated products, the liveliest forum topics and the latest blog posts.

Only published content, through each area's own public queries; one query per
section, whatever the amount of content. A section whose area is not installed
(or has nothing yet) is simply left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from ..extensions import db

LATEST_REVIEWS = 4
TOP_PRODUCTS = 4
ACTIVE_TOPICS = 5
LATEST_POSTS = 3
REVIEW_EXCERPT = 180


@dataclass
class Home:
    reviews: list = field(default_factory=list)  # Review (product and author loaded)
    products: list = field(default_factory=list)  # (Product, average rating, review count)
    topics: list = field(default_factory=list)  # (ForumTopic, last activity, replies)
    posts: list = field(default_factory=list)  # (BlogPost, excerpt)


def short(text: str | None, limit: int = REVIEW_EXCERPT) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= limit else flat[:limit].rsplit(" ", 1)[0] + "…"


def _latest_reviews():
    from forum.catalog.models import Product, Review
    from forum.catalog.services import published_reviews_query

    query = (
        published_reviews_query(None, "newest")
        .join(Product, Product.id == Review.product_id)
        .where(Product.active.is_(True))
        .options(joinedload(Review.product), joinedload(Review.author))
        .limit(LATEST_REVIEWS)
    )
    return list(db.session.scalars(query))


def _top_products():
    """Best average first, from the counts kept by the review transitions (never an
    aggregate over every published review: 100 ms at 100,000 reviews)."""
    from forum.catalog.models import Product

    average = Product.rating_sum * 1.0 / Product.review_count
    products = db.session.scalars(
        select(Product)
        .where(Product.active.is_(True), Product.review_count > 0)
        .order_by(average.desc(), Product.review_count.desc(), Product.name)
        .limit(TOP_PRODUCTS)
    ).all()
    return [(p, round(p.rating_sum / p.review_count, 1), p.review_count) for p in products]


def _active_topics():
    """Latest activity first, from the topic rows' kept public flag, activity and replies
    (an index on both), never an aggregate over every post."""
    from forum.community.models import ForumTopic

    topics = db.session.scalars(
        select(ForumTopic)
        .where(ForumTopic.is_public.is_(True), ForumTopic.last_activity_at.is_not(None))
        .order_by(ForumTopic.last_activity_at.desc(), ForumTopic.id.desc())
        .limit(ACTIVE_TOPICS)
        .options(joinedload(ForumTopic.category), joinedload(ForumTopic.opening))
    ).all()
    return [(topic, topic.last_activity_at, topic.reply_count) for topic in topics]


def _latest_posts():
    from forum.blog.services import excerpt, published_posts_query
    from forum.speed import rendered

    posts = list(db.session.scalars(published_posts_query().limit(LATEST_POSTS)).unique())
    rendered.prefetch("blog_post", posts)  # their stored HTML in one query
    return [(post, excerpt(post, 200)) for post in posts]


def home_page() -> Home:
    blueprints = current_app.blueprints
    home = Home()
    if "catalog" in blueprints:
        home.reviews = _latest_reviews()
        home.products = _top_products()
    if "community" in blueprints:
        home.topics = _active_topics()
    if "blog" in blueprints:
        home.posts = _latest_posts()
    return home
