"""Settings that fail safe: `flask check-deploy`, gunicorn.conf.py, mail links, request logs."""

from __future__ import annotations

import importlib.util
import io
import json
import logging
import re
import socket
import threading
from pathlib import Path

import pytest
from sqlalchemy import select

from forum import create_app
from forum.deploy import check_or_exit, deployment_checks
from forum.extensions import db
from forum.logs import redact_path
from forum.models import OutboxMessage

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SECRET = "k" * 16 + "0123456789abcdef0123456789abcdef"


class TinySMTP:
    """A socket that greets like an SMTP server and answers EHLO and QUIT (enough for open/close)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.sendall(b"220 tiny ESMTP\r\n")
                buffer = b""
                while True:
                    data = conn.recv(1024)
                    if not data:
                        break
                    buffer += data
                    while b"\r\n" in buffer:
                        line, buffer = buffer.split(b"\r\n", 1)
                        verb = line[:4].upper()
                        if verb in (b"EHLO", b"HELO"):
                            conn.sendall(b"250 tiny\r\n")
                        elif verb == b"QUIT":
                            conn.sendall(b"221 bye\r\n")
                            break
                        else:
                            conn.sendall(b"250 ok\r\n")

    def close(self):
        self.sock.close()


@pytest.fixture
def production_env(monkeypatch, database_uri, instance_path):
    """A correct production environment, except that the database may be SQLite in tests."""
    for name in list(__import__("os").environ):
        if name.startswith("FLASK_") and name != "FLASK_INSTANCE_PATH":
            monkeypatch.delenv(name)
    smtp = TinySMTP()
    values = {
        "FLASK_SECRET_KEY": SECRET,
        "FLASK_SITE_URL": "https://community.shop.example",
        "FLASK_TRUSTED_HOSTS": "community.shop.example",
        "FLASK_SESSION_COOKIE_SECURE": "true",
        "FLASK_RATELIMIT_STORAGE_URI": "memory://",
        "FLASK_MAIL_BACKEND": "smtp",
        "FLASK_MAIL_SERVER": "127.0.0.1",
        "FLASK_MAIL_PORT": str(smtp.port),
        "FLASK_MAIL_TIMEOUT": "3",
        "FLASK_SQLALCHEMY_DATABASE_URI": str(database_uri),
    }
    if str(database_uri).startswith("postgresql"):
        values["FLASK_SEARCH_BACKEND"] = "postgres"
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    yield monkeypatch
    smtp.close()


def verdicts(app) -> dict[str, bool]:
    return {check.name: check.ok for check in deployment_checks(app)}


def test_development_defaults_fail_every_production_check(runner, app):
    result = runner.invoke(args=["check-deploy"])
    assert result.exit_code == 1, result.exc_info
    for name in (
        "SECRET_KEY",
        "MAIL_BACKEND",
        "SITE_URL",
        "RATELIMIT_STORAGE_URI",
        "SESSION_COOKIE_SECURE",
        "TRUSTED_HOSTS",
        "mail server",
    ):
        assert re.search(rf"^FAIL  {re.escape(name)}:", result.output, re.M), (name, result.output)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        assert re.search(r"^FAIL  DATABASE_URL: SQLite", result.output, re.M)
    assert re.search(r"^ok    database: answers", result.output, re.M)
    assert "check(s) failed" in result.output


def test_a_correct_production_environment_passes_but_for_sqlite(production_env):
    app = create_app()
    checks = verdicts(app)
    failing = {name for name, ok in checks.items() if not ok}
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # memory:// and SQLite are what a test can offer; everything else passes.
        assert failing == {"DATABASE_URL", "RATELIMIT_STORAGE_URI"}
    else:
        assert failing == {"RATELIMIT_STORAGE_URI"}
    assert checks["mail server"] and checks["database"] and checks["rate-limit store"]


def test_whoosh_with_postgresql_and_unreachable_services_fail(production_env, tmp_path):
    production_env.setenv("FLASK_SQLALCHEMY_DATABASE_URI", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    production_env.setenv("FLASK_SEARCH_BACKEND", "whoosh")
    production_env.setenv("FLASK_MAIL_PORT", "1")  # nothing listens there
    app = create_app()
    # Nothing listens there (or the redis client is missing): either way it does not answer.
    app.config["RATELIMIT_STORAGE_URI"] = "redis://127.0.0.1:1/0"
    checks = verdicts(app)
    assert not checks["SEARCH_BACKEND"]
    assert not checks["database"]
    assert not checks["mail server"]
    assert not checks["rate-limit store"]


def _redis_listens() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _redis_listens(), reason="no Redis on 127.0.0.1:6379")
def test_with_a_shared_redis_store_only_sqlite_is_left(production_env):
    production_env.setenv("FLASK_RATELIMIT_STORAGE_URI", "redis://127.0.0.1:6379/15")
    app = create_app()
    failing = {name for name, ok in verdicts(app).items() if not ok}
    assert failing == (
        {"DATABASE_URL"} if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite") else set()
    )


@pytest.mark.parametrize(
    ("uri", "reason"),
    [
        ("memcached://127.0.0.1:1", "prerequisite not available"),  # its client package is not installed
        ("nosuchstore://127.0.0.1/", "nosuchstore"),
    ],
)
def test_a_rate_limit_store_that_cannot_be_used_is_reported_not_a_crash(production_env, uri, reason):
    """Found on 2026-12-01: FLASK_RATELIMIT_STORAGE_URI=redis://... without the redis package
    made every command, `flask check-deploy` included, end in a traceback."""
    production_env.setenv("FLASK_RATELIMIT_STORAGE_URI", uri)
    app = create_app()
    result = app.test_cli_runner().invoke(args=["check-deploy"])
    assert result.exit_code == 1
    line = next(
        (line for line in result.output.splitlines() if line.startswith("FAIL  rate-limit store")),
        result.output,
    )
    assert "cannot be used" in line and reason in line
    assert app.config["RATELIMIT_STORAGE_URI"] == uri  # reported as configured
    with pytest.raises(SystemExit):
        check_or_exit(app, io.StringIO())  # gunicorn.conf.py refuses to start


def test_secret_key_must_come_from_the_environment(production_env):
    production_env.delenv("FLASK_SECRET_KEY")
    assert not verdicts(create_app())["SECRET_KEY"]
    production_env.setenv("FLASK_SECRET_KEY", "short")
    assert not verdicts(create_app())["SECRET_KEY"]


def _gunicorn_conf():
    spec = importlib.util.spec_from_file_location("gunicorn_conf", PROJECT_ROOT / "gunicorn.conf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gunicorn_conf_refuses_to_start_unless_flask_debug(monkeypatch, instance_path):
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    conf = _gunicorn_conf()
    assert conf.workers >= 3 and "request_id" in conf.access_log_format
    with pytest.raises(SystemExit):
        conf.on_starting(server=None)
    monkeypatch.setenv("FLASK_DEBUG", "1")
    stream = io.StringIO()
    check_or_exit(create_app(), stream=stream)  # does not raise
    assert "FLASK_DEBUG is set" in stream.getvalue()


def test_gunicorn_access_log_redacts_tokens_and_query():
    conf = _gunicorn_conf()
    assert redact_path("/password-reset/Ab3_xYz-0123456789abcdefGHIJ012345678") == "/password-reset/[token]"
    assert redact_path("/forums/topics/12") == "/forums/topics/12"
    assert (
        redact_path("/blog/a-long-but-harmless-post-title-slug")
        == "/blog/a-long-but-harmless-post-title-slug"
    )

    class Cfg:
        access_log_format = conf.access_log_format
        errorlog = "-"
        accesslog = None
        loglevel = "info"
        syslog = False
        capture_output = False
        logconfig = None
        logconfig_dict = {}
        logconfig_json = None
        disable_redirect_access_to_syslog = False
        user = 0
        group = 0
        umask = 0
        env = {}

    class Resp:
        status = "200 OK"
        status_code = 200
        sent = 5
        response_length = 5
        headers = [("X-Request-ID", "abc123")]

    class Req:
        headers = []

    logger = conf.RedactingLogger.__new__(conf.RedactingLogger)
    logger.cfg = Cfg()
    import datetime

    atoms = logger.atoms(
        Resp(),
        Req(),
        {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": "/removal-request/status/Zz9_abcdefghijklmnopqrstuvwxyz0123",
            "QUERY_STRING": "token=secret",
            "RAW_URI": "/x?token=secret",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
        },
        datetime.timedelta(seconds=0.01),
    )
    line = conf.access_log_format % atoms
    assert "secret" not in line and "[token]" in line and "abc123" in line
    json.loads(line)


# --- Links in mail never carry a client's Host header ---------------------------------------


def _reset_link(app) -> str:
    message = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.subject == "Reset your password")
    ).first()
    assert message is not None
    return re.search(r"https?://\S+", message.body_text).group(0)


def test_host_header_never_reaches_a_password_reset_link_with_site_url(app_config, make_user):
    app_config["SITE_URL"] = "https://community.shop.example"
    app = create_app(app_config)
    with app.app_context():
        services_user = make_user_in(app, "jane@example.com")
        client = app.test_client()
        response = client.post(
            "/password-reset", data={"email": services_user}, headers={"Host": "evil.example"}
        )
        assert response.status_code == 200
        link = _reset_link(app)
        assert link.startswith("https://community.shop.example/password-reset/")
        assert "evil" not in link


def make_user_in(app, email):
    from forum.accounts import services

    services.register_user(email, "Jane", "correct horse battery staple")
    return email


def test_in_production_a_request_host_is_never_used_for_links(app_config):
    # Production: real mail, no SITE_URL, no TRUSTED_HOSTS (nothing listens on port 1: mail stays queued).
    app_config.update(TESTING=False, MAIL_BACKEND="smtp", MAIL_SERVER="127.0.0.1", MAIL_PORT=1)
    app = create_app(app_config)
    with app.app_context():
        make_user_in(app, "jane@example.com")
        response = app.test_client().post(
            "/password-reset", data={"email": "jane@example.com"}, headers={"Host": "evil.example"}
        )
        assert response.status_code == 200
        assert "evil.example" not in _reset_link(app)


def test_trusted_hosts_refuse_other_hosts_before_anything_is_queued(app_config):
    app_config["TRUSTED_HOSTS"] = ["community.shop.example"]
    app = create_app(app_config)
    with app.app_context():
        make_user_in(app, "jane@example.com")
        client = app.test_client()
        response = client.post(
            "/password-reset", data={"email": "jane@example.com"}, headers={"Host": "evil.example"}
        )
        assert response.status_code == 400
        assert db.session.scalar(select(OutboxMessage.id)) is None
        ok = client.post(
            "/password-reset", data={"email": "jane@example.com"}, headers={"Host": "community.shop.example"}
        )
        assert ok.status_code == 200
        assert _reset_link(app).startswith("http://community.shop.example/password-reset/")


def test_host_header_never_reaches_a_removal_confirmation_link(app_config):
    app_config["TESTING"] = False
    app_config["SITE_URL"] = "https://community.shop.example"
    app = create_app(app_config)
    with app.app_context():
        response = app.test_client().post(
            "/removal-request",
            headers={"Host": "evil.example"},
            data={
                "email": "jane@example.com",
                "links": "",
                "scope": "everything",
                "removal_kind": "whole",
                "details": "",
            },
        )
        assert response.status_code == 200, response.get_data(as_text=True)
        body = db.session.scalars(select(OutboxMessage.body_text)).first()
        assert "https://community.shop.example/removal-request/confirm/" in body
        assert "evil" not in body


# --- One structured line per request --------------------------------------------------------


def test_one_log_line_per_request_without_secrets(client, member, caplog):
    caplog.set_level(logging.INFO, logger="forum.request")
    response = client.post("/login", data={"email": member.email, "password": "correct horse battery staple"})
    assert response.status_code == 302
    request_id = response.headers["X-Request-ID"]
    lines = [r.getMessage() for r in caplog.records if r.name == "forum.request"]
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert entry == {
        "method": "POST",
        "path": "/login",
        "status": 302,
        "duration_ms": entry["duration_ms"],
        "request_id": request_id,
        "user_id": member.id,
    }
    assert "correct horse" not in caplog.text and member.email not in caplog.text
    client.get("/password-reset/Zz9_abcdefghijklmnopqrstuvwxyz0123?x=1")
    last = json.loads([r.getMessage() for r in caplog.records if r.name == "forum.request"][-1])
    assert last["path"] == "/password-reset/[token]"


def test_errors_are_logged_with_traceback_and_level_from_log_level(app_config, caplog):
    app_config["LOG_LEVEL"] = "WARNING"
    app = create_app(app_config)

    @app.route("/boom-for-test")
    def boom():
        raise RuntimeError("kaboom")

    with app.app_context():
        caplog.set_level(logging.INFO)
        response = app.test_client().get("/boom-for-test")
    assert response.status_code == 500
    assert logging.getLogger("forum").level == logging.WARNING
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors and errors[0].exc_info and "kaboom" in str(errors[0].exc_info[1])


def test_an_unmigrated_database_fails_the_check_and_healthz_says_so(production_env, tmp_path):
    """Found on 2026-12-01: check-deploy said the database answers when `flask db upgrade`
    had not run, and gunicorn then answered /healthz (and every page) with a 500."""
    empty = tmp_path / "empty.sqlite3"
    production_env.setenv("FLASK_SQLALCHEMY_DATABASE_URI", f"sqlite:///{empty}")
    production_env.setenv("FLASK_SEARCH_BACKEND", "whoosh")
    app = create_app()
    result = app.test_cli_runner().invoke(args=["check-deploy"])
    assert result.exit_code == 1
    assert re.search(
        r"^FAIL  database: answers, but its schema is at no migration .*flask db upgrade", result.output, re.M
    )
    response = app.test_client().get("/healthz", headers={"Host": "community.shop.example"})
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable", "database": "schema not up to date"}


def test_a_migrated_database_passes_with_its_revision(production_env):
    line = next(c for c in deployment_checks(create_app()) if c.name == "database")
    assert line.ok and "latest migration" in line.message
