"""Demo forums: categories with topics and replies in every state, made through the real services.

Published posts (trusted members, staff, held posts a moderator approved), posts awaiting moderation
from new members, a rejected one, one hidden after flags, one removed by a moderator, one deleted by its
author, an edited one, a pinned and a locked topic, and flags still open. Loading twice changes nothing:
the forums are recognised by their first category.
"""

from __future__ import annotations

from sqlalchemy import select

from forum.demo import DEMO_DOMAIN
from forum.extensions import db
from forum.models import User
from moderation import flags
from moderation import services as moderation

from . import services
from .models import ForumCategory

CATEGORIES = [
    ("Cables & adapters", "USB-C, HDMI, DisplayPort and every adapter in between."),
    ("Monitors & displays", "Choosing, setting up and calibrating screens."),
    ("Audio", "Headphones, speakers, DACs and microphones."),
    (
        "Orders & delivery",
        "Questions about orders, returns and delivery. Never post your order number or address.",
    ),
    ("Site feedback", "Tell us what works and what does not on this site."),
]

# (category index, title, opening text) of topics started by trusted members.
TOPICS = [
    (
        0,
        "Which USB-C cable actually does 100 W?",
        'I bought two "100 W" cables and my laptop only charges at 60 W with one of them.\n\n'
        "Is there a way to tell them apart? The packaging says nothing about **e-marker** chips.",
    ),
    (
        0,
        "HDMI 2.1 adapter for a 4K 120 Hz TV",
        "Looking for an adapter from USB-C to HDMI 2.1 that really does 4K at 120 Hz.\n\n"
        "- Laptop: USB4 port\n- TV: 2023 model\n\nAny experiences?",
    ),
    (
        1,
        "Colour calibration without a colorimeter?",
        "Is it worth trying the built-in calibration of the OS, or should I borrow a colorimeter?",
    ),
    (
        1,
        '27" 4K or 32" 4K for coding?',
        "I sit about 70 cm from the screen. Text clarity matters most to me.",
    ),
    (
        2,
        "Wired headphones recommendations under 100",
        "I want something comfortable for long sessions. Open-back is fine, I work from home.",
    ),
    (2, "Crackling sound from USB DAC", "The DAC crackles when the laptop is on battery. Ground loop?"),
    (
        3,
        "How long do returns take to be refunded?",
        "I sent a return last week. How long does the refund usually take?",
    ),
    (
        4,
        "Dark mode for the site, please",
        "Reading the forums at night would be so much nicer with a dark theme.",
    ),
]


def _members(first: int, last: int) -> list[User]:
    emails = [f"member{n}@{DEMO_DOMAIN}" for n in range(first, last + 1)]
    found = {u.email: u for u in db.session.scalars(select(User).where(User.email.in_(emails)))}
    return [found[e] for e in emails if e in found]


def _staff(role: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == f"{role}@{DEMO_DOMAIN}"))


FIRST_POSTS = [
    (
        "Hello from a new {thing} owner",
        "Just bought a {thing} and found this forum. Any tips for a beginner?",
    ),
    (
        "Is the {thing} worth it?",
        "I am torn between the {thing} and a cheaper one. What made you choose yours?",
    ),
    (
        "{thing}: firmware update broke something?",
        "Since the last update my {thing} disconnects every few minutes.",
    ),
    ("Best settings for the {thing}", "What settings do you use? The defaults feel a bit off to me."),
    ("{thing} stopped working after a month", "It just stopped. Is this covered by the warranty?"),
    ("Travel case for the {thing}?", "Looking for a sturdy case. Which one fits well?"),
]
THINGS = [
    "USB-C hub",
    "27-inch monitor",
    "HDMI switch",
    "DisplayPort cable",
    "studio headphones",
    "USB microphone",
    "docking station",
    "portable SSD",
    "soundbar",
    "webcam",
]
REPLIES = [
    "I had the same problem. A different cable fixed it for me.",
    "Check the firmware version first; the latest one fixed this for several people.",
    "Mine has been fine for a year. I use it every day.",
    "Try another port: the front ports on my PC give less power.",
    "The manual is online and explains this on page 12.",
    "I returned mine and got the newer model; no regrets.",
    "+1, following this thread.",
    "Worth every penny in my experience, **especially** for long sessions.",
    "Support replied within a day when I asked them the same thing.",
    "Make sure the cable is rated for the speed you need, otherwise it falls back silently.",
]


def _paragraph(rng) -> str:
    return " ".join(rng.sample(REPLIES, rng.randint(1, 3)))


def _first_post(rng) -> tuple[str, str]:
    title, body = rng.choice(FIRST_POSTS)
    thing = rng.choice(THINGS)
    title = title.format(thing=thing)
    return title[0].upper() + title[1:], body.format(thing=thing)


def load_forums(rng):
    first_name = CATEGORIES[0][0]
    if db.session.scalar(select(ForumCategory).where(ForumCategory.name == first_name)) is not None:
        yield "Forums already there (categories, topics and replies in every state)."
        return
    moderator, admin = _staff("moderator"), _staff("admin")
    members = _members(13, 24)
    if moderator is None or admin is None or len(members) < 12:
        yield "Forums skipped: the demo staff and members are missing."
        return
    categories = [
        services.add_category(name, description, position=n + 1)
        for n, (name, description) in enumerate(CATEGORIES)
    ]
    trusted, newcomers, flaggers = members[:4], members[4:8], members[8:12]

    # Staff post at once: a pinned welcome topic.
    welcome = services.create_topic(
        admin,
        categories[4],
        "Welcome to the forums: how they work",
        "Be kind, stay on topic and never post personal information.\n\n"
        "The first posts of new members are checked by a moderator before they appear. "
        "Anyone can flag a post; several flags hide it until a moderator decides.",
    )
    services.set_pinned(moderator, welcome.id, True)

    # Trusted members: a moderator approved their first posts, the rest publish at once.
    for member in trusted:
        for _ in range(services.trust_threshold()):
            title, body = _first_post(rng)
            first = services.create_topic(member, categories[rng.randint(0, 3)], title, body)
            moderation.approve_submission("forum_post", first.opening.id, moderator)
    topics = []
    for n, (index, title, body) in enumerate(TOPICS):
        author = trusted[n % len(trusted)]
        topic = services.create_topic(author, categories[index], title, body)
        for k in range(rng.randint(1, 4)):
            services.create_reply(trusted[(n + k + 1) % len(trusted)], topic.id, _paragraph(rng))
        topics.append(topic)
    services.create_reply(
        moderator, topics[0].id, "Look for cables rated **5 A**: only those carry the chip for 100 W."
    )
    services.edit_post(
        trusted[0],
        topics[0].opening.id,
        topics[0].opening.title,
        topics[0].opening.body + "\n\n*Edit:* the 60 W one has no e-marker, thanks all!",
    )
    services.set_locked(moderator, topics[6].id, True)

    # New members: held in the queue; one of each other outcome.
    services.create_topic(
        newcomers[0],
        categories[0],
        "Does the braided cable fit the old dock?",
        "The plug on my dock is recessed. Will the braided cable's thicker plug fit?",
    )
    services.create_reply(newcomers[1], topics[2].id, "Following, I have the same question about my laptop.")
    services.create_reply(
        newcomers[2],
        topics[1].id,
        "Great deals here: [one](https://deals.example.com/a) [two](https://deals.example.com/b) "
        "[three](https://deals.example.com/c)",
    )  # held: more than 2 links
    approved = services.create_topic(
        newcomers[3],
        categories[2],
        "First post: hello from a new member",
        "Long-time reader, first post. " + _paragraph(rng),
    )
    moderation.approve_submission("forum_post", approved.opening.id, moderator)
    rejected = services.create_reply(
        newcomers[0], topics[4].id, "Buy followers cheap at followers.example.com!!!"
    )
    moderation.reject_submission(
        "forum_post", rejected.id, moderator, reason="spam", note="Advertising is not allowed in the forums."
    )
    withdrawn = services.create_reply(trusted[1], topics[3].id, "Posted in the wrong thread, sorry.")
    services.withdraw_post(trusted[1], withdrawn.id)

    # Flags: one post hidden after enough members flagged it, one removed, one flagged once and still up.
    hidden = services.create_reply(
        trusted[2], topics[5].id, "Honestly, anyone asking this should not own a DAC."
    )
    state = _flag_until_hidden(hidden.id, flaggers, "abusive")
    removed = services.create_reply(trusted[3], topics[7].id, "Call me on 0161 496 0000 and I will explain.")
    flags.flag_item(
        "forum_post", removed.id, flaggers[0], "personal_information", "A phone number in a public post."
    )
    flags.remove_item(
        "forum_post",
        removed.id,
        moderator,
        reason="personal_information",
        note="We removed your post because it contained a phone number.",
    )
    flags.flag_item(
        "forum_post", topics[3].opening.id, flaggers[1], "off_topic", "Not really about a product?"
    )
    db.session.commit()
    topic_count = len(topics) + 1 + len(trusted) * services.trust_threshold() + 2
    yield (
        f"Forums: {len(categories)} categories, {topic_count} topics. Posts published (by staff, trusted members "
        f"and approved newcomers; one edited), 3 awaiting moderation, 1 rejected, 1 deleted by its author, "
        f"1 hidden after flags ({state}), 1 removed after a flag, 1 with an open flag; a pinned and a locked topic."
    )


def _flag_until_hidden(post_id: int, flaggers: list[User], reason: str) -> str:
    from .models import ForumPost

    for member in flaggers:
        post = db.session.get(ForumPost, post_id)
        assert post is not None
        if post.status != "published":
            break
        flags.flag_item("forum_post", post_id, member, reason)
    status = db.session.get(ForumPost, post_id).status  # type: ignore[union-attr]
    return "hidden" if status == "hidden" else f"still {status}: fewer members than the flag threshold"
