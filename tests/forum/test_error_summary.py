"""Forms that come back with errors (422) open at one error summary whose links lead to
the fields; the form posts to its URL with the summary's fragment (no JavaScript needed)."""

from __future__ import annotations

import re
from pathlib import Path


from forum.extensions import db

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def _summary(page: str) -> str:
    match = re.search(r'<div class="error-summary" id="([^"]+)" tabindex="-1" role="alert".*?</div>', page, re.S)
    assert match, "no error summary"
    return match.group(0)


def _action_fragment(page: str, path: str) -> str:
    match = re.search(rf'<form method="post" action="{re.escape(path)}#([^"]+)"', page)
    assert match, f"no form posting to {path}#..."
    return match.group(1)


def test_registration_errors_are_summarised_with_links_to_the_fields(client):
    page = client.get("/register").get_data(as_text=True)
    anchor = _action_fragment(page, "/register")
    assert "error-summary" not in page  # nothing to report yet
    response = client.post("/register", data={"email": "", "display_name": "", "password": ""})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    summary = _summary(page)
    assert f'id="{anchor}"' in summary  # the fragment the form posts to: the browser lands here
    links = re.findall(r'<a href="#([^"]+)">', summary)
    assert {"email", "display_name", "password", "confirm"} <= set(links)
    for target in links:
        assert f'id="{target}"' in page
    # The same fragment stays on the form, so a second failed try lands there again.
    assert _action_fragment(page, "/register") == anchor


def test_review_form_summary_links_to_the_rating_group(client, member, login_as):
    from forum.catalog.models import Product

    product = Product(sku="SUM-1", name="Summary lamp", description="")
    db.session.add(product)
    db.session.commit()
    login_as(member)
    page = client.get("/products/SUM-1").get_data(as_text=True)
    anchor = _action_fragment(page, "/products/SUM-1/reviews")
    response = client.post("/products/SUM-1/reviews", data={"title": "", "body": ""})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    summary = _summary(page)
    assert f'id="{anchor}"' in summary
    assert '<a href="#rating">' in summary and 'id="rating"' in page
    assert '<a href="#title">' in summary and '<a href="#body">' in summary


def test_every_template_form_with_errors_posts_to_its_summary():
    """One shared macro: every template that shows form errors uses form_errors and posts
    through form_action, so each one lands on its summary."""
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text()
        if "macros" in path.parts or "form_errors(" not in text:
            continue
        shown = set(re.findall(r"form_errors\((\w+)\)", text))
        posted = set(re.findall(r"form_action\([^}]*, (\w+)\) \}\}", text))
        assert shown == posted, path


def test_the_focus_script_is_a_static_file(client):
    page = client.get("/login").get_data(as_text=True)
    assert '<script src="/static/site.js" defer></script>' in page
    script = client.get("/static/site.js")
    assert script.status_code == 200 and b"[data-error-summary]" in script.data
