"""Product and review pages: they parse the request, call a service and render."""

from __future__ import annotations

from flask import Response, current_app, flash, redirect, render_template, request, session, url_for
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_required

from forum.errors import Conflict, ValidationFailed
from forum.extensions import db, limiter
from forum.forms import apply_errors, page_form, render_form
from forum.paging import page_arg
from forum.security import is_safe_next
from forum.speed import rendered
from moderation.tlog_views import review_log_context

from . import bp, services
from .forms import ReviewForm
from .models import REVIEW_BODY_MAX, REVIEW_TITLE_MAX

PRODUCTS_PER_PAGE = 24
REVIEWS_PER_PAGE = 10
SORT_LABELS = {
    "newest": "Newest first",
    "highest": "Highest rating first",
    "lowest": "Lowest rating first",
    "helpful": "Most helpful first",
}


def posting_key() -> str:
    """Rate limits count per account when signed in (one person, many addresses), else per address."""
    if current_user.is_authenticated:
        return f"user:{current_user.id}"
    return f"ip:{get_remote_address()}"


def _posting_limit() -> str:
    return current_app.config["RATELIMIT_POSTING"]


def _page_arg() -> int:
    # Pages are forgiving: a bad ?page= shows the first page rather than an error.
    return page_arg()


def _sort_arg() -> str:
    sort = request.args.get("sort", "newest")
    return sort if sort in SORT_LABELS else "newest"


def _rating_arg() -> int | None:
    # Forgiving like ?page=: anything but 1-5 shows every rating.
    raw = request.args.get("rating", "")
    return int(raw) if raw in ("1", "2", "3", "4", "5") else None


def _product_jsonld(product, summary, reviews) -> dict:
    """schema.org Product with AggregateRating and the Reviews shown on this page."""
    data = {
        "@context": "https://schema.org",
        "@type": "Product",
        "name": product.name,
        "sku": product.sku,
        "url": url_for("catalog.product_page", sku=product.sku, _external=True),
    }
    if product.description:
        data["description"] = product.description
    if summary.review_count:
        data["aggregateRating"] = {
            "@type": "AggregateRating",
            "ratingValue": summary.average_rating,
            "reviewCount": summary.review_count,
            "bestRating": 5,
            "worstRating": 1,
        }
    if reviews:
        data["review"] = [_review_jsonld(review) for review in reviews]
    return data


def _review_jsonld(review, with_product: bool = False) -> dict:
    data = {
        "@type": "Review",
        "name": review.title,
        "reviewBody": review.body,
        "datePublished": review.published_at.date().isoformat(),
        "url": url_for("catalog.review_page", review_id=review.id, _external=True),
        "reviewRating": {"@type": "Rating", "ratingValue": review.rating, "bestRating": 5, "worstRating": 1},
        "author": {
            "@type": "Person",
            "name": review.author.display_name if review.author else "Former customer",
        },
    }
    if with_product:
        data["@context"] = "https://schema.org"
        data["itemReviewed"] = {
            "@type": "Product",
            "name": review.product.name,
            "sku": review.product.sku,
            "url": url_for("catalog.product_page", sku=review.product.sku, _external=True),
        }
    return data


@bp.route("/products")
def products():
    pagination, summaries = services.list_products(page=_page_arg(), per_page=PRODUCTS_PER_PAGE)
    return render_template("catalog/products.html", pagination=pagination, summaries=summaries)


def _render_product_page(product, form: ReviewForm):
    from . import engagement, orders

    sort = _sort_arg()
    rating = _rating_arg()
    # Average and histogram always count every published review, whatever the filter shows.
    summary = services.summary_of(product)
    pagination = services.published_reviews(
        product, sort=sort, page=_page_arg(), per_page=REVIEWS_PER_PAGE, rating=rating
    )
    rendered.prefetch("review", pagination.items)  # the page's stored HTML in one query
    return render_form(
        "catalog/product.html",
        form,
        product=product,
        summary=summary,
        pagination=pagination,
        sort=sort,
        rating=rating,
        sort_labels=SORT_LABELS,
        extras=engagement.extras_for(pagination.items, current_user),
        purchase=orders.purchase_status(current_user, product),
        can_reply=engagement.can_reply(current_user),
        own=services.review_state_for(current_user, product),
        jsonld=_product_jsonld(product, summary, pagination.items),
        title_max=REVIEW_TITLE_MAX,
        body_max=REVIEW_BODY_MAX,
    )


@bp.route("/products/<sku>")
def product_page(sku):
    product = services.get_product(sku)
    form = page_form(ReviewForm)
    # Came from an invitation link (see extras_views.invitation_link): the form carries it.
    form.invitation.data = session.get("review_invitations", {}).get(product.sku)
    return _render_product_page(product, form)


@bp.route("/products/<sku>/reviews", methods=["GET", "POST"])
@limiter.limit(_posting_limit, methods=["POST"], key_func=posting_key)
@login_required
def submit_review(sku):
    product = services.get_product(sku)
    if request.method == "GET":
        # Someone reloading or bookmarking the form's address: show the product page and its form.
        return redirect(url_for("catalog.product_page", sku=sku, _anchor="write-review"))
    from . import photos

    form = ReviewForm()
    if form.validate_on_submit():
        try:
            prepared = photos.prepare_photos(
                (upload.filename, upload.read()) for upload in request.files.getlist(form.photos.name)
            )
            review = services.submit_review(
                current_user,
                product,
                form.rating.data,
                form.title.data,
                form.body.data,
                photos_to_attach=prepared,
                invitation_token=form.invitation.data or None,
            )
        except ValidationFailed as error:
            apply_errors(form, error)
        else:
            invitations = dict(session.get("review_invitations", {}))
            if invitations.pop(product.sku, None):
                session["review_invitations"] = invitations
            replaced = (
                " Your earlier review stays published until this one is approved."
                if review.replaces_id
                else ""
            )
            flash(
                "Thank you! Your review is awaiting moderation. It will appear exactly as you wrote it once a "
                f"moderator approves it; you can follow it in My account.{replaced}",
                "success",
            )
            return redirect(url_for("catalog.product_page", sku=product.sku))
    return _render_product_page(product, form)


@bp.route("/reviews/<int:review_id>")
def review_page(review_id):
    from . import engagement

    review = services.get_published_review(review_id)
    return render_template(
        "catalog/review.html",
        review=review,
        jsonld=_review_jsonld(review, with_product=True),
        extras=engagement.extras_for([review], current_user),
        can_reply=engagement.can_reply(current_user),
    )


@bp.route("/reviews/<int:review_id>/verify")
def verify_review(review_id):
    from . import photos

    review = services.get_published_review(review_id)
    return render_template(
        "catalog/verify.html",
        review=review,
        photos=photos.photos_of([review.id])[review.id],
        payload=services.fingerprint_payload(review),
        api_url=url_for("api.review", review_id=review.id, _external=True),
        payload_url=url_for("catalog.review_payload", review_id=review.id, _external=True),
        **review_log_context(review),
    )


@bp.route("/reviews/<int:review_id>/verify/payload.json")
def review_payload(review_id):
    """The hashed bytes themselves, so `curl ... | sha256sum` gives the fingerprint."""
    review = services.get_published_review(review_id)
    payload = services.fingerprint_payload(review).encode("utf-8", "surrogatepass")
    return Response(payload, mimetype="application/json", headers={"X-Content-Type-Options": "nosniff"})


@bp.route("/reviews/<int:review_id>/withdraw", methods=["POST"])
@login_required
def withdraw_review(review_id):
    next_url = request.form.get("next")
    try:
        review = services.withdraw_review(current_user, review_id)
    except Conflict as error:
        db.session.rollback()
        flash(error.message, "warning")
    else:
        flash(
            f"Your review of {review.product.name} was withdrawn. It is no longer shown anywhere.", "success"
        )
    return redirect(next_url if is_safe_next(next_url) else url_for("accounts.account"))
