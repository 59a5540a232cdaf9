"""Numbers from the address bar: ids in paths and page numbers in query strings.

- `<int:...>` in every route accepts ASCII digits only, up to the largest value the
  database's INTEGER column holds: `/reviews/٣`, `/reviews/²` and
  `/reviews/99999999999999999999` are 404, never a database error.
- `page_arg()` is the one parser of `?page=` for every list. HTML lists are forgiving
  (a missing, empty, repeated or nonsensical value shows page 1, as people edit
  addresses by hand); `strict=True` (the JSON API) answers 400 with a clear message.
"""

from __future__ import annotations

from collections.abc import Sequence

from flask import request
from werkzeug.routing import IntegerConverter

from .errors import DomainError

DB_INT_MAX = 2**31 - 1  # PostgreSQL INTEGER; SQLite accepts the same range
MAX_PAGE = 100_000  # far beyond any real list; larger OFFSETs only load the database


class InvalidParameter(DomainError):
    status_code = 400
    title = "Bad request"


class DatabaseIntConverter(IntegerConverter):
    """`<int:name>`: plain ASCII digits within the database's integer range."""

    regex = r"[0-9]{1,10}"

    def __init__(
        self, map, fixed_digits: int = 0, min: int | None = None, max: int | None = None, signed: bool = False
    ) -> None:
        upper = DB_INT_MAX if max is None or max > DB_INT_MAX else max
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=upper, signed=signed)


def parse_positive_int(raw: str | None, maximum: int) -> int | None:
    """`raw` as a whole number from 1 to `maximum`, or None: ASCII digits only
    (no sign, space, decimal point or Unicode digits such as ² or ٣)."""
    if raw is None or not raw or len(raw) > len(str(maximum)):
        return None
    if not (raw.isascii() and raw.isdigit()):
        return None
    value = int(raw)
    return value if 1 <= value <= maximum else None


def int_arg(
    name: str, default: int, maximum: int, *, strict: bool = False, values: Sequence[str] | None = None
) -> int:
    """A positive whole number from the query string (or from `values`)."""
    if values is None:
        values = request.args.getlist(name)
    if not values:
        return default
    if strict:
        if len(values) > 1:
            raise InvalidParameter(f"Give {name} only once.")
        value = parse_positive_int(values[0], maximum)
        if value is None:
            raise InvalidParameter(f"{name} must be a whole number from 1 to {maximum}.")
        return value
    value = parse_positive_int(values[0], maximum)
    return default if value is None else value


def page_arg(*, strict: bool = False, maximum: int = MAX_PAGE, values: Sequence[str] | None = None) -> int:
    """The page number of a list: `?page=` (1 when absent)."""
    return int_arg("page", 1, maximum, strict=strict, values=values)


def init_app(app) -> None:
    # Before any blueprint adds its rules: converters are bound when a rule is added.
    app.url_map.converters["int"] = DatabaseIntConverter
