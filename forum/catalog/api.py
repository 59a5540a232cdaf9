"""Public, read-only JSON API for published reviews.

Only published reviews ever appear (services.published_reviews_query); title
and body are the stored strings, so a client can recompute each `sha256`.
Errors are JSON too (forum.errors renders every error under /api/ as JSON).
"""

from __future__ import annotations

from flask import jsonify, request, url_for

from forum.paging import InvalidParameter as BadQuery
from forum.paging import int_arg, page_arg

from . import api_bp, services
from .engagement import extras_for

DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100


def review_json(review, extras=None) -> dict:
    from .engagement import ReviewExtras

    extras = extras or ReviewExtras()
    reply = extras.reply
    return {
        "id": review.id,
        "rating": review.rating,
        "title": review.title,
        "body": review.body,
        "author": review.author.display_name if review.author else None,
        "published_at": review.published_at.isoformat(timespec="seconds"),
        "sha256": review.fingerprint,
        "url": url_for("catalog.review_page", review_id=review.id, _external=True),
        "verified_purchase": bool(extras.verified_purchase),
        "helpful_count": extras.helpful_count,
        "photos": [
            {
                "url": url_for("catalog.photo", file_name=p.file_name, _external=True),
                "sha256": p.sha256,
                "width": p.width,
                "height": p.height,
            }
            for p in extras.photos
        ],
        "company_reply": {
            "body": reply.body,
            "author": reply.author.display_name if reply.author else "The shop",
            "published_at": reply.published_at.isoformat(timespec="seconds"),
        }
        if reply is not None
        else None,
    }


def _public(response):
    # Anyone may read published reviews, from any site.
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@api_bp.route("/products/<sku>/reviews")
def product_reviews(sku):
    # Strict: "1e3", " 2", "-1", "", "²" and a repeated page are refused (400), not guessed at.
    page = page_arg(strict=True)
    per_page = int_arg("per_page", DEFAULT_PER_PAGE, MAX_PER_PAGE, strict=True)
    sort = request.args.get("sort", "newest")
    if sort not in services.SORTS:
        raise BadQuery(f"sort must be one of: {', '.join(services.SORTS)}.")
    raw_rating = request.args.get("rating")
    if raw_rating is not None and raw_rating not in ("1", "2", "3", "4", "5"):
        raise BadQuery("rating must be a whole number from 1 to 5.")
    rating = int(raw_rating) if raw_rating is not None else None
    product = services.get_product(sku)
    # Average, count and histogram always cover every published review, whatever the filter.
    summary = services.summary_of(product)
    pagination = services.published_reviews(product, sort=sort, page=page, per_page=per_page, rating=rating)
    extras = extras_for(pagination.items)
    return _public(
        jsonify(
            sku=product.sku,
            name=product.name,
            url=url_for("catalog.product_page", sku=product.sku, _external=True),
            average_rating=summary.average_rating,
            review_count=summary.review_count,
            histogram=summary.histogram,
            sort=sort,
            rating=rating,
            page=page,
            per_page=per_page,
            total=pagination.total,
            pages=pagination.pages,
            reviews=[review_json(review, extras[review.id]) for review in pagination.items],
        )
    )


@api_bp.route("/reviews/<int:review_id>")
def review(review_id):
    found = services.get_published_review(review_id)
    data = review_json(found, extras_for([found])[found.id])
    data["product"] = {"sku": found.product.sku, "name": found.product.name}
    return _public(jsonify(data))


@api_bp.route("/reviews")
def all_reviews():
    """Every published review, oldest first (stable pages for archivers and `logverify`)."""
    page = page_arg(strict=True)
    per_page = int_arg("per_page", DEFAULT_PER_PAGE, MAX_PER_PAGE, strict=True)
    pagination = services.all_published_reviews(page=page, per_page=per_page)
    return _public(
        jsonify(
            page=page,
            per_page=per_page,
            total=pagination.total,
            pages=pagination.pages,
            reviews=[
                {**review_json(review), "product": {"sku": review.product.sku, "name": review.product.name}}
                for review in pagination.items
            ],
        )
    )
