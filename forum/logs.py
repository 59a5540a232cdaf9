"""Structured logs: one line per request, errors with their traceback, level from LOG_LEVEL.

Each request gets an id (`g.request_id`, the `X-Request-ID` response header; a
trusted proxy's own id is kept). The request line names method, path, status,
duration, request id and user id, and nothing the user typed: no query string,
no body, and path segments that look like tokens are replaced by `[token]`.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid

from flask import Flask, g, has_request_context, request

REQUEST_LOGGER = "forum.request"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# Reset and confirmation tokens are 43 url-safe characters (secrets.token_urlsafe(32)).
# Slugs are lower-case words joined by "-", so a long segment without a "-", or with
# capitals or "_", is treated as a token.
_TOKENISH = re.compile(r"^[A-Za-z0-9_-]{24,}$")


def redact_path(path: str) -> str:
    """The path with token-like segments replaced, safe to write to a log."""
    return "/".join("[token]" if _is_token(seg) else seg for seg in path.split("/"))


def _is_token(segment: str) -> bool:
    if not _TOKENISH.match(segment):
        return False
    return "-" not in segment or "_" in segment or any(ch.isupper() for ch in segment)


def current_request_id() -> str | None:
    return getattr(g, "request_id", None) if has_request_context() else None


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record logged inside a request."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id() or "-"
        return True


def _configure_logging(app: Flask) -> None:
    level_name = str(app.config.get("LOG_LEVEL") or "INFO").upper()
    level = logging.getLevelName(level_name)
    if not isinstance(level, int):
        level = logging.INFO
    for name in ("forum", "moderation", app.logger.name):
        logging.getLogger(name).setLevel(level)
    root = logging.getLogger()
    if not root.handlers:  # gunicorn, pytest or the operator may have configured it already
        handler = logging.StreamHandler()
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
        )
        handler.addFilter(RequestIdFilter())
        root.addHandler(handler)
        root.setLevel(level)


def init_app(app: Flask) -> None:
    app.config.setdefault("LOG_LEVEL", "INFO")
    _configure_logging(app)
    request_log = logging.getLogger(REQUEST_LOGGER)
    trust_incoming = int(app.config.get("TRUSTED_PROXIES") or 0) > 0

    @app.before_request
    def start_request_log():
        g.request_started = time.perf_counter()
        incoming = request.headers.get("X-Request-ID", "") if trust_incoming else ""
        g.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex

    @app.after_request
    def write_request_log(response):
        request_id = getattr(g, "request_id", None) or uuid.uuid4().hex
        response.headers["X-Request-ID"] = request_id
        started = getattr(g, "request_started", None)
        duration_ms = round((time.perf_counter() - started) * 1000, 1) if started else None
        user_id = None
        user = g.get("_login_user")  # set by Flask-Login only if the request used it
        if user is not None and getattr(user, "is_authenticated", False):
            user_id = user.id
        request_log.info(
            json.dumps(
                {
                    "method": request.method,
                    "path": redact_path(request.path),
                    "status": response.status_code,
                    "duration_ms": duration_ms,
                    "request_id": request_id,
                    "user_id": user_id,
                },
                separators=(",", ":"),
            )
        )
        return response
