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

# (title, final state, body in Markdown): written for our shop, no placeholder text.
POSTS = [
    (
        "Welcome to our community blog",
        "published",
        """\
We have sold cables, adapters, monitors and audio gear for a long time, and the questions we hear most are
the same ones you ask each other: *which cable do I need for my laptop?*, *will this hub drive two screens?*,
*are these headphones comfortable with glasses?* This blog, the forums and the product reviews are where
those answers now live, in the open, for the next person who wonders.

## What you will find here

- **Buying guides** from our support team, written after the hundredth phone call about the same thing.
- **Behind the counter** posts: how we test returns, what we learned from a batch of faulty adapters, why
  some products leave our range.
- **How the community works**, including exactly how we moderate, so nothing about it is a mystery.

## Join in

Anyone can read everything. With a free account you can [review what you bought](/products),
[ask or answer in the forums](/forums) and comment here. Comments are read by a moderator before they
appear; most are published within a day.

> The best review we ever received was two stars and completely right. We changed supplier because of it.

Thank you for being here.
""",
    ),
    (
        "How we moderate reviews, comments and forum posts",
        "published",
        """\
People trust reviews only if they know nobody has tidied them up. So here is exactly what our moderators
can and cannot do, and what happens to what you write.

## We approve or reject. We never edit.

A moderator sees your review, comment or post exactly as you wrote it and has two buttons: approve or
reject. There is no edit button, for them or for anyone else. Once published, a review's title, text and
star rating never change: each one carries a **fingerprint** (a SHA-256 of its title and text) that you can
check yourself from the review's page.

## Your rating is never a reason

We reject only for reasons about the content, and the list is short:

1. Spam or advertising
2. Not about the product or topic
3. Contains personal information
4. Abusive, harassing or obscene
5. Discriminatory
6. Clearly false or fake
7. Illegal or confidential

"Negative", "one star" or "unfair to us" are not on the list, and our software has no way to reject a
review because of its rating. A one-star review about the product is published like a five-star one.
When we reject something, you receive an email with the reason and, often, a note from the moderator.

## What waits for a moderator

- **Reviews** are all read before they appear. If you review the same product again, your new review
  replaces the earlier one once it is approved; until then the earlier one stays up.
- **Blog comments** are all read before they appear.
- **Forum posts** from members with at least three published forum posts appear at once. Posts from newer
  members wait for a moderator, and so do posts from not-yet-trusted members with more than two links.
  Edits are kept: moderators can see every earlier version.

## Flags

If something published breaks the rules, flag it and say why. When three members have flagged the same
post or comment, it is hidden until a moderator decides: keep it (published again) or remove it, with a
reason the author is told.

## Removal requests

Anyone, member or not, can [ask us to remove content or personal information](/removal-request). You confirm
your email address, and we answer within 30 days. If we need longer we tell you why,
and never take more than 60 extra days. If we refuse an item, we always say why, and how you can complain.

## Gone means gone

Removed or rejected content disappears at once from every page, list, average, feed and search result, and
the text of removed content is erased. Every decision is written to a tamper-evident moderation log that
records who decided, when and why, but not the text itself. The numbers are public on our
[transparency page](/transparency).

Questions about a decision? Ask in the [forums](/forums): moderators read there too.
""",
    ),
    (
        "Five ways to make a USB-C cable last",
        "published",
        """\
Most cables we see come back for the same reason: the last centimetre next to the plug gave up. A few habits
make a cable last years instead of months.

1. **Pull the plug, not the cable.** Tugging the cord strains the joint inside the plug housing.
2. **Loop it loosely.** Wrap it in loose loops the size of your hand; tight wraps round a charger fold the
   wires at the same spot every day.
3. **Keep the bend away from the plug.** A cable that leaves your laptop straight down onto a desk edge is
   bent at its weakest point. A short right-angle adapter or a different port often fixes it.
4. **Buy the right rating once.** A 60 W cable on a 100 W laptop charger gets warm and charges slowly. For
   laptops above 60 W, choose a 240 W (or at least 100 W) cable with an e-marker chip.
5. **Clean the port.** Pocket lint in a phone's port stops the plug seating fully, so it wobbles and wears.
   A wooden toothpick, gently, with the phone off.

## Which cable for what?

| You want to... | Choose |
| --- | --- |
| Charge a phone | USB-C to USB-C, 1 m, 60 W |
| Charge a laptop over 60 W | USB-C, 240 W with e-marker |
| Connect a monitor over USB-C | USB4 or Thunderbolt-rated cable |

Still not sure? Ask in the [forums](/forums): there is always someone who has the same laptop.
""",
    ),
    (
        "Autumn sale preview (draft)",
        "draft",
        """\
Our autumn sale starts on the first Monday of October and runs for a week.

- Up to 30% off monitors, including the 27" QHD model.
- Two cables for the price of one on every braided USB-C cable.

*Prices to be confirmed by the buying team before publishing.*
""",
    ),
    (
        "Store opening hours over the holidays",
        "unpublished",
        """\
Our support line and warehouse close from 24 to 26 December and on 1 January. Orders placed in between
ship on the next working day. The community stays open throughout; moderation may take a little longer.
""",
    ),
]

COMMENTS_PUBLISHED = [
    "Great to have a place for this. I spent an hour last week working out which hub my laptop needs.",
    "Will there be a post on monitor arms? Mine sags after a month and I am not sure it is the arm or the screen.",
    "Nice that moderators cannot edit reviews. That is the first thing I wonder about on any shop site.",
]


def _member(n: int) -> User | None:
    return db.session.scalar(select(User).where(User.email == f"member{n}@{DEMO_DOMAIN}"))


def load_blog(rng):
    editor, password = ensure_user(f"editor@{DEMO_DOMAIN}", "Demo editor", "editor")
    db.session.commit()
    if password:
        yield f"Created editor: {editor.email}  password: {password}  (shown once)"
    moderator = db.session.scalar(select(User).where(User.email == f"moderator@{DEMO_DOMAIN}"))
    created = 0
    posts = []
    for title, state, body in POSTS:
        existing = db.session.scalar(select(BlogPost).where(BlogPost.title == title))
        if existing is not None:
            posts.append(existing)
            continue
        post = services.create_post(editor, title, body, publish=state != "draft")
        if state == "unpublished":
            services.unpublish_post(editor, post.id)
        posts.append(post)
        created += 1
    yield f"Blog posts: {created} created, {len(POSTS) - created} already there (published, a draft, an unpublished one)."
    if created and moderator is not None:
        yield from _load_comments(rng, posts[0], moderator)


def _load_comments(rng, post: BlogPost, moderator: User):
    """One comment in each state the moderation machine knows, on the first post."""
    members = [m for m in (_member(n) for n in range(1, 13)) if m is not None]
    if len(members) < 9:
        yield "Blog comments skipped: the demo members are missing."
        return

    def comment(member, text):
        return services.add_comment(member, post.slug, text)

    for member, text in zip(members[:3], COMMENTS_PUBLISHED):
        approved = comment(member, text)
        moderation.approve_submission("blog_comment", approved.id, moderator)
    comment(
        members[3], "Is the forum also going to cover audio? I have questions about DACs."
    )  # stays pending
    rejected = comment(members[4], "Cheap watches at https://spam.example/watches !!!")
    moderation.reject_submission("blog_comment", rejected.id, moderator, reason="spam")
    withdrawn = comment(members[5], "Oops, posted this under the wrong post. Ignore me.")
    services.withdraw_comment(members[5], withdrawn.id)
    hidden = comment(members[6], "My neighbour at 12 Example Road is always late with parcels.")
    moderation.approve_submission("blog_comment", hidden.id, moderator)
    flagged = _flag_until_hidden(hidden, members[7:])
    removed = comment(members[8], "Whoever wrote this is an idiot and so is everyone who agrees.")
    moderation.approve_submission("blog_comment", removed.id, moderator)
    moderation.remove_submission("blog_comment", removed.id, moderator, reason="abusive")
    yield (
        f"Blog comments: 3 published, 1 pending, 1 rejected, 1 withdrawn, 1 hidden ({flagged}), 1 removed."
    )


def _flag_until_hidden(comment, flaggers) -> str:
    """Members report the comment; enough reports hide it until a moderator decides."""
    from moderation.flags import flag_item

    for member in flaggers:
        flag_item("blog_comment", comment.id, member, "personal_information")
        db.session.refresh(comment)
        if comment.status == "hidden":
            return "after reports from members"
    return f"still {comment.status}: fewer members than the flag threshold"
