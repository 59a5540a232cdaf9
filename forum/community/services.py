"""Forum services: categories, topics, replies, edits, trust and the moderators' topic tools.

Every post is the moderated kind "forum_post" and changes state only through
`moderation.services.transition`. A member's posts wait for a moderator until
the member has FORUM_TRUST_THRESHOLD published forum posts; posts from
moderators and admins, and from trusted members, publish at once
("auto_publish", by the system). Posts with more than FORUM_HOLD_LINKS_OVER
links from members without trust are held whatever else is true.

Every public read goes through `visible_posts_clause`, so pending, hidden,
rejected, withdrawn and removed posts reach no page, list, count or "last
activity" (their own author sees their pending and hidden posts, marked).

Edits: an author may edit their own post while it is pending, published or
hidden (not in a locked topic). The earlier text is kept as a revision that
moderators see; the post shows "edited". An edit keeps the post's state: a
pending post stays in the queue (with its new text), and a published post stays
published, because an approved author fixing a typo expects the fix to show at
once and readers should not see the post vanish from the conversation. What
protects readers instead: moderators see every earlier revision, members can
flag the edited post, and an edit by a member without trust that would bring a
published post over the link limit is refused with a message.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from flask import current_app, url_for
from sqlalchemy import ColumnElement, and_, delete, func, or_, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import aliased, joinedload, selectinload

from forum.accounts.suspensions import check_can_post
from forum.database import commit_unique
from forum.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from forum.extensions import db
from forum.fingerprint import content_fingerprint
from forum.mail import queue_mail
from forum.models import User
from forum.sanitize import count_links
from forum.timeutil import utcnow
from forum.urls import external_url
from moderation import services as moderation
from moderation.audit import append_log
from moderation.states import HIDDEN, PENDING, PUBLISHED, reason_label

from .models import (
    BODY_MAX,
    CATEGORY_DESCRIPTION_MAX,
    CATEGORY_NAME_MAX,
    SLUG_MAX,
    TITLE_MAX,
    ForumCategory,
    ForumPost,
    ForumPostRevision,
    ForumTopic,
)

KIND = "forum_post"
TOPIC_SUBJECT = "forum_topic"
DEFAULT_TRUST_THRESHOLD = 3
DEFAULT_HOLD_LINKS_OVER = 2
EDITABLE_STATES = (PENDING, PUBLISHED, HIDDEN)
OWN_VISIBLE_STATES = (PENDING, HIDDEN)
HELD_NEW_MEMBER = "new_member"
HELD_LINKS = "links"
# Slugs that would clash with the forum's own addresses.
RESERVED_SLUGS = {"topics", "posts", "admin", "new", "moderation", "members", "suspensions"}
POSITION_RANGE = (-100_000, 100_000)
# Called with the post after each edit, inside its transaction (forum.members: quotes).
edit_hooks: list = []


def trust_threshold() -> int:
    return int(current_app.config.get("FORUM_TRUST_THRESHOLD", DEFAULT_TRUST_THRESHOLD))


def link_limit() -> int:
    return int(current_app.config.get("FORUM_HOLD_LINKS_OVER", DEFAULT_HOLD_LINKS_OVER))


def held_label(post: ForumPost) -> str | None:
    if post.held_because == HELD_LINKS:
        return f"more than {link_limit()} links from a member who is not yet trusted"
    if post.held_because == HELD_NEW_MEMBER:
        return f"new member (fewer than {trust_threshold()} published forum posts)"
    return None


# --- categories ------------------------------------------------------------------


def slugify(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return slug[: SLUG_MAX - 8].strip("-") or "category"


def _unique_slug(name: str) -> str:
    base = slugify(name)
    taken = set(db.session.scalars(select(ForumCategory.slug).where(ForumCategory.slug.like(f"{base}%"))))
    candidate, n = base, 1
    while candidate in taken or candidate in RESERVED_SLUGS:
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def _check_category_fields(name, description, position, *, exclude_id: int | None = None):
    errors: dict[str, list[str]] = {}
    if not isinstance(name, str) or not name.strip():
        errors["name"] = ["Enter a name."]
    elif len(name) > CATEGORY_NAME_MAX:
        errors["name"] = [f"The name is {len(name)} characters long; the limit is {CATEGORY_NAME_MAX}."]
    elif any(unicodedata.category(ch) in {"Cc", "Cs"} for ch in name):
        errors["name"] = [
            "Use letters, digits, spaces and punctuation only (no control characters or line breaks)."
        ]
    else:
        clash = db.session.scalar(
            select(ForumCategory).where(func.lower(ForumCategory.name) == name.strip().lower())
        )
        if clash is not None and clash.id != exclude_id:
            errors["name"] = ["There is already a category with this name."]
    description = description if isinstance(description, str) else ""
    if len(description) > CATEGORY_DESCRIPTION_MAX:
        errors["description"] = [
            f"The description is {len(description)} characters long; the limit is {CATEGORY_DESCRIPTION_MAX}."
        ]
    elif "\x00" in description:
        errors["description"] = [
            "The description contains a NUL character, which cannot be stored. Please remove it."
        ]
    if position is not None:
        try:
            position = int(position)
        except (TypeError, ValueError):
            errors["position"] = ["Enter a whole number."]
        else:
            if not POSITION_RANGE[0] <= position <= POSITION_RANGE[1]:
                errors["position"] = [f"Enter a number from {POSITION_RANGE[0]} to {POSITION_RANGE[1]}."]
    if errors:
        raise ValidationFailed(field_errors=errors)
    return name.strip(), description, position


def _require_admin(user) -> None:
    if user is not None and not user.is_admin:
        raise PermissionDenied("Only admins manage forum categories.")


def add_category(name: str, description: str = "", position: int | None = None, *, admin: User | None = None):
    """Create a category (admin page, or `flask forums add-category` with admin=None). Commits."""
    _require_admin(admin)
    name, description, position = _check_category_fields(name, description, position)
    if position is None:
        position = (db.session.scalar(select(func.max(ForumCategory.position))) or 0) + 1
    category = ForumCategory(name=name, slug=_unique_slug(name), description=description, position=position)
    db.session.add(category)
    # The same category created twice at once: its address (slug) is taken by the other one.
    commit_unique(field_errors={"name": ["There is already a category with this name."]})
    return category


def update_category(admin: User, category_id: int, name: str, description: str, position) -> ForumCategory:
    """Change name, description or order. The slug stays, so links keep working. Commits."""
    _require_admin(admin)
    category = db.session.get(ForumCategory, category_id)
    if category is None:
        raise NotFound("There is no such category.")
    name, description, position = _check_category_fields(name, description, position, exclude_id=category.id)
    category.name, category.description = name, description
    if position is not None:
        category.position = position
    db.session.commit()
    return category


def delete_category(admin: User, category_id: int) -> None:
    _require_admin(admin)
    category = db.session.get(ForumCategory, category_id)
    if category is None:
        raise NotFound("There is no such category.")
    if db.session.scalar(
        select(func.count()).select_from(ForumTopic).where(ForumTopic.category_id == category.id)
    ):
        raise ValidationFailed("This category has topics. Move them to another category first.")
    db.session.delete(category)
    db.session.commit()


def list_categories() -> list[ForumCategory]:
    return list(
        db.session.scalars(
            select(ForumCategory).order_by(ForumCategory.position, ForumCategory.name, ForumCategory.id)
        )
    )


def get_category(slug: str) -> ForumCategory:
    category = db.session.scalar(select(ForumCategory).where(ForumCategory.slug == slug))
    if category is None:
        raise NotFound("There is no forum category here.")
    return category


@dataclass
class CategorySummary:
    topic_count: int = 0
    post_count: int = 0
    last_activity_at: datetime | None = None


def category_summaries() -> dict[int, CategorySummary]:
    """Public topics, their published posts and latest activity per category (kept by the transitions)."""
    rows = db.session.execute(
        select(
            ForumCategory.id,
            ForumCategory.topic_count,
            ForumCategory.post_count,
            ForumCategory.last_activity_at,
        ).where(ForumCategory.topic_count > 0)
    )
    return {cid: CategorySummary(int(t), int(p), last) for cid, t, p, last in rows}


# --- reading ---------------------------------------------------------------------


def _viewer_id(viewer) -> int | None:
    return viewer.id if viewer is not None and getattr(viewer, "is_authenticated", False) else None


def visible_posts_clause(viewer, model=ForumPost):
    """Published posts, plus the viewer's own posts that wait for a moderator."""
    viewer_id = _viewer_id(viewer)
    if viewer_id is None:
        return model.status == PUBLISHED
    return or_(
        model.status == PUBLISHED, and_(model.author_id == viewer_id, model.status.in_(OWN_VISIBLE_STATES))
    )


def is_visible_to(post: ForumPost, viewer) -> bool:
    if post.status == PUBLISHED:
        return True
    viewer_id = _viewer_id(viewer)
    return viewer_id is not None and post.author_id == viewer_id and post.status in OWN_VISIBLE_STATES


def get_topic_for(viewer, topic_id: int) -> ForumTopic:
    topic = db.session.get(ForumTopic, topic_id)
    if topic is None or topic.opening is None or not is_visible_to(topic.opening, viewer):
        raise NotFound("There is no such topic. It may have been removed.")
    return topic


def posts_per_page() -> int:
    return int(current_app.config.get("FORUM_POSTS_PER_PAGE", 20))


def topics_per_page() -> int:
    return int(current_app.config.get("FORUM_TOPICS_PER_PAGE", 25))


def topic_posts(viewer, topic: ForumTopic, page: int = 1):
    query = (
        select(ForumPost)
        .where(ForumPost.topic_id == topic.id, visible_posts_clause(viewer))
        .options(joinedload(ForumPost.author))
        .order_by(ForumPost.created_at, ForumPost.id)
    )
    return db.paginate(query, page=page, per_page=posts_per_page(), error_out=False)


def locate_post(viewer, post_id: int) -> tuple[ForumPost, int]:
    """A post and the page of its topic on which the viewer sees it (404 if they cannot)."""
    post = db.session.get(ForumPost, post_id)
    if post is None or not is_visible_to(post, viewer):
        raise NotFound("There is no such post. It may have been removed.")
    get_topic_for(viewer, post.topic_id)
    before = db.session.scalar(
        select(func.count())
        .select_from(ForumPost)
        .where(
            ForumPost.topic_id == post.topic_id,
            visible_posts_clause(viewer),
            or_(
                ForumPost.created_at < post.created_at,
                and_(ForumPost.created_at == post.created_at, ForumPost.id < post.id),
            ),
        )
    )
    return post, (before or 0) // posts_per_page() + 1


@dataclass
class TopicStats:
    reply_count: int = 0
    last_activity_at: datetime | None = None
    last_author: str | None = None


def stats_of(topic: ForumTopic) -> TopicStats:
    """Published replies and latest published post of a topic (kept by the transitions)."""
    last_author = topic.last_author.display_name if topic.last_author_id and topic.last_author else None
    return TopicStats(int(topic.reply_count or 0), topic.last_activity_at, last_author)


def topic_stats(topic_ids) -> dict[int, TopicStats]:
    """Published replies and latest published post of each topic (what everyone sees), in one query."""
    ids = list(topic_ids)
    stats = {tid: TopicStats() for tid in ids}
    if not ids:
        return stats
    rows = db.session.execute(
        select(ForumTopic.id, ForumTopic.reply_count, ForumTopic.last_activity_at, User.display_name)
        .outerjoin(User, User.id == ForumTopic.last_author_id)
        .where(ForumTopic.id.in_(ids))
    )
    for topic_id, replies, last_at, author in rows:
        stats[topic_id] = TopicStats(int(replies or 0), last_at, author)
    return stats


def category_topics(viewer, category: ForumCategory, page: int = 1):
    """Pinned first, then by last activity; the viewer's own waiting topics are listed too (marked).

    Topics, their opening posts, authors and last posters load in a constant number of queries.
    A topic is public exactly when its kept `is_public` says so (its opening post is published),
    so what everyone sees is read from the topic rows alone, in last-activity order (an index)."""
    viewer_id = _viewer_id(viewer)
    visible: ColumnElement[bool] = ForumTopic.is_public.is_(True)
    order: list[Any] = [ForumTopic.pinned.desc(), ForumTopic.last_activity_at.desc(), ForumTopic.id.desc()]
    if viewer_id is not None:
        opening = aliased(ForumPost)
        own_waiting = (
            select(opening.id)
            .where(
                opening.topic_id == ForumTopic.id,
                opening.is_opening.is_(True),
                opening.author_id == viewer_id,
                opening.status.in_(OWN_VISIBLE_STATES),
            )
            .exists()
        )
        visible = or_(visible, own_waiting)
        order[1] = func.coalesce(ForumTopic.last_activity_at, ForumTopic.created_at).desc()
    query = (
        select(ForumTopic)
        .where(ForumTopic.category_id == category.id, visible)
        .options(
            selectinload(ForumTopic.opening),
            selectinload(ForumTopic.author),
            selectinload(ForumTopic.last_author),
        )
        .order_by(*order)
    )
    pagination = db.paginate(query, page=page, per_page=topics_per_page(), error_out=False)
    return pagination, {t.id: stats_of(t) for t in pagination.items}


def posts_by_author(user) -> list[ForumPost]:
    return list(
        db.session.scalars(
            select(ForumPost)
            .where(ForumPost.author_id == user.id)
            .options(
                joinedload(ForumPost.topic).joinedload(ForumTopic.category),
                joinedload(ForumPost.topic).selectinload(ForumTopic.opening),
                selectinload(ForumPost.revisions),
            )
            .order_by(ForumPost.created_at.desc(), ForumPost.id.desc())
        )
    )


# --- trust -----------------------------------------------------------------------


def published_post_count(user) -> int:
    return (
        db.session.scalar(
            select(func.count())
            .select_from(ForumPost)
            .where(ForumPost.author_id == user.id, ForumPost.status == PUBLISHED)
        )
        or 0
    )


def is_trusted(user) -> bool:
    return bool(user.is_moderator or published_post_count(user) >= trust_threshold())


def hold_reason(user, body: str) -> str | None:
    """Why a new post from `user` must wait for a moderator, or None to publish it at once."""
    if user.is_moderator:
        return None
    trusted = published_post_count(user) >= trust_threshold()
    if not trusted and count_links(body) > link_limit():
        return HELD_LINKS
    if not trusted:
        return HELD_NEW_MEMBER
    return None


# --- writing ---------------------------------------------------------------------


def _check_post_fields(title, body, *, needs_title: bool) -> None:
    errors: dict[str, list[str]] = {}
    if needs_title:
        if not isinstance(title, str) or not title.strip():
            errors["title"] = ["Write a title."]
        elif len(title) > TITLE_MAX:
            errors["title"] = [f"The title is {len(title)} characters long; the limit is {TITLE_MAX}."]
        elif "\x00" in title:
            errors["title"] = [
                "The title contains a NUL character, which cannot be stored. Please remove it."
            ]
    if not isinstance(body, str) or not body.strip():
        errors["body"] = ["Write a message."]
    elif len(body) > BODY_MAX:
        errors["body"] = [f"The message is {len(body)} characters long; the limit is {BODY_MAX}."]
    elif "\x00" in body:
        errors["body"] = ["The message contains a NUL character, which cannot be stored. Please remove it."]
    if errors:
        raise ValidationFailed(field_errors=errors)


def _submit(post: ForumPost, user) -> None:
    """Log the new post, then publish it at once unless it must wait for a moderator."""
    reason = hold_reason(user, post.body)  # type: ignore[arg-type]
    post.held_because = reason
    db.session.add(post)
    moderation.record_submission(post, user)
    if reason is None:
        moderation.transition(post, "auto_publish", None, system=True)


def create_topic(user, category: ForumCategory, title: str, body: str) -> ForumTopic:
    """Start a topic: its opening post carries the title. Commits."""
    check_can_post(user)
    _check_post_fields(title, body, needs_title=True)
    topic = ForumTopic(category_id=category.id, author_id=user.id)
    db.session.add(topic)
    db.session.flush()
    post = ForumPost(
        topic_id=topic.id,
        is_opening=True,
        title=title,
        body=body,
        author_id=user.id,
        status=PENDING,
        fingerprint=content_fingerprint(title, body),
    )
    _submit(post, user)
    db.session.commit()
    return topic


def check_can_reply(user, topic: ForumTopic) -> None:
    check_can_post(user)
    if topic.locked:
        raise PermissionDenied("This topic is locked: it takes no new replies.")
    if topic.opening is None or topic.opening.status != PUBLISHED:
        raise PermissionDenied("This topic is waiting for a moderator; replies open once it is published.")


def create_reply(user, topic_id: int, body: str) -> ForumPost:
    """Reply to a published, unlocked topic. Commits."""
    check_can_post(user)
    topic = get_topic_for(user, topic_id)
    check_can_reply(user, topic)
    _check_post_fields(None, body, needs_title=False)
    post = ForumPost(
        topic_id=topic.id,
        is_opening=False,
        title=None,
        body=body,
        author_id=user.id,
        status=PENDING,
        fingerprint=content_fingerprint("", body),
    )
    _submit(post, user)
    db.session.commit()
    return post


def get_own_post(user, post_id: int) -> ForumPost:
    post = db.session.get(ForumPost, post_id)
    if post is None or user is None or not user.is_authenticated or post.author_id != user.id:
        raise NotFound("You have no such post.")
    return post


def check_can_edit(user, post: ForumPost) -> None:
    check_can_post(user)
    if post.status not in EDITABLE_STATES:
        raise PermissionDenied(f"This post is {post.status} and can no longer be edited.")
    if post.topic.locked:
        raise PermissionDenied("This topic is locked: its posts can no longer be edited.")


def _reindex_topic(topic_id: int) -> None:
    """Ask search to look again at every published post of a topic (title or category changed)."""
    from forum.search import enqueue_index

    for post_id in db.session.scalars(
        select(ForumPost.id).where(ForumPost.topic_id == topic_id, ForumPost.status == PUBLISHED)
    ):
        enqueue_index(KIND, post_id)


def edit_post(
    user, post_id: int, title: str | None, body: str, expected_version: int | None = None
) -> ForumPost:
    """The author changes their post; the earlier text becomes a revision. Commits."""
    post = get_own_post(user, post_id)
    check_can_edit(user, post)
    _check_post_fields(title, body, needs_title=post.is_opening)
    new_title = title if post.is_opening else None
    if (new_title, body) == (post.title, post.body):
        return post
    if post.status == PUBLISHED and not is_trusted(user) and count_links(body) > link_limit():
        raise ValidationFailed(
            field_errors={
                "body": [
                    f"Until you have {trust_threshold()} published posts, a published post can have at most "
                    f"{link_limit()} links. Remove some links, or write a new post (it will be checked by a moderator)."
                ]
            }
        )
    version = post.version if expected_version is None else expected_version
    old = ForumPostRevision(
        post_id=post.id, title=post.title, body=post.body, fingerprint=post.fingerprint, edited_at=utcnow()
    )
    fingerprint = content_fingerprint(new_title or "", body)
    # Conditional: a moderator's decision (or erasure) in between wins, and this edit is refused.
    # The version moves on, so a decision taken on the old text is refused instead.
    changed = cast(
        CursorResult,
        db.session.execute(
            update(ForumPost)
            .where(
                ForumPost.id == post.id, ForumPost.version == version, ForumPost.status.in_(EDITABLE_STATES)
            )
            .values(
                title=new_title,
                body=body,
                fingerprint=fingerprint,
                edited_at=old.edited_at,
                version=version + 1,
            )
            .execution_options(synchronize_session=False)
        ),
    ).rowcount
    if changed != 1:
        db.session.rollback()
        raise Conflict(
            "This post changed while you were editing it (it was edited elsewhere or a moderator "
            "decided on it). Please open it again."
        )
    db.session.add(old)
    db.session.refresh(post)
    for hook in edit_hooks:
        hook(post)
    append_log(
        actor=user,
        subject_kind=KIND,
        subject_id=post.id,
        action="edit",
        from_state=post.status,
        to_state=post.status,
        fingerprint=fingerprint,
    )
    if post.status == PUBLISHED:
        if post.is_opening and old.title != new_title:
            _reindex_topic(post.topic_id)  # replies carry the topic's title in search
        else:
            from forum.search import enqueue_index

            enqueue_index(KIND, post.id)
    db.session.commit()
    return post


def withdraw_post(user, post_id: int) -> ForumPost:
    """The author deletes their own post (a topic, if it is the opening post). Commits."""
    post = get_own_post(user, post_id)
    moderation.transition(post, "withdraw", user)
    db.session.commit()
    return post


# --- moderators' topic tools ------------------------------------------------------


def _require_moderator(user) -> None:
    if user is None or not user.is_authenticated or not user.is_moderator:
        raise PermissionDenied("Only moderators can do this.")


def _topic(topic_id: int) -> ForumTopic:
    topic = db.session.get(ForumTopic, topic_id)
    if topic is None:
        raise NotFound("There is no such topic.")
    return topic


def _log_topic(moderator, topic: ForumTopic, action: str, reference: str | None = None) -> None:
    state = topic.opening.status if topic.opening is not None else None
    append_log(
        actor=moderator,
        subject_kind=TOPIC_SUBJECT,
        subject_id=topic.id,
        action=action,
        from_state=state,
        to_state=state,
        reference=reference,
    )


def set_locked(moderator, topic_id: int, locked: bool) -> ForumTopic:
    _require_moderator(moderator)
    topic = _topic(topic_id)
    if topic.locked != bool(locked):
        topic.locked = bool(locked)
        _log_topic(moderator, topic, "lock" if locked else "unlock")
    db.session.commit()
    return topic


def set_pinned(moderator, topic_id: int, pinned: bool) -> ForumTopic:
    _require_moderator(moderator)
    topic = _topic(topic_id)
    if topic.pinned != bool(pinned):
        topic.pinned = bool(pinned)
        _log_topic(moderator, topic, "pin" if pinned else "unpin")
    db.session.commit()
    return topic


def move_topic(moderator, topic_id: int, category_id) -> ForumTopic:
    _require_moderator(moderator)
    topic = _topic(topic_id)
    try:
        target = db.session.get(ForumCategory, int(category_id))
    except (TypeError, ValueError):
        target = None
    if target is None:
        raise ValidationFailed(field_errors={"category": ["Choose a category from the list."]})
    if target.id != topic.category_id:
        old_id = topic.category_id
        topic.category_id = target.id
        _log_topic(moderator, topic, "move", reference=f"category {old_id} -> {target.id}")
        _reindex_topic(topic.id)  # search filters by category
        from .aggregates import recount_categories

        db.session.flush()
        recount_categories([old_id, target.id])  # both lists' counts and last activity change now
    db.session.commit()
    return topic


def post_history(post_id: int) -> dict:
    """Everything moderators may see about one post: its text, revisions, log and flags."""
    from moderation.flags import Flag

    post = db.session.get(ForumPost, post_id)
    if post is None:
        raise NotFound("There is no such post.")
    flags = list(
        db.session.scalars(
            select(Flag).where(Flag.kind == KIND, Flag.item_id == post.id).order_by(Flag.created_at)
        )
    )
    return {
        "post": post,
        "revisions": list(post.revisions),
        "log": moderation.item_history(KIND, post.id),
        "flags": flags,
    }


# --- moderation kind: hooks, erasure ----------------------------------------------


def _erase_post(post: ForumPost) -> None:
    """Removal erases the words and every earlier revision; the log keeps fingerprints only."""
    post.title = None
    post.body = None
    db.session.execute(delete(ForumPostRevision).where(ForumPostRevision.post_id == post.id))


def _erase_withdrawn(post: ForumPost, action, actor, from_state) -> None:
    """An author deleting their post expects its words gone, not hidden."""
    if action == "withdraw":
        _erase_post(post)


def _follow_opening_post(post: ForumPost, action, actor, from_state) -> None:
    """A topic is public exactly when its opening post is: its replies follow it in search."""
    if post.is_opening and (from_state == PUBLISHED or post.status == PUBLISHED):
        from forum.search import enqueue_index

        for reply_id in db.session.scalars(
            select(ForumPost.id).where(
                ForumPost.topic_id == post.topic_id,
                ForumPost.is_opening.is_(False),
                ForumPost.status == PUBLISHED,
            )
        ):
            enqueue_index(KIND, reply_id)  # re-checked after commit: indexed if public, deleted otherwise


def _mail_author_about_removal(post: ForumPost, action, actor, from_state) -> None:
    """A moderator took a post down (after flags, or directly): the author learns why."""
    if action != "remove" or actor is None or post.author is None:
        return
    queue_mail(
        post.author.email,
        "Your forum post was removed",
        "forum_post_removed",
        item=post,
        author=post.author,
        category=post.topic.category,
        reason=reason_label(post.decision_reason),
        note=post.decision_note,
        link=external_url("accounts.account"),
    )
    from moderation.notify import decision_listeners

    for listener in decision_listeners:
        listener(post, post.author, "removed", external_url("accounts.account"), reason=post.decision_reason)


def _decision_mail():
    """Approval of a held post and rejection: the shared author-mail hook."""
    from moderation.notify import DecisionMail

    return DecisionMail(
        published_subject="Your forum post is published",
        published_template="forum_post_published",
        rejected_subject="Your forum post was not published",
        rejected_template="forum_post_rejected",
        published_link=lambda post: external_url("community.post", post_id=post.id),
        rejected_link=lambda post: external_url("accounts.account"),
    )


def _queue_options():
    return [joinedload(ForumPost.author), joinedload(ForumPost.topic).joinedload(ForumTopic.category)]


def _item_from_topic_url(view_args: dict) -> int | None:
    """A link to a topic page names its opening post, or the post in its #post-N fragment."""
    fragment = str(view_args.get("_fragment") or "")
    match = re.fullmatch(r"post-(\d+)", fragment)
    topic_id = view_args.get("topic_id")
    if match:
        post = db.session.get(ForumPost, int(match.group(1)))
        if post is not None and (topic_id is None or post.topic_id == topic_id):
            return post.id
    if topic_id is None:
        return None
    return db.session.scalar(
        select(ForumPost.id).where(ForumPost.topic_id == topic_id, ForumPost.is_opening.is_(True))
    )


def register_forum_kind():
    from moderation.flags import enable_flags
    from moderation.kinds import ContentKind, register_kind

    kind = ContentKind(
        name=KIND,
        label="Forum posts",
        model=ForumPost,
        queue_template="moderation/items/forum_post.html",
        on_transition=[_erase_withdrawn, _follow_opening_post, _decision_mail(), _mail_author_about_removal],
        erase=_erase_post,
        queue_options=_queue_options,
        public_url=lambda post: url_for("community.post", post_id=post.id),
    )
    if hasattr(kind, "url_endpoints"):
        kind.url_endpoints = {
            "community.post": "post_id",
            "community.edit_post": "post_id",
            "community.topic": _item_from_topic_url,
        }
    enable_flags(kind)
    return register_kind(kind)


# --- search -------------------------------------------------------------------------


def _post_is_public(post: ForumPost) -> bool:
    if post.status != PUBLISHED:
        return False
    opening = post if post.is_opening else post.topic.opening
    return opening is not None and opening.status == PUBLISHED


def _published_posts():
    opening = aliased(ForumPost)
    return (
        select(ForumPost)
        .join(opening, and_(opening.topic_id == ForumPost.topic_id, opening.is_opening.is_(True)))
        .where(ForumPost.status == PUBLISHED, opening.status == PUBLISHED)
    )


def _plain_text(markdown_source: str | None) -> str:
    """The text as readers see it: a quote of a post that is gone is left out (forum.members)."""
    from forum.members.markup import plain_text

    return plain_text(markdown_source)


def _post_document(post: ForumPost):
    from forum.search.registry import SearchDocument

    topic = post.topic
    title = post.title if post.is_opening else f"Re: {topic.title or ''}"
    return SearchDocument(
        kind=KIND,
        item_id=post.id,
        title=title or "",
        body=_plain_text(post.body),
        author=post.author.display_name if post.author else None,
        published_at=post.published_at or post.created_at,
        # The permalink leads to the post's anchor on the right page of its topic.
        url=url_for("community.post", post_id=post.id),
        group="forum",
        category=topic.category.slug,
        category_name=topic.category.name,
    )


def register_forum_searchable():
    from forum.search.registry import Searchable, register_searchable

    return register_searchable(
        Searchable(
            kind=KIND,
            group="forum",
            model=ForumPost,
            to_document=_post_document,
            published_query=_published_posts,
            is_public=_post_is_public,
            load_options=_queue_options,
            label="Forum post",
        )
    )


# --- accounts integration -----------------------------------------------------------


def export_forum_posts(user) -> list[dict]:
    return [
        {
            "id": p.id,
            "kind": "topic" if p.is_opening else "reply",
            "topic_id": p.topic_id,
            "topic_title": p.topic.title,
            "category": p.topic.category.name,
            "status": p.status,
            "title": p.title,
            "body": p.body,
            "sha256": p.fingerprint,
            "created_at": p.created_at.isoformat(),
            "published_at": p.published_at.isoformat() if p.published_at else None,
            "edited_at": p.edited_at.isoformat() if p.edited_at else None,
            "decision_reason": reason_label(p.decision_reason) if p.decision_reason else None,
            "earlier_versions": [
                {
                    "title": r.title,
                    "body": r.body,
                    "sha256": r.fingerprint,
                    "replaced_at": r.edited_at.isoformat(),
                }
                for r in p.revisions
            ],
        }
        for p in posts_by_author(user)
    ]


def remove_posts_of_deleted_account(user) -> None:
    for post in posts_by_author(user):
        if post.status != "removed":
            moderation.transition(post, "remove", None, system=True, reason="account_deleted")
