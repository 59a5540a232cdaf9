"""Absolute links for mail, built the same way in a request and in a CLI command."""

from flask import current_app, has_request_context, url_for


def external_url(endpoint: str, **values) -> str:
    # SITE_URL (FLASK_SITE_URL) wins: behind a proxy the request's host may be an internal one.
    site_url = current_app.config.get("SITE_URL")
    if has_request_context() and not site_url:
        return url_for(endpoint, _external=True, **values)
    base = (site_url or "http://127.0.0.1:5000").rstrip("/")
    with current_app.test_request_context("/", base_url=base):
        return url_for(endpoint, _external=True, **values)
