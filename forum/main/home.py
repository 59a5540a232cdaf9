"""What the home page shows a shopper arriving for the first time: the latest published
reviews, the best-rated products, the liveliest forum topics and the latest blog posts.

Only published content, through each area's own public queries; one query per
section, whatever the amount of content. A section whose area is not installed
(or has nothing yet) is simply left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import and_, func, select
from sqlalchemy.orm import aliased, joinedload

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
    from forum.catalog.models import Product, Review
    from moderation.states import PUBLISHED

    average = func.avg(Review.rating)
    count = func.count(Review.id)
    rows = db.session.execute(
        select(Product, average, count)
        .join(Review, Review.product_id == Product.id)
        .where(Review.status == PUBLISHED, Product.active.is_(True))
        .group_by(Product.id)
        .order_by(average.desc(), count.desc(), Product.name)
        .limit(TOP_PRODUCTS)
    ).all()
    return [(product, round(float(avg), 1), int(n)) for product, avg, n in rows]


def _active_topics():
    from forum.community.models import ForumPost, ForumTopic
    from moderation.states import PUBLISHED

    opening = aliased(ForumPost)
    last = func.max(ForumPost.published_at)
    replies = func.count(ForumPost.id) - 1
    rows = db.session.execute(
        select(ForumTopic.id, last, replies)
        .join(opening, and_(opening.topic_id == ForumTopic.id, opening.is_opening.is_(True)))
        .join(ForumPost, ForumPost.topic_id == ForumTopic.id)
        .where(opening.status == PUBLISHED, ForumPost.status == PUBLISHED)
        .group_by(ForumTopic.id)
        .order_by(last.desc(), ForumTopic.id.desc())
        .limit(ACTIVE_TOPICS)
    ).all()
    if not rows:
        return []
    topics = {
        topic.id: topic
        for topic in db.session.scalars(
            select(ForumTopic)
            .where(ForumTopic.id.in_([r[0] for r in rows]))
            .options(joinedload(ForumTopic.category), joinedload(ForumTopic.opening))
        )
    }
    return [(topics[topic_id], at, int(n)) for topic_id, at, n in rows if topic_id in topics]


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
