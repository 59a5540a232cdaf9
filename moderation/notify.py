"""Telling authors what became of what they submitted: one hook, any content kind.

A kind adds `DecisionMail(...)` to its `on_transition` hooks. The mail is queued
in the decision's transaction (forum.mail), so it goes out only if the decision
commits. Templates get `item`, `author`, `link`, and for rejections `reason`
(the label of a reason code from moderation.states) and the moderator's `note`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from forum.mail import queue_mail

from .states import PENDING, reason_label

# Called after each decision mail is queued, in the same transaction:
# listener(item, author, decision ("published" | "rejected"), link, reason=None).
# forum.members shows the decision among the author's notifications.
decision_listeners: list[Callable] = []


@dataclass
class DecisionMail:
    published_subject: str
    published_template: str
    rejected_subject: str
    rejected_template: str
    # Absolute link shown in the mail (forum.urls.external_url): the published
    # item, or where the author can try again after a rejection.
    published_link: Callable
    rejected_link: Callable

    def __call__(self, item, action: str, actor, from_state: str) -> None:
        author = getattr(item, "author", None)
        if author is None:
            return
        # Only the first decision on a submission is news; a hidden item approved
        # back after flags was already announced when it was first published.
        if action == "approve" and from_state == PENDING:
            link = self.published_link(item)
            queue_mail(
                author.email,
                self.published_subject,
                self.published_template,
                item=item,
                author=author,
                link=link,
            )
            for listener in decision_listeners:
                listener(item, author, "published", link)
        elif action == "reject":
            link = self.rejected_link(item)
            queue_mail(
                author.email,
                self.rejected_subject,
                self.rejected_template,
                item=item,
                author=author,
                link=link,
                reason=reason_label(item.decision_reason),
                note=item.decision_note,
            )
            for listener in decision_listeners:
                listener(item, author, "rejected", link, reason=item.decision_reason)
