"""Demo data made from code (a random generator with a fixed seed); loading it twice changes nothing.

Each area registers a loader; `load_demo_data` runs them in order and yields
lines to print. Staff accounts get random passwords printed once, at creation.
"""

from __future__ import annotations

import random
import secrets

from sqlalchemy import select

from .extensions import db
from .models import User
from .registries import AppList, add_once

DEMO_SEED = 20261124
DEMO_DOMAIN = "demo.shop.example"
MEMBER_COUNT = 24
# The demo's members: names written for it (nothing downloaded, no data library needed).
FIRST_NAMES = (
    "Aisha",
    "Ben",
    "Chloe",
    "Dev",
    "Elena",
    "Finn",
    "Grace",
    "Hamza",
    "Isla",
    "Jonas",
    "Keira",
    "Liam",
    "Maya",
    "Nikhil",
    "Olivia",
    "Priya",
    "Quentin",
    "Rosa",
    "Sam",
    "Tomasz",
    "Uma",
    "Victor",
    "Wen",
    "Yusuf",
    "Zoe",
    "Amara",
    "Callum",
    "Freya",
)
LAST_INITIALS = "ABCDEFGHJKLMNOPRSTW"


def _random_password() -> str:
    return secrets.token_urlsafe(12)


def ensure_user(email: str, display_name: str, role: str, password: str | None = None):
    """Return (user, password or None); the password is only returned for a new account."""
    from .accounts.services import hash_password

    user = db.session.scalar(select(User).where(User.email == email))
    if user is not None:
        return user, None
    password = password or _random_password()
    user = User(
        email=email,
        display_name=display_name,
        role=role,
        password_hash=hash_password(password),
    )
    db.session.add(user)
    db.session.flush()
    return user, password


def load_staff_and_members(rng: random.Random):
    created: list = []
    existing: list = []
    for role in ("admin", "moderator"):
        user, password = ensure_user(f"{role}@{DEMO_DOMAIN}", f"Demo {role}", role)
        (created if password else existing).append((role, user.email, password))
    if created:
        yield "Staff accounts (the passwords are shown only this once: note them now):"
        for role, email, password in created:
            yield f"  {role:<10} {email:<32} password: {password}"
    if existing:
        yield (
            "Staff accounts already there: "
            + ", ".join(f"{email} ({role})" for role, email, _ in existing)
            + ". Their passwords were shown when they were created; lost one? "
            'Use "Forgot your password?" on the login page.'
        )
    new_members = 0
    first_names = rng.sample(FIRST_NAMES, MEMBER_COUNT)
    for n in range(MEMBER_COUNT):
        name = f"{first_names[n]} {rng.choice(LAST_INITIALS)}."
        _, password = ensure_user(f"member{n + 1}@{DEMO_DOMAIN}", name, "member")
        new_members += password is not None
    yield (
        f"Member accounts member1..member{MEMBER_COUNT}@{DEMO_DOMAIN}: {new_members} created, "
        f"{MEMBER_COUNT - new_members} already there (random passwords nobody knows: they are the demo's authors)."
    )


# (name, function(rng: random.Random) -> iterable of lines), run in order; areas add theirs with
# register_demo_loader in their init_app (a per-app registry: forum.registries).
loaders: AppList = AppList("demo.loaders", lambda: [("accounts", load_staff_and_members)])


def register_demo_loader(name: str, loader, app=None) -> None:
    add_once(loaders, (name, loader), app)


def load_demo_data(site_url: str = "http://127.0.0.1:5000"):
    """Run every area's loader; `site_url` is where links in the demo's mail point."""
    from flask import current_app
    from sqlalchemy import func

    from .mail import quiet_development_mail, send_pending
    from .models import OutboxMessage
    from .search.indexing import drain_all

    mail_before = db.session.scalar(select(func.count()).select_from(OutboxMessage))
    for _name, loader in loaders:
        rng = random.Random(DEMO_SEED)  # each loader the same sequence, whatever ran before
        # One request context around each loader, as if the changes came from the site:
        # links are built from it.
        with quiet_development_mail(), current_app.test_request_context("/", base_url=site_url):
            yield from loader(rng)
            db.session.commit()
    # What the worker would do next, done now: the loaders' notifications are sent quietly
    # (they would bury the passwords printed above) and the search index is brought up to date.
    with quiet_development_mail():
        send_pending(limit=100_000)
    drain_all(include_not_due=True)
    mailed = (db.session.scalar(select(func.count()).select_from(OutboxMessage)) or 0) - (mail_before or 0)
    if mailed:
        where = current_app.config["MAIL_FILE_PATH"]
        yield f"The demo data caused {mailed} notification mails to its members; they are saved in {where}."
    yield "Demo data is ready."
