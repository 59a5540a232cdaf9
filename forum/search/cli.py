"""`flask search reindex | check | sync | status`."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

search_cli = AppGroup("search", help="Build, check and update the search index.")


@search_cli.command("reindex")
@click.option(
    "--timeout",
    default=120.0,
    show_default=True,
    help="Seconds to wait for another process writing the index.",
)
def reindex_command(timeout):
    """Rebuild the index from the database (searches keep working meanwhile)."""
    from .backend import IndexBusy
    from .indexing import get_backend, published_count, reindex

    total = published_count()
    click.echo(f"Indexing {total} published item(s) with the {get_backend().name} backend…")
    with click.progressbar(
        length=total, label="Indexing", show_pos=True, show_percent=True, file=sys.stderr
    ) as bar:
        try:
            count = reindex(progress=bar.update, timeout=timeout)
        except IndexBusy as error:
            raise click.ClickException(f"{error}; try again when it has finished.") from None
    click.echo(f"Indexed {count} item(s).")


@search_cli.command("check")
@click.option("--no-sync", is_flag=True, help="Do not apply queued changes first.")
def check_command(no_sync):
    """Compare the index with the database; exit 1 when they differ."""
    from .indexing import check

    report = check(sync=not no_sync)
    for doc_id in report.missing:
        click.echo(f"missing from the index (published): {doc_id}")
    for doc_id in report.extra:
        click.echo(f"in the index but not published: {doc_id}")
    summary = (
        f"{report.published} published item(s), {report.indexed} indexed, "
        f"{len(report.missing)} missing, {len(report.extra)} extra, {report.pending} change(s) queued."
    )
    if report.ok:
        click.echo(f"OK: {summary}")
        return
    click.echo(f"The index differs from the database: {summary} Run `flask search reindex` to rebuild it.")
    sys.exit(1)


@search_cli.command("sync")
def sync_command():
    """Apply queued index changes (left by a crash or a busy index)."""
    from .indexing import drain_all, pending_count

    report = drain_all(include_not_due=True)
    click.echo(f"Applied {report.applied} change(s); {pending_count()} still queued.")
    for error in report.errors:
        click.echo(f"  {error}")
    if report.failed or report.busy:
        sys.exit(1)


@search_cli.command("status")
def status_command():
    """Show the backend, index size and queued changes."""
    from .indexing import get_backend, pending_count

    backend = get_backend()
    click.echo(f"Backend: {backend.name}")
    click.echo(f"Index size: {backend.size_bytes() / 1e6:.1f} MB")
    click.echo(f"Queued changes: {pending_count()}")
