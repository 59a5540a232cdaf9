"""Settings every deployment needs: instance folder, database URL, secret key, mail, site URL."""

from __future__ import annotations

import os
import re
import stat
import subprocess
from pathlib import Path

import pytest

from forum import create_app
from forum.config import DefaultConfig, normalise_database_url

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def clean_env(monkeypatch):
    """No FLASK_* or DATABASE_URL from the surrounding shell."""
    for name in list(os.environ):
        if name.startswith("FLASK_") or name == "DATABASE_URL":
            monkeypatch.delenv(name)
    return monkeypatch


def test_instance_folder_from_env_holds_database_search_index_mail_and_key(clean_env, tmp_path):
    instance = tmp_path / "somewhere" / "instance-a"
    clean_env.setenv("FLASK_INSTANCE_PATH", str(instance))
    app = create_app()
    assert app.instance_path == str(instance)
    assert instance.is_dir()
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{instance / 'forum.sqlite3'}"
    assert app.config["SEARCH_INDEX_DIR"] == str(instance / "search-index")
    assert app.config["MAIL_FILE_PATH"] == str(instance / "mail")
    assert app.extensions["mailman"].file_path == str(instance / "mail")
    key_file = instance / "secret_key"
    assert app.config["SECRET_KEY"] == key_file.read_text().strip()
    assert len(app.config["SECRET_KEY"]) >= 64
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_two_instances_share_no_state(clean_env, tmp_path):
    apps = []
    for name in ("one", "two"):
        clean_env.setenv("FLASK_INSTANCE_PATH", str(tmp_path / name))
        apps.append(create_app())
    first, second = apps
    for key in ("SQLALCHEMY_DATABASE_URI", "SEARCH_INDEX_DIR", "MAIL_FILE_PATH", "SECRET_KEY"):
        assert first.config[key] != second.config[key], key


def test_instance_folder_defaults_to_instance_in_the_working_directory(clean_env, tmp_path):
    clean_env.chdir(tmp_path)
    app = create_app()
    assert app.instance_path == str(tmp_path / "instance")
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'instance' / 'forum.sqlite3'}"


def test_the_generated_secret_key_is_kept(clean_env, tmp_path):
    clean_env.setenv("FLASK_INSTANCE_PATH", str(tmp_path))
    assert create_app().config["SECRET_KEY"] == create_app().config["SECRET_KEY"]


def test_flask_secret_key_is_respected_and_nothing_is_written(clean_env, tmp_path):
    clean_env.setenv("FLASK_INSTANCE_PATH", str(tmp_path))
    clean_env.setenv("FLASK_SECRET_KEY", "from-the-environment-0123456789")
    app = create_app()
    assert app.config["SECRET_KEY"] == "from-the-environment-0123456789"
    assert not (tmp_path / "secret_key").exists()


def test_search_index_dir_can_be_set(clean_env, tmp_path):
    clean_env.setenv("FLASK_INSTANCE_PATH", str(tmp_path / "instance"))
    clean_env.setenv("FLASK_SEARCH_INDEX_DIR", str(tmp_path / "elsewhere"))
    assert create_app().config["SEARCH_INDEX_DIR"] == str(tmp_path / "elsewhere")


@pytest.mark.parametrize(
    "given, expected",
    [
        ("postgres://shop:pw@db.example:5432/shop", "postgresql+psycopg://shop:pw@db.example:5432/shop"),
        ("postgresql://shop@db.example/shop", "postgresql+psycopg://shop@db.example/shop"),
        ("postgresql+psycopg://shop@db.example/shop", "postgresql+psycopg://shop@db.example/shop"),
        ("sqlite:////var/lib/shop/forum.sqlite3", "sqlite:////var/lib/shop/forum.sqlite3"),
    ],
)
def test_database_url_shortcut_is_normalised(clean_env, tmp_path, given, expected):
    clean_env.setenv("FLASK_INSTANCE_PATH", str(tmp_path))
    clean_env.setenv("DATABASE_URL", given)
    assert create_app().config["SQLALCHEMY_DATABASE_URI"] == expected
    assert normalise_database_url(given) == expected


def test_flask_sqlalchemy_database_uri_wins_over_database_url(clean_env, tmp_path):
    clean_env.setenv("FLASK_INSTANCE_PATH", str(tmp_path))
    clean_env.setenv("DATABASE_URL", "postgres://ignored@db.example/ignored")
    clean_env.setenv("FLASK_SQLALCHEMY_DATABASE_URI", "postgresql://shop@db.example/shop")
    assert create_app().config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://shop@db.example/shop"


def test_mail_settings_from_the_environment(clean_env, tmp_path):
    clean_env.setenv("FLASK_INSTANCE_PATH", str(tmp_path))
    for name, value in {
        "FLASK_MAIL_BACKEND": "smtp",
        "FLASK_MAIL_SERVER": "smtp.example.com",
        "FLASK_MAIL_PORT": "587",
        "FLASK_MAIL_USE_TLS": "true",
        "FLASK_MAIL_USERNAME": "community",
        "FLASK_MAIL_PASSWORD": "pw",
        "FLASK_MAIL_DEFAULT_SENDER": "Shop <community@shop.example>",
    }.items():
        clean_env.setenv(name, value)
    app = create_app()
    state = app.extensions["mailman"]
    assert (state.backend, state.server, state.port, state.use_tls, state.username, state.password) == (
        "smtp",
        "smtp.example.com",
        587,
        True,
        "community",
        "pw",
    )
    assert state.default_sender == "Shop <community@shop.example>"


def test_development_mail_backend_by_default():
    assert DefaultConfig.MAIL_BACKEND == "forum.mail.DevelopmentEmailBackend"


def test_site_url_is_used_for_links_in_mail(clean_env, tmp_path):
    from forum.urls import external_url

    clean_env.setenv("FLASK_INSTANCE_PATH", str(tmp_path))
    clean_env.setenv("FLASK_SITE_URL", "https://community.shop.example/")
    app = create_app()
    with app.app_context():
        assert external_url("accounts.login") == "https://community.shop.example/login"
    with app.test_request_context("/", base_url="http://10.0.0.5:8000"):
        # Behind a proxy the request's own host is an internal one: SITE_URL wins.
        assert external_url("accounts.login") == "https://community.shop.example/login"


def test_no_secret_is_committed():
    assert not hasattr(DefaultConfig, "SECRET_KEY")
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=False
    ).stdout.split()
    if not tracked:
        pytest.skip("not a git checkout")
    assert not [path for path in tracked if path.startswith("instance/") or path.endswith("secret_key")]
    assert "/instance/" in (PROJECT_ROOT / ".gitignore").read_text().split()
    assignment = re.compile(r"""(SECRET_KEY|MAIL_PASSWORD)\s*[=:]\s*["'][^"']+["']""")
    for path in tracked:
        if path.endswith(".py") and not path.startswith("tests/"):
            assert not assignment.search((PROJECT_ROOT / path).read_text(encoding="utf-8")), path
