"""Moderation pages (being written)."""

from . import bp


@bp.route("/moderation")
def queue():
    return "queue"
