"""Product aggregates (published-review count, rating sum, 1-5 histogram), kept on `product`.

Every change of a review's status goes through `moderation.services.transition`;
its `on_transition` hook `keep_product_aggregates` recomputes the product's
numbers in the same transaction, so a page never sees an average that includes
a removed review. `flask recount` rebuilds them all.
"""

from __future__ import annotations

from sqlalchemy import case, func, select, update

from forum.extensions import db
from forum.speed.counters import Counter, diff_rows, lock_rows, register_counter
from moderation.states import PUBLISHED

from .models import Product, Review

STAR_COLUMNS = ("stars_1", "stars_2", "stars_3", "stars_4", "stars_5")
KEPT_COLUMNS = ("review_count", "rating_sum", *STAR_COLUMNS)


def _counted(product_ids=None) -> dict[int, tuple]:
    """What a recount gives: {product id: (count, sum, stars 1..5)} for products with published reviews."""
    stars = [func.sum(case((Review.rating == n, 1), else_=0)) for n in range(1, 6)]
    query = (
        select(Review.product_id, func.count(Review.id), func.coalesce(func.sum(Review.rating), 0), *stars)
        .where(Review.status == PUBLISHED)
        .group_by(Review.product_id)
    )
    if product_ids is not None:
        query = query.where(Review.product_id.in_(list(product_ids)))
    return {row[0]: tuple(int(v or 0) for v in row[1:]) for row in db.session.execute(query)}


def recount_products(product_ids) -> None:
    """Recompute the kept numbers of these products from their published reviews (no commit)."""
    ids = sorted(set(product_ids))
    if not ids:
        return
    lock_rows(Product, ids)
    counted = _counted(ids)
    zero = (0,) * len(KEPT_COLUMNS)
    for product_id in ids:
        values = dict(zip(KEPT_COLUMNS, counted.get(product_id, zero)))
        db.session.execute(
            update(Product)
            .where(Product.id == product_id)
            .values(**values)
            .execution_options(synchronize_session="fetch")
        )


def keep_product_aggregates(review: Review, action, actor, from_state) -> None:
    """on_transition hook: a review entered or left "published"."""
    if from_state == PUBLISHED or review.status == PUBLISHED:
        recount_products([review.product_id])


def rebuild() -> int:
    kept = _kept()
    counted = _counted()
    zero = (0,) * len(KEPT_COLUMNS)
    fixed = [pid for pid in kept if kept[pid] != counted.get(pid, zero)]
    if fixed:
        recount_products(fixed)
    return len(fixed)


def _kept() -> dict[int, tuple]:
    columns = [getattr(Product, name) for name in KEPT_COLUMNS]
    return {row[0]: tuple(row[1:]) for row in db.session.execute(select(Product.id, *columns))}


def check() -> list[str]:
    zero = (0,) * len(KEPT_COLUMNS)
    counted = _counted()
    kept = _kept()
    return diff_rows("product", kept, {pid: counted.get(pid, zero) for pid in kept})


def register() -> None:
    register_counter(Counter("products", rebuild, check))
