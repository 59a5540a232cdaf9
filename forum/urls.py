"""Absolute links for mail, built the same way in a request and in a CLI command."""

from urllib.parse import urlsplit

from flask import current_app, has_request_context, url_for

FALLBACK_SITE_URL = "http://127.0.0.1:5000"


DEVELOPMENT_MAIL_BACKENDS = {"forum.mail.DevelopmentEmailBackend", "console", "file", "locmem", "dummy"}


def _request_host_is_trusted() -> bool:
    """A request's Host may be used for links only in development (debug, tests, or mail
    that never leaves the machine: `flask demo`, `flask run`), or when Flask has checked
    it against TRUSTED_HOSTS (other hosts are refused with 400)."""
    config = current_app.config
    return bool(
        current_app.debug
        or current_app.testing
        or config.get("TRUSTED_HOSTS")
        or config.get("MAIL_BACKEND") in DEVELOPMENT_MAIL_BACKENDS
    )


def external_url(endpoint: str, **values) -> str:
    # SITE_URL (FLASK_SITE_URL) always wins: a client chooses the Host header, so a
    # host taken from the request could send a reset link to an attacker's site.
    site_url = current_app.config.get("SITE_URL")
    if has_request_context() and not site_url and _request_host_is_trusted():
        return url_for(endpoint, _external=True, **values)
    if not site_url and has_request_context():
        current_app.logger.warning(
            "SITE_URL is not set: mail links use %s (see flask check-deploy)", FALLBACK_SITE_URL
        )
    # Build from the URL map directly: a throwaway request context would run the
    # request-teardown hooks (mail delivery, search drain) in the middle of a transaction.
    base = urlsplit((site_url or FALLBACK_SITE_URL).rstrip("/"))
    adapter = current_app.url_map.bind(base.netloc, script_name=base.path or "/", url_scheme=base.scheme)
    anchor = values.pop("_anchor", None)
    url = adapter.build(endpoint, values, force_external=True)
    return f"{url}#{anchor}" if anchor else url
