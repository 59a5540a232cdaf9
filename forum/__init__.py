"""The community platform: app factory.

`create_app()` builds a configured app; `wsgi.py` and the tests call it.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from .config import DefaultConfig, finish_config, instance_path_from_env

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

    from . import paging

    paging.init_app(app)  # first: the <int:...> converter every route uses

    from . import logs, security
    from . import mail as mail_module
    from .errors import register_error_handlers
    from .extensions import csrf, db, limiter, login_manager, mail, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    limiter.init_app(app)
    mail.init_app(app)
    login_manager.init_app(app)
    mail_module.init_app(app)  # after db: its teardown must run before the session is removed
    security.init_app(app)
    logs.init_app(app)
    register_error_handlers(app)

    from . import database

    database.init_app(app)

    from .accounts import bp as accounts_bp
    from .accounts import login as _login  # noqa: F401  (registers the user loader)
    from .main import bp as main_bp

    app.register_blueprint(main_bp)
    app.register_blueprint(accounts_bp)

    import moderation

    from . import catalog

    catalog.init_app(app)
    from moderation import flags

    from . import community

    flags.init_app(app)  # generic flags: forum posts, blog comments
    community.init_app(app)
    from . import blog

    blog.init_app(app)
    from . import search

    search.init_app(app)  # after the kinds it makes searchable
    moderation.init_app(app)
    from moderation import removal

    removal.init_app(app)  # after moderation: it adds a queue section and a badge

    from . import cli, deploy, templating

    templating.init_app(app)
    cli.init_app(app)
    deploy.init_app(app)
    return app
