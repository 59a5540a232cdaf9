"""Accounts: registration, sign-in, password reset and "My account"."""

from flask import Blueprint

bp = Blueprint("accounts", __name__)

from . import views  # noqa: E402,F401


def init_app(app) -> None:
    from . import login  # noqa: F401  (registers the user loader)
    from .services import resolve_committed_reset_requests

    app.register_blueprint(bp)

    # WORKER_INLINE (tests only). Registered after forum.mail, so these run before its
    # drain (Flask runs teardowns last registered first): the mail they queue goes out too.
    @app.teardown_request
    def _resolve_reset_requests_after_request(exc):
        if exc is None:
            resolve_committed_reset_requests()

    @app.teardown_appcontext
    def _resolve_reset_requests_after_commit(exc):
        if exc is None:
            resolve_committed_reset_requests()
