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

    from . import cli, tlog_cli, tlog_views, views  # noqa: F401  (routes)

    app.register_blueprint(bp)
    app.register_blueprint(tlog_views.bp)
    app.cli.add_command(cli.audit_cli)
    app.cli.add_command(tlog_cli.log_cli)
    from datetime import timedelta

    from forum.worker import register_job

    # Signs only when the log has grown, and at most every LOG_CHECKPOINT_MINUTES.
    register_job(app, "log-checkpoint", "moderation.tlog.publish_checkpoint", timedelta(minutes=1))
    if queue_badge not in moderator_badges:
        moderator_badges.append(queue_badge)
