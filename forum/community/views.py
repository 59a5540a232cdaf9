"""Forum pages: they parse the request, call a service and render."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_required
from wtforms.fields.choices import SelectChoice

from forum.accounts import suspensions
from forum.errors import NotFound, PermissionDenied, ValidationFailed
from forum.extensions import limiter
from forum.forms import apply_errors, page_form, render_form
from forum.paging import page_arg
from forum.sanitize import render_markdown
from forum.speed import rendered

from . import bp, services
from .forms import (
    MARKDOWN_HINT,
    CategoryForm,
    DeletePostForm,
    EditPostForm,
    MoveTopicForm,
    ReplyForm,
    SuspendForm,
    TopicForm,
    TopicToolForm,
)


def _posting_limit() -> str:
    return current_app.config["RATELIMIT_POSTING"]


def _member_key() -> str:
    # Per member: one person cannot get round it by changing address, nor slow down a shared one.
    if current_user.is_authenticated:
        return f"member:{current_user.id}"
    return get_remote_address()


def _is_preview() -> bool:
    return "preview" in request.form


posting_limit = limiter.shared_limit(
    _posting_limit, scope="forum-posting", key_func=_member_key, methods=["POST"], exempt_when=_is_preview
)


def _page() -> int:
    return page_arg()


def _user():
    return current_user._get_current_object() if current_user.is_authenticated else None


def _version(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _preview(form) -> str | None:
    body = form.body.data if isinstance(form.body.data, str) else ""
    return render_markdown(body) if _is_preview() and body else None


# --- reading -----------------------------------------------------------------


@bp.route("/forums")
def forums():
    categories = services.list_categories()
    return render_template(
        "community/forums.html", categories=categories, summaries=services.category_summaries()
    )


@bp.route("/forums/<slug>")
def category(slug: str):
    category = services.get_category(slug)
    pagination, stats = services.category_topics(_user(), category, _page())
    from forum.members.services import unread_counts

    return render_template(
        "community/category.html",
        category=category,
        pagination=pagination,
        stats=stats,
        suspension=suspensions.active_suspension(_user()),
        unread=unread_counts(_user(), [t.id for t in pagination.items], unopened=True),
    )


def _topic_page(topic, reply_form=None, preview=None, status=200):
    user = _user()
    pagination = services.topic_posts(user, topic, _page() if reply_form is None else 10**6)
    if pagination.page > max(pagination.pages, 1):
        pagination = services.topic_posts(user, topic, max(pagination.pages, 1))
    rendered.prefetch("forum_post", pagination.items)  # the page's stored HTML in one query
    can_reply, why_not = True, None
    try:
        if user is None:
            can_reply, why_not = False, None
        else:
            services.check_can_reply(user, topic)
    except PermissionDenied as error:
        can_reply, why_not = False, error.message
    move_form = None
    if user is not None and user.is_moderator:
        move_form = MoveTopicForm(prefix="move")
        move_form.category.choices = [SelectChoice(str(c.id), c.name) for c in services.list_categories()]
        move_form.category.data = str(topic.category_id)
    from forum.members.services import topic_page_extras

    if reply_form is None:
        reply_form = page_form(ReplyForm)  # anonymous visitors: no token, so no session written
        if user is not None and request.args.get("quote", "").isdigit():
            from forum.members.services import quote_source

            try:
                reply_form.body.data = quote_source(user, int(request.args["quote"]))
            except NotFound:
                flash("That post can no longer be quoted: it is not published.", "info")
    html = render_template(
        "community/topic.html",
        topic=topic,
        pagination=pagination,
        stats=services.topic_stats([topic.id])[topic.id],
        reply_form=reply_form,
        can_reply=can_reply,
        why_not=why_not,
        preview=preview,
        tool_form=page_form(TopicToolForm),
        move_form=move_form,
        markdown_hint=MARKDOWN_HINT,
        render_markdown=render_markdown,
        **topic_page_extras(user, topic, pagination.items),
    )
    if user is not None:
        from forum.members.services import mark_read

        mark_read(user, topic.id, pagination.items)  # after rendering: the commit expires what it showed
    return html, status


@bp.route("/forums/topics/<int:topic_id>")
def topic(topic_id: int):
    topic = services.get_topic_for(_user(), topic_id)
    if _user() is not None and "page" not in request.args and "quote" not in request.args:
        # Back to a topic read before: straight to the first post published since.
        from forum.members.services import first_unread_post_id

        first = first_unread_post_id(_user(), topic.id)
        if first is not None:
            post, page = services.locate_post(_user(), first)
            return redirect(url_for("community.topic", topic_id=topic.id, page=page, _anchor=post.anchor))
    return _topic_page(topic)


@bp.route("/forums/posts/<int:post_id>")
def post(post_id: int):
    """Permalink of a post: its anchor on the page of its topic where it is now."""
    post, page = services.locate_post(_user(), post_id)
    # Always with its page: a topic address without one goes to the member's first unread post.
    return redirect(url_for("community.topic", topic_id=post.topic_id, page=page, _anchor=post.anchor))


# --- writing -----------------------------------------------------------------


@bp.route("/forums/<slug>/new", methods=["GET", "POST"])
@login_required
@posting_limit
def new_topic(slug: str):
    category = services.get_category(slug)
    suspension = suspensions.active_suspension(current_user)
    form = TopicForm()
    preview = None
    if suspension is None and form.validate_on_submit():
        preview = _preview(form)
        if preview is None:
            try:
                topic = services.create_topic(_user(), category, form.title.data, form.body.data)
            except ValidationFailed as error:
                apply_errors(form, error)
            else:
                if topic.opening.status == "published":
                    flash("Your topic is published.", "success")
                else:
                    flash(
                        "Thank you. Your topic is awaiting moderation: a moderator checks the first posts "
                        "of new members. Only you can see it until then.",
                        "info",
                    )
                return redirect(url_for("community.topic", topic_id=topic.id))
    elif suspension is not None and request.method == "POST":
        raise suspensions.Suspended(suspension)
    return render_form(
        "community/new_topic.html",
        form,
        category=category,
        suspension=suspension,
        preview=preview,
        markdown_hint=MARKDOWN_HINT,
    )


@bp.route("/forums/topics/<int:topic_id>/reply", methods=["GET", "POST"])
@login_required
@posting_limit
def reply(topic_id: int):
    topic = services.get_topic_for(_user(), topic_id)
    if request.method == "GET":
        return redirect(url_for("community.topic", topic_id=topic.id, _anchor="reply"))
    services.check_can_reply(_user(), topic)
    form = ReplyForm()
    if form.validate_on_submit():
        preview = _preview(form)
        if preview is not None:
            return _topic_page(topic, reply_form=form, preview=preview)
        try:
            post = services.create_reply(_user(), topic.id, form.body.data)
        except ValidationFailed as error:
            apply_errors(form, error)
        else:
            if post.status == "published":
                flash("Your reply is published.", "success")
            else:
                flash(
                    "Thank you. Your reply is awaiting moderation; only you can see it until a moderator "
                    "approves it.",
                    "info",
                )
            return redirect(url_for("community.post", post_id=post.id))
    return _topic_page(topic, reply_form=form, status=422)


@bp.route("/forums/posts/<int:post_id>/edit", methods=["GET", "POST"])
@login_required
@posting_limit
def edit_post(post_id: int):
    post = services.get_own_post(_user(), post_id)
    services.check_can_edit(_user(), post)
    form = EditPostForm()
    preview = None
    if request.method == "GET":
        form.title.data, form.body.data, form.version.data = post.title, post.body, str(post.version)
    elif form.validate_on_submit():
        preview = _preview(form)
        if preview is None:
            try:
                services.edit_post(
                    _user(),
                    post.id,
                    form.title.data,
                    form.body.data,
                    expected_version=_version(form.version.data),
                )
            except ValidationFailed as error:
                apply_errors(form, error)
            else:
                flash("Your changes are saved. Moderators can see the earlier version.", "success")
                return redirect(url_for("community.post", post_id=post.id))
    return render_form(
        "community/edit_post.html", form, post=post, preview=preview, markdown_hint=MARKDOWN_HINT
    )


@bp.route("/forums/posts/<int:post_id>/delete", methods=["GET", "POST"])
@login_required
def delete_post(post_id: int):
    post = services.get_own_post(_user(), post_id)
    form = DeletePostForm()
    if form.validate_on_submit():
        services.withdraw_post(_user(), post.id)
        flash("Your topic is deleted." if post.is_opening else "Your reply is deleted.", "success")
        target = request.form.get("next")
        if target == "account":
            return redirect(url_for("accounts.account"))
        if post.is_opening:
            return redirect(url_for("community.category", slug=post.topic.category.slug))
        return redirect(url_for("community.topic", topic_id=post.topic_id))
    if post.status not in ("pending", "published", "hidden"):
        abort(404)
    return render_template("community/delete_post.html", post=post, form=form)


# --- moderators ---------------------------------------------------------------


def _require_moderator():
    if not current_user.is_moderator:
        raise PermissionDenied("Only moderators can do this.")


@bp.route("/forums/posts/<int:post_id>/history")
@login_required
def post_history(post_id: int):
    _require_moderator()
    history = services.post_history(post_id)
    return render_template(
        "community/history.html", **history, render_markdown=render_markdown, held_label=services.held_label
    )


@bp.route("/forums/topics/<int:topic_id>/tools", methods=["POST"])
@login_required
def topic_tools(topic_id: int):
    _require_moderator()
    form = TopicToolForm()
    if not form.validate_on_submit():
        abort(400)
    action = form.action.data
    if action in ("lock", "unlock"):
        services.set_locked(_user(), topic_id, action == "lock")
    elif action in ("pin", "unpin"):
        services.set_pinned(_user(), topic_id, action == "pin")
    else:
        abort(400)
    flash(
        {
            "lock": "Topic locked.",
            "unlock": "Topic unlocked.",
            "pin": "Topic pinned.",
            "unpin": "Topic unpinned.",
        }[action],
        "success",
    )
    return redirect(url_for("community.topic", topic_id=topic_id))


@bp.route("/forums/topics/<int:topic_id>/move", methods=["POST"])
@login_required
def move_topic(topic_id: int):
    _require_moderator()
    form = MoveTopicForm(prefix="move")
    form.category.choices = [SelectChoice(str(c.id), c.name) for c in services.list_categories()]
    if not form.validate_on_submit():
        raise ValidationFailed("Choose a category from the list.")
    topic = services.move_topic(_user(), topic_id, form.category.data)
    flash(f"Topic moved to {topic.category.name}.", "success")
    return redirect(url_for("community.topic", topic_id=topic_id))


@bp.route("/moderation/members/<int:user_id>/suspend", methods=["GET", "POST"])
@login_required
def suspend_member(user_id: int):
    _require_moderator()
    from forum.extensions import db
    from forum.models import User

    member = db.session.get(User, user_id)
    if member is None:
        abort(404)
    form = SuspendForm()
    if form.validate_on_submit():
        try:
            suspensions.suspend_member(_user(), member.id, form.reason.data, form.until.data)
        except ValidationFailed as error:
            apply_errors(form, error)
        else:
            flash(f"{member.display_name} is suspended. They were told why and until when.", "success")
            return redirect(url_for("community.suspensions_list"))
    return render_form(
        "community/suspend.html",
        form,
        member=member,
        current=suspensions.active_suspension(member),
        history=suspensions.suspensions_of(member),
    )


@bp.route("/moderation/suspensions")
@login_required
def suspensions_list():
    _require_moderator()
    return render_template(
        "community/suspensions.html", suspensions=suspensions.active_suspensions(), form=DeletePostForm()
    )


@bp.route("/moderation/suspensions/<int:suspension_id>/lift", methods=["POST"])
@login_required
def lift_suspension(suspension_id: int):
    _require_moderator()
    form = DeletePostForm()
    if not form.validate_on_submit():
        abort(400)
    suspension = suspensions.lift_suspension(_user(), suspension_id)
    flash(f"The suspension of {suspension.user.display_name} is lifted.", "success")
    return redirect(url_for("community.suspensions_list"))


# --- admins: categories ---------------------------------------------------------


def _require_admin():
    if not current_user.is_admin:
        raise PermissionDenied("Only admins manage forum categories.")


@bp.route("/forums/admin/categories", methods=["GET", "POST"])
@login_required
def admin_categories():
    _require_admin()
    form = CategoryForm()
    if form.validate_on_submit():
        try:
            category = services.add_category(
                form.name.data, form.description.data or "", form.position.data, admin=_user()
            )
        except ValidationFailed as error:
            apply_errors(form, error)
        else:
            flash(f"Category {category.name} added.", "success")
            return redirect(url_for("community.admin_categories"))
    return render_form(
        "community/admin_categories.html",
        form,
        categories=services.list_categories(),
        summaries=services.category_summaries(),
        delete_form=DeletePostForm(),
    )


@bp.route("/forums/admin/categories/<int:category_id>", methods=["GET", "POST"])
@login_required
def edit_category(category_id: int):
    _require_admin()
    from forum.extensions import db

    from .models import ForumCategory

    category = db.session.get(ForumCategory, category_id)
    if category is None:
        abort(404)
    form = CategoryForm(obj=category if request.method == "GET" else None)
    if form.validate_on_submit():
        try:
            services.update_category(
                _user(), category.id, form.name.data, form.description.data or "", form.position.data
            )
        except ValidationFailed as error:
            apply_errors(form, error)
        else:
            flash("Category saved.", "success")
            return redirect(url_for("community.admin_categories"))
    return render_form("community/edit_category.html", form, category=category)


@bp.route("/forums/admin/categories/<int:category_id>/delete", methods=["POST"])
@login_required
def delete_category(category_id: int):
    _require_admin()
    form = DeletePostForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        services.delete_category(_user(), category_id)
    except ValidationFailed as error:
        flash(error.message, "error")
    else:
        flash("Category deleted.", "success")
    return redirect(url_for("community.admin_categories"))
