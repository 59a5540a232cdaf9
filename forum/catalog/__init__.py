"""Products and reviews: pages, the public JSON API and the `flask products` commands."""

from flask import Blueprint

bp = Blueprint("catalog", __name__)
api_bp = Blueprint("api", __name__, url_prefix="/api")


def init_app(app) -> None:
    from datetime import timedelta

    from forum import demo as demo_registry
    from forum.accounts import services as accounts
    from forum.sanitize import linkify_plain_text
    from moderation.flags import enable_flags
    from moderation.transparency import register_transparency_section

    from . import (  # noqa: F401  (imported for their routes and models)
        aggregates,
        api,
        cli,
        engagement,
        extras_views,
        invitations,
        orders,
        photos,
        services,
        trust_cli,
        trust_models,
        views,
    )
    from .demo import load_catalog
    from .transparency import trust_numbers

    kind = services.register_review_kind()
    # The product's count, average and histogram change in the transaction that publishes or takes down.
    kind.on_transition.append(aggregates.keep_product_aggregates)
    aggregates.register()
    kind.on_transition.append(engagement.review_gone)
    # A "Flag" link on every published review. Unlike forum posts, a hidden review stays listed as
    # content in the queue (an unflagged hidden review must not vanish from it), so its states stay.
    queue_states = kind.queue_states
    enable_flags(kind)
    kind.queue_states = queue_states
    if engagement.decide_submission_facts not in services.submission_checks:
        services.submission_checks.append(engagement.decide_submission_facts)
        services.submission_hooks.append(engagement.attach_submitted_photos)
    for name, value in (
        ("ORDERS_WEBHOOK_SECRET", None),
        ("ORDERS_RETENTION_DAYS", orders.DEFAULT_RETENTION_DAYS),
        ("REVIEW_INVITATION_DAYS", invitations.DEFAULT_INVITATION_DAYS),
        ("REVIEW_INVITATION_MAX_LATE_DAYS", invitations.DEFAULT_INVITATION_MAX_LATE_DAYS),
        ("RATELIMIT_VOTES", "120 per hour"),
    ):
        app.config.setdefault(name, value)
    photos.init_app(app)
    # Moderators see a review's photos in the queue.
    app.add_template_global(photos.queue_photos, "item_photos")
    # Ahead of CSRF's before_request (it reads the form): the review form may carry photos.
    app.before_request_funcs.setdefault(None, []).insert(0, extras_views.allow_photo_uploads)
    app.cli.add_command(trust_cli.orders_cli)
    app.cli.add_command(trust_cli.reviews_cli)
    from forum.worker import register_job

    register_job(app, "review-invitations", invitations.send_due_invitations, timedelta(hours=1))
    register_job(app, "orders-retention", orders.purge_expired_orders, timedelta(days=1))
    register_transparency_section(trust_numbers)
    from moderation.removal import services as removal

    if orders.erase_orders_for_removal_request not in removal.personal_data_erasers:
        removal.personal_data_erasers.append(orders.erase_orders_for_removal_request)
    # Review text is plain text: escaped, with clickable links (rel="nofollow ugc noopener").
    app.add_template_filter(linkify_plain_text, "linkify_plain_text")
    app.register_blueprint(bp)
    app.register_blueprint(api_bp)
    app.cli.add_command(cli.products_cli)
    from .trust_demo import load_orders, load_review_extras

    if load_catalog not in [loader for _, loader in demo_registry.loaders]:
        demo_registry.loaders.append(("orders", load_orders))  # first: reviews of buyers are verified
        demo_registry.loaders.append(("catalog", load_catalog))
        demo_registry.loaders.append(("review extras", load_review_extras))
    if services.export_reviews not in [s for _, s in accounts.export_sections]:
        accounts.export_sections.append(("reviews", services.export_reviews))
        accounts.deletion_handlers.append(services.remove_reviews_of_deleted_account)
    if orders.export_orders not in [s for _, s in accounts.export_sections]:
        accounts.export_sections.append(("orders", orders.export_orders))
        accounts.export_sections.append(("helpful_votes", engagement.export_votes))
        accounts.deletion_handlers.append(orders.erase_orders_of_deleted_account)
        accounts.deletion_handlers.append(engagement.forget_votes_of_deleted_account)
        accounts.deletion_explanations.append(
            "Orders we received from the shop for your email address are deleted, and so are your “helpful” marks."
        )
        accounts.deletion_explanations.append(
            "Your reviews (published or awaiting moderation) are taken down everywhere and their text is erased. "
            "Our moderation log keeps only their fingerprints, never the text."
        )
