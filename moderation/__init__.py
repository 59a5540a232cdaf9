"""Moderation: one queue, one state machine, one hash-chained log."""

from flask import Blueprint

bp = Blueprint("moderation", __name__)


def queue_badge() -> dict:
    """The header badge: the desk's total (the same figure as its "Everything" tab) and the overdue ones."""
    from .desk import desk_counts

    counts = desk_counts()
    return {"waiting": counts["total"], "overdue": counts["overdue"]}


def init_app(app) -> None:
    from forum.templating import moderator_badges

    from . import cli, views  # noqa: F401  (routes)

    app.register_blueprint(bp)
    app.cli.add_command(cli.audit_cli)
    if queue_badge not in moderator_badges:
        moderator_badges.append(queue_badge)
