"""Kept aggregates: a registry of areas that keep counts for their pages.

Each area registers a `Counter(name, rebuild, check)`: `rebuild()` recomputes
every kept aggregate from the rows (returns how many it fixed) and `check()`
lists the differences without writing. `flask recount` runs every rebuild;
`flask recount --check` runs every check and exits 1 on drift.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select


@dataclass
class Counter:
    name: str
    rebuild: Callable[[], int]
    check: Callable[[], list[str]]


COUNTERS: dict[str, Counter] = {}


def register_counter(counter: Counter) -> Counter:
    COUNTERS[counter.name] = counter
    return counter


def lock_rows(model, ids) -> None:
    """Take the row locks of the parent rows whose aggregates are about to be recomputed.

    Two transactions changing the same product (or topic) then recompute one
    after the other, each seeing the other's committed rows (PostgreSQL); on
    SQLite the single writer lock already serialises them.
    """
    from forum.extensions import db

    ids = sorted({i for i in ids if i is not None})
    if ids and db.session.get_bind().dialect.name != "sqlite":
        db.session.execute(select(model.id).where(model.id.in_(ids)).order_by(model.id).with_for_update())


def rebuild_all() -> dict[str, int]:
    """Recompute every kept aggregate (the caller commits)."""
    return {name: counter.rebuild() for name, counter in COUNTERS.items()}


def check_all() -> dict[str, list[str]]:
    return {name: counter.check() for name, counter in COUNTERS.items()}


def diff_rows(label: str, kept: dict, counted: dict) -> list[str]:
    """Lines naming each row whose kept values differ from a recount."""
    problems = []
    for key in sorted(set(kept) | set(counted), key=str):
        if kept.get(key) != counted.get(key):
            problems.append(f"{label} {key}: kept {kept.get(key)}, recounted {counted.get(key)}")
    return problems
