"""Absolute links for mail, built the same way in a request and in a CLI command."""

from urllib.parse import urlsplit

from flask import current_app, has_request_context, url_for


def external_url(endpoint: str, **values) -> str:
    # SITE_URL (FLASK_SITE_URL) wins: behind a proxy the request's host may be an internal one.
    site_url = current_app.config.get("SITE_URL")
    if has_request_context() and not site_url:
        return url_for(endpoint, _external=True, **values)
    # Build from the URL map directly: a throwaway request context would run the
    # request-teardown hooks (mail delivery, search drain) in the middle of a transaction.
    base = urlsplit((site_url or "http://127.0.0.1:5000").rstrip("/"))
    adapter = current_app.url_map.bind(base.netloc, script_name=base.path or "/", url_scheme=base.scheme)
    anchor = values.pop("_anchor", None)
    url = adapter.build(endpoint, values, force_external=True)
    return f"{url}#{anchor}" if anchor else url
