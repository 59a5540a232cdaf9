"""The transparency page's section on review trust: invitations sent, share of reviews that came
from them, and per star rating the share of verified purchases and of reviews with photos.

Counted over reviews submitted in the period (whatever happened to them later), so a rating can
neither gain nor lose weight through moderation in these numbers."""

from __future__ import annotations

from sqlalchemy import case, func, select

from forum.extensions import db

from .invitations import invitation_numbers
from .models import Review
from .trust_models import ReviewFacts


def _share(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def trust_numbers(start, end):
    rows = db.session.execute(
        select(
            Review.rating,
            func.count(Review.id),
            func.sum(case((ReviewFacts.verified_purchase.is_(True), 1), else_=0)),
            func.sum(case((ReviewFacts.photo_count > 0, 1), else_=0)),
            func.sum(case((ReviewFacts.from_invitation.is_(True), 1), else_=0)),
        )
        .outerjoin(ReviewFacts, ReviewFacts.review_id == Review.id)
        .where(Review.created_at >= start, Review.created_at < end)
        .group_by(Review.rating)
    ).all()
    by_rating = {rating: (int(n), int(v or 0), int(p or 0), int(i or 0)) for rating, n, v, p, i in rows}
    ratings = []
    totals = [0, 0, 0, 0]
    for rating in range(1, 6):
        n, verified, with_photos, invited = by_rating.get(rating, (0, 0, 0, 0))
        totals = [a + b for a, b in zip(totals, (n, verified, with_photos, invited))]
        ratings.append(
            {
                "rating": rating,
                "submitted": n,
                "verified": verified,
                "with_photos": with_photos,
                "share_verified_percent": _share(verified, n),
                "share_with_photos_percent": _share(with_photos, n),
            }
        )
    n, verified, with_photos, invited = totals
    return "catalog/transparency_trust.html", {
        "review_trust": {
            "invitations_sent": invitation_numbers(start, end)["sent"],
            "reviews_submitted": n,
            "reviews_from_invitations": invited,
            "share_from_invitations_percent": _share(invited, n),
            "ratings": ratings,
            "totals": {
                "submitted": n,
                "verified": verified,
                "with_photos": with_photos,
                "share_verified_percent": _share(verified, n),
                "share_with_photos_percent": _share(with_photos, n),
            },
        }
    }
