"""Searchable kinds owned by areas without their own search code: product reviews."""

from __future__ import annotations

from flask import url_for
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from moderation.states import PUBLISHED

from .registry import Searchable, SearchDocument, register_searchable


def _review_is_public(review) -> bool:
    return review.status == PUBLISHED and review.product is not None and review.product.active


def _published_reviews():
    from forum.catalog.models import Product, Review

    return (
        select(Review)
        .join(Product, Review.product_id == Product.id)
        .where(Review.status == PUBLISHED, Product.active.is_(True))
    )


def _review_load_options():
    from forum.catalog.models import Review

    return [joinedload(Review.product), joinedload(Review.author)]


def _review_document(review) -> SearchDocument:
    return SearchDocument(
        kind="review",
        item_id=review.id,
        title=review.title or "",
        body=review.body or "",
        author=review.author.display_name if review.author else None,
        published_at=review.published_at or review.created_at,
        url=url_for("catalog.review_page", review_id=review.id),
        group="reviews",
        product_sku=review.product.sku,
        product_name=review.product.name,
        rating=review.rating,
    )


def register_review_searchable() -> Searchable:
    from forum.catalog.models import Review

    return register_searchable(
        Searchable(
            kind="review",
            group="reviews",
            model=Review,
            to_document=_review_document,
            published_query=_published_reviews,
            is_public=_review_is_public,
            load_options=_review_load_options,
            label="Review",
        )
    )
