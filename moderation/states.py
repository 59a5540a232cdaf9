"""The moderation state machine, shared by every kind of content.

One table of allowed transitions; `moderation.services.transition` is the only
code that moves content between these states.
"""

from __future__ import annotations

from dataclasses import dataclass

PENDING = "pending"
PUBLISHED = "published"
REJECTED = "rejected"
WITHDRAWN = "withdrawn"
HIDDEN = "hidden"
REMOVED = "removed"
SUPERSEDED = "superseded"

STATES = (PENDING, PUBLISHED, REJECTED, WITHDRAWN, HIDDEN, REMOVED, SUPERSEDED)
# Only these are ever shown to the public (pages, lists, averages, feeds, API, search).
PUBLIC_STATES = (PUBLISHED,)
# States in which an item waits for a moderator.
QUEUE_STATES = (PENDING, HIDDEN)
# States that end an item's life: no further transition.
FINAL_STATES = (REJECTED, WITHDRAWN, REMOVED, SUPERSEDED)

# Who may perform an action: "moderator" (moderators and admins), "author", "system".
MODERATOR, AUTHOR, SYSTEM = "moderator", "author", "system"


@dataclass(frozen=True)
class Transition:
    action: str
    source: tuple[str, ...]
    target: str
    performers: tuple[str, ...]
    needs_reason: bool = False


TRANSITIONS = {
    t.action: t
    for t in (
        # Content that needs no review (trusted members, staff) is published at once.
        Transition("auto_publish", (PENDING,), PUBLISHED, (SYSTEM,)),
        Transition("approve", (PENDING, HIDDEN), PUBLISHED, (MODERATOR,)),
        Transition("reject", (PENDING,), REJECTED, (MODERATOR,), needs_reason=True),
        Transition("hide", (PUBLISHED,), HIDDEN, (SYSTEM, MODERATOR), needs_reason=True),
        # Removal (flags, removal requests, account deletion) applies to any item not yet removed.
        Transition(
            "remove",
            (PENDING, PUBLISHED, HIDDEN, REJECTED, WITHDRAWN, SUPERSEDED),
            REMOVED,
            (MODERATOR, SYSTEM),
            needs_reason=True,
        ),
        Transition("withdraw", (PENDING, PUBLISHED, HIDDEN), WITHDRAWN, (AUTHOR,)),
        # A review replaced by its author's newer, approved review.
        Transition("supersede", (PUBLISHED, HIDDEN, PENDING), SUPERSEDED, (SYSTEM,)),
    )
}

# Reasons to reject or remove. They are about the content, never its rating or
# sentiment: there is deliberately no reason such as "negative" or "low rating".
REJECTION_REASONS = {
    "spam": "Spam or advertising",
    "off_topic": "Not about the product or topic",
    "personal_information": "Contains personal information",
    "abusive": "Abusive, harassing or obscene",
    "discriminatory": "Discriminatory",
    "fake": "Clearly false or fake",
    "illegal": "Illegal or confidential",
}

# Reasons the system itself records (flags, removal requests, account deletion).
SYSTEM_REASONS = {
    "flagged": "Hidden after flags from several members",
    "removal_request": "Removed at the request of the person concerned",
    "account_deleted": "The author deleted their account",
    "replaced": "Replaced by the author's newer review",
}

REASON_LABELS = {**REJECTION_REASONS, **SYSTEM_REASONS}


def reason_label(code: str | None) -> str:
    return REASON_LABELS.get(code or "", code or "")
