"""Demo data: one confirmed removal request waiting in the moderation queue."""

from __future__ import annotations

import re

from flask import url_for
from sqlalchemy import select

from forum.extensions import db
from forum.models import OutboxMessage, User

from . import services
from .models import RemovalRequest


def load_removal_requests(fake):
    if db.session.scalar(select(RemovalRequest.id).limit(1)) is not None:
        yield "Removal requests: already there."
        return
    from forum.catalog.models import Review

    reviews = db.session.scalars(
        select(Review)
        .join(User, Review.author_id == User.id)
        .where(Review.status == "published")
        .order_by(Review.id)
        .limit(2)
    ).all()
    if len(reviews) < 2:
        yield "Removal requests: not enough published reviews to name; none created."
        return
    requester = reviews[0].author.email
    links = "\n".join(url_for("catalog.review_page", review_id=r.id, _external=True) for r in reviews)
    services.submit_request(
        requester,
        "links",
        links,
        "personal_info",
        "My review and this other one both say which street I live on.",
    )
    mail = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.to_address == requester).order_by(OutboxMessage.id.desc())
    ).first()
    token = re.search(r"/removal-request/confirm/(\S+)", mail.body_text).group(1)
    rr, _ = services.confirm_request(token)
    yield (
        f"Removal request {rr.reference} from {requester} waits in /moderation "
        f"(answer due {services.format_day(rr.due_at)})."
    )
