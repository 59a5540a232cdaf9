"""The community platform: app factory.

`create_app()` builds a configured app; `wsgi.py` and the tests call it.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from .config import DefaultConfig, finish_config, instance_path_from_env
from .registries import initialising

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(
        __name__,
        instance_path=instance_path_from_env(),
        instance_relative_config=True,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.config.from_object(DefaultConfig)
    app.config.from_prefixed_env()
    if test_config:
        app.config.from_mapping(test_config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    finish_config(app)

    with initialising(app):  # registries filled by the areas belong to this app
        for area in _areas():
            area.init_app(app)
    from .database import guard_cli_commands

    guard_cli_commands(app)  # last: every area's commands are registered now
    return app


def _areas() -> list:
    """Each area's one `init_app(app)`, in the order they need."""
    import moderation
    from moderation import flags, removal

    from . import (
        accounts,
        blog,
        catalog,
        cli,
        community,
        database,
        deploy,
        errors,
        extensions,
        logs,
        main,
        members,
        paging,
        search,
        security,
        speed,
        templating,
        worker,
    )
    from . import mail as mail_module

    return [
        paging,  # first: the <int:...> converter every route uses
        extensions,  # db, migrate, csrf, limiter, mail, login manager
        mail_module,  # after db: its teardown must run before the session is removed
        security,
        logs,
        errors,
        database,
        main,
        accounts,
        catalog,
        flags,  # generic flags: forum posts, blog comments
        community,
        members,  # after community: it hooks forum posts
        blog,
        search,  # after the kinds it makes searchable
        moderation,
        removal,  # after moderation: it adds a queue section and a badge
        speed,  # after the areas: stored HTML of their kinds, page cache of their pages
        worker,  # after the areas whose settings its jobs read
        templating,
        cli,
        deploy,
    ]
