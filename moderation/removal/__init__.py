"""Removal requests: anyone asks us to remove content or personal information,
confirms their address, and moderators decide each item with a stated reason."""

from flask import Blueprint

bp = Blueprint("removal", __name__)

DEFAULTS = {
    "RATELIMIT_REMOVAL_IP": "5 per hour;20 per day",
    "RATELIMIT_REMOVAL_EMAIL": "3 per hour;10 per day",
    "REMOVAL_CONFIRM_HOURS": 48,
    "REMOVAL_RESPONSE_DAYS": 30,
    "REMOVAL_MAX_EXTENSION_DAYS": 60,
    # Closed requests keep their email and free text this long, then only the reference,
    # dates and decisions (flask worker's job "removal-retention").
    "REMOVAL_RETENTION_DAYS": 365,
    "REMOVAL_COMPLAINT_CONTACT": (
        "If you disagree with our decision, write to our data protection officer at privacy@shop.example, "
        "quoting your reference."
    ),
    "REMOVAL_SUPERVISORY_AUTHORITY": (
        "You also have the right to lodge a complaint with the data protection supervisory authority "
        "of the country where you live or work."
    ),
}


def init_app(app) -> None:
    from moderation.kinds import register_queue_section

    from . import cli, services, views  # noqa: F401  (routes)

    for name, value in DEFAULTS.items():
        app.config.setdefault(name, value)
    app.register_blueprint(bp)
    app.cli.add_command(cli.removal_cli)
    register_queue_section(views.queue_section, services.desk_count)
    from forum import demo

    from .demo import load_removal_requests

    if load_removal_requests not in [loader for _, loader in demo.loaders]:
        demo.loaders.append(("removal requests", load_removal_requests))
    _register_transparency()


def _register_transparency() -> None:
    from moderation.transparency import register_transparency_section

    from .views import transparency_section

    register_transparency_section(transparency_section)
