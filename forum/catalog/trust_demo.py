"""Demo orders, verified reviews, photos, helpful votes, company replies and invitations.

Everything goes through the real services, and photos are drawn with Pillow here
(nothing downloaded). `load_orders` runs before the catalog's reviews, so the reviews
of members who bought the product are verified purchases exactly as in real use;
`load_review_extras` runs after them. Loading twice changes nothing.
"""

from __future__ import annotations

import io
from datetime import timedelta

from sqlalchemy import func, select

from forum.demo import DEMO_DOMAIN
from forum.extensions import db
from forum.models import User
from forum.timeutil import utcnow
from moderation import services as moderation

from . import engagement, invitations, orders, photos, services
from .models import Product, Review
from .trust_models import CompanyReply, Order

REPLIES = {
    "low": [
        "We are sorry it let you down. Please write to support@shop.example with your order number and we will replace it.",
        "Thank you for telling us. We have passed this on to the manufacturer; a free replacement is on its way if you want one.",
    ],
    "mid": ["Thank you for the honest review. The length and plug size are now listed on the product page."],
    "high": ["Thank you for taking the time to write this!"],
}


def _members() -> list[User]:
    return list(
        db.session.scalars(
            select(User)
            .where(User.email.like(f"member%@{DEMO_DOMAIN}"), User.role == "member")
            .order_by(User.id)
        )
    )


def demo_photo(rng, label: int) -> bytes:
    """A small picture of a 'product on a desk', drawn here."""
    from PIL import Image, ImageDraw

    width, height = 640, 480
    image = Image.new("RGB", (width, height), tuple(rng.randint(170, 235) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, height * 2 // 3, width, height], fill=(120, 90, 60))  # the desk
    colour = tuple(rng.randint(10, 120) for _ in range(3))
    x, y = rng.randint(120, 300), rng.randint(140, 220)
    draw.rounded_rectangle([x, y, x + 220, y + 130], radius=18, fill=colour)
    draw.line([x + 220, y + 65, width - 20, y + rng.randint(40, 160)], fill=(30, 30, 30), width=8)
    draw.text((20, 20), f"Photo {label}", fill=(20, 20, 20))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=88)
    return out.getvalue()


def load_orders(rng):
    if db.session.scalar(select(func.count()).select_from(Order).where(Order.email.like(f"%@{DEMO_DOMAIN}"))):
        yield "Orders: already there, none added."
        return
    members = _members()
    from .demo import PRODUCTS

    skus = [sku for sku, *_ in PRODUCTS]  # the catalog loader creates these products next
    if not members or not skus:
        yield "Orders: skipped (no demo members or products yet)."
        return
    now = utcnow()
    data = {}
    for n, member in enumerate(members):
        if n % 3 == 2:
            continue  # a third of the members bought nothing here
        bought = rng.sample(skus, k=min(len(skus), rng.randint(3, 8)))
        data[f"DEMO-{10000 + n}"] = {
            "email": member.email,
            "ordered_at": now - timedelta(days=rng.randint(20, 90)),
            "skus": bought,
        }
        orders.mark_email_confirmed(member)
    # Recent orders of people without an account yet: the invitations the worker sends.
    for n in range(4):
        data[f"DEMO-{20000 + n}"] = {
            "email": f"buyer{n + 1}@{DEMO_DOMAIN}",
            "ordered_at": now - timedelta(days=15 + n),
            "skus": rng.sample(skus, k=2),
        }
    result = orders._store(data)
    db.session.commit()
    yield f"Orders: {result['created']} created (members' addresses confirmed, so their reviews are verified purchases)."


def load_review_extras(rng):
    if db.session.scalar(select(func.count()).select_from(CompanyReply)):
        yield "Review photos, votes and replies: already there, none added."
        return
    members = _members()
    staff = db.session.scalar(
        select(User).where(User.role.in_(("editor", "admin"))).order_by(User.role.desc(), User.id)
    )
    moderator = db.session.scalar(select(User).where(User.email == f"moderator@{DEMO_DOMAIN}"))
    if not members or staff is None or moderator is None:
        yield "Review photos, votes and replies: skipped (demo accounts missing)."
        return
    products = list(db.session.scalars(select(Product).where(Product.active.is_(True)).order_by(Product.sku)))
    with_photos = 0
    for index, product in enumerate(products[:10]):
        reviewed = set(db.session.scalars(select(Review.author_id).where(Review.product_id == product.id)))
        author = next((m for m in members if m.id not in reviewed), None)
        if author is None:
            continue
        prepared = photos.prepare_photos(
            [(f"photo{k}.jpg", demo_photo(rng, k + 1)) for k in range(1 + index % 3)]
        )
        rating = rng.choice([1, 2, 4, 5, 5])
        review = services.submit_review(
            author,
            product,
            rating,
            "Photos of mine" if rating > 2 else "See the photos: this is what arrived",
            "Here is how it looks on my desk."
            if rating > 2
            else "The photos show the problem. It came like this.",
            photos_to_attach=prepared,
        )
        moderation.approve_submission("review", review.id, moderator)
        with_photos += 1
    published = list(
        db.session.scalars(select(Review).where(Review.status == "published").order_by(Review.id))
    )
    votes = replies = 0
    for n, review in enumerate(published):
        for voter in rng.sample(members, k=min(len(members), n % 5)):
            if voter.id != review.author_id and engagement.vote_helpful(voter, review.id):
                votes += 1
        if n % 4 == 0:
            bucket = "low" if review.rating <= 2 else "mid" if review.rating == 3 else "high"
            engagement.save_reply(staff, review.id, rng.choice(REPLIES[bucket]))
            replies += 1
    sent = invitations.send_due_invitations()
    yield (
        f"Reviews with photos: {with_photos}; helpful votes: {votes}; company replies: {replies}; "
        f"review invitations mailed: {sent}."
    )
