"""Settings: defaults here, then FLASK_* environment variables, then DATABASE_URL.

Nothing secret lives in this file; a development secret key is generated into
the instance folder on first use so that no key is ever committed.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


class DefaultConfig:
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    SQLALCHEMY_TRACK_MODIFICATIONS = False

    # Bodies larger than this get 413 before any view runs.
    MAX_CONTENT_LENGTH = 256 * 1024
    MAX_FORM_MEMORY_SIZE = 256 * 1024

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    PERMANENT_SESSION_LIFETIME = 60 * 60 * 24 * 14

    WTF_CSRF_TIME_LIMIT = 60 * 60 * 8

    RATELIMIT_ENABLED = True
    RATELIMIT_STORAGE_URI = "memory://"
    RATELIMIT_HEADERS_ENABLED = True
    RATELIMIT_LOGIN = "10 per minute;50 per hour"
    RATELIMIT_REGISTER = "10 per hour"
    RATELIMIT_PASSWORD_RESET = "5 per hour"
    RATELIMIT_POSTING = "20 per hour"

    # Flask-Mailman settings; the development backend prints each message and
    # writes it to <instance>/mail so a person trying the demo can read it.
    MAIL_BACKEND = "forum.mail.DevelopmentEmailBackend"
    MAIL_SERVER = "localhost"
    MAIL_PORT = 25
    MAIL_USE_TLS = False
    MAIL_USE_SSL = False
    MAIL_USERNAME = None
    MAIL_PASSWORD = None
    MAIL_TIMEOUT = 10
    MAIL_DEFAULT_SENDER = "Community <community@shop.example>"
    MAIL_MAX_ATTEMPTS = 10
    # True only if the mail server accepts internationalised addresses (SMTPUTF8, RFC 6531);
    # otherwise forms refuse addresses with non-ASCII characters before the @.
    MAIL_SMTPUTF8 = False

    # Werkzeug's scrypt; tests choose a cheaper method to stay fast.
    PASSWORD_HASH_METHOD = "scrypt"
    PASSWORD_MIN_LENGTH = 8
    PASSWORD_MAX_LENGTH = 1024
    PASSWORD_RESET_HOURS = 2

    # How many reverse proxies (nginx, a load balancer) stand in front of the app.
    # Only then are X-Forwarded-For/-Proto/-Host believed: rate limits need the
    # client's address, not the proxy's, and links need the public scheme and host.
    TRUSTED_PROXIES = 0

    SITE_NAME = "Shop Community"

    # The public transparency log of moderation (docs/transparency-log.md).
    # A checkpoint is signed whenever the log has grown, at most every this many minutes.
    LOG_CHECKPOINT_MINUTES = 10
    # The log's name in checkpoints; default "<host of SITE_URL>/moderation-log".
    LOG_ORIGIN = None
    # The Ed25519 signing key (PRIVATE+KEY+... as `flask log key --private` prints it); without it
    # the key lives in <instance>/log-signing-key, created on first use. Never in the repository.
    LOG_SIGNING_KEY = None
    # Witnesses whose cosignatures we accept: verifier keys (type 0x04), separated by spaces or commas.
    LOG_WITNESS_KEYS = ()
    RATELIMIT_COSIGNATURE = "60 per hour"
    # Public address used in mail links, e.g. https://community.shop.example
    SITE_URL = None
    # Host names this site answers to (Flask checks every request's Host against them;
    # others get 400). FLASK_TRUSTED_HOSTS='["community.shop.example"]' or a comma list.
    TRUSTED_HOSTS = None

    # Level of the application's logs (DEBUG, INFO, WARNING, ERROR).
    LOG_LEVEL = "INFO"


def _database_url_from_env() -> str | None:
    url = os.environ.get("DATABASE_URL")
    if not url:
        return None
    return normalise_database_url(url)


def normalise_database_url(url: str) -> str:
    """Accept the common postgres:// spellings and use the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def instance_path_from_env() -> str:
    return str(Path(os.environ.get("FLASK_INSTANCE_PATH") or "instance").resolve())


def finish_config(app) -> None:
    """Fill in settings that depend on the instance folder."""
    instance = Path(app.instance_path)
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        app.config["SQLALCHEMY_DATABASE_URI"] = (
            _database_url_from_env() or f"sqlite:///{instance / 'forum.sqlite3'}"
        )
    else:
        app.config["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(app.config["SQLALCHEMY_DATABASE_URI"])
    hosts = app.config.get("TRUSTED_HOSTS")
    if isinstance(hosts, str):
        hosts = [h.strip() for h in hosts.split(",") if h.strip()]
    app.config["TRUSTED_HOSTS"] = list(hosts) if hosts else None
    # The remember-me cookie is as sensitive as the session cookie.
    app.config.setdefault("REMEMBER_COOKIE_SECURE", bool(app.config.get("SESSION_COOKIE_SECURE")))
    app.config.setdefault("SEARCH_INDEX_DIR", str(instance / "search-index"))
    app.config.setdefault("MAIL_FILE_PATH", str(instance / "mail"))
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret_key(instance)


def _instance_secret_key(instance: Path) -> str:
    """A per-instance random key, kept in the instance folder (never committed)."""
    key_file = instance / "secret_key"
    try:
        return key_file.read_text().strip()
    except FileNotFoundError:
        pass
    key = secrets.token_hex(32)
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker created it first: use theirs
        return key_file.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key
