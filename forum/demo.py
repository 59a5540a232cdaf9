"""Demo data made from code (Faker with a fixed seed); loading it twice changes nothing.

Each area registers a loader; `load_demo_data` runs them in order and yields
lines to print. Staff accounts get random passwords printed once, at creation.
"""

from __future__ import annotations

import secrets

from faker import Faker
from sqlalchemy import select

from .extensions import db
from .models import User

DEMO_SEED = 20261124
DEMO_DOMAIN = "demo.shop.example"
MEMBER_COUNT = 24

# (name, function(faker) -> iterable of lines); areas append theirs.
loaders: list = []


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


def load_staff_and_members(fake: Faker):
    for role in ("admin", "moderator"):
        user, password = ensure_user(f"{role}@{DEMO_DOMAIN}", f"Demo {role}", role)
        if password:
            yield f"Created {role}: {user.email}  password: {password}  (shown once; `flask users` to manage)"
        else:
            yield f"{role} {user.email} already exists (its password was printed when it was created)."
    created = 0
    for n in range(MEMBER_COUNT):
        name = fake.unique.first_name() + " " + fake.last_name()[0] + "."
        _, password = ensure_user(f"member{n + 1}@{DEMO_DOMAIN}", name, "member")
        created += password is not None
    yield f"Members: {created} created, {MEMBER_COUNT - created} already there (they have random passwords)."


loaders.append(("accounts", load_staff_and_members))


def load_demo_data():
    fake = Faker("en_GB")
    for name, loader in loaders:
        Faker.seed(DEMO_SEED)
        fake.unique.clear()
        yield from loader(fake)
        db.session.commit()
    yield "Demo data is ready."
