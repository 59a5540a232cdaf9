"""The demo has orders, verified reviews, photos, votes, replies and invitations, and loads once."""

from __future__ import annotations

import random

from sqlalchemy import func, select

from forum.catalog.demo import load_catalog
from forum.catalog.trust_demo import load_orders, load_review_extras
from forum.catalog.trust_models import (
    CompanyReply,
    HelpfulVote,
    Order,
    ReviewFacts,
    ReviewInvitation,
    ReviewPhoto,
)
from forum.demo import DEMO_SEED, load_staff_and_members
from forum.extensions import db
from moderation.audit import verify_chain


def _load(app, loader):
    rng = random.Random(DEMO_SEED)
    with app.test_request_context("/"):
        lines = list(loader(rng))
        db.session.commit()
    return lines


def _count(model):
    return db.session.scalar(select(func.count()).select_from(model))


def test_demo_has_orders_verified_reviews_photos_votes_and_replies(app):
    _load(app, load_staff_and_members)
    _load(app, load_orders)
    _load(app, load_catalog)
    lines = _load(app, load_review_extras)
    assert _count(Order) > 10
    verified = db.session.scalar(select(func.count()).where(ReviewFacts.verified_purchase.is_(True)))
    assert verified > 20
    assert _count(ReviewPhoto) >= 10 and _count(HelpfulVote) > 50 and _count(CompanyReply) > 10
    assert _count(ReviewInvitation) >= 4
    assert verify_chain().ok
    counts = [_count(m) for m in (Order, ReviewPhoto, HelpfulVote, CompanyReply, ReviewInvitation)]
    assert any("none added" in line for line in _load(app, load_orders))
    assert any("none added" in line for line in _load(app, load_review_extras))
    assert [_count(m) for m in (Order, ReviewPhoto, HelpfulVote, CompanyReply, ReviewInvitation)] == counts
    assert lines
