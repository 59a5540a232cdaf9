"""The blog: staff posts (draft -> published <-> unpublished) and moderated member comments.

Every public read goes through `published_posts_query` / `published_comments_query`,
so drafts, unpublished posts and comments that are not published (pending,
rejected, withdrawn, hidden, removed) reach no page, list, count or feed.
"""

from __future__ import annotations

import re
import unicodedata

from flask import url_for
from markupsafe import Markup
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.exc import StaleDataError

from forum.database import duplicate_refused
from forum.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from forum.extensions import db
from forum.fingerprint import content_fingerprint
from forum.models import User
from forum.sanitize import render_markdown
from forum.timeutil import utcnow
from forum.urls import external_url
from moderation import services as moderation
from moderation.states import PENDING, REMOVED, reason_label
from moderation.states import PUBLISHED as COMMENT_PUBLISHED

from .models import (
    COMMENT_BODY_MAX,
    DRAFT,
    POST_BODY_MAX,
    POST_TITLE_MAX,
    PUBLISHED,
    SLUG_MAX,
    UNPUBLISHED,
    BlogComment,
    BlogPost,
)

WRITER_ROLES = ("editor", "admin")
# Addresses under /blog that are pages of their own, never a post's slug.
RESERVED_SLUGS = {"manage", "comments", "feed"}
POSTS_PER_PAGE = 10
COMMENTS_PER_PAGE = 50
EXCERPT_CHARS = 280


# --- who may do what ----------------------------------------------------------


def can_write(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.role in WRITER_ROLES)


def require_writer(user) -> None:
    if not can_write(user):
        raise PermissionDenied("Only editors and admins can write blog posts.")


def check_can_comment(user) -> None:
    """Logged in and not suspended (the same rule as every other place members write)."""
    from forum.accounts.suspensions import check_can_post

    if user is None or not user.is_authenticated:
        raise PermissionDenied("Log in to comment.")
    check_can_post(user)


def comment_block_reason(user) -> str | None:
    """Why a signed-in member cannot comment right now (shown instead of the form), or None."""
    if user is None or not user.is_authenticated:
        return None
    try:
        check_can_comment(user)
    except PermissionDenied as error:
        return error.message
    return None


# --- posts: writing -------------------------------------------------------------


def slugify(title: str) -> str:
    """An ASCII address from the title: "Café & Co. — 2026!" -> "cafe-co-2026"."""
    text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii").lower()
    text = re.sub(r"[^a-z0-9]+", "-", text).strip("-")
    # Leave room for a "-NNN" suffix that keeps it unique.
    text = text[: SLUG_MAX - 6].rstrip("-")
    return text or "post"


def _unique_slug(title: str, post_id: int | None = None) -> str:
    base = slugify(title)
    taken_query = select(BlogPost.slug).where((BlogPost.slug == base) | BlogPost.slug.like(base + "-%"))
    if post_id is not None:
        taken_query = taken_query.where(BlogPost.id != post_id)
    taken = set(db.session.scalars(taken_query)) | RESERVED_SLUGS
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def _check_post_fields(title, body, *, publishing: bool) -> None:
    errors: dict[str, list[str]] = {}
    if not isinstance(title, str) or not title.strip():
        errors["title"] = ["Write a title."]
    elif len(title) > POST_TITLE_MAX:
        errors["title"] = [f"The title is {len(title)} characters long; the limit is {POST_TITLE_MAX}."]
    elif "\x00" in title:
        errors["title"] = ["The title contains a NUL character, which cannot be stored. Please remove it."]
    if not isinstance(body, str):
        errors["body"] = ["Write the post."]
    elif len(body) > POST_BODY_MAX:
        errors["body"] = [f"The post is {len(body)} characters long; the limit is {POST_BODY_MAX}."]
    elif "\x00" in body:
        errors["body"] = ["The post contains a NUL character, which cannot be stored. Please remove it."]
    elif publishing and not body.strip():
        errors["body"] = ["Write the post before publishing it (an empty draft can be saved)."]
    if errors:
        raise ValidationFailed(field_errors=errors)


def _search_update(post: BlogPost, was_public: bool) -> None:
    """Posts are not a moderated kind: tell the search index ourselves, in this transaction.

    A post's approved comments are findable only while the post is public, so
    they follow it in and out of the index. Drafts never were in it.
    """
    from forum import search

    if post.is_public:
        action = search.enqueue_index
    elif was_public:
        action = search.enqueue_delete
        from forum.speed import rendered

        rendered.forget("blog_post", [post.id])  # its stored HTML goes with it
    else:
        return
    action("blog_post", post.id)
    if post.is_public == was_public:
        return  # an edit: the comments are unchanged
    comment_ids = db.session.scalars(
        select(BlogComment.id).where(BlogComment.post_id == post.id, BlogComment.status == COMMENT_PUBLISHED)
    )
    for comment_id in comment_ids:
        action("blog_comment", comment_id)


SLUG_TAKEN = {"title": ["Another post just took this address. Please save again."]}


def _commit_post(post: BlogPost) -> None:
    try:
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        raise Conflict(
            "Someone else changed this post while you were editing. Reload it to see their changes."
        ) from None
    except IntegrityError:
        # Two posts with the same title saved at the same moment: the slug is taken.
        db.session.rollback()
        raise ValidationFailed(field_errors=SLUG_TAKEN) from None


def _set_published(post: BlogPost) -> None:
    post.status = PUBLISHED
    if post.published_at is None:
        post.published_at = utcnow()


def create_post(author: User, title: str, body: str, *, publish: bool = False) -> BlogPost:
    require_writer(author)
    _check_post_fields(title, body, publishing=publish)
    post = BlogPost(title=title, body=body, author_id=author.id, status=DRAFT, slug=_unique_slug(title))
    if publish:
        _set_published(post)
    db.session.add(post)
    with duplicate_refused(field_errors=SLUG_TAKEN):  # the flush meets the other post's slug first
        db.session.flush()
    _search_update(post, was_public=False)
    _commit_post(post)
    return post


def get_post_for_staff(user, post_id: int) -> BlogPost:
    require_writer(user)
    post = db.session.get(BlogPost, post_id)
    if post is None:
        raise NotFound("There is no such blog post.")
    return post


def _check_version(post: BlogPost, expected_version) -> None:
    try:
        expected = int(expected_version) if expected_version not in (None, "") else post.version
    except (TypeError, ValueError):
        expected = -1
    if expected != post.version:
        raise Conflict(
            "Someone else changed this post while you were editing. Reload it to see their changes."
        )


def update_post(
    user, post_id: int, title: str, body: str, *, expected_version=None, publish: bool = False
) -> BlogPost:
    """Save an edit (and optionally publish). The slug follows the title until first publication."""
    post = get_post_for_staff(user, post_id)
    _check_version(post, expected_version)
    _check_post_fields(title, body, publishing=publish or post.is_public)
    was_public = post.is_public
    post.title, post.body = title, body
    if not post.slug_is_frozen:
        post.slug = _unique_slug(title, post.id)
    post.updated_at = utcnow()
    if publish:
        _set_published(post)
    _search_update(post, was_public)
    _commit_post(post)
    return post


def publish_post(user, post_id: int, expected_version=None) -> BlogPost:
    post = get_post_for_staff(user, post_id)
    _check_version(post, expected_version)
    if post.is_public:
        return post
    _check_post_fields(post.title, post.body, publishing=True)
    _set_published(post)
    post.updated_at = utcnow()
    _search_update(post, was_public=False)
    _commit_post(post)
    return post


def unpublish_post(user, post_id: int, expected_version=None) -> BlogPost:
    post = get_post_for_staff(user, post_id)
    _check_version(post, expected_version)
    if post.status != PUBLISHED:
        return post
    post.status = UNPUBLISHED
    _search_update(post, was_public=True)
    _commit_post(post)
    return post


def delete_draft(user, post_id: int, expected_version=None) -> None:
    """Only a draft that was never published can be deleted; published posts are unpublished instead."""
    post = get_post_for_staff(user, post_id)
    _check_version(post, expected_version)
    if post.status != DRAFT or post.published_at is not None:
        raise Conflict("Only drafts that were never published can be deleted. Unpublish this post instead.")
    db.session.delete(post)
    _commit_post(post)


def staff_posts() -> dict[str, list[BlogPost]]:
    posts = db.session.scalars(
        select(BlogPost)
        .options(joinedload(BlogPost.author))
        .order_by(BlogPost.updated_at.desc(), BlogPost.id.desc())
    ).all()
    grouped: dict[str, list] = {DRAFT: [], PUBLISHED: [], UNPUBLISHED: []}
    for post in posts:
        grouped[post.status].append(post)
    return grouped


# --- posts: reading -------------------------------------------------------------


def published_posts_query():
    return (
        select(BlogPost)
        .where(BlogPost.status == PUBLISHED)
        .options(joinedload(BlogPost.author))
        .order_by(BlogPost.published_at.desc(), BlogPost.id.desc())
    )


def published_posts(page: int = 1, per_page: int = POSTS_PER_PAGE):
    return db.paginate(
        published_posts_query(), page=page, per_page=per_page, max_per_page=50, error_out=False
    )


def get_published_post(slug: str) -> BlogPost:
    post = db.session.scalar(select(BlogPost).where(BlogPost.slug == slug, BlogPost.status == PUBLISHED))
    if post is None:
        raise NotFound("There is no published blog post at this address.")
    return post


def render_post_body(post_or_body) -> Markup:
    """A post's sanitised HTML: stored once per revision for published posts (forum.speed.rendered)."""
    if (
        isinstance(post_or_body, BlogPost)
        and post_or_body.id is not None
        and post_or_body.status == PUBLISHED
    ):
        from forum.speed import rendered

        return rendered.html_of(post_or_body)
    body = post_or_body if isinstance(post_or_body, str) else post_or_body.body
    return render_markdown(body)


def excerpt(post: BlogPost, limit: int = EXCERPT_CHARS) -> str:
    """Plain text of the start of a post (tags stripped from the sanitised HTML)."""
    text = render_post_body(post).striptags()
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + "…"


# --- comments ---------------------------------------------------------------------


def _check_comment_body(body) -> None:
    problem = None
    if not isinstance(body, str) or not body.strip():
        problem = "Write a comment."
    elif len(body) > COMMENT_BODY_MAX:
        problem = f"The comment is {len(body)} characters long; the limit is {COMMENT_BODY_MAX}."
    elif "\x00" in body:
        problem = "The comment contains a NUL character, which cannot be stored. Please remove it."
    if problem:
        raise ValidationFailed(field_errors={"body": [problem]})


def add_comment(user: User, slug: str, body: str) -> BlogComment:
    """Store the comment exactly as received, pending moderation (moderators' own publish at once)."""
    check_can_comment(user)
    post = get_published_post(slug)
    _check_comment_body(body)
    comment = BlogComment(
        post=post,
        author_id=user.id,
        body=body,
        fingerprint=content_fingerprint("", body),
        status=PENDING,
    )
    db.session.add(comment)
    moderation.record_submission(comment, user)
    if user.is_moderator:
        moderation.transition(comment, "auto_publish", None, system=True)
    db.session.commit()
    return comment


def published_comments_query(post: BlogPost):
    return (
        select(BlogComment)
        .where(BlogComment.post_id == post.id, BlogComment.status == COMMENT_PUBLISHED)
        .options(joinedload(BlogComment.author))
        .order_by(BlogComment.published_at, BlogComment.id)
    )


def published_comments(post: BlogPost, page: int = 1, per_page: int | None = None):
    return db.paginate(
        published_comments_query(post),
        page=page,
        per_page=per_page or COMMENTS_PER_PAGE,
        max_per_page=100,
        error_out=False,
    )


def comment_counts(post_ids) -> dict[int, int]:
    ids = list(post_ids)
    counts = dict.fromkeys(ids, 0)
    if ids:
        rows = db.session.execute(
            select(BlogComment.post_id, func.count(BlogComment.id))
            .where(BlogComment.post_id.in_(ids), BlogComment.status == COMMENT_PUBLISHED)
            .group_by(BlogComment.post_id)
        )
        counts.update({post_id: int(n) for post_id, n in rows})
    return counts


def get_public_comment(comment_id: int) -> BlogComment:
    comment = db.session.get(BlogComment, comment_id)
    if comment is None or comment.status != COMMENT_PUBLISHED or not comment.post.is_public:
        raise NotFound("This comment is not published.")
    return comment


def comment_page_number(comment: BlogComment, per_page: int | None = None) -> int:
    """Which page of its post's comments a published comment is on."""
    before = db.session.scalar(
        select(func.count(BlogComment.id)).where(
            BlogComment.post_id == comment.post_id,
            BlogComment.status == COMMENT_PUBLISHED,
            (BlogComment.published_at < comment.published_at)
            | ((BlogComment.published_at == comment.published_at) & (BlogComment.id < comment.id)),
        )
    )
    return (before or 0) // (per_page or COMMENTS_PER_PAGE) + 1


def comments_by_author(user: User) -> list[BlogComment]:
    return list(
        db.session.scalars(
            select(BlogComment)
            .where(BlogComment.author_id == user.id)
            .options(joinedload(BlogComment.post))
            .order_by(BlogComment.created_at.desc(), BlogComment.id.desc())
        )
    )


def withdraw_comment(user: User, comment_id: int) -> BlogComment:
    """Authors take their own comment down at once (pending or published)."""
    comment = db.session.get(BlogComment, comment_id)
    if comment is None or comment.author_id != user.id:
        raise NotFound("You have no such comment.")
    moderation.transition(comment, "withdraw", user)
    db.session.commit()
    return comment


# --- the moderated kind ----------------------------------------------------------------


def _erase_comment(comment: BlogComment) -> None:
    comment.body = None


def _queue_options():
    return [joinedload(BlogComment.post), joinedload(BlogComment.author)]


def register_comment_kind():
    from moderation.flags import enable_flags
    from moderation.kinds import ContentKind, register_kind
    from moderation.notify import DecisionMail

    kind = ContentKind(
        name="blog_comment",
        label="Blog comments",
        model=BlogComment,
        queue_template="moderation/items/blog_comment.html",
        on_transition=[
            DecisionMail(
                published_subject="Your comment is published",
                published_template="comment_published",
                rejected_subject="Your comment was not published",
                rejected_template="comment_rejected",
                published_link=lambda c: external_url("blog.comment", comment_id=c.id),
                rejected_link=lambda c: external_url("blog.post", slug=c.post.slug),
            )
        ],
        erase=_erase_comment,
        queue_options=_queue_options,
        # The post page, which stays up when the comment is hidden (e.g. right after a flag).
        public_url=lambda c: url_for("blog.post", slug=c.post.slug, _anchor=f"comment-{c.id}"),
        # Links a removal request may name: the comment's own address, or the
        # post's address with the comment's anchor (#comment-12).
        url_endpoints={"blog.comment": "comment_id", "blog.post": _comment_id_from_anchor},
    )
    enable_flags(kind)  # members flag comments through moderation.flags (/flag/blog_comment/<id>)
    return register_kind(kind)


def _comment_id_from_anchor(view_args: dict) -> int | None:
    match = re.fullmatch(r"comment-(\d+)", view_args.get("_fragment") or "")
    return int(match.group(1)) if match else None


# --- accounts integration -------------------------------------------------------------


def export_blog_comments(user: User) -> list[dict]:
    return [
        {
            "id": c.id,
            "post": c.post.title,
            "post_slug": c.post.slug,
            "status": c.status,
            "body": c.body,
            "sha256": c.fingerprint,
            "created_at": c.created_at.isoformat(),
            "published_at": c.published_at.isoformat() if c.published_at else None,
            "decision_reason": reason_label(c.decision_reason) if c.decision_reason else None,
        }
        for c in comments_by_author(user)
    ]


def remove_comments_of_deleted_account(user: User) -> None:
    for comment in comments_by_author(user):
        if comment.status != REMOVED:
            moderation.transition(comment, "remove", None, system=True, reason="account_deleted")


# --- search -----------------------------------------------------------------------------


def _post_is_public(post: BlogPost) -> bool:
    return post.status == PUBLISHED


def _comment_is_public(comment: BlogComment) -> bool:
    return comment.status == COMMENT_PUBLISHED and comment.post is not None and comment.post.is_public


def _post_document(post: BlogPost):
    from forum.search import SearchDocument

    return SearchDocument(
        kind="blog_post",
        item_id=post.id,
        title=post.title,
        body=render_post_body(post).striptags(),
        author=post.author.display_name if post.author else None,
        published_at=post.published_at,  # type: ignore[arg-type]
        url=url_for("blog.post", slug=post.slug),
        group="blog",
    )


def _comment_document(comment: BlogComment):
    from forum.search import SearchDocument

    return SearchDocument(
        kind="blog_comment",
        item_id=comment.id,
        title=f"Comment on “{comment.post.title}”",
        body=comment.body or "",
        author=comment.author.display_name if comment.author else None,
        published_at=comment.published_at or comment.created_at,
        url=url_for("blog.comment", comment_id=comment.id),
        group="blog",
    )


def register_search() -> None:
    """Posts and approved comments are findable while they (and their post) are published."""
    from forum.search import Searchable, register_searchable

    register_searchable(
        Searchable(
            kind="blog_post",
            group="blog",
            model=BlogPost,
            to_document=_post_document,
            published_query=lambda: select(BlogPost).where(BlogPost.status == PUBLISHED),
            is_public=_post_is_public,
            load_options=lambda: [joinedload(BlogPost.author)],
            label="Blog post",
        )
    )
    register_searchable(
        Searchable(
            kind="blog_comment",
            group="blog",
            model=BlogComment,
            to_document=_comment_document,
            published_query=lambda: (
                select(BlogComment)
                .join(BlogPost, BlogComment.post_id == BlogPost.id)
                .where(BlogComment.status == COMMENT_PUBLISHED, BlogPost.status == PUBLISHED)
            ),
            is_public=_comment_is_public,
            load_options=lambda: [joinedload(BlogComment.post), joinedload(BlogComment.author)],
            label="Blog comment",
        )
    )
