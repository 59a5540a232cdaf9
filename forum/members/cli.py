"""`flask notifications ...`: the daily digest, run once (the worker runs it every day)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

notifications_cli = AppGroup("notifications", help="Member notifications: the daily mail digest.")


@notifications_cli.command("send-digest")
def send_digest():
    """Queue today's digest mail for every member who has notifications waiting for it."""
    from .services import send_daily_digests

    count = send_daily_digests()
    click.echo(f"{count} digest{'s' if count != 1 else ''} queued.")
