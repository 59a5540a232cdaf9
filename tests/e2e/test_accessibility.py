"""Every main page in a real browser, on a site full of demo data (`flask demo`), as an
anonymous visitor, a member and a moderator, at 1280 px and 390 px:

- axe-core (the npm package's axe.min.js, `npm ci --prefix tests/e2e/axe`, injected by
  Playwright) finds no violation of impact moderate, serious or critical;
- the page never scrolls sideways (wide tables scroll inside their box);
- a screenshot of each page at each width is saved as a test artifact under
  build/e2e/screenshots (or $E2E_ARTIFACTS), with axe-results.json and desk.json.

Then the moderation desk: the queue's height with 50 items at both widths, the header on
one row at 1280 px, the error summary reached without JavaScript, and the moderation of
20 items with the keyboard only, timed.

Without axe-core the axe checks are skipped locally and fail in CI (CI=true).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.e2e.conftest import E2E_DIR, E2E_PASSWORD, PROJECT_ROOT, in_ci, serve

pytestmark = pytest.mark.e2e

AXE_JS = E2E_DIR / "axe" / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = Path(os.environ.get("E2E_ARTIFACTS") or PROJECT_ROOT / "build" / "e2e")
WIDTHS = {"desktop": (1280, 800), "phone": (390, 844)}
# The issue asks for no serious or critical violation; the pages have none of impact
# moderate either (2026-12-01: duplicate landmark labels fixed), so those block too.
BLOCKING = {"moderate", "serious", "critical"}
MEMBER_EMAIL = "ally.member@example.com"

# Adds `n` pending reviews by `n` new members, through the real services, on the demo site.
SEED_PENDING = r"""
import sys
from sqlalchemy import select
from forum import create_app
from forum.extensions import db
from forum.demo import ensure_user
from forum.catalog import services as catalog
from forum.catalog.models import Product

app = create_app()
with app.app_context():
    start, count = int(sys.argv[1]), int(sys.argv[2])
    products = list(db.session.scalars(select(Product).where(Product.active.is_(True)).order_by(Product.id)))
    for i in range(start, start + count):
        user, _ = ensure_user(f"queue{i}@example.com", f"Queue tester {i}", "member", "x" * 20)
        db.session.commit()
        product = products[i % len(products)]
        catalog.submit_review(user, product, 1 + i % 5, f"Desk check {i:03}: {product.name}",
                              f"Review number {i} of the desk check. It is about {product.name}.")
"""


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE_JS.exists():
        message = f"axe-core is not installed ({AXE_JS}): run `npm ci --prefix tests/e2e/axe`"
        if in_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return AXE_JS.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def demo_site(browser, tmp_path_factory):
    """A server of its own, filled by `flask demo --no-serve`: (server, staff passwords, member)."""
    with serve(tmp_path_factory.mktemp("demo-site")) as server:
        output = server.flask("demo", "--no-serve").stdout
        passwords = dict(
            re.findall(
                r"^\s+(admin|moderator|editor)\s+\S+@demo\.shop\.example\s+password: (\S+)", output, re.M
            )
        )
        member = server.create_user(MEMBER_EMAIL, display_name="Ally Member")
        yield server, passwords, member


def _seed_pending(server, start: int, count: int) -> None:
    subprocess.run(
        [sys.executable, "-c", SEED_PENDING, str(start), str(count)],
        cwd=PROJECT_ROOT,
        env=server.env,
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _log_in(page, email: str, password: str) -> None:
    page.goto("/login")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Log in").click()
    assert page.locator(".flashes").inner_text().startswith("Signed in as")


def _visitor(new_page, demo_site, role: str):
    server, passwords, member = demo_site
    page = new_page(base_url=str(server), viewport={"width": 1280, "height": 800})
    if role == "member":
        _log_in(page, member.email, E2E_PASSWORD)
    elif role == "moderator":
        _log_in(page, "moderator@demo.shop.example", passwords["moderator"])
    return page


def _first_href(page, url: str, selector: str) -> str:
    page.goto(url)
    href = page.locator(selector).first.get_attribute("href")
    assert href, f"no {selector} on {url}"
    return href


def main_pages(page, role: str) -> dict[str, str]:
    """The main pages this visitor can reach, found by following the site's own links."""
    pages = {
        "home": "/",
        "products": "/products",
        "product": _first_href(page, "/products", 'main a[href^="/products/"]'),
    }
    pages["review"] = _first_href(page, pages["product"], 'main a[href^="/reviews/"]')
    pages["forums"] = "/forums"
    pages["forum-category"] = _first_href(page, "/forums", 'main a[href^="/forums/"]:not([href*="/topics/"])')
    pages["topic"] = _first_href(page, pages["forum-category"], 'main a[href^="/forums/topics/"]')
    pages["blog"] = "/blog"
    pages["blog-post"] = _first_href(page, "/blog", 'main h2 a[href^="/blog/"]')
    pages["search"] = "/search?q=cable"
    pages["transparency"] = "/transparency"
    pages["removal-request"] = "/removal-request"
    if role == "anonymous":
        pages["login"] = "/login"
        pages["register"] = "/register"
    else:
        pages["account"] = "/account"
        pages["new-topic"] = pages["forum-category"].rstrip("/") + "/new"
    if role == "moderator":
        pages["moderation"] = "/moderation"
        pages["moderation-item"] = _first_href(page, "/moderation?kind=review", "a.desk-open")
        pages["moderation-flagged"] = _first_href(page, "/moderation?kind=flags", "a.desk-open")
        pages["removal-decision"] = _first_href(page, "/moderation?kind=removal_request", "a.desk-open")
        pages["moderation-stats"] = "/moderation/stats"
    return pages


def _axe(page, axe_source: str) -> list[dict]:
    # page.evaluate runs outside the page's CSP (which rightly forbids inline scripts).
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(axe_source)
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}));
    }""")
    return result


def _save(name: str, data) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    existing = json.loads(path.read_text()) if path.exists() else {}
    existing.update(data)
    path.write_text(json.dumps(existing, indent=2, sort_keys=True))


@pytest.mark.parametrize("role", ["anonymous", "member", "moderator"])
def test_main_pages_pass_axe_at_both_widths(new_page, demo_site, axe_source, role):
    page = _visitor(new_page, demo_site, role)
    pages = main_pages(page, role)
    shots = ARTIFACTS / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    report, problems = {}, []
    for name, url in pages.items():
        for _label, (width, height) in WIDTHS.items():
            page.set_viewport_size({"width": width, "height": height})
            response = page.goto(url)
            assert response.status == 200, f"{role} {url}: {response.status}"
            violations = _axe(page, axe_source)
            report[f"{role} {name} {width}px"] = {"url": url, "violations": violations}
            for v in violations:
                if v["impact"] in BLOCKING:
                    problems.append(
                        f"{role} {name} ({url}) at {width}px: {v['impact']} {v['id']}: "
                        f"{v['help']} {v['nodes']}"
                    )
            overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
            if overflow > 0:
                problems.append(f"{role} {name} ({url}) at {width}px scrolls sideways by {overflow}px")
            page.screenshot(path=str(shots / f"{role}-{name}-{width}.png"), full_page=True)
    _save("axe-results.json", report)
    assert not problems, "\n".join(problems)


def test_header_fits_one_row_when_signed_in_and_focus_and_targets(new_page, demo_site):
    page = _visitor(new_page, demo_site, "moderator")
    page.goto("/")
    tops = page.evaluate("""() => [...document.querySelectorAll('.header-row > *')]
        .map(e => Math.round(e.getBoundingClientRect().top + e.getBoundingClientRect().height / 2))""")
    assert max(tops) - min(tops) <= 8, f"header wraps at 1280 px: item centres at {tops}"
    header_height = page.evaluate(
        "() => document.querySelector('.site-header').getBoundingClientRect().height"
    )
    assert header_height < 70
    # Tap targets of the header and the pagers are at least 24 px tall.
    heights = page.evaluate("""() => [...document.querySelectorAll('.nav a, .nav button, .search-box button')]
        .map(e => e.getBoundingClientRect().height)""")
    assert min(heights) >= 24, heights
    # The focus outline: dark on the page, white on the blue header (both over 3:1).
    page.keyboard.press("Tab")  # the skip link
    page.keyboard.press("Tab")  # the brand, in the header
    assert (
        page.evaluate("() => getComputedStyle(document.activeElement).outlineColor") == "rgb(255, 255, 255)"
    )
    page.locator("main a").first.focus()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("() => getComputedStyle(document.activeElement).outlineColor") == "rgb(29, 35, 42)"
    assert page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle") == "solid"


def test_error_summary_is_reached_without_javascript(new_page, demo_site):
    server, _, _ = demo_site
    for javascript in (False, True):
        page = new_page(
            base_url=str(server), viewport={"width": 390, "height": 700}, java_script_enabled=javascript
        )
        page.goto("/register")
        page.get_by_role("button", name="Create account").click()
        summary = page.locator(".error-summary")
        assert summary.count() == 1
        box = summary.bounding_box()
        assert 0 <= box["y"] < 700, f"summary out of view (JavaScript {javascript}): {box}"
        assert page.evaluate("() => document.activeElement.classList.contains('error-summary')")
        summary.get_by_role("link").first.click()
        assert page.evaluate("() => document.activeElement.id") in {
            "email",
            "display_name",
            "password",
            "confirm",
        }


# Each wide table's box: does it scroll sideways, and is its "scroll sideways" line shown?
_TABLE_BOXES = """() => [...document.querySelectorAll('.table-scroll')]
    .filter(box => !box.querySelector(':scope > .desk-list'))
    .map(box => ({
        table: (box.getAttribute('aria-label') || box.getAttribute('aria-labelledby') || '')
               + ' / ' + (box.querySelector('th') || box).textContent.trim().slice(0, 30),
        overflows: box.scrollWidth > box.clientWidth + 1,
        hint: getComputedStyle(box, '::after').display !== 'none'
              && getComputedStyle(box, '::after').content.includes('Scroll sideways'),
    }))"""


def test_every_wide_table_shows_a_scroll_hint_on_a_phone(new_page, demo_site):
    server, passwords, _ = demo_site
    paths = ["/moderation/stats", "/forums", "/transparency", "/moderation?kind=removal_request"]
    seen_overflowing = []
    for javascript in (True, False):
        page = new_page(
            base_url=str(server), viewport={"width": 390, "height": 844}, java_script_enabled=javascript
        )
        _log_in(page, "moderator@demo.shop.example", passwords["moderator"])
        for path in paths:
            page.goto(path)
            boxes = page.evaluate(_TABLE_BOXES)
            for box in boxes:
                if box["overflows"]:
                    seen_overflowing.append((path, box["table"]))
                    assert box["hint"], f"{path}: {box['table']} scrolls sideways without the hint"
                elif javascript:  # the enhancement hides the line where the table fits
                    assert not box["hint"], f"{path}: {box['table']} fits but shows the hint"
            if javascript:
                page.screenshot(
                    path=str(
                        ARTIFACTS
                        / "screenshots"
                        / f"table-hint{path.replace('/', '-').replace('?', '-')}-390.png"
                    ),
                    full_page=True,
                )
        # At 1280 px nothing scrolls and no line is shown.
        page.set_viewport_size({"width": 1280, "height": 800})
        for path in paths:
            page.goto(path)
            assert not [b for b in page.evaluate(_TABLE_BOXES) if b["hint"]], path
    assert any(path == "/moderation/stats" for path, _ in seen_overflowing), seen_overflowing


def test_queue_height_and_keyboard_moderation_of_20_items(new_page, demo_site):
    server, passwords, _ = demo_site
    _seed_pending(server, 0, 60)
    desk = _visitor(new_page, demo_site, "moderator")
    figures = {}

    # The queue with 50 items (the first page of a longer one) at both widths.
    for _label, (width, height) in WIDTHS.items():
        desk.set_viewport_size({"width": width, "height": height})
        desk.goto("/moderation")
        assert desk.locator("tr.desk-row").count() == 50
        figures[f"queue height, 50 items, {width}px"] = desk.evaluate(
            "() => document.documentElement.scrollHeight"
        )
        desk.screenshot(
            path=str(ARTIFACTS / "screenshots" / f"moderator-queue-50-{width}.png"), full_page=True
        )
    _save("desk.json", figures)
    assert figures["queue height, 50 items, 1280px"] < 3300
    assert figures["queue height, 50 items, 390px"] < 5000

    # The badge and the tabs agree.
    desk.set_viewport_size({"width": 1280, "height": 800})
    desk.goto("/moderation?kind=review&reason=submitted")
    badge = int(re.search(r"\d+", desk.locator(".nav .badge").first.inner_text()).group(0))
    everything = int(desk.locator(".queue-filters a", has_text="Everything").locator(".badge").inner_text())
    assert badge == everything
    reviews_before = int(
        desk.locator(".queue-filters a", has_text="Product reviews").locator(".badge").inner_text()
    )

    # `?` shows the keys (each one listed); `j` chooses the first row, `j` the next,
    # `k` the previous one again ("Next / previous row in the list"), `o` opens it.
    desk.keyboard.press("?")
    help_box = desk.locator("#keys-help")
    assert help_box.get_attribute("open") is not None
    keys = [k.strip() for k in help_box.locator("kbd").all_inner_texts()]
    assert {"j", "k", "o", "a", "r", "u", "?"} <= set(keys), keys
    assert "previous row" in help_box.inner_text() and "Back to the list" in help_box.inner_text()
    desk.keyboard.press("?")
    assert help_box.get_attribute("open") is None
    rows = desk.locator("tr.desk-row")
    chosen = desk.locator("tr.desk-row.chosen")

    def chosen_index() -> int:
        assert chosen.count() == 1
        return desk.evaluate(
            "() => [...document.querySelectorAll('tr.desk-row')].indexOf(document.querySelector('tr.desk-row.chosen'))"
        )

    desk.keyboard.press("j")
    assert chosen_index() == 0
    first_title = chosen.locator("a.desk-open").inner_text()
    assert desk.evaluate("() => document.activeElement.classList.contains('desk-open')")
    desk.keyboard.press("j")
    assert chosen_index() == 1
    assert chosen.locator("a.desk-open").inner_text() == rows.nth(1).locator("a.desk-open").inner_text()
    desk.keyboard.press("k")
    assert chosen_index() == 0
    assert chosen.get_attribute("aria-current") == "true"
    assert chosen.locator("a.desk-open").inner_text() == first_title
    desk.keyboard.press("k")  # already the first row: stays there
    assert chosen_index() == 0
    list_url = desk.url
    with desk.expect_navigation():
        desk.keyboard.press("o")
    assert "/moderation/items/review/" in desk.url
    assert first_title in desk.locator("main").inner_text()  # the row `k` came back to
    # `u`: back to the list, with its filters.
    with desk.expect_navigation():
        desk.keyboard.press("u")
    assert urlsplit(desk.url).path == urlsplit(list_url).path == "/moderation"
    assert parse_qs(urlsplit(desk.url).query) == parse_qs(urlsplit(list_url).query)
    assert rows.count() > 0
    desk.keyboard.press("j")
    with desk.expect_navigation():
        desk.keyboard.press("o")
    assert "/moderation/items/review/" in desk.url
    desk.keyboard.press("r")
    assert desk.evaluate("() => document.activeElement.dataset.desk") == "reason"
    desk.locator("h1").click()  # leave the field: keys do nothing while typing

    started = time.monotonic()
    approved = []
    for _ in range(20):
        approved.append(desk.url)
        with desk.expect_navigation(url=re.compile(r"/moderation/items/")):
            desk.keyboard.press("a")
        assert "published exactly as submitted" in desk.locator(".flashes").inner_text()
    elapsed = time.monotonic() - started
    figures["keyboard: 20 items approved, seconds"] = round(elapsed, 1)
    figures["keyboard: seconds per item"] = round(elapsed / 20, 2)
    assert len(set(approved)) == 20  # a new item each time, never the same twice
    assert first_title

    desk.goto("/moderation")
    reviews_after = int(
        desk.locator(".queue-filters a", has_text="Product reviews").locator(".badge").inner_text()
    )
    assert reviews_before - reviews_after == 20
    assert elapsed < 60, f"20 keyboard decisions took {elapsed:.1f}s"
    _save("desk.json", figures)
    print("\n" + "\n".join(f"{k}: {v}" for k, v in figures.items()))
