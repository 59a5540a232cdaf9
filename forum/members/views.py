"""Members' pages: notifications, mail preferences, unsubscribe, profiles, and the
like / watch / quote buttons of forum posts. They parse, call a service, render."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from forum.errors import ValidationFailed
from forum.extensions import limiter
from forum.forms import apply_errors, render_form

from . import bp, services
from .forms import ActionForm, ProfileForm, preferences_form


def _page() -> int:
    page = request.args.get("page", "1")
    return int(page) if page.isdigit() and 0 < int(page) < 100_000 else 1


def _user():
    return current_user._get_current_object()


def _check_form() -> None:
    if not ActionForm().validate_on_submit():
        abort(400)


def _back(default: str) -> str:
    """Return to the page the button was on (a path of this site only)."""
    target = request.form.get("next", "")
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default


# --- notifications ------------------------------------------------------------


@bp.route("/notifications")
@login_required
def notifications():
    pagination, items = services.list_notifications(_user(), _page())
    return render_template(
        "members/notifications.html", pagination=pagination, items=items, form=ActionForm()
    )


@bp.route("/notifications/<int:notification_id>")
@login_required
def open_notification(notification_id: int):
    return redirect(services.open_notification(_user(), notification_id))


@bp.route("/notifications/<int:notification_id>/read", methods=["POST"])
@login_required
def mark_read(notification_id: int):
    _check_form()
    services.mark_notification_read(_user(), notification_id)
    return redirect(_back(url_for("members.notifications")))


@bp.route("/notifications/read-all", methods=["POST"])
@login_required
def mark_all_read():
    _check_form()
    count = services.mark_all_read(_user())
    flash("All notifications are marked read." if count else "Nothing was unread.", "success")
    return redirect(url_for("members.notifications"))


@bp.route("/account/notifications", methods=["GET", "POST"])
@login_required
def preferences():
    modes = services.preferences(_user())
    form = preferences_form(modes, request.form if request.method == "POST" else None)
    if form.validate_on_submit():
        try:
            services.set_preferences(
                _user(), {kind: getattr(form, kind).data for kind in services.DEFAULT_MODES}
            )
        except ValidationFailed as error:
            apply_errors(form, error)
        else:
            flash("Your notification mail settings are saved.", "success")
            return redirect(url_for("members.preferences"))
    return render_form("members/preferences.html", form, kinds=list(services.DEFAULT_MODES))


@bp.route("/notifications/unsubscribe/<token>", methods=["GET", "POST"])
def unsubscribe(token: str):
    """One click, no sign-in: GET shows the button (link scanners must not unsubscribe
    anyone), POST (the button, or a mail program's List-Unsubscribe-Post) does it."""
    user, kind = services.read_unsubscribe_token(token)
    if request.method == "POST":
        _, kinds = services.unsubscribe(token)
        return render_template("members/unsubscribed.html", kinds=kinds, labels=services.KIND_LABELS)
    label = "the daily digest" if kind == services.DIGEST else services.KIND_LABELS[kind].lower()
    return render_template("members/unsubscribe.html", token=token, label=label)


# --- profile ------------------------------------------------------------------


@bp.route("/members/<ref>")
def profile(ref: str):
    user, profile = services.find_member(ref)
    viewer = current_user if current_user.is_authenticated else None
    return render_template("members/profile.html", **services.profile_page(user, profile, viewer))


@bp.route("/account/profile", methods=["GET", "POST"])
@login_required
def edit_profile():
    profile = services.profile_of(_user())
    form = ProfileForm()
    if request.method == "GET":
        form.handle.data, form.activity_hidden.data = profile.handle, profile.activity_hidden
    elif form.validate_on_submit():
        try:
            services.update_profile(_user(), form.handle.data, form.activity_hidden.data)
        except ValidationFailed as error:
            apply_errors(form, error)
        else:
            flash("Your profile settings are saved.", "success")
            return redirect(url_for("members.edit_profile"))
    return render_form("members/edit_profile.html", form, profile=profile)


# --- forum buttons --------------------------------------------------------------


def _reactions_limit() -> str:
    return current_app.config.get("RATELIMIT_VOTES", "120 per hour")


def _member_key() -> str:
    # Per member (these pages need a login), like the other posting limits.
    return f"member:{current_user.id}"


# Like, Unlike, Watch and Unwatch share one per-member budget (RATELIMIT_VOTES).
reactions_limit = limiter.shared_limit(_reactions_limit, scope="forum-reactions", key_func=_member_key)


@bp.route("/forums/topics/<int:topic_id>/watch", methods=["POST"])
@login_required
@reactions_limit
def watch(topic_id: int):
    _check_form()
    services.set_watching(_user(), topic_id, True)
    flash("You are watching this topic: you will be notified of new replies.", "success")
    return redirect(url_for("community.topic", topic_id=topic_id, page=1))


@bp.route("/forums/topics/<int:topic_id>/unwatch", methods=["POST"])
@login_required
@reactions_limit
def unwatch(topic_id: int):
    _check_form()
    services.set_watching(_user(), topic_id, False)
    flash("You no longer watch this topic.", "success")
    return redirect(url_for("community.topic", topic_id=topic_id, page=1))


@bp.route("/forums/posts/<int:post_id>/like", methods=["POST"])
@login_required
@reactions_limit
def like(post_id: int):
    _check_form()
    post = services.like(_user(), post_id)
    return redirect(_back(url_for("community.post", post_id=post.id)))


@bp.route("/forums/posts/<int:post_id>/unlike", methods=["POST"])
@login_required
@reactions_limit
def unlike(post_id: int):
    _check_form()
    post = services.unlike(_user(), post_id)
    return redirect(_back(url_for("community.post", post_id=post.id)))


@bp.route("/forums/posts/<int:post_id>/quote")
@login_required
def quote(post_id: int):
    """The Quote link: the topic's reply form, filled with the quoted post (no JavaScript needed)."""
    from forum.community.models import ForumPost
    from forum.extensions import db

    from .markup import public_post_ids

    post = db.session.get(ForumPost, post_id)
    if post is None or post.id not in public_post_ids([post.id]):
        abort(404)
    return redirect(url_for("community.topic", topic_id=post.topic_id, quote=post.id, _anchor="reply"))
