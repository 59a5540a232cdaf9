"""Products and reviews: pages, the public JSON API and the `flask products` commands."""

from flask import Blueprint

bp = Blueprint("catalog", __name__)
api_bp = Blueprint("api", __name__, url_prefix="/api")


def init_app(app) -> None:
    from forum import demo as demo_registry
    from forum.accounts import services as accounts
    from forum.sanitize import linkify_plain_text

    from . import aggregates, api, cli, services, views  # noqa: F401  (routes)
    from .demo import load_catalog

    kind = services.register_review_kind()
    # The product's count, average and histogram change in the transaction that publishes or takes down.
    kind.on_transition.append(aggregates.keep_product_aggregates)
    aggregates.register()
    # Review text is plain text: escaped, with clickable links (rel="nofollow ugc noopener").
    app.add_template_filter(linkify_plain_text, "linkify_plain_text")
    app.register_blueprint(bp)
    app.register_blueprint(api_bp)
    app.cli.add_command(cli.products_cli)
    if load_catalog not in [loader for _, loader in demo_registry.loaders]:
        demo_registry.loaders.append(("catalog", load_catalog))
    if services.export_reviews not in [s for _, s in accounts.export_sections]:
        accounts.export_sections.append(("reviews", services.export_reviews))
        accounts.deletion_handlers.append(services.remove_reviews_of_deleted_account)
        accounts.deletion_explanations.append(
            "Your reviews (published or awaiting moderation) are taken down everywhere and their text is erased. "
            "Our moderation log keeps only their fingerprints, never the text."
        )
