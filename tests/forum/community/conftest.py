"""Fixtures for the forum tests: a category, members with and without trust, logged-in clients."""

from __future__ import annotations

import pytest

from forum.community import services
from moderation import services as moderation
from tests.conftest import login


@pytest.fixture
def category(app):
    return services.add_category("Cables & adapters", "USB-C, HDMI and everything in between.")


@pytest.fixture
def make_trusted(make_user, moderator, category):
    """A member whose first forum posts a moderator approved: they now publish at once."""

    def make(**kwargs):
        user = make_user("member", **kwargs)
        for n in range(services.trust_threshold()):
            topic = services.create_topic(user, category, f"Question {n}", f"Body {n}")
            moderation.approve_submission("forum_post", topic.opening.id, moderator)
        return user

    return make


@pytest.fixture
def client_for(app):
    """A separate logged-in test client per user."""

    def make(user):
        client = app.test_client()
        response = login(client, user.email)
        assert response.status_code == 302, response.get_data(as_text=True)
        return client

    return make


@pytest.fixture
def published_topic(make_trusted, category):
    author = make_trusted(display_name="Tess Trusted")
    return services.create_topic(author, category, "Which USB-C cable for 100 W?", "I need a **long** one.")
