"""Search tests run once per backend: whoosh always, postgres too on PostgreSQL (TEST_DATABASE_URL)."""

from __future__ import annotations

import pytest

from forum.catalog import services as catalog
from forum.catalog.models import Product, Review
from forum.extensions import db
from moderation import services as moderation

from ...conftest import TEST_DATABASE_URL

BACKENDS = ["whoosh"] + (["postgres"] if TEST_DATABASE_URL else [])


@pytest.fixture(params=BACKENDS)
def backend_name(request):
    return request.param


@pytest.fixture
def app_config(app_config, backend_name):
    app_config["SEARCH_BACKEND"] = backend_name
    return app_config


@pytest.fixture
def backend(app):
    from forum.search.indexing import get_backend

    return get_backend()


@pytest.fixture
def product(app):
    product = Product(sku="CAB-USB-C-2M", name="USB-C cable, 2 m", description="Braided.")
    db.session.add(product)
    db.session.commit()
    return product


@pytest.fixture
def other_product(app):
    product = Product(sku="CHG-65W", name="65 W charger", description="GaN.")
    db.session.add(product)
    db.session.commit()
    return product


@pytest.fixture
def submit(make_user, product):
    """A pending review by a new member."""

    def do(title="Good cable", body="Works well.", rating=4, on=None, author=None):
        return catalog.submit_review(author or make_user(), on or product, rating, title, body)

    return do


@pytest.fixture
def publish(submit, moderator):
    """A review submitted and approved through the services (the index is updated after commit)."""

    def do(title="Good cable", body="Works well.", rating=4, on=None, author=None):
        review = submit(title, body, rating, on, author)
        moderation.approve_submission("review", review.id, moderator)
        return db.session.get(Review, review.id)

    return do


@pytest.fixture
def drain(app):
    """Apply queued index changes now (what the end of a request or CLI command does)."""
    from forum.search import indexing

    def do():
        db.session.info.pop("search_outbox_committed", None)
        report = indexing.drain_all(include_not_due=True)
        assert not report.busy and not report.failed, report
        return report

    return do


@pytest.fixture
def search_page(app, client):
    """GET /search; returns (status, html).

    The worker is taken to be quicker than the reader: what the test committed is applied
    first (its real drain), unless the test sets app.config["TEST_WORKER_BEFORE_SEARCH"] = False.
    """
    from forum.search import indexing

    def do(q="", **params):
        if app.config.get("TEST_WORKER_BEFORE_SEARCH", True):
            db.session.info.pop("search_outbox_committed", None)
            indexing.drain_all()
        response = client.get("/search", query_string={"q": q, **params})
        return response.status_code, response.get_data(as_text=True)

    return do


def result_ids(html: str) -> list[int]:
    """Review ids linked from the results, in order."""
    import re

    section = html.split('class="result-list"', 1)
    if len(section) < 2:
        return []
    return [int(n) for n in re.findall(r'<h3 class="result-title"[^>]*><a href="/reviews/(\d+)"', section[1])]


def indexed(backend) -> set[str]:
    return backend.doc_ids()
