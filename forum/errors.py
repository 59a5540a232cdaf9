"""One exception hierarchy for the domain, mapped to HTTP in one place.

Services raise these; views let them propagate; `register_error_handlers`
turns each into a templated page (or JSON under /api) with its status code.
"""

from __future__ import annotations

from flask import Flask, jsonify, make_response, render_template, request
from flask.globals import request_ctx
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException


class DomainError(Exception):
    """Base of every error a service raises on purpose."""

    status_code = 400
    title = "Bad request"

    def __init__(self, message: str | None = None):
        super().__init__(message or self.title)
        self.message = message or self.title


class ValidationFailed(DomainError):
    status_code = 422
    title = "Please correct the form"

    def __init__(self, message: str | None = None, field_errors: dict | None = None):
        super().__init__(message)
        self.field_errors = field_errors or {}


class AuthenticationFailed(DomainError):
    status_code = 401
    title = "Not signed in"


class PermissionDenied(DomainError):
    status_code = 403
    title = "Not allowed"


class NotFound(DomainError):
    status_code = 404
    title = "Not found"


class Conflict(DomainError):
    status_code = 409
    title = "Conflict"


class Gone(DomainError):
    status_code = 410
    title = "No longer available"


ERROR_TITLES = {
    400: "Bad request",
    401: "Please sign in",
    403: "Not allowed",
    404: "Page not found",
    405: "Method not allowed",
    409: "Conflict",
    410: "No longer available",
    413: "Too much data",
    422: "Please correct the form",
    429: "Too many requests",
    500: "Something went wrong",
    503: "Busy for a moment",
}

ERROR_EXPLANATIONS = {
    400: "The request could not be understood.",
    401: "You need to sign in to do that.",
    403: "You do not have permission to see this page.",
    404: "There is nothing at this address. It may have been removed.",
    405: "This address does not accept that kind of request.",
    413: "What you sent is larger than we accept. Please shorten it and try again.",
    429: "You have done that too often. Please wait a little and try again.",
    500: "Something went wrong on our side. Nothing you sent was half-saved; please try again.",
}


def _wants_json() -> bool:
    return request.path.startswith(("/api/", "/transparency/log/")) or (
        request.accept_mimetypes.best == "application/json"
    )


def render_error(status: int, message: str | None = None, headers=None):
    title = ERROR_TITLES.get(status, "Error")
    message = message or ERROR_EXPLANATIONS.get(status, title)
    if request_ctx.url_adapter is None:
        # The Host header is not in TRUSTED_HOSTS: no URL can be built, so no page template.
        response = make_response(f"{status} {title}: {message}\n", status)
        response.mimetype = "text/plain"
    elif _wants_json():
        response = jsonify({"error": title, "message": message, "status": status})
        response.status_code = status
    else:
        response = make_response(
            render_template("errors/error.html", status=status, title=title, message=message),
            status,
        )
    if headers:
        for key, value in headers:
            response.headers[key] = value
    return response


def init_app(app: Flask) -> None:
    register_error_handlers(app)


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def handle_domain_error(error: DomainError):
        from .extensions import db

        db.session.rollback()
        return render_error(error.status_code, error.message)

    @app.errorhandler(CSRFError)
    def handle_csrf_error(error: CSRFError):
        return render_error(
            400,
            "The form expired or was sent from another site. Please reload the page and try again.",
        )

    @app.errorhandler(HTTPException)
    def handle_http_exception(error: HTTPException):
        status = error.code or 500
        message = None
        if status == 429:
            message = ERROR_EXPLANATIONS[429]
        elif status not in ERROR_EXPLANATIONS and error.description:
            message = error.description
        headers = [(k, v) for k, v in error.get_headers() if k.lower() in {"retry-after", "allow"}]
        return render_error(status, message, headers)

    @app.errorhandler(IntegrityError)
    def handle_integrity_error(error: IntegrityError):
        # A unique constraint refused a second, simultaneous copy of something (a double
        # click, two tabs): the first one was saved. Services turn the cases they know into
        # form messages; this is the net for the rest.
        from .extensions import db

        db.session.rollback()
        app.logger.warning(
            "Integrity error on %s %s: %s",
            request.method,
            request.path,
            type(getattr(error, "orig", error)).__name__,
        )
        return render_error(
            409,
            "This was already saved (perhaps the form was sent twice). "
            "Reload the page to see the current state.",
        )

    @app.errorhandler(Exception)
    def handle_unexpected(error: Exception):
        from .extensions import db

        app.logger.exception("Unhandled error on %s %s", request.method, request.path)
        db.session.rollback()
        return render_error(500)
