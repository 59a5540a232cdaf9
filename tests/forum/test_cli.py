"""The command line: `flask users ...` and `flask demo`."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import func, select

from forum.accounts import services
from forum.extensions import db
from forum.models import User
from tests.conftest import STRONG_PASSWORD

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _users():
    return {u.email: u.role for u in db.session.scalars(select(User))}


def test_users_create_with_password_from_stdin(runner, app):
    result = runner.invoke(
        args=["users", "create", "Mod@Example.com", "--role", "moderator", "--password-stdin"],
        input=STRONG_PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output
    assert "Created mod@example.com (moderator)" in result.output
    assert _users() == {"mod@example.com": "moderator"}
    user = services.authenticate("mod@example.com", STRONG_PASSWORD)
    assert user.display_name == "mod"


def test_users_create_asks_for_the_password_twice_at_the_prompt(runner, app):
    result = runner.invoke(
        args=["users", "create", "admin@example.com", "--role", "admin", "--display-name", "The Admin"],
        input=f"{STRONG_PASSWORD}\n{STRONG_PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert "Password:" in result.output and "Repeat for confirmation:" in result.output
    assert STRONG_PASSWORD not in result.output  # hidden input is not echoed
    assert services.authenticate("admin@example.com", STRONG_PASSWORD).display_name == "The Admin"


def test_users_create_prompt_mismatch_creates_nothing(runner, app):
    result = runner.invoke(
        args=["users", "create", "x@example.com"], input=f"{STRONG_PASSWORD}\nsomething else\n"
    )
    assert result.exit_code != 0
    assert "do not match" in result.output
    assert _users() == {}


@pytest.mark.parametrize(
    "password, message",
    [("password", "too common"), ("short", "at least 8"), ("", "at least 8"), ("aaaaaaaaaa", "more variety")],
)
def test_users_create_refuses_a_weak_password(runner, app, password, message):
    result = runner.invoke(
        args=["users", "create", "weak@example.com", "--password-stdin"], input=password + "\n"
    )
    assert result.exit_code == 1
    assert "Error: password:" in result.output and message in result.output
    assert _users() == {}


def test_users_create_refuses_bad_email_duplicate_and_unknown_role(runner, app, member):
    bad = runner.invoke(
        args=["users", "create", "not an email", "--password-stdin"], input=STRONG_PASSWORD + "\n"
    )
    assert bad.exit_code == 1 and "valid email address" in bad.output
    duplicate = runner.invoke(
        args=["users", "create", member.email.upper(), "--password-stdin"], input=STRONG_PASSWORD + "\n"
    )
    assert duplicate.exit_code == 1 and "already exists" in duplicate.output
    role = runner.invoke(
        args=["users", "create", "r@example.com", "--role", "king", "--password-stdin"], input="x\n"
    )
    assert role.exit_code == 2 and "'king' is not one of" in role.output
    assert _users() == {member.email: "member"}


def test_users_set_role_and_list(runner, app, member, client):
    result = runner.invoke(args=["users", "set-role", "MEMBER@example.com", "moderator"])
    assert result.exit_code == 0, result.output
    assert "member@example.com is now moderator." in result.output
    db.session.expire_all()
    assert db.session.get(User, member.id).role == "moderator"

    missing = runner.invoke(args=["users", "set-role", "nobody@example.com", "admin"])
    assert missing.exit_code == 1 and "No account with email nobody@example.com" in missing.output
    wrong_role = runner.invoke(args=["users", "set-role", member.email, "owner"])
    assert wrong_role.exit_code == 2

    listing = runner.invoke(args=["users", "list"])
    assert listing.exit_code == 0
    assert re.search(rf"\s{member.id}\s+moderator\s+member@example.com\s+Mia Member", listing.output)


def test_users_list_when_empty(runner, app):
    result = runner.invoke(args=["users", "list"])
    assert result.exit_code == 0 and "No accounts yet." in result.output


def _row_counts() -> dict[str, int]:
    counts = {}
    for table in db.metadata.sorted_tables:
        counts[table.name] = db.session.scalar(select(func.count()).select_from(table))
    return counts


def test_demo_no_serve_twice_no_failure_no_duplicates_passwords_once(runner, app, sent_mail):
    app.logger.info("the app logger exists before the migrations run")
    first = runner.invoke(args=["demo", "--no-serve"])
    # Alembic's logging set-up must not silence the app's error log.
    assert not app.logger.disabled
    assert first.exit_code == 0, first.output
    db.session.expire_all()
    after_first = _row_counts()
    assert after_first["user_account"] >= 26
    passwords = dict(
        re.findall(r"^\s+(admin|moderator)\s+\S+@demo\.shop\.example\s+password: (\S+)$", first.output, re.M)
    )
    assert set(passwords) == {"admin", "moderator"}
    assert "shown only this once" in first.output
    assert first.output.rstrip().endswith("Start the site with `flask demo` (or `flask run`).")

    second = runner.invoke(args=["demo", "--no-serve"])
    assert second.exit_code == 0, second.output
    assert "password:" not in second.output
    assert "already there" in second.output
    db.session.expire_all()
    assert _row_counts() == after_first

    # The printed passwords work, and give the printed roles.
    for role, password in passwords.items():
        assert services.authenticate(f"{role}@demo.shop.example", password).role == role


def test_demo_hides_a_database_password(runner, app, monkeypatch):
    from forum import cli

    monkeypatch.setitem(
        app.config, "SQLALCHEMY_DATABASE_URI", "postgresql+psycopg://shop:s3cret@db.internal/shop"
    )
    monkeypatch.setattr("flask_migrate.upgrade", lambda **kw: None)
    monkeypatch.setattr("forum.demo.load_demo_data", lambda **kw: iter(["Demo data is ready."]))
    result = runner.invoke(cli.demo, ["--no-serve"])
    assert result.exit_code == 0, result.output
    assert "s3cret" not in result.output
    assert "Database: postgresql+psycopg://shop:***@db.internal/shop" in result.output


def test_demo_help_offers_no_serve_and_port(runner):
    result = runner.invoke(args=["demo", "--help"])
    assert result.exit_code == 0
    assert "--no-serve" in result.output and "--port" in result.output


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.skipif(
    bool(os.environ.get("TEST_DATABASE_URL")),
    reason="the README's demo runs on SQLite: the SQLite run covers it",
)
def test_flask_demo_serves_the_site_on_the_chosen_port(tmp_path):
    """`flask demo --port N` as a newcomer runs it: a real process, a fresh instance folder."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "DATABASE_URL"))}
    env.update(
        FLASK_INSTANCE_PATH=str(tmp_path / "instance"),
        FLASK_PASSWORD_HASH_METHOD="pbkdf2:sha256:1000",
        PYTHONUNBUFFERED="1",
    )
    log = tmp_path / "demo.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "flask", "demo", "--port", str(port)],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                    assert response.status == 200
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"flask demo did not serve:\n{log.read_text()}")
                time.sleep(0.2)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
            assert "Latest reviews" in response.read().decode()
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    output = log.read_text()
    assert "Content-Type:" not in output  # the demo's own notifications are saved, not printed
    assert f"Serving the site on http://127.0.0.1:{port}/" in output
    assert (tmp_path / "instance" / "forum.sqlite3").exists()
    assert "Mail is not sent anywhere" in output and str(tmp_path / "instance" / "mail") in output
    # Links in the demo's own mail point at the port it serves on.
    for message in (tmp_path / "instance" / "mail").glob("*.eml"):
        own_links = re.findall(r"http://127\.0\.0\.1[^/\s]*/", message.read_text())
        assert set(own_links) <= {f"http://127.0.0.1:{port}/"}, message.name
