"""Demo blog: posts in every state and comments in every state, made through the real services.

Loading twice changes nothing: posts are recognised by their slug.
"""

from __future__ import annotations

from sqlalchemy import select

from forum.demo import DEMO_DOMAIN, ensure_user
from forum.extensions import db
from forum.models import User
from moderation import services as moderation

from . import services
from .models import BlogPost

POSTS = [
    # (title, final state)
    ("Welcome to our community blog", "published"),
    ("How we moderate reviews, comments and forum posts", "published"),
    ("Five ways to make a USB-C cable last", "published"),
    ("Autumn sale preview (draft)", "draft"),
    ("Store opening hours over the holidays", "unpublished"),
]


def _body(fake, title: str) -> str:
    paragraphs = "\n\n".join(fake.paragraph(nb_sentences=5) for _ in range(3))
    return (
        f"{paragraphs}\n\n## What this means for you\n\n"
        f"- {fake.sentence()}\n- {fake.sentence()}\n- **{fake.sentence()}**\n\n"
        f"> {fake.sentence()}\n\n"
        "Questions? Ask in the [forums](/forums) or [read our reviews](/products)."
    )


def _member(n: int) -> User | None:
    return db.session.scalar(select(User).where(User.email == f"member{n}@{DEMO_DOMAIN}"))


def load_blog(fake):
    editor, password = ensure_user(f"editor@{DEMO_DOMAIN}", "Demo editor", "editor")
    db.session.commit()
    if password:
        yield f"Created editor: {editor.email}  password: {password}  (shown once)"
    moderator = db.session.scalar(select(User).where(User.email == f"moderator@{DEMO_DOMAIN}"))
    created = 0
    posts = []
    for title, state in POSTS:
        existing = db.session.scalar(select(BlogPost).where(BlogPost.title == title))
        if existing is not None:
            posts.append(existing)
            continue
        post = services.create_post(editor, title, _body(fake, title), publish=state != "draft")
        if state == "unpublished":
            services.unpublish_post(editor, post.id)
        posts.append(post)
        created += 1
    yield f"Blog posts: {created} created, {len(POSTS) - created} already there (published, a draft, an unpublished one)."
    if created and moderator is not None:
        yield from _load_comments(fake, posts[0], moderator)


def _load_comments(fake, post: BlogPost, moderator: User):
    """One comment in each state the moderation machine knows, on the first post."""
    members = [m for m in (_member(n) for n in range(1, 13)) if m is not None]
    if len(members) < 9:
        yield "Blog comments skipped: the demo members are missing."
        return

    def comment(member, text):
        return services.add_comment(member, post.slug, text)

    for member in members[:3]:
        approved = comment(member, fake.paragraph(nb_sentences=3))
        moderation.approve_submission("blog_comment", approved.id, moderator)
    comment(members[3], "Is the sale also on in the app? " + fake.sentence())  # stays pending
    rejected = comment(members[4], "Cheap watches at https://spam.example/watches !!!")
    moderation.reject_submission("blog_comment", rejected.id, moderator, reason="spam")
    withdrawn = comment(members[5], fake.sentence())
    services.withdraw_comment(members[5], withdrawn.id)
    hidden = comment(members[6], "My neighbour at 12 Example Road is always late with parcels.")
    moderation.approve_submission("blog_comment", hidden.id, moderator)
    flagged = _flag_until_hidden(hidden, members[7:])
    removed = comment(members[8], fake.sentence())
    moderation.approve_submission("blog_comment", removed.id, moderator)
    moderation.remove_submission("blog_comment", removed.id, moderator, reason="abusive")
    yield ("Blog comments: 3 published, 1 pending, 1 rejected, 1 withdrawn, "
           f"1 hidden ({flagged}), 1 removed.")


def _flag_until_hidden(comment, flaggers) -> str:
    """Members report the comment; enough reports hide it until a moderator decides."""
    from moderation.flags import flag_item

    for member in flaggers:
        flag_item("blog_comment", comment.id, member, "personal_information")
        db.session.refresh(comment)
        if comment.status == "hidden":
            return "after reports from members"
    return f"still {comment.status}: fewer members than the flag threshold"
