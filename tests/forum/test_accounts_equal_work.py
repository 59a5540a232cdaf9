"""Login costs one hash check whether or not the email exists; undeliverable addresses are refused."""

from __future__ import annotations

import pytest

from forum.accounts import services
from tests.conftest import STRONG_PASSWORD


@pytest.fixture
def hash_calls(monkeypatch):
    calls = {"check": 0, "generate": 0}
    real_check, real_generate = services.check_password_hash, services.generate_password_hash

    def check(*args, **kwargs):
        calls["check"] += 1
        return real_check(*args, **kwargs)

    def generate(*args, **kwargs):
        calls["generate"] += 1
        return real_generate(*args, **kwargs)

    monkeypatch.setattr(services, "check_password_hash", check)
    monkeypatch.setattr(services, "generate_password_hash", generate)
    return calls


def _login_cost(client, calls, email, password="wrong password here"):
    calls["check"] = calls["generate"] = 0
    response = client.post("/login", data={"email": email, "password": password})
    assert response.status_code in (200, 422)
    assert "Email or password is not correct." in response.get_data(as_text=True)
    return dict(calls)


def test_unknown_and_known_emails_cost_the_same_hash_work(client, member, hash_calls):
    _login_cost(client, hash_calls, "warm-up@example.com")  # the app makes its dummy hash once
    known = _login_cost(client, hash_calls, member.email)
    unknown = _login_cost(client, hash_calls, "nobody@example.com")
    assert known == unknown == {"check": 1, "generate": 0}


def test_the_dummy_hash_uses_the_configured_method_and_is_made_once(app, hash_calls):
    first = services._dummy_password_hash()
    assert services._dummy_password_hash() == first
    assert hash_calls["generate"] == 1
    assert first.startswith(app.config["PASSWORD_HASH_METHOD"].split(":")[0])


@pytest.mark.parametrize("address", ["jürgen@example.com", "用户@例子.广告", "θσερ@example.com"])
def test_addresses_our_mail_server_cannot_deliver_to_are_refused_at_registration(client, address):
    response = client.post(
        "/register",
        data={"email": address, "display_name": "J", "password": STRONG_PASSWORD, "confirm": STRONG_PASSWORD},
    )
    assert response.status_code == 422
    assert (
        "cannot send mail to an address with accented or non-Latin letters before the @"
        in response.get_data(as_text=True)
    )


def test_removal_request_form_refuses_them_too(client):
    response = client.post(
        "/removal-request",
        data={
            "email": "jürgen@example.com",
            "links": "",
            "scope": "everything",
            "removal_kind": "whole",
            "details": "",
        },
    )
    assert response.status_code == 422
    assert "cannot send mail to an address" in response.get_data(as_text=True)


def test_internationalised_domains_are_fine_and_smtputf8_allows_the_rest(app, client):
    response = client.post(
        "/register",
        data={
            "email": "anna@bücher.example",
            "display_name": "Anna",
            "password": STRONG_PASSWORD,
            "confirm": STRONG_PASSWORD,
        },
    )
    assert response.status_code == 302
    app.config["MAIL_SMTPUTF8"] = True
    assert services.normalise_email("jürgen@example.com") == "jürgen@example.com"
