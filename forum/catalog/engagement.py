"""What happens around a published review: submission facts, helpful votes, company replies.

- `record_submission_facts` (a submission hook of services.submit_review): verified purchase
  decided once and logged, invitation link spent, photos stored and logged.
- Helpful votes: once per member and review (unique constraint), never on one's own review;
  `ReviewFacts.helpful_count` is maintained in the same transaction.
- Company replies: editors and admins answer a published review once, may edit it (every
  earlier text kept), the author is mailed, every write is logged (fingerprint of the reply).
- `review_gone` (a transition hook): a review that leaves public view for good takes its
  reply, photos and votes with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

from sqlalchemy import delete, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError

from forum.errors import NotFound, PermissionDenied, ValidationFailed
from forum.extensions import db
from forum.fingerprint import content_fingerprint
from forum.mail import queue_mail
from forum.models import User
from forum.timeutil import utcnow
from forum.urls import external_url
from moderation.audit import append_log
from moderation.states import PUBLISHED

from . import orders, photos
from .models import Review
from .trust_models import CompanyReply, CompanyReplyRevision, HelpfulVote, ReviewFacts, ReviewPhoto

REPLY_MAX = 5000
REPLY_ROLES = ("editor", "admin")
GONE_STATES = ("removed", "withdrawn", "superseded", "rejected")


# --- at submission ----------------------------------------------------------------------


def decide_submission_facts(review: Review, user: User, *, photos_to_attach=None, invitation_token=None, **_):
    """Submission check: verified purchase (and whether the review came from an invitation),
    decided once. Returns the code logged as the "submitted" row's reason."""
    from . import invitations

    from_invitation = False
    if invitation_token:
        from_invitation = invitations.spend_link(invitation_token, user, review.product)
    verified = orders.decide_verified_purchase(review, user)
    db.session.add(
        ReviewFacts(
            review_id=review.id,
            verified_purchase=verified,
            from_invitation=from_invitation,
            photo_count=len(photos_to_attach or []),
            helpful_count=0,
        )
    )
    # The "submitted" row records the decision: reason "verified_purchase", or none (not verified).
    return orders.VERIFIED if verified else None


def attach_submitted_photos(review: Review, user: User, *, photos_to_attach=None, **_):
    """Submission hook: store the prepared photos and log each one's SHA-256."""
    if photos_to_attach:
        photos.attach_photos(review, user, list(photos_to_attach))


# --- reading, for a page of reviews (constant queries) -------------------------------------


@dataclass
class ReviewExtras:
    verified_purchase: bool = False
    helpful_count: int = 0
    voted: bool = False
    photos: list = field(default_factory=list)
    reply: CompanyReply | None = None


def extras_for(reviews, viewer=None) -> dict[int, ReviewExtras]:
    ids = [r.id for r in reviews]
    result = {i: ReviewExtras() for i in ids}
    if not ids:
        return result
    for facts in db.session.scalars(select(ReviewFacts).where(ReviewFacts.review_id.in_(ids))):
        result[facts.review_id].verified_purchase = facts.verified_purchase
        result[facts.review_id].helpful_count = facts.helpful_count
    for review_id, found in photos.photos_of(ids).items():
        result[review_id].photos = found
    from sqlalchemy.orm import joinedload

    for reply in db.session.scalars(
        select(CompanyReply).where(CompanyReply.review_id.in_(ids)).options(joinedload(CompanyReply.author))
    ):
        result[reply.review_id].reply = reply
    if viewer is not None and getattr(viewer, "is_authenticated", False):
        for review_id in db.session.scalars(
            select(HelpfulVote.review_id).where(
                HelpfulVote.review_id.in_(ids), HelpfulVote.user_id == viewer.id
            )
        ):
            result[review_id].voted = True
    return result


# --- helpful votes ------------------------------------------------------------------------------


def _published(review_id: int) -> Review:
    review = db.session.get(Review, review_id)
    if review is None or review.status != PUBLISHED or not review.product.active:
        raise NotFound("This review is not published.")
    return review


def _ensure_facts(review_id: int) -> None:
    if db.session.get(ReviewFacts, review_id) is None:
        db.session.add(
            ReviewFacts(
                review_id=review_id,
                verified_purchase=False,
                from_invitation=False,
                photo_count=0,
                helpful_count=0,
            )
        )
        db.session.flush()


def vote_helpful(user: User, review_id: int) -> bool:
    """Mark a published review helpful; True if counted now, False if it already was. Commits."""
    review = _published(review_id)
    if review.author_id == user.id:
        raise ValidationFailed("This is your own review: only other members can mark it helpful.")
    _ensure_facts(review.id)
    try:
        with db.session.begin_nested():
            db.session.add(HelpfulVote(review_id=review.id, user_id=user.id))
    except IntegrityError:  # already voted (perhaps a second click at the same moment)
        db.session.rollback()
        return False
    db.session.execute(
        update(ReviewFacts)
        .where(ReviewFacts.review_id == review.id)
        .values(helpful_count=ReviewFacts.helpful_count + 1)
    )
    db.session.commit()
    return True


def undo_helpful(user: User, review_id: int) -> bool:
    review = db.session.get(Review, review_id)
    if review is None:
        raise NotFound("There is no such review.")
    removed = cast(
        CursorResult,
        db.session.execute(
            delete(HelpfulVote).where(HelpfulVote.review_id == review.id, HelpfulVote.user_id == user.id)
        ),
    ).rowcount
    if removed:
        db.session.execute(
            update(ReviewFacts)
            .where(ReviewFacts.review_id == review.id, ReviewFacts.helpful_count > 0)
            .values(helpful_count=ReviewFacts.helpful_count - removed)
        )
    db.session.commit()
    return bool(removed)


def forget_votes_of_deleted_account(user: User) -> None:
    """Account deletion: the member's votes go, and the counts with them. No commit."""
    review_ids = list(db.session.scalars(select(HelpfulVote.review_id).where(HelpfulVote.user_id == user.id)))
    for review_id in review_ids:
        db.session.execute(
            update(ReviewFacts)
            .where(ReviewFacts.review_id == review_id, ReviewFacts.helpful_count > 0)
            .values(helpful_count=ReviewFacts.helpful_count - 1)
        )
    db.session.execute(delete(HelpfulVote).where(HelpfulVote.user_id == user.id))


def export_votes(user: User) -> list[dict]:
    return [
        {"review_id": review_id, "created_at": created_at.isoformat()}
        for review_id, created_at in db.session.execute(
            select(HelpfulVote.review_id, HelpfulVote.created_at)
            .where(HelpfulVote.user_id == user.id)
            .order_by(HelpfulVote.created_at)
        )
    ]


# --- company replies -----------------------------------------------------------------------------


def can_reply(user) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False) and user.role in REPLY_ROLES)


def _check_reply_body(body) -> str:
    if not isinstance(body, str) or not body.strip():
        raise ValidationFailed(field_errors={"body": ["Write the reply."]})
    if len(body) > REPLY_MAX:
        raise ValidationFailed(
            field_errors={"body": [f"The reply is {len(body)} characters long; the limit is {REPLY_MAX}."]}
        )
    if "\x00" in body:
        raise ValidationFailed(
            field_errors={"body": ["The reply contains a NUL character. Please remove it."]}
        )
    return body


def reply_of(review_id: int) -> CompanyReply | None:
    return db.session.scalar(select(CompanyReply).where(CompanyReply.review_id == review_id))


def save_reply(user: User, review_id: int, body: str) -> CompanyReply:
    """Answer a published review (first time) or edit the answer (the old text is kept). Commits."""
    if not can_reply(user):
        raise PermissionDenied("Only editors and administrators answer reviews for the company.")
    review = _published(review_id)
    body = _check_reply_body(body)
    reply = reply_of(review.id)
    now = utcnow()
    if reply is None:
        reply = CompanyReply(review_id=review.id, author_id=user.id, body=body, published_at=now)
        db.session.add(reply)
        try:
            db.session.flush()
        except IntegrityError:
            db.session.rollback()
            raise ValidationFailed(
                "Someone answered this review a moment ago. Reload the page to edit that reply."
            ) from None
        action = "company_reply"
        if review.author is not None:
            queue_mail(
                review.author.email,
                "The shop answered your review",
                "review_company_reply",
                review=review,
                reply=reply,
                link=external_url("catalog.review_page", review_id=review.id),
            )
    else:
        if reply.body == body:
            return reply
        db.session.add(
            CompanyReplyRevision(
                reply_id=reply.id,
                body=reply.body,
                author_id=reply.author_id,
                written_at=reply.edited_at or reply.published_at,
                replaced_at=now,
            )
        )
        reply.body = body
        reply.author_id = user.id
        reply.edited_at = now
        action = "company_reply_edit"
    append_log(
        actor=user,
        subject_kind="review",
        subject_id=review.id,
        action=action,
        fingerprint=content_fingerprint("", body),
    )
    db.session.commit()
    return reply


# --- gone with the review ----------------------------------------------------------------------


def review_gone(review: Review, action, actor, from_state) -> None:
    """Transition hook: a review that left public view for good takes its extras with it."""
    if review.status not in GONE_STATES:
        return
    reply = reply_of(review.id)
    if reply is not None:
        db.session.delete(reply)  # its revisions go with it (cascade)
    photos.delete_photos(review)
    db.session.execute(delete(HelpfulVote).where(HelpfulVote.review_id == review.id))
    db.session.execute(update(ReviewFacts).where(ReviewFacts.review_id == review.id).values(helpful_count=0))
    db.session.flush()


def has_photos(review_id: int) -> bool:
    return (
        db.session.scalar(select(ReviewPhoto.id).where(ReviewPhoto.review_id == review_id).limit(1))
        is not None
    )
