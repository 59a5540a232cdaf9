"""gunicorn settings: `gunicorn wsgi:app` reads this file from the project folder.

- workers from the CPU count (override with WEB_CONCURRENCY), bind from GUNICORN_BIND;
- one access-log line per request with the request id the app sets (X-Request-ID);
  the path is logged without its query string and with tokens redacted;
- before serving, the same checks as `flask check-deploy` run, and gunicorn refuses
  to start when one fails, unless FLASK_DEBUG is set.
"""

import multiprocessing
import os

from gunicorn.glogging import Logger

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY") or multiprocessing.cpu_count() * 2 + 1)
worker_class = "sync"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 5
# The app is loaded once in the master: the check below and the workers share it.
preload_app = True
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("FLASK_LOG_LEVEL", "info").lower()
# remote address, method, redacted path, status, bytes, duration, request id
access_log_format = (
    '{"remote":"%(h)s","method":"%(m)s","path":"%(U)s","status":%(s)s,'
    '"bytes":"%(B)s","duration_ms":%(M)s,"request_id":"%({x-request-id}o)s"}'
)


class RedactingLogger(Logger):
    """Access log without query strings and with token-like path segments replaced."""

    def atoms(self, resp, req, environ, request_time):
        from forum.logs import redact_path

        atoms = super().atoms(resp, req, environ, request_time)
        path = redact_path(atoms.get("U", ""))
        atoms["U"] = path
        atoms["r"] = f"{atoms.get('m', '-')} {path} {atoms.get('H', '-')}"
        atoms["q"] = ""
        return atoms


logger_class = RedactingLogger


def on_starting(server):
    """Refuse an unsafe production start (see `flask check-deploy`)."""
    from forum import create_app
    from forum.deploy import check_or_exit

    check_or_exit(create_app())
