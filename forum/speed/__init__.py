"""Speed without staleness: stored HTML, kept aggregates, a page cache and conditional requests.

- `rendered`: user text rendered once per item, revision and sanitiser policy.
- `counters`: the registry behind `flask recount` (areas keep their own aggregates).
- `pagecache`: whole pages for anonymous visitors, keyed by per-area tokens that
  the changing transactions replace; ETag/304 and Cache-Control on public pages.
"""

from __future__ import annotations


def init_app(app) -> None:
    """Call after the areas' init_app (it describes their kinds)."""
    from moderation.kinds import KINDS

    from . import cli, pagecache, rendered

    kinds = [
        ("review", rendered.PLAIN),
        ("forum_post", rendered.MARKDOWN),
        ("blog_comment", rendered.PLAIN),
    ]
    for name, mode in kinds:
        if name in KINDS:
            rendered.register_rendered(rendered.RenderedKind(name, KINDS[name].model, mode), KINDS[name])
    try:
        from forum.blog.models import BlogPost
    except ImportError:  # pragma: no cover - blog not installed
        BlogPost = None  # type: ignore[misc, assignment]
    if BlogPost is not None:
        rendered.register_rendered(
            rendered.RenderedKind("blog_post", BlogPost, rendered.MARKDOWN, public_states=("published",))
        )
    app.add_template_filter(rendered.stored_html_filter, "stored_html")
    app.cli.add_command(cli.recount)
    from datetime import timedelta

    from forum.worker import register_job

    # Corrects and logs any drift of the kept counts (it should always find none).
    register_job(app, "recount", cli.run_recount, timedelta(days=1))
    pagecache.init_app(app)
