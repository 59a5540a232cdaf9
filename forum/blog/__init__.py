"""The blog: staff posts in Markdown (draft, published, unpublished), an Atom
feed, and member comments that go through the one moderation queue."""

from flask import Blueprint

bp = Blueprint("blog", __name__)


def init_app(app) -> None:
    from forum import demo
    from forum.accounts import services as accounts
    from forum.sanitize import linkify_plain_text

    from . import demo as blog_demo
    from . import services, views  # noqa: F401  (routes)

    services.register_comment_kind()
    services.register_search()
    app.add_template_filter(linkify_plain_text, "linkify_plain_text")
    app.register_blueprint(bp)
    if services.export_blog_comments not in [s for _, s in accounts.export_sections]:
        accounts.export_sections.append(("blog_comments", services.export_blog_comments))
        accounts.deletion_handlers.append(services.remove_comments_of_deleted_account)
        accounts.deletion_explanations.append(
            "Your blog comments (published or awaiting moderation) are taken down and their text is erased. "
            "Blog posts you wrote as staff stay published, shown without your name."
        )
    if blog_demo.load_blog not in [loader for _, loader in demo.loaders]:
        demo.loaders.append(("blog", blog_demo.load_blog))
