"""Links in mail: built from SITE_URL outside a request, without running request hooks."""

from forum.urls import external_url


def test_external_url_outside_request_uses_site_url(app):
    app.config["SITE_URL"] = "https://community.shop.example/base/"
    assert external_url("accounts.login") == "https://community.shop.example/base/login"
    assert external_url("accounts.reset_password", token="abc", _anchor="x") == (
        "https://community.shop.example/base/password-reset/abc#x"
    )


def test_external_url_defaults_to_local_address(app):
    assert external_url("accounts.login") == "http://127.0.0.1:5000/login"


def test_external_url_runs_no_request_teardown(app):
    # A throwaway request context would run teardown hooks (mail delivery,
    # search drain) in the middle of the caller's transaction.
    calls = []
    app.teardown_request_funcs.setdefault(None, []).append(lambda exc: calls.append(exc))
    external_url("accounts.login")
    assert calls == []
