"""Two identical submissions at the same moment: one success, one clear message, never a 500.

Each test runs two requests in two threads (two database connections) and holds both
just after their duplicate check, so both reach the INSERT: the unique constraint
decides, and the loser gets a form message instead of an IntegrityError.
"""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from forum.extensions import db
from tests.conftest import STRONG_PASSWORD

BARRIER_TIMEOUT = 10


def hold_after(monkeypatch, module, name: str):
    """Both threads wait at a barrier after calling module.name (the duplicate check)."""
    barrier = threading.Barrier(2, timeout=BARRIER_TIMEOUT)
    original = getattr(module, name)

    def held(*args, **kwargs):
        result = original(*args, **kwargs)
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            pass
        return result

    monkeypatch.setattr(module, name, held)


def race(clients, url: str, data: dict) -> list:
    responses = [None, None]

    def send(i):
        responses[i] = clients[i].post(url, data=data)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return responses


def logged_in_clients(app, user, n=2):
    clients = []
    for _ in range(n):
        c = app.test_client()
        assert c.post("/login", data={"email": user.email, "password": STRONG_PASSWORD}).status_code == 302
        clients.append(c)
    return clients


def one_success_one_message(responses, success_status=302):
    statuses = sorted(r.status_code for r in responses)
    assert statuses == sorted([success_status, 422]), statuses
    loser = next(r for r in responses if r.status_code == 422)
    return loser.get_data(as_text=True)


def test_registering_the_same_email_twice_at_once(app, monkeypatch):
    from forum.accounts import services
    from forum.models import User

    hold_after(monkeypatch, services, "find_user_by_email")
    data = {
        "email": "twin@example.com",
        "display_name": "Twin",
        "password": STRONG_PASSWORD,
        "confirm": STRONG_PASSWORD,
    }
    responses = race([app.test_client(), app.test_client()], "/register", data)
    html = one_success_one_message(responses)
    assert "An account with this email address already exists" in html
    assert db.session.scalar(select(func.count()).select_from(User)) == 1


def test_the_same_review_twice_at_once(app, monkeypatch, make_user):
    from forum.catalog import services
    from forum.catalog.models import Product, Review

    db.session.add(Product(sku="KETTLE-1", name="Kettle", description=""))
    db.session.commit()
    author = make_user("member")
    clients = logged_in_clients(app, author)
    hold_after(monkeypatch, services, "live_reviews_of")
    responses = race(
        clients, "/products/KETTLE-1/reviews", {"rating": "4", "title": "Fine", "body": "Boils."}
    )
    html = one_success_one_message(responses)
    assert "already have a review of this product awaiting moderation" in html
    assert db.session.scalar(select(func.count()).select_from(Review)) == 1


def test_two_staff_posts_with_the_same_title_at_once(app, monkeypatch, make_user):
    from forum.blog import services
    from forum.blog.models import BlogPost

    editor = make_user("editor")
    clients = logged_in_clients(app, editor)
    hold_after(monkeypatch, services, "_unique_slug")
    responses = race(clients, "/blog/manage/new", {"title": "Spring sale", "body": "Soon.", "action": "save"})
    html = one_success_one_message(responses)
    assert "Another post just took this address" in html
    assert db.session.scalar(select(func.count()).select_from(BlogPost)) == 1


def test_the_same_forum_category_twice_at_once(app, monkeypatch, make_user):
    from forum.community import services
    from forum.community.models import ForumCategory

    admin = make_user("admin")
    clients = logged_in_clients(app, admin)
    hold_after(monkeypatch, services, "_unique_slug")
    responses = race(clients, "/forums/admin/categories", {"name": "Cables", "description": ""})
    html = one_success_one_message(responses)
    assert "There is already a category with this name." in html
    assert db.session.scalar(select(func.count()).select_from(ForumCategory)) == 1


def test_any_other_unique_clash_is_a_clear_409_not_a_500(app):
    from sqlalchemy.exc import IntegrityError

    @app.route("/clash-for-test")
    def clash():
        raise IntegrityError("INSERT ...", {}, Exception("duplicate key"))

    response = app.test_client().get("/clash-for-test")
    assert response.status_code == 409
    assert "already saved" in response.get_data(as_text=True)
