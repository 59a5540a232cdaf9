"""`flask log ...`: the public transparency log's checkpoints and keys."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

log_cli = AppGroup("log", help="Sign checkpoints of the public moderation log and manage its key.")


@log_cli.command("checkpoint")
@click.option(
    "--if-due",
    is_flag=True,
    help="Only if LOG_CHECKPOINT_MINUTES have passed since the last checkpoint (as the worker runs it).",
)
def checkpoint(if_due):
    """Sign and publish a checkpoint if the log has grown since the last one."""
    from . import tlog

    published = tlog.publish_checkpoint(respect_interval=if_due)
    latest = tlog.latest_checkpoint()
    if published:
        click.echo(f"Published checkpoint {latest.origin} size {latest.tree_size} root {latest.root_b64}")
    elif latest is not None:
        click.echo(
            f"No new checkpoint: the latest ({latest.origin} size {latest.tree_size}) is current"
            + (" or not due yet." if if_due else ".")
        )
    else:
        click.echo("No checkpoint published.")


@log_cli.command("key")
def show_key():
    """Print the log's public key (signed-note verifier key)."""
    from . import tlog

    click.echo(tlog.signer().verifier.vkey)


@log_cli.command("rotate-key")
@click.option("--origin", help="The new origin (default: <LOG_ORIGIN>/<UTC time>).")
@click.confirmation_option(prompt="Start a new origin with a new signing key?")
def rotate_key(origin):
    """Start a new origin with a new key; the hand-over is signed by both keys and logged."""
    from forum.errors import DomainError

    from . import tlog

    try:
        old, new = tlog.rotate_key(origin)
    except DomainError as error:
        click.echo(f"Error: {error.message}", err=True)
        sys.exit(1)
    click.echo(f"Old key: {old.verifier.vkey}")
    click.echo(f"New key: {new.verifier.vkey}")
    click.echo(
        "The hand-over is signed by both keys (/transparency/log/handovers); the old key file was kept "
        "as log-signing-key.retired-* in the instance folder."
    )
