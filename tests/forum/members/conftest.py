"""Fixtures for the members' area: the forum fixtures, and a trusted pair of members."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from forum.extensions import db
from tests.forum.community.conftest import category, client_for, make_trusted, published_topic  # noqa: F401


@pytest.fixture
def member_with_trust(make_trusted):  # noqa: F811  (fixture imported for re-use)
    """A trusted member whose approval notifications (from becoming trusted) are already read."""
    from forum.members import services

    def make(display_name):
        user = make_trusted(display_name=display_name)
        services.mark_all_read(user)
        return user

    return make


@pytest.fixture
def alice(member_with_trust):
    return member_with_trust("Alice Archer")


@pytest.fixture
def bob(member_with_trust):
    return member_with_trust("Bob Baker")


@pytest.fixture
def count_queries(app):
    """with count_queries() as n: ... ; n[0] is the number of SQL statements run."""
    from contextlib import contextmanager

    @contextmanager
    def counting():
        counter = [0]

        def before(conn, cursor, statement, parameters, context, executemany):
            counter[0] += 1

        engine = db.engine
        event.listen(engine, "before_cursor_execute", before)
        try:
            yield counter
        finally:
            event.remove(engine, "before_cursor_execute", before)

    return counting
