"""Members' community services: watching and reading topics, likes, quotes, notifications
(in-site, mail at once or in the daily digest), handles and public profiles.

Notifications are made when a post is *published* (a `forum_post` transition hook), never
while it waits for a moderator; every read joins the post and its topic's opening post and
keeps only published ones, so a notification about content that leaves "published"
disappears at once, its unsent mail is withdrawn and the digest skips it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import and_, delete, func, or_, select, true, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased, joinedload

from forum.accounts.suspensions import check_can_post
from forum.community.models import ForumPost, ForumTopic
from forum.errors import NotFound, PermissionDenied, ValidationFailed
from forum.extensions import db
from forum.mail import queue_mail
from forum.models import OutboxMessage, User
from forum.timeutil import utcnow
from forum.urls import external_url
from moderation.states import PENDING, PUBLISHED

from . import markup
from .handles import check_handle
from .models import (
    MAIL_MODES,
    MemberProfile,
    Notification,
    NotificationPreference,
    PostLike,
    PostQuote,
    TopicState,
)

MAX_MENTIONS = 10
# Kinds a member chooses mail for, with the defaults of a new member.
DEFAULT_MODES = {
    "mention": "immediate",
    "reply": "immediate",
    "quote": "immediate",
    "watched": "digest",
    "like": "never",
}
KIND_LABELS = {
    "mention": "Someone mentions you (@handle)",
    "reply": "A reply in a topic you started",
    "quote": "Someone quotes your post",
    "watched": "A reply in a topic you watch",
    "like": "Likes on your posts",
}
MODE_LABELS = {"immediate": "At once", "digest": "In a daily digest", "never": "Never"}
MAIL_SUBJECTS = {
    "mention": "You were mentioned in the community forums",
    "reply": "New reply in your topic",
    "quote": "Your post was quoted",
    "watched": "New reply in a topic you watch",
    "like": "Someone liked your post",
}
UNSUBSCRIBE_SALT = "notification-unsubscribe"
DIGEST = "digest"  # unsubscribe token kind: every kind mailed in the digest


# --- preferences and unsubscribe ---------------------------------------------------


def preferences(user) -> dict[str, str]:
    modes = dict(DEFAULT_MODES)
    for pref in db.session.scalars(
        select(NotificationPreference).where(NotificationPreference.user_id == user.id)
    ):
        if pref.kind in modes:
            modes[pref.kind] = pref.mode
    return modes


def _set_mode(user_id: int, kind: str, mode: str) -> None:
    pref = db.session.get(NotificationPreference, (user_id, kind))
    if pref is None:
        db.session.add(NotificationPreference(user_id=user_id, kind=kind, mode=mode))
    else:
        pref.mode = mode


def set_preferences(user, modes: dict) -> None:
    """Save a member's mail choice for each kind. Commits."""
    errors = {}
    for kind in DEFAULT_MODES:
        if modes.get(kind) not in MAIL_MODES:
            errors[kind] = ["Choose at once, daily digest or never."]
    if errors:
        raise ValidationFailed(field_errors=errors)
    for kind in DEFAULT_MODES:
        _set_mode(user.id, kind, modes[kind])
    db.session.commit()


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=UNSUBSCRIBE_SALT)


def unsubscribe_token(user_id: int, kind: str) -> str:
    return _serializer().dumps([user_id, kind])


def read_unsubscribe_token(token: str) -> tuple[User, str]:
    try:
        user_id, kind = _serializer().loads(token)
    except (BadSignature, ValueError, TypeError):
        raise NotFound(
            "This unsubscribe link is not valid. You can choose your mail on the notifications "
            "settings page of your account."
        ) from None
    user = db.session.get(User, user_id) if isinstance(user_id, int) else None
    if user is None or (kind not in DEFAULT_MODES and kind != DIGEST):
        raise NotFound("This unsubscribe link is not valid any more (the account may have been deleted).")
    return user, kind


def unsubscribe(token: str) -> tuple[User, list[str]]:
    """One-click unsubscribe (no sign-in): mail of that kind stops. Commits. Returns the kinds turned off."""
    user, kind = read_unsubscribe_token(token)
    if kind == DIGEST:
        kinds = [k for k, mode in preferences(user).items() if mode == "digest"]
    else:
        kinds = [kind]
    for k in kinds:
        _set_mode(user.id, k, "never")
    db.session.commit()
    return user, kinds


def _mail_headers(user_id: int, kind: str) -> tuple[dict, str]:
    link = external_url("members.unsubscribe", token=unsubscribe_token(user_id, kind))
    return {"List-Unsubscribe": f"<{link}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}, link


# --- watching and reading ----------------------------------------------------------


def _topic_state(user_id: int, topic_id: int) -> TopicState:
    state = db.session.get(TopicState, (user_id, topic_id))
    if state is None:
        state = TopicState(user_id=user_id, topic_id=topic_id)
        db.session.add(state)
    return state


def _public_topic(topic_id: int) -> ForumTopic:
    topic = db.session.get(ForumTopic, topic_id)
    if topic is None or topic.opening is None or topic.opening.status != PUBLISHED:
        raise NotFound("There is no such topic. It may have been removed.")
    return topic


def set_watching(user, topic_id: int, watching: bool) -> ForumTopic:
    """Watch / Unwatch button. Commits."""
    topic = _public_topic(topic_id)
    _topic_state(user.id, topic.id).watching = bool(watching)
    db.session.commit()
    return topic


def auto_watch(user_id: int, topic_id: int) -> None:
    """Starting or replying to a topic watches it, unless the member chose Unwatch. No commit."""
    state = _topic_state(user_id, topic_id)
    if state.watching is None:
        state.watching = True


def is_watching(user, topic_id: int) -> bool:
    state = db.session.get(TopicState, (user.id, topic_id))
    return bool(state and state.watching)


def _unread_clause(user_id: int):
    state = aliased(TopicState)
    return state, and_(ForumPost.status == PUBLISHED, ForumPost.published_at > state.read_until)


def unread_counts(user, topic_ids, unopened: bool = False) -> dict[int, tuple[int, int]]:
    """topic id -> (new published posts since the member last read it, first of them), for
    topics the member has read before; with `unopened`, also for topics they never opened that
    were started after they joined (every post is new to them, except their own). One query."""
    ids = list(topic_ids)
    if user is None or not ids:
        return {}
    state = aliased(TopicState)
    new_post = and_(state.read_until.is_not(None), ForumPost.published_at > state.read_until)
    if unopened:
        never_opened = and_(
            state.read_until.is_(None),
            ForumTopic.created_at > user.created_at,
            or_(ForumPost.author_id.is_(None), ForumPost.author_id != user.id),
        )
        new_post = or_(new_post, never_opened)
    ranked = (
        select(
            ForumPost.topic_id,
            ForumPost.id,
            func.count().over(partition_by=ForumPost.topic_id).label("n"),
            func.row_number()
            .over(partition_by=ForumPost.topic_id, order_by=(ForumPost.created_at, ForumPost.id))
            .label("rank"),
        )
        .join(ForumTopic, ForumTopic.id == ForumPost.topic_id)
        .outerjoin(state, and_(state.topic_id == ForumPost.topic_id, state.user_id == user.id))
        .where(ForumPost.topic_id.in_(ids), ForumPost.status == PUBLISHED, new_post)
        .subquery()
    )
    rows = db.session.execute(select(ranked.c.topic_id, ranked.c.n, ranked.c.id).where(ranked.c.rank == 1))
    return {topic_id: (int(n), post_id) for topic_id, n, post_id in rows}


def first_unread_post_id(user, topic_id: int) -> int | None:
    found = unread_counts(user, [topic_id]).get(topic_id)
    return found[1] if found else None


def mark_read(user, topic_id: int, posts) -> None:
    """The member saw these posts: move their read mark forward. Commits (a page view)."""
    latest = max((p.published_at for p in posts if p.status == PUBLISHED and p.published_at), default=None)
    if latest is None:
        return
    state = _topic_state(user.id, topic_id)
    if state.read_until is None or state.read_until < latest:
        state.read_until = latest
    try:
        db.session.commit()
    except IntegrityError:  # the same member's other tab got there first
        db.session.rollback()


# --- likes -------------------------------------------------------------------------


def _likeable(user, post_id: int) -> ForumPost:
    post = db.session.get(ForumPost, post_id)
    if (
        post is None
        or post.status != PUBLISHED
        or post.topic.opening is None
        or post.topic.opening.status != PUBLISHED
    ):
        raise NotFound("There is no such post. It may have been removed.")
    if post.author_id == user.id:
        raise PermissionDenied("You cannot like your own post.")
    return post


def like(user, post_id: int) -> ForumPost:
    """Like a published post of someone else; liking again changes nothing. Commits."""
    check_can_post(user)  # a suspended member cannot like (Suspended: 403 with the reason)
    post = _likeable(user, post_id)
    if db.session.get(PostLike, (user.id, post.id)) is not None:
        return post
    db.session.add(PostLike(user_id=user.id, post_id=post.id))
    try:
        db.session.flush()
    except IntegrityError:  # a double click raced us: it is liked, nothing else to do
        db.session.rollback()
        return post
    if post.author_id is not None:
        _notify_like(post, user)
    db.session.commit()
    return post


def unlike(user, post_id: int) -> ForumPost:
    post = db.session.get(ForumPost, post_id)
    if post is None:
        raise NotFound("There is no such post.")
    removed = cast(
        CursorResult,
        db.session.execute(delete(PostLike).where(PostLike.user_id == user.id, PostLike.post_id == post.id)),
    ).rowcount
    if removed and post.author_id is not None:
        note = db.session.scalar(
            select(Notification).where(
                Notification.user_id == post.author_id,
                Notification.post_id == post.id,
                Notification.kind == "like",
            )
        )
        if note is not None:
            latest = db.session.scalar(
                select(PostLike.user_id)
                .where(PostLike.post_id == post.id)
                .order_by(PostLike.created_at.desc())
                .limit(1)
            )
            if latest is None:
                db.session.delete(note)
            elif note.actor_id == user.id:
                note.actor_id = latest
    db.session.commit()
    return post


def like_summary(user, post_ids) -> tuple[dict[int, int], set[int]]:
    """(likes per post, posts this member likes) for a page of posts: two queries."""
    ids = list(post_ids)
    if not ids:
        return {}, set()
    counts = dict(
        db.session.execute(
            select(PostLike.post_id, func.count()).where(PostLike.post_id.in_(ids)).group_by(PostLike.post_id)
        ).all()
    )
    mine = set()
    if user is not None:
        mine = set(
            db.session.scalars(
                select(PostLike.post_id).where(PostLike.user_id == user.id, PostLike.post_id.in_(ids))
            )
        )
    return counts, mine


# --- quotes ------------------------------------------------------------------------


def quote_source(viewer, post_id: int) -> str:
    """The reply text that quotes a published post: a Markdown blockquote, attributed and linked."""
    post = db.session.get(ForumPost, post_id)
    if post is None or post.body is None or post.id not in markup.public_post_ids([post.id]):
        raise NotFound("There is no such post to quote. It may have been removed.")
    profile = db.session.get(MemberProfile, post.author_id) if post.author_id else None
    who = f"@{profile.handle}" if profile else "A former member"
    lines = [f"> [{who} wrote]({markup.site_path('community.post', post_id=post.id)}):", ">"]
    lines += [f"> {line}".rstrip() for line in post.body.replace("\r\n", "\n").split("\n")]
    return "\n".join(lines) + "\n\n"


def sync_quotes(post: ForumPost) -> set[int]:
    """Record which posts this post quotes (on publication and on edit). No commit."""
    quoted = {q for q in markup.quoted_post_ids(post.body) if q != post.id}
    existing = set(db.session.scalars(select(PostQuote.quoted_post_id).where(PostQuote.post_id == post.id)))
    if existing - quoted:
        db.session.execute(
            delete(PostQuote).where(
                PostQuote.post_id == post.id, PostQuote.quoted_post_id.in_(existing - quoted)
            )
        )
    real = (
        set(db.session.scalars(select(ForumPost.id).where(ForumPost.id.in_(quoted - existing))))
        if quoted
        else set()
    )
    for quoted_id in real:
        db.session.add(PostQuote(post_id=post.id, quoted_post_id=quoted_id))
    return quoted


def _reindex_quoting_posts(post_ids) -> None:
    """Posts quoting these show (and index) "quoted post removed" instead of their text, or the text again."""
    from forum.search import enqueue_index

    for quoting_id in db.session.scalars(
        select(PostQuote.post_id)
        .join(ForumPost, ForumPost.id == PostQuote.post_id)
        .where(PostQuote.quoted_post_id.in_(list(post_ids)), ForumPost.status == PUBLISHED)
        .distinct()
    ):
        enqueue_index("forum_post", quoting_id)


def after_edit(post: ForumPost) -> None:
    """An author edited a post (forum.community.services.edit_post). No commit."""
    if post.status == PUBLISHED:
        sync_quotes(post)


# --- notifications: making them --------------------------------------------------


def _create(
    recipient_id: int, kind: str, actor_id: int | None, post: ForumPost, modes: dict
) -> Notification | None:
    if (
        db.session.scalar(
            select(Notification.id).where(
                Notification.user_id == recipient_id, Notification.post_id == post.id
            )
        )
        is not None
    ):
        return None  # one notification per member and post
    note = Notification(
        user_id=recipient_id, kind=kind, actor_id=actor_id, post_id=post.id, mail_state="none"
    )
    db.session.add(note)
    _mail_per_preference(note, modes.get(kind, DEFAULT_MODES.get(kind, "never")), post)
    return note


def _mail_per_preference(note: Notification, mode: str, post: ForumPost) -> None:
    if mode == "digest":
        note.mail_state = "digest"
    elif mode == "immediate":
        recipient = db.session.get(User, note.user_id)
        assert recipient is not None  # the notification's owner (foreign key)
        actor = db.session.get(User, note.actor_id) if note.actor_id else None
        headers, unsubscribe_link = _mail_headers(recipient.id, note.kind)
        likes = _like_count(post.id) if note.kind == "like" else 0
        message = queue_mail(
            recipient.email,
            MAIL_SUBJECTS[note.kind],
            "notification",
            headers=headers,
            recipient=recipient,
            sentence=_sentence(note.kind, actor, likes),
            topic_title=post.topic.title,
            excerpt=_excerpt(markup.plain_text(post.body)),
            link=external_url("community.post", post_id=post.id),
            unsubscribe_link=unsubscribe_link,
            kind_label=KIND_LABELS[note.kind],
            settings_link=external_url("members.preferences"),
        )
        db.session.flush()
        note.outbox_id = message.id
        note.mail_state = "sent"


def _like_count(post_id: int) -> int:
    return (
        db.session.scalar(select(func.count()).select_from(PostLike).where(PostLike.post_id == post_id)) or 0
    )


def _sentence(kind: str, actor: User | None, likes: int = 0) -> str:
    who = actor.display_name if actor is not None else "A former member"
    if kind == "like":
        if likes <= 1:
            return f"{who} liked your post"
        if actor is None:
            return f"{likes} people liked your post"
        others = likes - 1
        return f"{who} and {others} other{'s' if others != 1 else ''} liked your post"
    return {
        "mention": f"{who} mentioned you",
        "quote": f"{who} quoted your post",
        "reply": f"{who} replied in your topic",
        "watched": f"{who} replied in a topic you watch",
    }[kind]


def _excerpt(text: str, limit: int = 280) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _notify_like(post: ForumPost, liker: User) -> None:
    note = db.session.scalar(
        select(Notification).where(Notification.user_id == post.author_id, Notification.post_id == post.id)
    )
    modes = preferences(post.author)
    if note is None:
        _create(post.author_id, "like", liker.id, post, modes)  # type: ignore[arg-type]
        return
    if note.kind != "like":
        return
    note.actor_id, note.created_at, note.read_at = liker.id, utcnow(), None  # grouped: it comes back as new
    mode = modes["like"]
    if mode == "immediate":
        _mail_per_preference(note, mode, post)
    elif mode == "digest":
        note.mail_state = "digest"


def _recipients(post: ForumPost) -> list[tuple[int, str]]:
    """(member, kind) for a newly published post, strongest reason first, one per member."""
    author_id = post.author_id
    found: dict[int, str] = {}

    def add(user_id, kind):
        if user_id is not None and user_id != author_id and user_id not in found:
            found[user_id] = kind

    # At most MAX_MENTIONS members are notified per post (the first ones written who can be mentioned).
    handles = markup.mentions_for_notifying(post.body)
    mentioned = markup.mentionable(handles)
    for key in [k for k in handles if k in mentioned and mentioned[k][1] != author_id][:MAX_MENTIONS]:
        add(mentioned[key][1], "mention")
    quoted = markup.quoted_post_ids(post.body) - {post.id}
    if quoted:
        public = markup.public_post_ids(quoted)
        for quoted_author in db.session.scalars(
            select(ForumPost.author_id).where(ForumPost.id.in_(public)).order_by(ForumPost.id)
        ):
            add(quoted_author, "quote")
    if not post.is_opening:
        add(post.topic.author_id, "reply")
        for watcher in db.session.scalars(
            select(TopicState.user_id)
            .where(TopicState.topic_id == post.topic_id, TopicState.watching.is_(True))
            .order_by(TopicState.user_id)
        ):
            add(watcher, "watched")
    return list(found.items())


def on_post_transition(post: ForumPost, action, actor, from_state) -> None:
    """forum_post hook: notify on first publication; withdraw what is no longer public."""
    now_public = post.status == PUBLISHED
    was_public = from_state == PUBLISHED
    if now_public and from_state == PENDING:
        sync_quotes(post)
        if post.author_id is not None:
            auto_watch(post.author_id, post.topic_id)
        recipients = _recipients(post)
        if recipients:
            ids = [uid for uid, _ in recipients]
            users = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(ids)))}
            for user_id, kind in recipients:
                if user_id in users:
                    _create(user_id, kind, post.author_id, post, preferences(users[user_id]))
    if was_public and not now_public:
        _withdraw_notifications(post)
    if was_public != now_public:
        _reindex_quoting_posts([post.id])


def _withdraw_notifications(post: ForumPost) -> None:
    """Gone means gone: unsent mail about it (or, for an opening post, about its topic) is
    deleted and the digest will not carry it. The in-site list hides it by its join."""
    post_ids = (
        select(ForumPost.id).where(ForumPost.topic_id == post.topic_id)
        if post.is_opening
        else select(ForumPost.id).where(ForumPost.id == post.id)
    )
    outbox_ids = select(Notification.outbox_id).where(
        Notification.post_id.in_(post_ids), Notification.outbox_id.is_not(None)
    )
    db.session.execute(
        delete(OutboxMessage)
        .where(OutboxMessage.id.in_(outbox_ids), OutboxMessage.sent_at.is_(None))
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        update(Notification)
        .where(Notification.post_id.in_(post_ids), Notification.mail_state == "digest")
        .values(mail_state="dropped")
        .execution_options(synchronize_session=False)
    )


def on_decision_mailed(item, author, decision: str, link: str, reason: str | None = None) -> None:
    """moderation.notify.DecisionMail mailed an author about a decision: show it in-site too. No commit."""
    from moderation.kinds import kind_of

    db.session.add(
        Notification(
            user_id=author.id,
            kind="moderation",
            subject_kind=kind_of(item).name,
            subject_id=item.id,
            decision=decision,
            reason=reason,
            link=link,
            mail_state="none",
        )
    )


# --- notifications: reading --------------------------------------------------------


def _visible_notifications(user_id: int):
    post = aliased(ForumPost)
    opening = aliased(ForumPost)
    return (
        select(Notification)
        .outerjoin(post, post.id == Notification.post_id)
        .outerjoin(opening, and_(opening.topic_id == post.topic_id, opening.is_opening.is_(True)))
        .where(
            Notification.user_id == user_id,
            or_(Notification.post_id.is_(None), and_(post.status == PUBLISHED, opening.status == PUBLISHED)),
        )
    )


def unread_count(user) -> int:
    query = _visible_notifications(user.id).where(Notification.read_at.is_(None))
    return db.session.scalar(select(func.count()).select_from(query.subquery())) or 0


def list_notifications(user, page: int = 1, per_page: int = 20):
    """Newest first; each item carries what the page shows. A constant number of queries."""
    query = (
        _visible_notifications(user.id)
        .options(
            joinedload(Notification.actor),
            joinedload(Notification.post).joinedload(ForumPost.topic).selectinload(ForumTopic.opening),
        )
        .order_by(Notification.created_at.desc(), Notification.id.desc())
    )
    pagination = db.paginate(query, page=page, per_page=per_page, max_per_page=100, error_out=False)
    posts = [n.post for n in pagination.items if n.post is not None]
    likes, _ = like_summary(None, [n.post_id for n in pagination.items if n.kind == "like"])
    ctx = markup.build_context(p.body for p in posts)
    items = []
    for note in pagination.items:
        if note.post is not None:
            text = _sentence(note.kind, note.actor, likes.get(note.post_id, 0))
            items.append(
                dict(
                    note=note,
                    sentence=text,
                    topic_title=note.post.topic.title,
                    excerpt=_excerpt(markup.render_body(note.post.body, ctx).striptags(), 200),
                    link=markup.site_path("members.open_notification", notification_id=note.id),
                )
            )
        else:
            items.append(
                dict(
                    note=note,
                    sentence=_decision_sentence(note),
                    topic_title=None,
                    excerpt=None,
                    link=markup.site_path("members.open_notification", notification_id=note.id),
                )
            )
    return pagination, items


KIND_NAMES = {"review": "review", "forum_post": "forum post", "blog_comment": "blog comment"}


def _decision_sentence(note: Notification) -> str:
    from moderation.states import reason_label

    what = KIND_NAMES.get(note.subject_kind or "", "submission")
    if note.decision == "published":
        return f"Your {what} is published."
    if note.decision == "removed":
        return f"Your {what} was removed: {reason_label(note.reason) if note.reason else 'see the mail we sent'}."
    return f"Your {what} was not published: {reason_label(note.reason) if note.reason else 'see the mail we sent'}."


def open_notification(user, notification_id: int) -> str:
    """Mark read and return where it leads. Commits."""
    note = db.session.scalar(_visible_notifications(user.id).where(Notification.id == notification_id))
    if note is None:
        raise NotFound("This notification is gone: what it was about is no longer published.")
    if note.read_at is None:
        note.read_at = utcnow()
        db.session.commit()
    if note.post_id is not None:
        return markup.site_path("community.post", post_id=note.post_id)
    return note.link or markup.site_path("members.notifications")


def mark_notification_read(user, notification_id: int) -> None:
    changed = cast(
        CursorResult,
        db.session.execute(
            update(Notification)
            .where(
                Notification.id == notification_id,
                Notification.user_id == user.id,
                Notification.read_at.is_(None),
            )
            .values(read_at=utcnow())
        ),
    ).rowcount
    if (
        not changed
        and db.session.scalar(
            select(Notification.id).where(Notification.id == notification_id, Notification.user_id == user.id)
        )
        is None
    ):
        db.session.rollback()
        raise NotFound("There is no such notification.")
    db.session.commit()


def mark_all_read(user) -> int:
    changed = cast(
        CursorResult,
        db.session.execute(
            update(Notification)
            .where(Notification.user_id == user.id, Notification.read_at.is_(None))
            .values(read_at=utcnow())
        ),
    ).rowcount
    db.session.commit()
    return changed


# --- the daily digest --------------------------------------------------------------


def send_daily_digests() -> int:
    """Mail each member their waiting digest notifications about content that is published
    now (anything else is dropped, never mailed). Returns how many digests were queued. Commits."""
    waiting = aliased(Notification)
    visible_ids: set[int] = set()
    by_user: dict[int, Sequence[Notification]] = {}
    user_ids = db.session.scalars(
        select(waiting.user_id).where(waiting.mail_state == "digest").distinct()
    ).all()
    for user_id in user_ids:
        notes = db.session.scalars(
            _visible_notifications(user_id)
            .where(Notification.mail_state == "digest", Notification.read_at.is_(None))
            .options(
                joinedload(Notification.actor),
                joinedload(Notification.post).joinedload(ForumPost.topic).selectinload(ForumTopic.opening),
            )
            .order_by(Notification.created_at)
        ).all()
        if notes:
            by_user[user_id] = notes
            visible_ids.update(n.id for n in notes)
    # Whatever is left waiting is about content that is gone, or was read on the site already.
    db.session.execute(
        update(Notification)
        .where(
            Notification.mail_state == "digest",
            Notification.id.not_in(visible_ids) if visible_ids else true(),
        )
        .values(mail_state="dropped")
        .execution_options(synchronize_session=False)
    )
    sent = 0
    users = (
        {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(list(by_user))))}
        if by_user
        else {}
    )
    for user_id, notes in by_user.items():
        user = users[user_id]
        ctx = markup.build_context(n.post.body for n in notes)  # type: ignore[union-attr]
        likes, _ = like_summary(None, [n.post_id for n in notes if n.kind == "like"])
        entries = [
            dict(
                sentence=_sentence(n.kind, n.actor, likes.get(n.post_id, 0)),  # type: ignore[arg-type]
                topic_title=n.post.topic.title,  # type: ignore[union-attr]
                excerpt=_excerpt(markup.render_body(n.post.body, ctx).striptags()),  # type: ignore[union-attr]
                link=external_url("community.post", post_id=n.post_id),
                unsubscribe_link=external_url(
                    "members.unsubscribe", token=unsubscribe_token(user.id, n.kind)
                ),
                kind_label=KIND_LABELS[n.kind],
            )
            for n in notes
        ]
        headers, unsubscribe_all = _mail_headers(user.id, DIGEST)
        queue_mail(
            user.email,
            "Your daily community digest",
            "notification_digest",
            headers=headers,
            recipient=user,
            entries=entries,
            unsubscribe_link=unsubscribe_all,
            settings_link=external_url("members.preferences"),
            notifications_link=external_url("members.notifications"),
        )
        for n in notes:
            n.mail_state = "sent"
        sent += 1
    db.session.commit()
    return sent


# --- handles and profiles ----------------------------------------------------------


def profile_of(user) -> MemberProfile:
    profile = db.session.get(MemberProfile, user.id)
    if profile is None:  # an account made before handles existed and missed by the migration
        from .handles import derive_handle

        handle = derive_handle(db.session, user.display_name)
        profile = MemberProfile(
            user_id=user.id, handle=handle, handle_key=handle.lower(), activity_hidden=False
        )
        db.session.add(profile)
        db.session.flush()
    return profile


def update_profile(user, handle, activity_hidden: bool) -> MemberProfile:
    """Change the handle and whether the activity list is public. Commits."""
    profile = profile_of(user)
    handle = check_handle(handle, user_id=user.id, session=db.session)
    profile.handle, profile.handle_key, profile.activity_hidden = (
        handle,
        handle.lower(),
        bool(activity_hidden),
    )
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise ValidationFailed(
            field_errors={"handle": ["This handle is taken. Please choose another."]}
        ) from None
    return profile


def find_member(ref: str) -> tuple[User, MemberProfile]:
    if ref.isdigit():
        user = db.session.get(User, int(ref)) if len(ref) < 12 else None
        profile = db.session.get(MemberProfile, user.id) if user else None
    else:
        profile = db.session.scalar(
            select(MemberProfile)
            .where(MemberProfile.handle_key == ref.lower())
            .options(joinedload(MemberProfile.user))
        )
        user = profile.user if profile else None
    if user is None:
        raise NotFound("There is no such member.")
    return user, profile or profile_of(user)


def _public_posts_of(user_id: int):
    opening = aliased(ForumPost)
    return (
        select(ForumPost)
        .join(opening, and_(opening.topic_id == ForumPost.topic_id, opening.is_opening.is_(True)))
        .where(ForumPost.author_id == user_id, ForumPost.status == PUBLISHED, opening.status == PUBLISHED)
    )


def profile_page(user, profile, viewer, recent: int = 10) -> dict:
    """What a profile shows: public facts only; the activity list unless hidden (moderators and
    the member see it anyway). A constant number of queries."""
    from forum.catalog.models import Product, Review

    reviews_q = (
        select(Review)
        .join(Product, Product.id == Review.product_id)
        .where(Review.author_id == user.id, Review.status == PUBLISHED, Product.active.is_(True))
    )
    review_count = db.session.scalar(select(func.count()).select_from(reviews_q.subquery())) or 0
    posts_q = _public_posts_of(user.id)
    post_count = db.session.scalar(select(func.count()).select_from(posts_q.subquery())) or 0
    public_ids = posts_q.with_only_columns(ForumPost.id).scalar_subquery()
    likes_received = (
        db.session.scalar(select(func.count()).select_from(PostLike).where(PostLike.post_id.in_(public_ids)))
        or 0
    )
    viewer_id = viewer.id if viewer is not None and viewer.is_authenticated else None
    show_activity = (
        not profile.activity_hidden or viewer_id == user.id or bool(viewer_id and viewer.is_moderator)
    )
    reviews, posts, rendered = [], [], {}
    if show_activity:
        reviews = list(
            db.session.scalars(
                reviews_q.options(joinedload(Review.product))
                .order_by(Review.published_at.desc(), Review.id.desc())
                .limit(recent)
            )
        )
        posts = list(
            db.session.scalars(
                posts_q.options(joinedload(ForumPost.topic).selectinload(ForumTopic.opening))
                .order_by(ForumPost.published_at.desc(), ForumPost.id.desc())
                .limit(recent)
            )
        )
        ctx = markup.build_context(p.body for p in posts)
        rendered = {p.id: _excerpt(markup.render_body(p.body, ctx).striptags(), 300) for p in posts}
    return dict(
        member=user,
        profile=profile,
        review_count=review_count,
        post_count=post_count,
        likes_received=likes_received,
        show_activity=show_activity,
        activity_hidden=profile.activity_hidden,
        reviews=reviews,
        posts=posts,
        excerpts=rendered,
    )


# --- topic pages -------------------------------------------------------------------


def topic_page_extras(user, topic: ForumTopic, posts) -> dict:
    """What the topic page needs from this area, for a page of posts (constant queries)."""
    posts = list(posts)
    likes, liked = like_summary(user, [p.id for p in posts])
    extras = dict(
        rendered_posts=markup.render_posts(posts),
        like_counts=likes,
        liked=liked,
        watching=False,
        can_watch=False,
    )
    if user is not None and topic.opening is not None and topic.opening.status == PUBLISHED:
        extras.update(watching=is_watching(user, topic.id), can_watch=True)
    return extras


def export_member_data(user) -> dict:
    profile = db.session.get(MemberProfile, user.id)
    return {
        "handle": profile.handle if profile else None,
        "activity_hidden": bool(profile and profile.activity_hidden),
        "mail_preferences": preferences(user),
        "watched_topics": list(
            db.session.scalars(
                select(TopicState.topic_id)
                .where(TopicState.user_id == user.id, TopicState.watching.is_(True))
                .order_by(TopicState.topic_id)
            )
        ),
        "liked_posts": list(
            db.session.scalars(
                select(PostLike.post_id).where(PostLike.user_id == user.id).order_by(PostLike.post_id)
            )
        ),
    }
