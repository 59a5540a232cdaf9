"""Pages around reviews: helpful votes, company replies, photos, invitations, email confirmation,
and the orders webhook. They parse the request, call a service and render."""

from __future__ import annotations

from flask import (
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required

from forum.errors import NotFound, ValidationFailed
from forum.extensions import csrf, db, limiter
from forum.forms import apply_errors, render_form
from forum.security import is_safe_next

from . import api_bp, bp, engagement, invitations, orders, photos, services
from .forms import ReplyForm
from .models import Review
from .views import posting_key

UPLOAD_MAX_BYTES = photos.MAX_PHOTOS * photos.MAX_PHOTO_BYTES + 512 * 1024


def _votes_limit() -> str:
    return current_app.config.get("RATELIMIT_VOTES", "120 per hour")


def _back_to(review_id: int, product_sku: str | None = None):
    target = request.form.get("next")
    if target is not None and is_safe_next(target):
        return redirect(target)
    if product_sku:
        return redirect(url_for("catalog.product_page", sku=product_sku, _anchor=f"review-{review_id}"))
    return redirect(url_for("catalog.review_page", review_id=review_id))


# --- helpful votes ----------------------------------------------------------------------------


@bp.route("/reviews/<int:review_id>/helpful", methods=["POST"])
@limiter.limit(_votes_limit, key_func=posting_key, scope="helpful")
@login_required
def helpful(review_id):
    review = engagement._published(review_id)
    try:
        counted = engagement.vote_helpful(current_user, review.id)
    except ValidationFailed as error:
        flash(error.message, "warning")
        return _back_to(review_id, review.product.sku)
    flash(
        "Thank you: marked as helpful." if counted else "You already marked this review as helpful.",
        "success",
    )
    return _back_to(review_id, review.product.sku)


@bp.route("/reviews/<int:review_id>/helpful/undo", methods=["POST"])
@limiter.limit(_votes_limit, key_func=posting_key, scope="helpful")
@login_required
def helpful_undo(review_id):
    review = db.session.get(Review, review_id)
    if review is None:
        raise NotFound("There is no such review.")
    engagement.undo_helpful(current_user, review.id)
    flash("Your “helpful” mark was taken back.", "success")
    return _back_to(review_id, review.product.sku if review.status == "published" else None)


# --- company replies ------------------------------------------------------------------------------


@bp.route("/reviews/<int:review_id>/reply", methods=["GET", "POST"])
@login_required
def reply(review_id):
    if not engagement.can_reply(current_user):
        abort(403)
    review = services.get_published_review(review_id)
    existing = engagement.reply_of(review.id)
    form = ReplyForm()
    if request.method == "GET" and existing is not None:
        form.body.data = existing.body
    if form.validate_on_submit():
        try:
            engagement.save_reply(current_user, review.id, form.body.data)
        except ValidationFailed as error:
            apply_errors(form, error)
        else:
            flash(
                "The reply is published under the review."
                if existing is None
                else "The reply was updated; the earlier text is kept.",
                "success",
            )
            return redirect(url_for("catalog.review_page", review_id=review.id, _anchor="company-reply"))
    return render_form(
        "catalog/reply.html", form, review=review, existing=existing, max_length=engagement.REPLY_MAX
    )


# --- photos -----------------------------------------------------------------------------------------


@bp.route("/reviews/photos/<file_name>")
def photo(file_name):
    """Published reviews' photos for everyone; moderators also see those awaiting a decision."""
    from sqlalchemy import select

    from .trust_models import ReviewPhoto

    if not photos.FILE_NAME.match(file_name):
        raise NotFound("There is no such photo.")
    rows = db.session.execute(
        select(ReviewPhoto, Review)
        .join(Review, Review.id == ReviewPhoto.review_id)
        .where(ReviewPhoto.file_name == file_name)
    ).all()
    moderator = current_user.is_authenticated and current_user.is_moderator
    visible = [
        p
        for p, r in rows
        if (r.status == "published" and r.product.active)
        or moderator
        or (current_user.is_authenticated and r.author_id == current_user.id)
    ]
    if not visible:
        raise NotFound("There is no such photo.")
    data = photos.storage().read(file_name)
    if data is None:
        raise NotFound("There is no such photo.")
    response = Response(data, mimetype=visible[0].content_type)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    # Revalidate every time: a removed review's photo must not live on in caches.
    response.headers["Cache-Control"] = "no-cache"
    response.set_etag(visible[0].sha256)
    return response.make_conditional(request)


# --- invitations ---------------------------------------------------------------------------------------


@bp.route("/reviews/invitation/<token>")
def invitation_link(token):
    link, order = invitations.find_link(token)
    product = services.get_product(link.sku)
    if not current_user.is_authenticated:
        here = url_for("catalog.invitation_link", token=token)
        return render_template(
            "catalog/invitation.html", product=product, here=here, email=invitations.masked_email(order.email)
        )
    link, product = invitations.open_link(token, current_user)
    invited = dict(session.get("review_invitations", {}))
    invited[product.sku] = token
    session["review_invitations"] = invited
    flash("Thank you for your order. Your review will be marked as a verified purchase.", "success")
    return redirect(url_for("catalog.product_page", sku=product.sku, _anchor="write-review"))


@bp.route("/reviews/invitations/opt-out/<token>", methods=["GET", "POST"])
@csrf.exempt  # the secret token in the address is the proof; mail clients POST it (RFC 8058 one-click)
def invitation_opt_out(token):
    invitations.invitation_for_opt_out(token)
    if request.method == "POST":
        invitations.opt_out(token)
        return render_template("catalog/opt_out.html", done=True, token=token)
    return render_template("catalog/opt_out.html", done=False, token=token)


# --- email confirmation ---------------------------------------------------------------------------------


@bp.route("/account/confirm-email", methods=["POST"])
@limiter.limit("5 per hour", key_func=posting_key, scope="confirm-email")
@login_required
def request_email_confirmation():
    orders.request_email_confirmation(current_user)
    flash(
        f"We sent a confirmation link to {current_user.email}. It works for {orders.EMAIL_CONFIRM_HOURS} hours.",
        "success",
    )
    target = request.form.get("next")
    return redirect(target if is_safe_next(target) else url_for("accounts.account"))


@bp.route("/account/confirm-email/<token>")
def confirm_email(token):
    orders.confirm_email(token)
    flash(
        "Your email address is confirmed. Reviews of products you ordered are marked as verified purchases.",
        "success",
    )
    return redirect(url_for("catalog.products"))


# --- the orders webhook -------------------------------------------------------------------------------------


@api_bp.route("/orders", methods=["POST"])
@csrf.exempt  # machine to machine: the HMAC signature is the proof
def receive_order():
    body = request.get_data(cache=True)
    orders.check_signature(
        current_app.config.get("ORDERS_WEBHOOK_SECRET"),
        request.headers.get("X-Timestamp"),
        request.headers.get("X-Signature"),
        body,
    )
    order_id, created = orders.receive_order_json(body)
    return jsonify(order_id=order_id, status="created" if created else "unchanged"), 201 if created else 200


def allow_photo_uploads():
    """before_request, ahead of CSRF's: the review form may carry photos (4 x 8 MB)."""
    # Only multipart bodies carry files; their text fields keep MAX_FORM_MEMORY_SIZE each.
    if (
        request.endpoint == "catalog.submit_review"
        and request.method == "POST"
        and request.mimetype == "multipart/form-data"
    ):
        request.max_content_length = UPLOAD_MAX_BYTES
