"""`flask removal ...` commands."""

import click
from flask.cli import AppGroup

removal_cli = AppGroup("removal", help="Removal requests.")


@removal_cli.command("purge-expired")
def purge_expired():
    """Delete requests whose confirmation link expired before anyone confirmed them."""
    from .services import purge_expired as purge

    count = purge()
    noun = "request" if count == 1 else "requests"
    click.echo(f"Purged {count} expired unconfirmed removal {noun}.")
