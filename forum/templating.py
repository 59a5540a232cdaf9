"""Template globals: navigation built from the endpoints that exist."""

from __future__ import annotations

from flask import current_app, request
from flask_login import current_user

# (label, endpoint): an area appears in the navigation once its blueprint exists.
NAV_AREAS = [
    ("Products", "products.index"),
    ("Forums", "forums.index"),
    ("Blog", "blog.index"),
]

# Areas may add counts for moderators (e.g. items waiting in the queue).
moderator_badges: list = []


def init_app(app) -> None:
    @app.context_processor
    def navigation():
        endpoints = current_app.view_functions
        items = [(label, ep) for label, ep in NAV_AREAS if ep in endpoints]
        badges = {}
        if current_user.is_authenticated and current_user.is_moderator:
            for badge in moderator_badges:
                badges.update(badge())
        return {
            "nav_items": items,
            "has_endpoint": lambda ep: ep in endpoints,
            "moderator_badges": badges,
            "site_name": current_app.config["SITE_NAME"],
            "current_path": request.path if request else "/",
        }
