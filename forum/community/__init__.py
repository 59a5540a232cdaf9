"""Community forums: categories, topics and replies, moderated through the one queue."""

from flask import Blueprint

bp = Blueprint("community", __name__)


def _markdown(source):
    from forum.sanitize import render_markdown

    return render_markdown(source)


def init_app(app) -> None:
    from forum.accounts import services as accounts
    from forum.accounts import suspensions
    from forum.demo import loaders

    from . import aggregates, cli, demo, services, views  # noqa: F401  (routes)

    app.config.setdefault("FORUM_TRUST_THRESHOLD", services.DEFAULT_TRUST_THRESHOLD)
    app.config.setdefault("FORUM_HOLD_LINKS_OVER", services.DEFAULT_HOLD_LINKS_OVER)
    app.config.setdefault("FORUM_TOPICS_PER_PAGE", 25)
    app.config.setdefault("FORUM_POSTS_PER_PAGE", 20)
    kind = services.register_forum_kind()
    # Topic and category counts and last activity change in the transaction that publishes or takes down.
    kind.on_transition.append(aggregates.keep_forum_aggregates)
    aggregates.register()
    try:
        services.register_forum_searchable()
    except ImportError:  # search not installed in this build: nothing to index
        pass
    app.register_blueprint(bp)
    app.add_template_global(services.held_label, "forum_held_label")
    app.add_template_filter(_markdown, "forum_markdown")
    app.cli.add_command(cli.forums_cli)
    if services.export_forum_posts not in [s for _, s in accounts.export_sections]:
        accounts.export_sections.append(("forum_posts", services.export_forum_posts))
        accounts.export_sections.append(("forum_suspensions", suspensions.export_suspensions))
        accounts.deletion_handlers.append(services.remove_posts_of_deleted_account)
        accounts.deletion_explanations.append(
            "Your forum topics and replies (published or awaiting moderation) are taken down everywhere and "
            "their text, with every earlier version, is erased. Replies others wrote in your topics go with them. "
            "Flags you raised stay counted but no longer name you, and their notes are erased."
        )
    if ("forums", demo.load_forums) not in loaders:
        loaders.append(("forums", demo.load_forums))
