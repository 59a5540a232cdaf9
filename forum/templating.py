"""Template globals: navigation built from the endpoints that exist."""

from __future__ import annotations

from flask import current_app, has_request_context, request
from flask_login import current_user

from .registries import AppList, add_once

# (label, endpoint): an area appears in the navigation once its blueprint exists.
DEFAULT_NAV_AREAS = [
    ("Products", "catalog.products"),
    ("Forums", "community.forums"),
    ("Blog", "blog.index"),
]
# Per-app registries (forum.registries).
NAV_AREAS: AppList = AppList("templating.nav_areas", lambda: list(DEFAULT_NAV_AREAS))
# Areas may add counts for moderators (e.g. items waiting in the queue).
moderator_badges: AppList = AppList("templating.moderator_badges")


def register_nav_area(label: str, endpoint: str, app=None) -> None:
    add_once(NAV_AREAS, (label, endpoint), app)


def register_moderator_badge(badge, app=None) -> None:
    add_once(moderator_badges, badge, app)


def init_app(app) -> None:
    from .forms import error_messages, form_anchor

    app.add_template_global(form_anchor, "form_anchor")
    app.add_template_global(error_messages, "error_messages")

    @app.context_processor
    def navigation():
        endpoints = current_app.view_functions
        items = [(label, ep) for label, ep in NAV_AREAS if ep in endpoints]
        badges = {}
        user = current_user if has_request_context() else None
        if user is not None and user.is_authenticated and user.is_moderator:
            for badge in moderator_badges:
                badges.update(badge())
        return {
            "nav_items": items,
            "has_endpoint": lambda ep: ep in endpoints,
            "moderator_badges": badges,
            "site_name": current_app.config["SITE_NAME"],
            "current_path": request.path if has_request_context() else "/",
        }
