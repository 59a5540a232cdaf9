"""Member suspensions: a moderator stops a member from posting anywhere, for a while, saying why.

Every area that lets members write (forum topics and replies, reviews, blog
comments, flags are not writing) calls `check_can_post(user)` before it stores
anything. A suspended member gets a `Suspended` error (403) whose message says
why and until when; `active_suspension(user)` lets a page say so up front.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import cast

from sqlalchemy import CheckConstraint, ForeignKey, Integer, Text, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Mapped, joinedload, mapped_column, relationship

from ..errors import NotFound, PermissionDenied, ValidationFailed
from ..extensions import db
from ..fingerprint import content_fingerprint
from ..models import User
from ..timeutil import UTCDateTime, utcnow

SUSPENSION_REASON_MAX = 1000
SUSPENSION_MAX_DAYS = 3650


class MemberSuspension(db.Model):  # type: ignore[name-defined]  # db.Model is dynamic
    __tablename__ = "member_suspension"
    __table_args__ = (
        # A suspension always says why: the member is told.
        CheckConstraint("length(reason) > 0", name="reason_given"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lifted_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])

    @property
    def last_day(self) -> date:
        """The last day (UTC) on which the member cannot post."""
        return (self.ends_at - timedelta(seconds=1)).date()

    @property
    def is_active(self) -> bool:
        return self.lifted_at is None and self.ends_at > utcnow()

    def explanation(self) -> str:
        return (
            f"Your account is suspended until the end of {self.last_day:%d %B %Y} (UTC), "
            f"so you cannot post. The moderators' reason: {self.reason}"
        )


class Suspended(PermissionDenied):
    title = "Your account is suspended"

    def __init__(self, suspension: MemberSuspension):
        super().__init__(suspension.explanation())
        self.suspension = suspension


def active_suspension(user) -> MemberSuspension | None:
    if user is None or not getattr(user, "is_authenticated", False) or getattr(user, "id", None) is None:
        return None
    return db.session.scalar(
        select(MemberSuspension)
        .where(
            MemberSuspension.user_id == user.id,
            MemberSuspension.lifted_at.is_(None),
            MemberSuspension.ends_at > utcnow(),
        )
        .order_by(MemberSuspension.ends_at.desc())
        .limit(1)
    )


def check_can_post(user) -> None:
    """Raise unless `user` may write content now (logged in and not suspended)."""
    if user is None or not getattr(user, "is_authenticated", False):
        raise PermissionDenied("Log in to post.")
    suspension = active_suspension(user)
    if suspension is not None:
        raise Suspended(suspension)


def _check_suspension_fields(reason, until) -> datetime:
    errors: dict[str, list[str]] = {}
    if not isinstance(reason, str) or not reason.strip():
        errors["reason"] = ["Say why: the member is shown this reason."]
    elif len(reason) > SUSPENSION_REASON_MAX:
        errors["reason"] = [
            f"The reason is {len(reason)} characters long; the limit is {SUSPENSION_REASON_MAX}."
        ]
    elif "\x00" in reason:
        errors["reason"] = ["The reason contains a NUL character, which cannot be stored. Please remove it."]
    ends_at = None
    today = utcnow().date()
    if not isinstance(until, date):
        errors["until"] = ["Choose the last day of the suspension."]
    elif until < today:
        errors["until"] = ["Choose today or a later day."]
    elif until > today + timedelta(days=SUSPENSION_MAX_DAYS):
        errors["until"] = [f"A suspension lasts at most {SUSPENSION_MAX_DAYS // 365} years."]
    else:
        # Through the whole of the chosen day (UTC).
        ends_at = datetime.combine(until + timedelta(days=1), time(0), tzinfo=UTC)
    if errors:
        raise ValidationFailed(field_errors=errors)
    assert ends_at is not None  # set whenever there are no errors
    return ends_at


def suspend_member(moderator: User, member_id: int, reason: str, until: date) -> MemberSuspension:
    """Suspend a member until the end of `until` (UTC); logged and mailed. Commits."""
    from moderation.audit import append_log

    from ..mail import queue_mail

    if moderator is None or not moderator.is_moderator:
        raise PermissionDenied("Only moderators can suspend members.")
    member = db.session.get(User, member_id)
    if member is None:
        raise NotFound("There is no such member.")
    if member.id == moderator.id:
        raise PermissionDenied("You cannot suspend yourself.")
    if member.is_moderator:
        raise PermissionDenied("Moderators and admins are not suspended; change their role instead.")
    ends_at = _check_suspension_fields(reason, until)
    suspension = MemberSuspension(
        user_id=member.id, reason=reason, ends_at=ends_at, created_by_id=moderator.id
    )
    db.session.add(suspension)
    db.session.flush()
    # The log keeps ids and a fingerprint of the reason, never the words.
    append_log(
        actor=moderator,
        subject_kind="member",
        subject_id=member.id,
        action="suspend",
        fingerprint=content_fingerprint("", reason),
        reference=f"until {suspension.last_day.isoformat()}",
    )
    queue_mail(
        member.email, "Your account is suspended", "member_suspended", member=member, suspension=suspension
    )
    db.session.commit()
    return suspension


def lift_suspension(moderator: User, suspension_id: int) -> MemberSuspension:
    from moderation.audit import append_log

    if moderator is None or not moderator.is_moderator:
        raise PermissionDenied("Only moderators can lift suspensions.")
    suspension = db.session.get(MemberSuspension, suspension_id)
    if suspension is None:
        raise NotFound("There is no such suspension.")
    lifted = cast(
        CursorResult,
        db.session.execute(
            update(MemberSuspension)
            .where(MemberSuspension.id == suspension.id, MemberSuspension.lifted_at.is_(None))
            .values(lifted_at=utcnow(), lifted_by_id=moderator.id)
            .execution_options(synchronize_session=False)
        ),
    ).rowcount
    if lifted:
        append_log(
            actor=moderator,
            subject_kind="member",
            subject_id=suspension.user_id,
            action="lift_suspension",
            reference=f"suspension {suspension.id}",
        )
    db.session.commit()
    db.session.refresh(suspension)
    return suspension


def suspensions_of(user) -> list[MemberSuspension]:
    return list(
        db.session.scalars(
            select(MemberSuspension)
            .where(MemberSuspension.user_id == user.id)
            .order_by(MemberSuspension.created_at)
        )
    )


def active_suspensions() -> list[MemberSuspension]:
    return list(
        db.session.scalars(
            select(MemberSuspension)
            .where(MemberSuspension.lifted_at.is_(None), MemberSuspension.ends_at > utcnow())
            .order_by(MemberSuspension.ends_at)
            # the list links each member and moderator: one query however many there are
            .options(joinedload(MemberSuspension.user), joinedload(MemberSuspension.created_by))
        )
    )


def export_suspensions(user) -> list[dict]:
    return [
        {
            "reason": s.reason,
            "created_at": s.created_at.isoformat(),
            "ends_at": s.ends_at.isoformat(),
            "lifted_at": s.lifted_at.isoformat() if s.lifted_at else None,
        }
        for s in suspensions_of(user)
    ]
