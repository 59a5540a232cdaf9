"""`flask audit ...`: check and read the hash-chained moderation log."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup
from sqlalchemy import select

audit_cli = AppGroup("audit", help="Check and read the moderation log.")


@audit_cli.command("verify")
def verify():
    """Recompute the hash chain; exit 1 naming the first broken row."""
    from .audit import verify_chain

    result = verify_chain()
    if not result.ok:
        click.echo(f"BROKEN at row {result.broken_seq}: {result.problem}", err=True)
        click.echo(
            f"{result.rows_checked} rows before it are intact; last good hash: {result.head_hash}", err=True
        )
        sys.exit(1)
    click.echo(f"OK: {result.rows_checked} rows checked; the chain is intact.")
    click.echo(f"Head hash: {result.head_hash}")
    # The public transparency log: entries and Merkle tree recomputed from the rows, against
    # every signed checkpoint ever published (a rewritten chain cannot match them).
    from .tlog import verify_tree

    tree = verify_tree()
    if not tree.ok:
        click.echo(f"BROKEN transparency log: {tree.problem}", err=True)
        sys.exit(1)
    if tree.checkpoints:
        click.echo(
            f"OK: the Merkle tree of {tree.size} entries matches all {tree.checkpoints} signed checkpoints."
        )
    else:
        click.echo(f"OK: {tree.size} entries; no checkpoint has been published yet (flask log checkpoint).")


@audit_cli.command("log")
@click.option("--kind", help="Only entries about this kind of item (review, forum_post...).")
@click.option("--id", "item_id", type=int, help="Only entries about the item with this id (with --kind).")
@click.option(
    "--limit",
    type=click.IntRange(1, 100_000),
    default=50,
    show_default=True,
    help="Show at most this many of the latest entries.",
)
def show_log(kind, item_id, limit):
    """Print log entries, oldest first."""
    from forum.extensions import db

    from .models import ModerationLog
    from .states import reason_label

    if item_id is not None and not kind:
        raise click.UsageError("--id needs --kind.")
    query = select(ModerationLog)
    if kind:
        query = query.where(ModerationLog.subject_kind == kind)
    if item_id is not None:
        query = query.where(ModerationLog.subject_id == item_id)
    rows = list(reversed(db.session.scalars(query.order_by(ModerationLog.seq.desc()).limit(limit)).all()))
    if not rows:
        click.echo("No log entries.")
        return
    for row in rows:
        actor = f"{row.actor_role}#{row.actor_id}" if row.actor_id else row.actor_role
        states = f"{row.from_state or 'new'}->{row.to_state or '-'}"
        reason = f" reason={row.reason} ({reason_label(row.reason)})" if row.reason else ""
        reference = f" ref={row.reference}" if row.reference else ""
        click.echo(
            f"{row.seq:>6}  {row.created_at:%Y-%m-%d %H:%M:%S}  {row.subject_kind}#{row.subject_id}  "
            f"{row.action} {states} by {actor}{reason}{reference}  sha256={row.fingerprint or '-'}"
        )
