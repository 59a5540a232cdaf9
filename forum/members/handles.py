"""Handles: every member has one, unique whatever its case, made of letters, digits, `_` and `-`.

A new account gets a handle derived from its display name when it is first
flushed (a session listener, so every way of creating an account is covered:
registration, `flask users create`, the demo). Members change it in My account.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Set as AbstractSet

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from forum.errors import ValidationFailed
from forum.models import User

from .models import HANDLE_MAX, MemberProfile

HANDLE_MIN = 2
HANDLE_RE = re.compile(r"[A-Za-z0-9_-]+")
# An @mention: not preceded by a word character, @ or / (e-mail addresses, paths).
MENTION_RE = re.compile(rf"(?<![\w@/.])@([A-Za-z0-9_-]{{{HANDLE_MIN},{HANDLE_MAX}}})")
RESERVED_HANDLES = {
    "admin",
    "moderator",
    "moderators",
    "staff",
    "all",
    "here",
    "everyone",
    "system",
    "me",
    "notifications",
    "community",
}


def handle_base(display_name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", display_name or "").encode("ascii", "ignore").decode("ascii")
    base = re.sub(r"[^A-Za-z0-9]+", "_", ascii_name).strip("_-")[:24]
    if not base or base.isdigit() or len(base) < HANDLE_MIN:
        base = "member"
    return base


def _taken(session, key: str) -> bool:
    return (
        session.scalar(select(func.count()).select_from(MemberProfile).where(MemberProfile.handle_key == key))
        > 0
    )


def derive_handle(session, display_name: str, also_taken: AbstractSet[str] = frozenset()) -> str:
    base = handle_base(display_name)
    candidate, n = base, 1
    while (
        candidate.lower() in RESERVED_HANDLES
        or candidate.lower() in also_taken
        or _taken(session, candidate.lower())
    ):
        n += 1
        candidate = f"{base}{n}"
    return candidate


def check_handle(raw, *, user_id: int | None, session) -> str:
    """The handle a member asked for, or ValidationFailed saying why not."""
    handle = raw.strip() if isinstance(raw, str) else ""
    problem = None
    if not handle:
        problem = "Enter a handle."
    elif len(handle) < HANDLE_MIN or len(handle) > HANDLE_MAX:
        problem = f"A handle has {HANDLE_MIN} to {HANDLE_MAX} characters."
    elif not HANDLE_RE.fullmatch(handle):
        problem = "Use only letters (a-z), digits, _ and - (no spaces)."
    elif handle.isdigit():
        problem = "A handle needs at least one letter, _ or -."
    elif handle.lower() in RESERVED_HANDLES:
        problem = "This handle is reserved. Please choose another."
    else:
        owner = session.scalar(
            select(MemberProfile.user_id).where(MemberProfile.handle_key == handle.lower())
        )
        if owner is not None and owner != user_id:
            problem = "This handle is taken. Please choose another."
    if problem:
        raise ValidationFailed(field_errors={"handle": [problem]})
    return handle


@event.listens_for(Session, "before_flush")
def _give_new_members_a_handle(session, flush_context, instances):
    new_users = [obj for obj in session.new if isinstance(obj, User)]
    if not new_users:
        return
    pending = {obj.user for obj in session.new if isinstance(obj, MemberProfile) and obj.user is not None}
    chosen: set[str] = set()
    with session.no_autoflush:
        for user in new_users:
            if user in pending:
                continue
            handle = derive_handle(session, user.display_name, chosen)
            chosen.add(handle.lower())
            session.add(
                MemberProfile(user=user, handle=handle, handle_key=handle.lower(), activity_hidden=False)
            )
