"""The author hears about the decision: published (with link and fingerprint) or rejected (with the reason)."""

from forum.catalog import services as catalog
from forum.catalog.models import Product
from forum.extensions import db
from forum.mail import deliver_committed
from moderation import services as moderation


def test_author_is_mailed_the_outcome(app, product, member, moderator, sent_mail):
    published = catalog.submit_review(member, product, 1, "Broke", "Broke after a week.")
    moderation.approve_submission("review", published.id, moderator)
    other = Product(sku="X-2", name="Other thing", description="")
    db.session.add(other)
    db.session.commit()
    rejected = catalog.submit_review(member, other, 5, "Cheap!", "Buy at spam.example")
    moderation.reject_submission("review", rejected.id, moderator, reason="spam", note="Links to a shop")
    deliver_committed()
    by_subject = {m.subject: m for m in sent_mail}
    ok = by_subject["Your review is published"]
    assert ok.to == [member.email]
    assert (
        f"/reviews/{published.id}" in ok.body and published.fingerprint in ok.body and "withdraw" in ok.body
    )
    no = by_subject["Your review was not published"]
    assert "Reason: Spam or advertising" in no.body and "Links to a shop" in no.body
    assert "/products/X-2" in no.body and "rating" in no.body  # explains that ratings are never a reason
