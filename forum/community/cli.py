"""`flask forums ...`: manage forum categories from the command line."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from forum.errors import DomainError

forums_cli = AppGroup("forums", help="Manage forum categories.")


def _fail(error: DomainError):
    detail = error.message
    field_errors = getattr(error, "field_errors", None)
    if field_errors:
        detail = "; ".join(f"{k}: {' '.join(v)}" for k, v in field_errors.items())
    raise click.ClickException(detail)


@forums_cli.command("add-category")
@click.argument("name")
@click.option("--description", default="", help="Shown under the name on /forums.")
@click.option("--order", "position", type=int, default=None, help="Lower numbers come first (default: last).")
def add_category(name, description, position):
    """Create a forum category called NAME."""
    from . import services

    try:
        category = services.add_category(name, description, position)
    except DomainError as error:
        _fail(error)
    click.echo(
        f"Created category {category.name!r} at /forums/{category.slug} (id {category.id}, "
        f"order {category.position})."
    )


@forums_cli.command("list")
def list_categories():
    """List forum categories in their order."""
    from . import services

    categories = services.list_categories()
    if not categories:
        click.echo("No forum categories yet. Add one with `flask forums add-category NAME`.")
    summaries = services.category_summaries()
    for category in categories:
        summary = summaries.get(category.id, services.CategorySummary())
        click.echo(
            f"{category.position:>5}  /forums/{category.slug:<30} {category.name}  "
            f"({summary.topic_count} topics, {summary.post_count} posts)"
        )


forums_cli.add_command(list_categories, "list-categories")
