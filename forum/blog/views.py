"""Blog pages: they parse the request, call a service and render."""

from __future__ import annotations

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_required

from forum.errors import Conflict, ValidationFailed
from forum.extensions import limiter
from forum.forms import apply_errors, page_form, render_form
from forum.paging import page_arg
from forum.speed import rendered

from . import bp, services
from .feed import build_feed
from .forms import CommentForm, ConfirmForm, PostForm
from .models import DRAFT, PUBLISHED


def _posting_limit() -> str:
    return current_app.config["RATELIMIT_POSTING"]


def _member_key() -> str:
    """Posting limits count per member (an office behind one address is many people)."""
    if current_user.is_authenticated:
        return f"member:{current_user.id}"
    return get_remote_address()


def _page_arg() -> int:
    return page_arg()


# --- public pages ---------------------------------------------------------------


@bp.route("/blog")
def index():
    posts = services.published_posts(_page_arg())
    rendered.prefetch("blog_post", posts.items)  # excerpts come from the stored HTML, in one query
    return render_template(
        "blog/index.html",
        posts=posts,
        counts=services.comment_counts(post.id for post in posts.items),
        excerpt=services.excerpt,
        can_write=services.can_write(current_user),
    )


@bp.route("/blog/feed.atom")
def feed():
    return Response(build_feed(current_app.config["SITE_NAME"]), mimetype="application/atom+xml")


def _post_page(post, form, status: int = 200):
    comments = services.published_comments(post, _page_arg())
    rendered.prefetch("blog_comment", comments.items)  # the page's stored HTML in one query
    return render_template(
        "blog/post.html",
        post=post,
        body_html=services.render_post_body(post),
        comments=comments,
        form=form,
        comment_block=services.comment_block_reason(current_user),
        can_write=services.can_write(current_user),
    ), status


@bp.route("/blog/<slug>")
def post(slug: str):
    return _post_page(services.get_published_post(slug), page_form(CommentForm))


@bp.route("/blog/<slug>/comments", methods=["POST"])
@login_required
@limiter.limit(_posting_limit, key_func=_member_key)
def add_comment(slug: str):
    form = CommentForm()
    if form.validate_on_submit():
        try:
            comment = services.add_comment(current_user, slug, form.body.data)
        except ValidationFailed as error:
            apply_errors(form, error)
        else:
            if comment.status == "published":
                flash("Your comment is published.", "success")
                return redirect(url_for("blog.comment", comment_id=comment.id))
            flash(
                "Thank you! A moderator will read your comment before it appears. "
                "We will email you when it is published.",
                "success",
            )
            return redirect(url_for("blog.post", slug=slug, _anchor="comments"))
    return _post_page(services.get_published_post(slug), form, 422)


@bp.route("/blog/comments/<int:comment_id>")
def comment(comment_id: int):
    """A comment's permanent address: the page of its post where it is shown."""
    comment = services.get_public_comment(comment_id)
    page = services.comment_page_number(comment)
    return redirect(
        url_for(
            "blog.post",
            slug=comment.post.slug,
            page=page if page > 1 else None,
            _anchor=f"comment-{comment.id}",
        )
    )


@bp.route("/blog/comments/<int:comment_id>/delete", methods=["POST"])
@login_required
def delete_comment(comment_id: int):
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    services.withdraw_comment(current_user, comment_id)
    flash("Your comment was deleted.", "success")
    return redirect(url_for("accounts.account", _anchor="my-blog-comments"))


# --- staff pages -------------------------------------------------------------------


@bp.route("/blog/manage")
@login_required
def manage():
    services.require_writer(current_user)
    posts = services.staff_posts()
    every_id = [post.id for group in posts.values() for post in group]
    return render_template("blog/manage.html", posts=posts, counts=services.comment_counts(every_id))


def _editor_page(form, post=None, preview=None, status: int | None = None):
    """The writing form; status 422 when a save failed validation, 409 on an edit conflict."""
    context = dict(
        post=post, preview=preview, unpublish_form=ConfirmForm(version=post.version) if post else None
    )
    if status is None:
        return render_form("blog/edit.html", form, **context)
    return render_template("blog/edit.html", form=form, **context), status


def _preview(form) -> dict:
    return {"title": form.title.data or "", "html": services.render_post_body(form.body.data or "")}


@bp.route("/blog/manage/new", methods=["GET", "POST"])
@login_required
def new_post():
    services.require_writer(current_user)
    form = PostForm()
    if form.validate_on_submit():
        action = request.form.get("action")
        if action == "preview":
            return _editor_page(form, preview=_preview(form), status=200)
        if action not in ("save", "publish"):
            abort(400)
        try:
            post = services.create_post(
                current_user, form.title.data, form.body.data, publish=action == "publish"
            )
        except ValidationFailed as error:
            apply_errors(form, error)
        else:
            return _after_save(post, action)
    return _editor_page(form)


def _after_save(post, action: str):
    if action == "publish" or post.status == PUBLISHED:
        flash("The post is published." if action == "publish" else "Your changes are published.", "success")
        return redirect(url_for("blog.post", slug=post.slug))
    flash(
        "Draft saved. It is not visible to the public."
        if post.status == DRAFT
        else "Saved. The post stays unpublished.",
        "success",
    )
    return redirect(url_for("blog.edit_post", post_id=post.id))


@bp.route("/blog/manage/<int:post_id>/edit", methods=["GET", "POST"])
@login_required
def edit_post(post_id: int):
    post = services.get_post_for_staff(current_user, post_id)
    form = PostForm(obj=post) if request.method == "GET" else PostForm()
    if form.validate_on_submit():
        action = request.form.get("action")
        if action == "preview":
            return _editor_page(form, post, preview=_preview(form), status=200)
        if action not in ("save", "publish"):
            abort(400)
        try:
            post = services.update_post(
                current_user,
                post_id,
                form.title.data,
                form.body.data,
                expected_version=form.version.data,
                publish=action == "publish",
            )
        except ValidationFailed as error:
            apply_errors(form, error)
        except Conflict:
            # Keep what the editor wrote on the page (nothing is lost) and let a second,
            # deliberate save replace the other change.
            post = services.get_post_for_staff(current_user, post_id)
            form.version.data = str(post.version)
            form.form_errors.append(
                "Someone else changed this post while you were editing. Your text is kept below; "
                "open the preview in another tab to compare, then save again to replace their version."
            )
            return _editor_page(form, post, status=409)
        else:
            return _after_save(post, action)
    return _editor_page(form, post)


@bp.route("/blog/manage/<int:post_id>/preview")
@login_required
def preview_post(post_id: int):
    post = services.get_post_for_staff(current_user, post_id)
    return render_template("blog/preview.html", post=post, body_html=services.render_post_body(post))


def _state_change(post_id: int, change, message: str, to_public: bool):
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    post = change(current_user, post_id, expected_version=form.version.data or None)
    flash(message, "success")
    if to_public:
        return redirect(url_for("blog.post", slug=post.slug))
    return redirect(url_for("blog.manage"))


@bp.route("/blog/manage/<int:post_id>/publish", methods=["POST"])
@login_required
def publish_post(post_id: int):
    return _state_change(post_id, services.publish_post, "The post is published.", True)


@bp.route("/blog/manage/<int:post_id>/unpublish", methods=["POST"])
@login_required
def unpublish_post(post_id: int):
    return _state_change(
        post_id,
        services.unpublish_post,
        "The post is unpublished: it is no longer on the blog, in the feed or in search.",
        False,
    )


@bp.route("/blog/manage/<int:post_id>/delete", methods=["POST"])
@login_required
def delete_post(post_id: int):
    return _state_change(post_id, services.delete_draft, "The draft was deleted.", False)
