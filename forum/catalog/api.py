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

DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100


def review_json(review) -> dict:
    return {
        "id": review.id,
        "rating": review.rating,
        "title": review.title,
        "body": review.body,
        "author": review.author.display_name if review.author else None,
        "published_at": review.published_at.isoformat(timespec="seconds"),
        "sha256": review.fingerprint,
        "url": url_for("catalog.review_page", review_id=review.id, _external=True),
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
    product = services.get_product(sku)
    summary = services.rating_summaries([product.id])[product.id]
    pagination = services.published_reviews(product, sort=sort, page=page, per_page=per_page)
    return _public(jsonify(
        sku=product.sku,
        name=product.name,
        url=url_for("catalog.product_page", sku=product.sku, _external=True),
        average_rating=summary.average_rating,
        review_count=summary.review_count,
        histogram=summary.histogram,
        sort=sort,
        page=page,
        per_page=per_page,
        total=pagination.total,
        pages=pagination.pages,
        reviews=[review_json(review) for review in pagination.items],
    ))


@api_bp.route("/reviews/<int:review_id>")
def review(review_id):
    found = services.get_published_review(review_id)
    data = review_json(found)
    data["product"] = {"sku": found.product.sku, "name": found.product.name}
    return _public(jsonify(data))
