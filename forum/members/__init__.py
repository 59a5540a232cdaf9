"""Members' community layer: notifications (in-site and mail), watched topics and unread
posts, @mentions, quotes, likes and public member profiles (blueprint `members`)."""

from flask import Blueprint

bp = Blueprint("members", __name__)


def init_app(app) -> None:
    """After forum.community.init_app (it hooks the forum_post kind)."""
    from flask_login import current_user

    from forum.accounts import services as accounts
    from forum.community import services as community
    from forum.demo import loaders
    from forum.extensions import csrf
    from moderation import notify
    from moderation.kinds import KINDS

    from . import cli, demo, handles, services, views  # noqa: F401  (routes, session listener)

    kind = KINDS["forum_post"]
    if services.on_post_transition not in kind.on_transition:
        kind.on_transition.append(services.on_post_transition)
    if services.on_decision_mailed not in notify.decision_listeners:
        notify.decision_listeners.append(services.on_decision_mailed)
    if services.after_edit not in community.edit_hooks:
        community.edit_hooks.append(services.after_edit)
    # Mail programs POST the one-click unsubscribe (RFC 8058) without our CSRF token; the
    # signed token in the address is what authorises it.
    csrf.exempt(views.unsubscribe)
    app.register_blueprint(bp)
    app.cli.add_command(cli.notifications_cli)
    from datetime import timedelta

    from forum.worker import register_job

    register_job(app, "notifications-digest", services.send_daily_digests, timedelta(days=1))

    @app.context_processor
    def notification_badge():
        def count():
            if current_user.is_authenticated:
                return services.unread_count(current_user)
            return 0

        return {"unread_notifications": count}

    if services.export_member_data not in [s for _, s in accounts.export_sections]:
        accounts.export_sections.append(("community_profile", services.export_member_data))
    if ("members", demo.load_members) not in loaders:
        loaders.append(("members", demo.load_members))
