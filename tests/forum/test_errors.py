"""Every error is a page of our own with the right status, and leaves nothing half-written."""

from __future__ import annotations

import io
import json

import pytest
from flask import abort
from sqlalchemy import func, select

from forum import create_app
from forum.errors import ERROR_TITLES, PermissionDenied
from forum.extensions import db
from forum.models import OutboxMessage, User
from tests.conftest import STRONG_PASSWORD


@pytest.fixture
def error_app(app_config):
    """An app with a few routes that fail on purpose (added before its first request)."""
    app_config["WTF_CSRF_ENABLED"] = True
    app = create_app(app_config)

    @app.get("/test-forbidden")
    def forbidden():
        raise PermissionDenied("Only moderators can see this page.")

    @app.get("/test-abort-400")
    def bad_request():
        abort(400)

    @app.post("/test-half-written")
    def half_written():
        # A change in progress, then a bug: the whole change must vanish.
        db.session.add(User(email="half@example.com", display_name="Half", password_hash="x", role="member"))
        db.session.add(OutboxMessage(to_address="half@example.com", subject="Half", body_text="never"))
        db.session.flush()
        raise ZeroDivisionError("secret detail that must not reach the page")

    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def _assert_error_page(response, status: int, *texts: str) -> str:
    assert response.status_code == status
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert f"<h1>{ERROR_TITLES[status]}</h1>" in html
    assert '<nav aria-label="Main">' in html  # rendered in the site layout
    assert f"Error {status}." in html
    for text in texts:
        assert text in html
    assert response.headers["Content-Security-Policy"]
    return html


def test_400_page(error_app):
    client = error_app.test_client()
    _assert_error_page(client.get("/test-abort-400"), 400, "could not be understood")
    # Most often a 400 is a stale form: the page says what to do.
    _assert_error_page(
        client.post("/login", data={"email": "a@example.com", "password": "x"}),
        400,
        "The form expired or was sent from another site",
    )


def test_403_page(error_app):
    _assert_error_page(
        error_app.test_client().get("/test-forbidden"), 403, "Only moderators can see this page."
    )


def test_404_page(error_app):
    _assert_error_page(error_app.test_client().get("/no/such/page"), 404, "There is nothing at this address")


def test_405_page_keeps_allow_header(error_app):
    response = error_app.test_client().get("/logout")
    _assert_error_page(response, 405, "does not accept that kind of request")
    assert "POST" in response.headers["Allow"]


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "multipart/form-data"])
def test_413_page_for_a_body_over_the_limit(error_app, content_type):
    limit = error_app.config["MAX_CONTENT_LENGTH"]
    big = "x" * (limit + 1)
    client = error_app.test_client()
    if content_type == "multipart/form-data":
        response = client.post("/register", data={"email": "big@example.com", "display_name": big})
    else:
        response = client.post(
            "/register", data=f"email=big%40example.com&display_name={big}", content_type=content_type
        )
    _assert_error_page(response, 413, "larger than we accept")
    assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_413_before_reading_a_body_announced_too_large(error_app):
    limit = error_app.config["MAX_CONTENT_LENGTH"]
    # A client announcing a huge body is answered before anything is read.
    response = error_app.test_client().post(
        "/login",
        input_stream=io.BytesIO(b"email=a"),
        content_type="application/x-www-form-urlencoded",
        environ_overrides={"CONTENT_LENGTH": str(limit + 1)},
    )
    _assert_error_page(response, 413)


def test_429_page(app_config, member):
    app_config.update(RATELIMIT_ENABLED=True, RATELIMIT_PASSWORD_RESET="1 per minute")
    app = create_app(app_config)
    with app.app_context():
        client = app.test_client()
        assert client.post("/password-reset", data={"email": member.email}).status_code == 200
        _assert_error_page(
            client.post("/password-reset", data={"email": member.email}), 429, "Please wait a little"
        )
        db.session.remove()
        db.engine.dispose()


def test_500_page_and_nothing_half_written(error_app, caplog):
    client = error_app.test_client()
    token_page = client.get("/login").get_data(as_text=True)
    from tests.conftest import csrf_token_from

    response = client.post("/test-half-written", data={"csrf_token": csrf_token_from(token_page)})
    html = _assert_error_page(response, 500, "Nothing you sent was half-saved")
    assert "secret detail" not in html and "ZeroDivisionError" not in html
    assert db.session.scalar(select(func.count()).select_from(User)) == 0
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    assert "Unhandled error on POST /test-half-written" in caplog.text  # logged for us, not shown
    # The app carries on normally afterwards.
    assert client.get("/login").status_code == 200


def test_errors_under_api_are_json(error_app):
    response = error_app.test_client().get("/api/no-such-thing")
    assert response.status_code == 404
    assert response.mimetype == "application/json"
    assert json.loads(response.get_data(as_text=True)) == {
        "error": "Page not found",
        "message": "There is nothing at this address. It may have been removed.",
        "status": 404,
    }


def test_error_page_for_a_signed_in_user_still_has_their_navigation(app, client, member, login_as):
    login_as(member)
    html = client.get("/no-such-page").get_data(as_text=True)
    assert "My account" in html and "Log out" in html


def test_422_form_errors_beside_the_fields(client):
    response = client.post(
        "/register",
        data={"email": "", "display_name": "Someone", "password": STRONG_PASSWORD, "confirm": "different"},
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert '<ul class="errors" id="email-error"><li>Enter your email address.</li></ul>' in html
    assert '<ul class="errors" id="confirm-error"><li>The passwords do not match.</li></ul>' in html
    assert 'aria-describedby="email-error"' in html
