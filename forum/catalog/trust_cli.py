"""`flask orders import FILE`, `flask orders purge-expired` and `flask reviews send-invitations`."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import AppGroup

from forum.errors import ValidationFailed

from .cli import _decode_utf8

orders_cli = AppGroup("orders", help="Import orders from the shop; apply the retention period.")
reviews_cli = AppGroup("reviews", help="Review invitations.")


@orders_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path))
def import_orders(file: Path):
    """Import orders from a CSV FILE with the header order_id,email,sku,ordered_at (one line per item).

    Dates are ISO 8601 (e.g. 2026-11-02T14:30:00Z; without a zone they are UTC). Importing the
    same order twice changes nothing. If any line is bad, every problem is listed with its line
    number and nothing is imported.
    """
    from . import orders

    text = _decode_utf8(file, file.read_bytes())
    try:
        result = orders.import_orders_csv(text)
    except ValidationFailed as error:
        click.echo(f"Error: {error.message}", err=True)
        for problem in error.field_errors.get("rows", []):
            click.echo(f"  {problem}", err=True)
        sys.exit(1)
    click.echo(
        f"Imported {file}: {result['created']} orders created, {result['updated']} updated with new items, "
        f"{result['unchanged']} unchanged."
    )


@orders_cli.command("purge-expired")
def purge_expired():
    """Delete orders older than ORDERS_RETENTION_DAYS (run daily; the worker does it)."""
    from flask import current_app

    from . import orders

    count = orders.purge_expired_orders()
    days = current_app.config.get("ORDERS_RETENTION_DAYS")
    click.echo(f"Deleted {count} order(s) older than {days} days.")


@reviews_cli.command("send-invitations")
def send_invitations():
    """Mail review invitations for orders REVIEW_INVITATION_DAYS old (once per order)."""
    from . import invitations

    count = invitations.send_due_invitations()
    click.echo(f"Queued {count} review invitation(s).")
