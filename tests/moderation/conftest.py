"""Shared fixtures for the moderation tests: a product, reviews and logged-in clients."""

from __future__ import annotations

import pytest

from forum.catalog import services as catalog
from forum.catalog.models import Product
from forum.extensions import db
from tests.conftest import login


@pytest.fixture
def product(app):
    product = Product(sku="CAB-USB-C-2M", name="USB-C cable, 2 m", description="Braided.")
    db.session.add(product)
    db.session.commit()
    return product


@pytest.fixture
def submit(product, make_user):
    """submit(rating, title, body, author=None, product=None) -> a pending review."""

    def do(
        rating: int = 4,
        title: str = "Does the job",
        body: str = "Charges my phone.",
        author=None,
        on_product=None,
    ):
        author = author or make_user("member")
        return catalog.submit_review(author, on_product or product, rating, title, body)

    return do


@pytest.fixture
def client_for(app):
    """A separate logged-in test client per user (two moderators at once)."""

    def make(user):
        client = app.test_client()
        response = login(client, user.email)
        assert response.status_code == 302, response.get_data(as_text=True)
        return client

    return make


@pytest.fixture
def mod_client(client_for, moderator):
    return client_for(moderator)
