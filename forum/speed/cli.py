"""`flask recount`: rebuild the kept aggregates, or check them against a recount."""

from __future__ import annotations

import click
from flask.cli import with_appcontext


@click.command("recount")
@click.option(
    "--check",
    "check_only",
    is_flag=True,
    help="Only compare the kept numbers with a recount; exit 1 listing every difference.",
)
@with_appcontext
def recount(check_only):
    """Rebuild counts, averages and last activity (products, forum topics and categories) from the rows."""
    from forum.extensions import db

    from . import counters

    if check_only:
        problems = counters.check_all()
        total = sum(len(lines) for lines in problems.values())
        for name, lines in problems.items():
            for line in lines:
                click.echo(line)
            click.echo(f"{name}: {'ok' if not lines else f'{len(lines)} difference(s)'}")
        if total:
            raise SystemExit(1)
        return
    fixed = counters.rebuild_all()
    db.session.commit()
    for name, count in fixed.items():
        click.echo(f"{name}: {count} row{'s' if count != 1 else ''} corrected")


def run_recount() -> int:
    """The job: rebuild every kept aggregate once (app context); returns how many rows were corrected."""
    from forum.extensions import db

    from . import counters

    fixed = counters.rebuild_all()
    db.session.commit()
    return sum(fixed.values())
