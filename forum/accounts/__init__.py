"""Accounts: registration, sign-in, password reset and "My account"."""

from flask import Blueprint

bp = Blueprint("accounts", __name__)

from . import views  # noqa: E402,F401


def init_app(app) -> None:
    from . import login  # noqa: F401  (registers the user loader)

    app.register_blueprint(bp)
