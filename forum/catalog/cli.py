"""`flask products import FILE.csv` and `flask products list`."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import AppGroup

from forum.errors import ValidationFailed

products_cli = AppGroup("products", help="Import and list products.")


def _decode_utf8(path: Path, data: bytes) -> str:
    try:
        # utf-8-sig: spreadsheet programs often start "CSV UTF-8" files with a byte order mark.
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise click.ClickException(
            f"{path} is not UTF-8 text: byte 0x{data[error.start]:02x} on line {line} cannot be read. "
            'Nothing was imported. Save the file as UTF-8 ("CSV UTF-8" in spreadsheet programs) and try again.'
        ) from error


@products_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path))
def import_products(file: Path):
    """Create or update products from a CSV FILE with columns sku,name,description (and optionally active).

    A product whose sku already exists is updated. If any row is bad, every
    problem is listed with its line number and nothing is imported.
    """
    from . import services

    text = _decode_utf8(file, file.read_bytes())
    try:
        result = services.import_products_csv(text)
    except ValidationFailed as error:
        click.echo(f"Error: {error.message}", err=True)
        for problem in error.field_errors.get("rows", []):
            click.echo(f"  {problem}", err=True)
        sys.exit(1)
    click.echo(
        f"Imported {file}: {result['created']} created, {result['updated']} updated, "
        f"{result['unchanged']} unchanged."
    )


@products_cli.command("list")
def list_products():
    """List every product with its published-review count and average rating."""
    from . import services

    rows = services.all_products_with_summaries()
    if not rows:
        click.echo("No products yet. Import some with `flask products import FILE.csv`.")
        return
    click.echo(f"{'SKU':<24} {'ACTIVE':<6} {'REVIEWS':>7} {'AVERAGE':>7}  NAME")
    for product, summary in rows:
        average = f"{summary.average_rating:.2f}" if summary.average_rating is not None else "-"
        click.echo(
            f"{product.sku:<24} {'yes' if product.active else 'no':<6} {summary.review_count:>7} {average:>7}  {product.name}"
        )
