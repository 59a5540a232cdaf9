"""Security basics: headers, cookies, CSRF on every POST route, login rate limits."""

from __future__ import annotations

import uuid

import pytest

from forum import create_app
from forum.extensions import csrf, db
from tests.conftest import STRONG_PASSWORD, csrf_token_from

# Views that may accept a POST without a CSRF token, each with the reason.
# Keep this empty unless a route is authenticated by something a browser does
# not send on its own (e.g. an API token header).
CSRF_EXEMPT_ALLOWED: dict[str, str] = {
    # Machine to machine: the shop's HMAC signature over timestamp and body is the proof (401 otherwise).
    "forum.catalog.extras_views.receive_order": "POST /api/orders, signed with ORDERS_WEBHOOK_SECRET",
    # RFC 8058 one-click unsubscribe: mail clients POST without cookies; the secret token in the URL is the proof.
    "forum.catalog.extras_views.invitation_opt_out": "List-Unsubscribe-Post one-click opt-out",
    "moderation.tlog_views.cosignature": "witnesses' machine endpoint: no cookies, authenticated by the "
    "Ed25519 cosignature from a key in LOG_WITNESS_KEYS",
    # RFC 8058 one-click unsubscribe: mail programs POST without a session or form token; the
    # signed token in the address is what authorises it, and it can only turn mail off.
    "forum.members.views.unsubscribe": "List-Unsubscribe-Post one-click unsubscribe",
}


def _csp(response) -> dict[str, list[str]]:
    directives = {}
    for part in response.headers["Content-Security-Policy"].split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


@pytest.mark.parametrize("path", ["/", "/login", "/no-such-page", "/static/site.css"])
def test_security_headers_on_every_response(client, path):
    response = client.get(path)
    csp = _csp(response)
    assert "'unsafe-inline'" not in csp["script-src"]
    assert "'unsafe-eval'" not in csp["script-src"]
    assert csp["script-src"] == ["'self'"]
    assert "'unsafe-inline'" not in csp.get("style-src", [])
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["object-src"] == ["'none'"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "Strict-Transport-Security" not in response.headers  # only when served over HTTPS


def test_account_pages_are_not_cached(client, member, login_as):
    login_as(member)
    assert client.get("/account").headers["Cache-Control"] == "no-store"
    assert client.get("/account/export.json").headers["Cache-Control"] == "no-store"


def _cookie(response, name: str) -> str:
    for header in response.headers.getlist("Set-Cookie"):
        if header.startswith(name + "="):
            return header
    raise AssertionError(f"no {name} cookie in {response.headers.getlist('Set-Cookie')}")


def test_session_cookie_httponly_samesite_lax_not_secure_by_default(client, member):
    response = client.post(
        "/login", data={"email": member.email, "password": STRONG_PASSWORD, "remember": "y"}
    )
    for name in ("session", "remember_token"):
        cookie = _cookie(response, name)
        assert "HttpOnly" in cookie
        assert "SameSite=Lax" in cookie
        assert "Secure" not in cookie


def test_cookies_secure_and_hsts_when_configured_for_https(app_config, make_user, monkeypatch):
    monkeypatch.setenv("FLASK_SESSION_COOKIE_SECURE", "true")
    app = create_app(app_config)
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["REMEMBER_COOKIE_SECURE"] is True
    with app.app_context():
        from forum.accounts import services

        services.register_user("secure@example.com", "Secure", STRONG_PASSWORD)
        client = app.test_client()
        response = client.post(
            "/login",
            data={"email": "secure@example.com", "password": STRONG_PASSWORD, "remember": "y"},
            base_url="https://localhost",
        )
        assert response.status_code == 302
        for name in ("session", "remember_token"):
            cookie = _cookie(response, name)
            assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
        assert response.headers["Strict-Transport-Security"].startswith("max-age=")
        db.session.remove()
        db.engine.dispose()


# --- CSRF ------------------------------------------------------------------


@pytest.fixture
def csrf_app(app_config):
    app_config["WTF_CSRF_ENABLED"] = True
    return app_config


def _sample_url(app, rule) -> str:
    """A URL that routes to `rule`, whatever converters it has."""
    values = {}
    for name in rule.arguments:
        converter = rule._converters[name]
        if hasattr(converter, "items"):  # any(...)
            values[name] = sorted(converter.items)[0]
        elif type(converter).__name__ == "UUIDConverter":
            values[name] = uuid.uuid4()
        else:
            values[name] = "1"
    adapter = app.url_map.bind("localhost")
    url = adapter.build(rule.endpoint, values, method="POST")
    endpoint, _ = adapter.match(url, method="POST")
    assert endpoint == rule.endpoint, (url, endpoint, rule.endpoint)
    return url


def test_every_post_route_refuses_a_post_without_csrf_token(csrf_app, app, client, member, login_as):
    post_rules = [rule for rule in app.url_map.iter_rules() if "POST" in rule.methods]
    assert len(post_rules) >= 10  # the accounts routes alone; areas add theirs
    exempt = {view for view in csrf._exempt_views} | {bp.name for bp in csrf._exempt_blueprints}
    assert exempt <= set(CSRF_EXEMPT_ALLOWED), (
        f"unexpected CSRF exemptions: {exempt - set(CSRF_EXEMPT_ALLOWED)}"
    )

    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login", data={"email": member.email, "password": STRONG_PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302  # signed in, so login_required routes reach the CSRF check too

    refused = []
    for rule in post_rules:
        view = app.view_functions[rule.endpoint]
        if f"{view.__module__}.{view.__name__}" in CSRF_EXEMPT_ALLOWED:
            continue
        url = _sample_url(app, rule)
        response = client.post(url, data={"anything": "at all"})
        assert response.status_code == 400, (rule.rule, response.status_code)
        assert "The form expired or was sent from another site" in response.get_data(as_text=True)
        refused.append(rule.rule)
    assert "/login" in refused and "/logout" in refused and "/account/delete" in refused
    # A wrong token is refused too, and the session is still intact.
    assert (
        client.post("/account/display-name", data={"display_name": "X", "csrf_token": "forged"}).status_code
        == 400
    )
    assert client.get("/account").status_code == 200


def test_real_form_posts_with_token_work(csrf_app, app, client):
    page = client.get("/register").get_data(as_text=True)
    response = client.post(
        "/register",
        data={
            "email": "csrf@example.com",
            "display_name": "Cee",
            "password": STRONG_PASSWORD,
            "confirm": STRONG_PASSWORD,
            "csrf_token": csrf_token_from(page),
        },
    )
    assert response.status_code == 302
    account = client.get("/account").get_data(as_text=True)
    response = client.post(
        "/account/display-name", data={"display_name": "Cee Two", "csrf_token": csrf_token_from(account)}
    )
    assert response.status_code == 302
    # The logout button in the layout carries its own token.
    home = client.get("/").get_data(as_text=True)
    assert client.post("/logout", data={"csrf_token": csrf_token_from(home)}).status_code == 302
    assert client.get("/account").status_code == 302


def test_a_validation_error_keeps_the_form_usable(csrf_app, app, client):
    page = client.get("/register").get_data(as_text=True)
    response = client.post(
        "/register",
        data={
            "email": "not-an-email",
            "display_name": "",
            "password": "x",
            "confirm": "y",
            "csrf_token": csrf_token_from(page),
        },
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'aria-invalid="true"' in html
    assert csrf_token_from(html)  # a new token to try again with


# --- rate limits -------------------------------------------------------------


@pytest.fixture
def limited(app_config):
    app_config["RATELIMIT_ENABLED"] = True
    app_config["RATELIMIT_LOGIN"] = "5 per minute"
    return app_config


def test_login_rate_limit_gives_a_friendly_429(limited, app, client, member):
    for _ in range(5):
        response = client.post("/login", data={"email": member.email, "password": "wrong password"})
        assert response.status_code == 422
    response = client.post("/login", data={"email": member.email, "password": STRONG_PASSWORD})
    assert response.status_code == 429
    html = response.get_data(as_text=True)
    assert "Too many requests" in html and "Please wait a little" in html
    assert '<nav aria-label="Main">' in html  # the site's own layout, not a bare error
    assert int(response.headers["Retry-After"]) > 0
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert client.get("/login").status_code == 200  # reading the page is not limited


def test_login_rate_limit_also_counts_per_email_across_addresses(limited, app, member):
    for n in range(5):
        client = app.test_client()
        response = client.post(
            "/login",
            data={"email": member.email, "password": "wrong password"},
            environ_base={"REMOTE_ADDR": f"203.0.113.{n + 1}"},
        )
        assert response.status_code == 422
    response = app.test_client().post(
        "/login",
        data={"email": member.email.upper(), "password": "wrong password"},
        environ_base={"REMOTE_ADDR": "203.0.113.99"},
    )
    assert response.status_code == 429
    # Someone else's account from a fresh address is not affected.
    other = app.test_client().post(
        "/login",
        data={"email": "other@example.com", "password": "wrong password"},
        environ_base={"REMOTE_ADDR": "203.0.113.100"},
    )
    assert other.status_code == 422


def test_flask_ratelimit_enabled_false_turns_limits_off(app_config, monkeypatch, member):
    del app_config["RATELIMIT_ENABLED"]
    app_config["RATELIMIT_LOGIN"] = "5 per minute"
    monkeypatch.setenv("FLASK_RATELIMIT_ENABLED", "false")
    app = create_app(app_config)
    assert app.config["RATELIMIT_ENABLED"] is False
    with app.app_context():
        client = app.test_client()
        statuses = {
            client.post("/login", data={"email": member.email, "password": "wrong password"}).status_code
            for _ in range(12)
        }
        assert statuses == {422}
        db.session.remove()
        db.engine.dispose()


def test_forwarded_for_is_ignored_unless_a_proxy_is_trusted(limited, app, member):
    # Without a trusted proxy, a made-up X-Forwarded-For does not dodge the limit.
    client = app.test_client()
    for n in range(5):
        client.post(
            "/login",
            data={"email": f"x{n}@example.com", "password": "wrong password"},
            headers={"X-Forwarded-For": f"198.51.100.{n}"},
        )
    response = client.post(
        "/login",
        data={"email": "y@example.com", "password": "wrong password"},
        headers={"X-Forwarded-For": "198.51.100.200"},
    )
    assert response.status_code == 429


def test_behind_a_trusted_proxy_each_client_has_its_own_limit(limited, monkeypatch, member):
    limited["TRUSTED_PROXIES"] = 1
    app = create_app(limited)
    with app.app_context():
        client = app.test_client()  # every request arrives from the proxy's own address
        for n in range(5):
            response = client.post(
                "/login",
                data={"email": f"x{n}@example.com", "password": "wrong password"},
                headers={"X-Forwarded-For": "198.51.100.1"},
            )
            assert response.status_code == 422
        blocked = client.post(
            "/login",
            data={"email": "z@example.com", "password": "wrong password"},
            headers={"X-Forwarded-For": "198.51.100.1"},
        )
        assert blocked.status_code == 429
        other = client.post(
            "/login",
            data={"email": "z@example.com", "password": "wrong password"},
            headers={"X-Forwarded-For": "198.51.100.2"},
        )
        assert other.status_code == 422
        # Links in mail use the public scheme and host the proxy reports.
        outbox = app.extensions["mailman"].outbox = []
        response = client.post(
            "/password-reset",
            data={"email": member.email},
            headers={
                "X-Forwarded-For": "198.51.100.3",
                "X-Forwarded-Proto": "https",
                "X-Forwarded-Host": "community.shop.example",
            },
        )
        assert response.status_code == 200
        assert "https://community.shop.example/password-reset/" in outbox[0].body
        db.session.remove()
        db.engine.dispose()


def test_rate_limits_are_on_by_default():
    from forum.config import DefaultConfig

    assert DefaultConfig.RATELIMIT_ENABLED is True
