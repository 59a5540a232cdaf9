"""Products and reviews: submission, withdrawal and the public read side.

Every public read goes through `published_reviews_query`, so content that is
not published (pending, rejected, withdrawn, hidden, removed, superseded) can
reach no page, list, average or API response.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from flask import url_for
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from forum.accounts.suspensions import check_can_post
from forum.database import duplicate_refused
from forum.errors import NotFound, ValidationFailed
from forum.extensions import db
from forum.fingerprint import content_fingerprint
from forum.fingerprint import fingerprint_payload as _fingerprint_payload
from forum.models import User
from forum.urls import external_url
from moderation import services as moderation
from moderation.notify import DecisionMail
from moderation.states import PENDING, PUBLISHED, reason_label

from .models import REVIEW_BODY_MAX, REVIEW_TITLE_MAX, Product, Review
from .trust_models import ReviewFacts

SORTS = {
    "newest": (Review.published_at.desc(), Review.id.desc()),
    "highest": (Review.rating.desc(), Review.published_at.desc(), Review.id.desc()),
    "lowest": (Review.rating.asc(), Review.published_at.desc(), Review.id.desc()),
    # Most helpful: the maintained count in review_facts (outer join: older reviews have no row).
    "helpful": (
        func.coalesce(ReviewFacts.helpful_count, 0).desc(),
        Review.published_at.desc(),
        Review.id.desc(),
    ),
}
RATINGS = (1, 2, 3, 4, 5)
# Inside the submission's transaction (see engagement): checks run before the "submitted" log
# row, check(review, user, **extras) -> a code for that row's reason or None (verified purchase);
# hooks run after it, hook(review, user, **extras) (photos), before the commit.
submission_checks: list = []
submission_hooks: list = []
LIVE_STATES = (PENDING, PUBLISHED, "hidden")


# --- products ---------------------------------------------------------------


def get_product(sku: str, *, include_inactive: bool = False) -> Product:
    product = db.session.scalar(select(Product).where(Product.sku == sku))
    if product is None or (not product.active and not include_inactive):
        raise NotFound("There is no product with this code.")
    return product


@dataclass
class RatingSummary:
    review_count: int = 0
    average_rating: float | None = None
    histogram: dict | None = None


def summary_of(product: Product) -> RatingSummary:
    """Average, count and 1-5 histogram of a product's published reviews, from its kept numbers."""
    stars = [product.stars_1, product.stars_2, product.stars_3, product.stars_4, product.stars_5]
    count = int(product.review_count or 0)
    return RatingSummary(
        count,
        round(product.rating_sum / count, 2) if count else None,
        {str(n): int(stars[n - 1] or 0) for n in range(1, 6)},
    )


def rating_summaries(product_ids) -> dict[int, RatingSummary]:
    """Average, count and 1-5 histogram of published reviews, for many products in one query.

    The numbers are kept on the product by the transitions (forum.catalog.aggregates)."""
    ids = list(product_ids)
    summaries = {pid: RatingSummary(0, None, {str(n): 0 for n in range(1, 6)}) for pid in ids}
    if not ids:
        return summaries
    for product in db.session.scalars(select(Product).where(Product.id.in_(ids))):
        summaries[product.id] = summary_of(product)
    return summaries


def list_products(page: int = 1, per_page: int = 30):
    query = select(Product).where(Product.active.is_(True)).order_by(Product.name, Product.id)
    pagination = db.paginate(query, page=page, per_page=per_page, error_out=False)
    return pagination, {p.id: summary_of(p) for p in pagination.items}


TRUE_WORDS = {"1", "yes", "y", "true", "active"}
FALSE_WORDS = {"0", "no", "n", "false", "inactive"}


KEEP = "keep"  # no `active` column: new products are active, existing ones keep their setting


def _parse_active(raw: str | None):
    """Optional `active` column: blank means active (products are on sale unless told otherwise)."""
    value = (raw or "").strip().lower()
    if not value or value in TRUE_WORDS:
        return True
    if value in FALSE_WORDS:
        return False
    return None


def import_products_csv(text: str) -> dict:
    """Create or update products by sku from CSV text (columns sku,name,description[,active]).

    Every row is checked first; if any is bad, nothing is written and every
    problem is reported with its line number (ValidationFailed.field_errors["rows"]).
    """
    reader = csv.DictReader(io.StringIO(text))
    expected = {"sku", "name", "description"}
    try:
        fieldnames = reader.fieldnames
    except csv.Error as error:
        raise ValidationFailed(f"Nothing was imported: line 1 cannot be read as CSV ({error}).") from error
    header = [(f or "").strip() for f in (fieldnames or [])]
    if not expected.issubset(header):
        raise ValidationFailed(
            "Nothing was imported: the first line must name the columns sku,name,description."
        )
    reader.fieldnames = header
    problems, rows, seen = [], [], set()
    try:
        for row in reader:
            line = reader.line_num
            if None in row:
                problems.append(f"line {line}: too many columns (put commas inside double quotes)")
                continue
            if row.get("name") is None or row.get("description") is None:
                problems.append(f"line {line}: too few columns (expected sku,name,description)")
                continue
            sku = (row.get("sku") or "").strip()
            name = (row.get("name") or "").strip()
            description = row.get("description") or ""
            active = _parse_active(row.get("active")) if "active" in header else KEEP
            if "\x00" in sku + name + description:
                problems.append(f"line {line}: contains a NUL character")
            elif not sku or len(sku) > 64 or any(ch.isspace() or ch in "/?#%\\" for ch in sku):
                problems.append(f"line {line}: sku must be 1-64 characters without spaces or / ? # % \\")
            elif not name or len(name) > 200:
                problems.append(f"line {line}: name must be 1-200 characters")
            elif active is None:
                problems.append(f"line {line}: active must be yes or no (or empty for yes)")
            elif sku in seen:
                problems.append(f"line {line}: sku {sku} appears twice")
            else:
                seen.add(sku)
                rows.append((sku, name, description, active))
    except csv.Error as error:
        problems.append(f"line {reader.line_num}: cannot be read as CSV ({error})")
    if problems:
        raise ValidationFailed(
            f"Nothing was imported: {len(problems)} bad row{'s' if len(problems) != 1 else ''}.",
            field_errors={"rows": problems},
        )
    return save_products(rows)


def save_products(rows) -> dict:
    """Create or update (sku, name, description, active) rows by sku, in one transaction.

    `active` may be KEEP: a new product is then active and an existing one keeps its setting."""
    rows = list(rows)
    skus = [row[0] for row in rows]
    existing = (
        {p.sku: p for p in db.session.scalars(select(Product).where(Product.sku.in_(skus)))} if skus else {}
    )
    created = updated = 0
    for sku, name, description, active in rows:
        product = existing.get(sku)
        if product is None:
            db.session.add(Product(sku=sku, name=name, description=description, active=active is not False))
            created += 1
            continue
        if active is KEEP:
            active = product.active
        if (product.name, product.description, product.active) != (name, description, active):
            product.name, product.description, product.active = name, description, active
            updated += 1
    db.session.commit()
    return {"created": created, "updated": updated, "unchanged": len(rows) - created - updated}


def all_products_with_summaries() -> list[tuple[Product, RatingSummary]]:
    """Every product, active or not, with its published-review numbers (for `flask products list`)."""
    products = list(db.session.scalars(select(Product).order_by(Product.sku)))
    return [(p, summary_of(p)) for p in products]


# --- reviews: writing ---------------------------------------------------------


def _check_review_fields(rating, title, body) -> int:
    errors: dict[str, list[str]] = {}
    try:
        rating_value = int(rating)
    except (TypeError, ValueError):
        rating_value = 0
    if rating_value not in range(1, 6):
        errors["rating"] = ["Choose a rating from 1 to 5 stars."]
    for name, value, maximum in (("title", title, REVIEW_TITLE_MAX), ("body", body, REVIEW_BODY_MAX)):
        label = "title" if name == "title" else "review"
        if not isinstance(value, str) or not value.strip():
            errors[name] = [f"Write a {label}."]
        elif len(value) > maximum:
            errors[name] = [f"The {label} is {len(value)} characters long; the limit is {maximum}."]
        elif "\x00" in value:
            errors[name] = [
                f"The {label} contains a NUL character, which cannot be stored. Please remove it."
            ]
    if errors:
        raise ValidationFailed(field_errors=errors)
    return rating_value


def live_reviews_of(user: User, product: Product) -> list[Review]:
    return list(
        db.session.scalars(
            select(Review).where(
                Review.author_id == user.id, Review.product_id == product.id, Review.status.in_(LIVE_STATES)
            )
        )
    )


ALREADY_PENDING = (
    "You already have a review of this product awaiting moderation. "
    "Withdraw it from My account if you want to write a new one."
)


def submit_review(user: User, product: Product, rating, title: str, body: str, **extras) -> Review:
    """Store the review exactly as received, with its fingerprint, pending moderation.

    `extras` go to the submission hooks (photos_to_attach, invitation_token)."""
    check_can_post(user)  # logged in and not suspended, as for every other kind of post
    rating_value = _check_review_fields(rating, title, body)
    live = live_reviews_of(user, product)
    if any(r.status == PENDING for r in live):
        raise ValidationFailed(ALREADY_PENDING)
    replaces = next((r for r in live if r.status in ("published", "hidden")), None)
    review = Review(
        product=product,
        author_id=user.id,
        rating=rating_value,
        title=title,
        body=body,
        fingerprint=content_fingerprint(title, body),
        status=PENDING,
        replaces_id=replaces.id if replaces else None,
    )
    # The same review sent twice at once (a double click): one is stored, the other told.
    with duplicate_refused(ALREADY_PENDING):
        db.session.add(review)
        db.session.flush()
        codes = [check(review, user, **extras) for check in submission_checks]
        moderation.record_submission(review, user, reason=next((c for c in codes if c), None))
        for hook in submission_hooks:
            hook(review, user, **extras)
        db.session.commit()
    return review


def withdraw_review(user: User, review_id: int) -> Review:
    review = db.session.get(Review, review_id)
    if review is None or review.author_id != user.id:
        raise NotFound("You have no such review.")
    moderation.transition(review, "withdraw", user)
    db.session.commit()
    return review


# --- reviews: reading -----------------------------------------------------------


def published_reviews_query(product: Product | None = None, sort: str = "newest", rating: int | None = None):
    query = select(Review).where(Review.status == PUBLISHED)
    if product is not None:
        query = query.where(Review.product_id == product.id)
    if rating is not None:
        query = query.where(Review.rating == rating)
    if sort == "helpful":
        query = query.outerjoin(ReviewFacts, ReviewFacts.review_id == Review.id)
    return query.order_by(*SORTS.get(sort, SORTS["newest"]))


def published_reviews(
    product: Product, sort: str = "newest", page: int = 1, per_page: int = 10, rating: int | None = None
):
    query = published_reviews_query(product, sort, rating).options(joinedload(Review.author))
    return db.paginate(query, page=page, per_page=per_page, max_per_page=100, error_out=False)


def all_published_reviews(page: int = 1, per_page: int = 20):
    """Published reviews of active products, oldest first (the public API's full list)."""
    query = (
        select(Review)
        .join(Product, Review.product_id == Product.id)
        .where(Review.status == PUBLISHED, Product.active.is_(True))
        .options(joinedload(Review.author), joinedload(Review.product))
        .order_by(Review.id)
    )
    return db.paginate(query, page=page, per_page=per_page, max_per_page=100, error_out=False)


def get_published_review(review_id: int) -> Review:
    review = db.session.get(Review, review_id)
    if review is None or review.status != PUBLISHED or not review.product.active:
        raise NotFound("This review is not published.")
    return review


def reviews_by_author(user: User) -> list[Review]:
    return list(
        db.session.scalars(
            select(Review)
            .where(Review.author_id == user.id)
            .options(joinedload(Review.product))
            .order_by(Review.created_at.desc(), Review.id.desc())
        )
    )


def fingerprint_payload(review: Review) -> str:
    """The exact string whose UTF-8 bytes are hashed, for the verify page."""
    return _fingerprint_payload(review.title, review.body)  # type: ignore[arg-type]


def review_state_for(user: User | None, product: Product) -> dict:
    """What the product page tells a signed-in customer about their own live review(s)."""
    if user is None or not user.is_authenticated:
        return {"pending": None, "published": None}
    live = live_reviews_of(user, product)
    return {
        "pending": next((r for r in live if r.status == PENDING), None),
        "published": next((r for r in live if r.status in (PUBLISHED, "hidden")), None),
    }


# --- moderation hooks -------------------------------------------------------------


def _supersede_replaced_review(review: Review, action: str, actor, from_state: str) -> None:
    """Before a replacement is published, the review it replaces steps down (one live review each)."""
    if action != "approve" or not review.replaces_id:
        return
    old = db.session.get(Review, review.replaces_id)
    if old is not None and old.status in ("published", "hidden"):
        moderation.transition(old, "supersede", None, system=True, reason="replaced")


def _erase_review(review: Review) -> None:
    review.title = None
    review.body = None


def queue_options():
    from sqlalchemy.orm import joinedload

    return [joinedload(Review.product), joinedload(Review.author)]


def register_review_kind():
    from moderation.kinds import ContentKind, register_kind

    return register_kind(
        ContentKind(
            name="review",
            label="Product reviews",
            model=Review,
            queue_template="moderation/items/review.html",
            before_transition=[_supersede_replaced_review],
            on_transition=[
                DecisionMail(
                    published_subject="Your review is published",
                    published_template="review_published",
                    rejected_subject="Your review was not published",
                    rejected_template="review_rejected",
                    published_link=lambda r: external_url("catalog.review_page", review_id=r.id),
                    rejected_link=lambda r: external_url("catalog.product_page", sku=r.product.sku),
                )
            ],
            erase=_erase_review,
            queue_options=queue_options,
            public_url=lambda r: url_for("catalog.review_page", review_id=r.id),
            url_endpoints={"catalog.review_page": "review_id"},
        )
    )


# --- accounts integration -----------------------------------------------------------


def export_reviews(user: User) -> list[dict]:
    return [
        {
            "id": r.id,
            "product_sku": r.product.sku,
            "product_name": r.product.name,
            "status": r.status,
            "rating": r.rating,
            "title": r.title,
            "body": r.body,
            "sha256": r.fingerprint,
            "created_at": r.created_at.isoformat(),
            "published_at": r.published_at.isoformat() if r.published_at else None,
            "decision_reason": reason_label(r.decision_reason) if r.decision_reason else None,
            "decision_note": r.decision_note,
        }
        for r in reviews_by_author(user)
    ]


def remove_reviews_of_deleted_account(user: User) -> None:
    for review in reviews_by_author(user):
        if review.status != "removed":
            moderation.transition(review, "remove", None, system=True, reason="account_deleted")
