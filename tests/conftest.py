"""Fixtures: a migrated database per test, the app, clients and users.

The schema is built once per run through the real migrations. Each test then
starts clean: on SQLite it gets a fresh copy of the migrated file, on
PostgreSQL (TEST_DATABASE_URL) every table is truncated.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from forum import create_app
from forum.config import normalise_database_url
from forum.extensions import db

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
STRONG_PASSWORD = "correct horse battery staple"
TEST_DATA = Path(__file__).resolve().parent / "data"


def _base_config(instance: Path, database_uri: str) -> dict:
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-not-for-production",
        "SQLALCHEMY_DATABASE_URI": database_uri,
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        "MAIL_BACKEND": "locmem",
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        "SERVER_NAME": None,
        "SEARCH_INDEX_DIR": str(instance / "search-index"),
        "MAIL_FILE_PATH": str(instance / "mail"),
        # The worker's own outbox drains run at the end of each app context that committed
        # rows, so tests read the mail and search results a request caused. Tests of the
        # worker itself turn this off (requests then only enqueue, as in production).
        "WORKER_INLINE": True,
        "WORKER_IN_PROCESS": False,
    }


def _migrate(database_uri: str, instance: Path) -> None:
    from flask_migrate import upgrade

    app = create_app(_base_config(instance, database_uri))
    with app.app_context():
        upgrade(revision="heads")
        db.engine.dispose()


@pytest.fixture(scope="session")
def migrated_database(tmp_path_factory):
    """The URL of a migrated database; for SQLite, a template file to copy."""
    instance = tmp_path_factory.mktemp("migrate-instance")
    if TEST_DATABASE_URL:
        url = normalise_database_url(TEST_DATABASE_URL)
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
        _migrate(url, instance)
        return url
    template = tmp_path_factory.mktemp("db-template") / "template.sqlite3"
    _migrate(f"sqlite:///{template}", instance)
    return template


# Emptying every table with TRUNCATE costs a new file per table (up to 0.8 s per test);
# most tests touch a few small tables, so a function that DELETEs only from tables that
# have rows (foreign keys and triggers off for the session) and restarts the sequences
# that were used is an order of magnitude cheaper. Installed once per run.
_RESET_FUNCTION = """
CREATE OR REPLACE FUNCTION reset_for_tests() RETURNS void AS $$
DECLARE
    item record;
    has_rows boolean;
BEGIN
    SET LOCAL session_replication_role = replica;
    FOR item IN SELECT tablename FROM pg_tables
                WHERE schemaname = 'public' AND tablename <> 'alembic_version' LOOP
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM public.%I)', item.tablename) INTO has_rows;
        IF has_rows THEN
            EXECUTE format('DELETE FROM public.%I', item.tablename);
        END IF;
    END LOOP;
    FOR item IN SELECT sequencename FROM pg_sequences
                WHERE schemaname = 'public' AND last_value IS NOT NULL LOOP
        EXECUTE format('ALTER SEQUENCE public.%I RESTART', item.sequencename);
    END LOOP;
END
$$ LANGUAGE plpgsql
"""


@pytest.fixture(scope="session")
def _postgres_reset_engine(migrated_database):
    engine = create_engine(migrated_database, poolclass=NullPool)
    with engine.begin() as conn:
        conn.execute(text(_RESET_FUNCTION))
    yield engine
    engine.dispose()


def _empty_all_tables(engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("SELECT reset_for_tests()"))


@pytest.fixture
def database_uri(migrated_database, tmp_path, request):
    if TEST_DATABASE_URL:
        _empty_all_tables(request.getfixturevalue("_postgres_reset_engine"))
        return migrated_database
    target = tmp_path / "test.sqlite3"
    shutil.copyfile(migrated_database, target)
    return f"sqlite:///{target}"


@pytest.fixture
def instance_path(tmp_path, monkeypatch):
    instance = tmp_path / "instance"
    instance.mkdir()
    monkeypatch.setenv("FLASK_INSTANCE_PATH", str(instance))
    return instance


@pytest.fixture
def app_config(instance_path, database_uri):
    """Tests may change this dict before the `app` fixture is first used."""
    return _base_config(instance_path, database_uri)


class FreshContextClient(FlaskClient):
    """Each request gets its own app context, as in a real server.

    The test itself holds an app context for service calls; without this, the
    requests would share its `g` and its database session.
    """

    def open(self, *args, **kwargs):
        with self.application.app_context():
            return super().open(*args, **kwargs)


@pytest.fixture
def app(app_config):
    app = create_app(app_config)
    app.test_client_class = FreshContextClient
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def make_user(app):
    from forum.accounts import services

    counter = iter(range(1, 10_000))

    def make(
        role: str = "member",
        email: str | None = None,
        display_name: str | None = None,
        password: str = STRONG_PASSWORD,
    ):
        n = next(counter)
        return services.register_user(
            email or f"{role}{n}@example.com",
            display_name or f"{role.title()} {n}",
            password,
            role=role,
        )

    return make


@pytest.fixture
def member(make_user):
    return make_user("member", email="member@example.com", display_name="Mia Member")


@pytest.fixture
def moderator(make_user):
    return make_user("moderator", email="moderator@example.com", display_name="Mo Derator")


@pytest.fixture
def admin(make_user):
    return make_user("admin", email="admin@example.com", display_name="Ada Admin")


def login(client, email: str, password: str = STRONG_PASSWORD):
    return client.post("/login", data={"email": email, "password": password})


@pytest.fixture
def login_as(client):
    def do(user, password: str = STRONG_PASSWORD):
        response = login(client, user.email, password)
        assert response.status_code == 302, response.get_data(as_text=True)
        return client

    return do


@pytest.fixture
def sent_mail(app):
    """Messages delivered through the locmem backend during the test."""
    state = app.extensions["mailman"]
    state.outbox = []
    return state.outbox


# Strings whose storage or comparison can differ between databases: control
# characters (NUL), astral characters, zero-width and bidirectional marks, very long
# text, whitespace only.
_DATABASE_SENSITIVE = re.compile(
    r"[\x00-\x08\u200b-\u200f\u202a-\u202e\ufeff\U00010000-\U0010ffff]|^\s*$|.{200}", re.S
)
# A form sees one string in NAUGHTY_STRIDE of the list (besides the database-sensitive ones).
NAUGHTY_STRIDE = {"sqlite": 3, "postgresql": 5}


def naughty_strings(form: str | None = None) -> list[str]:
    """The Big List of Naughty Strings (tests/data/blns, MIT), whole or a share for one form.

    Without `form`: the whole list, for tests of what every form goes through (the
    sanitiser, text checks), which cost little per string. With `form`, the name of the
    form or field under test: every database-sensitive string plus one in
    NAUGHTY_STRIDE of the others, from an offset taken from the form's name and the
    database. The list is ordered by class (reserved words, numbers, control characters,
    Unicode, script injection, SQL injection, ...), so each form still sees every class,
    while different forms and the two databases see different strings: together they
    cover the list, and no form pays the whole list on every run.
    """
    import json
    import zlib

    strings = json.loads((TEST_DATA / "blns" / "blns.json").read_text(encoding="utf-8"))
    if form is None:
        return strings
    database = "postgresql" if TEST_DATABASE_URL else "sqlite"
    stride = NAUGHTY_STRIDE[database]
    offset = zlib.crc32(f"{form}:{database}".encode()) % stride
    return [s for n, s in enumerate(strings) if n % stride == offset or _DATABASE_SENSITIVE.search(s)]


def csrf_token_from(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html
    )
    assert match, "no CSRF token in page"
    return match.group(1)
