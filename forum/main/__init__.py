"""Site-wide pages: home and health check."""

from flask import Blueprint

bp = Blueprint("main", __name__)

from . import views  # noqa: E402,F401


def init_app(app) -> None:
    app.register_blueprint(bp)
