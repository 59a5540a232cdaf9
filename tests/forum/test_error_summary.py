"""Forms that come back with errors (422) show one error summary at the top of the form,
each problem a link to its field; the summary has `autofocus`, so the browser lands on it
without JavaScript (the browser test checks that with JavaScript off)."""

from __future__ import annotations

import re
from pathlib import Path

from forum.extensions import db

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def _summary(page: str) -> str:
    match = re.search(
        r'<div class="error-summary" id="([^"]+)" tabindex="-1" autofocus role="alert".*?</div>', page, re.S
    )
    assert match, "no error summary"
    return match.group(0)


def test_registration_errors_are_summarised_with_links_to_the_fields(client):
    page = client.get("/register").get_data(as_text=True)
    assert "error-summary" not in page  # nothing to report yet
    response = client.post("/register", data={"email": "", "display_name": "", "password": ""})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    summary = _summary(page)
    assert page.index(summary) < page.index('<form method="post" action="/register"') + 400
    links = re.findall(r'<a href="#([^"]+)">', summary)
    assert {"email", "display_name", "password", "confirm"} <= set(links)
    for target in links:
        assert f'id="{target}"' in page
    assert "Email address: Enter your email address." in summary


def test_review_form_summary_links_to_the_rating_group(client, member, login_as):
    from forum.catalog.models import Product

    product = Product(sku="SUM-1", name="Summary lamp", description="")
    db.session.add(product)
    db.session.commit()
    login_as(member)
    response = client.post("/products/SUM-1/reviews", data={"title": "", "body": ""})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    summary = _summary(page)
    assert '<a href="#rating">' in summary and 'id="rating"' in page
    assert '<a href="#title">' in summary and '<a href="#body">' in summary


def test_service_errors_land_in_the_summary_too(client):
    # The form is valid, the service refuses (a password too short): same summary.
    response = client.post(
        "/register",
        data={"email": "a@example.com", "display_name": "A", "password": "short", "confirm": "short"},
    )
    assert response.status_code == 422
    assert '<a href="#password">' in _summary(response.get_data(as_text=True))


def test_every_form_template_uses_the_one_macro():
    """Every template that shows form errors does it through macros/forms.html's form_errors."""
    users = 0
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text()
        if "macros" in path.parts:
            continue
        if "form_errors(" in text:
            users += 1
            assert '{% from "macros/forms.html" import' in text and "form_errors" in text, path
        assert "error-summary" not in text, path  # nobody builds their own
    assert users >= 20


def test_the_focus_script_is_a_static_file(client):
    page = client.get("/login").get_data(as_text=True)
    assert '<script src="/static/site.js" defer></script>' in page
    script = client.get("/static/site.js")
    assert script.status_code == 200 and b"[data-error-summary]" in script.data


def test_one_problem_is_counted_once(client):
    response = client.post("/login", data={"email": "nobody@example.com", "password": "wrong"})
    assert response.status_code in (401, 422)
    summary = _summary(response.get_data(as_text=True))
    assert "There is a problem with this form" in summary
    assert summary.count("<li>") == 1
