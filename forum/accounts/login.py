"""Flask-Login wiring: the cookie holds "<user id>:<session version>"."""

from urllib.parse import urlsplit

from flask import flash, redirect, request, url_for

from ..extensions import db, login_manager
from ..models import User
from ..security import is_safe_next

login_manager.login_view = "accounts.login"
login_manager.login_message = "Please log in to continue."
login_manager.login_message_category = "info"
login_manager.session_protection = "basic"


@login_manager.user_loader
def load_user(user_id: str):
    user_part, _, version_part = user_id.partition(":")
    if not (user_part.isdigit() and version_part.isdigit()):
        return None
    user = db.session.get(User, int(user_part))
    # A bumped session_version (password change, "sign out everywhere") ends old sessions.
    if user is None or user.session_version != int(version_part):
        return None
    return user


@login_manager.unauthorized_handler
def unauthorized():
    if request.path.startswith("/api/"):
        from ..errors import render_error

        return render_error(401)
    flash(login_manager.login_message, "info")
    return redirect(url_for("accounts.login", next=_return_path()))


def _return_path() -> str | None:
    """Where to go after logging in: the page asked for, never a POST-only address.

    A form posted after the session ended cannot be replayed by a redirect, so
    the user goes back to the page that showed the form (if it is ours).
    """
    if request.method in ("GET", "HEAD"):
        return request.full_path.rstrip("?")
    if request.referrer:
        parts = urlsplit(request.referrer)
        if parts.netloc == request.host:
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            return path if is_safe_next(path) else None
    return None
