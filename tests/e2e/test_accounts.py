"""Accounts in a real browser: register, log in and out, wrong password, reset by mail,
phone-size layout and the keyboard/label basics."""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import E2E_PASSWORD

pytestmark = pytest.mark.e2e

PHONE = {
    "viewport": {"width": 360, "height": 740},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
}


def _flash(page):
    return page.locator(".flashes")


def _register(page, email: str, display_name: str, password: str = E2E_PASSWORD):
    page.goto("/register")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Display name (shown with what you post)").fill(display_name)
    page.get_by_label("Password (at least 8 characters)").fill(password)
    page.get_by_label("Repeat the password").fill(password)
    page.get_by_role("button", name="Create account").click()


def _log_in(page, email: str, password: str = E2E_PASSWORD):
    page.goto("/login")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Log in").click()


def _nav(page):
    return page.get_by_role("navigation", name="Main")


def test_register_log_out_and_log_in_again(page, live_server):
    page.goto("/")
    _nav(page).get_by_role("link", name="Register").click()
    assert page.url == live_server + "/register"
    _register(page, "Browser.User@Example.com", "Browser User")

    assert page.url == live_server + "/"
    assert "Welcome! Your account is ready." in _flash(page).inner_text()
    assert _nav(page).get_by_role("link", name="My account").is_visible()

    _nav(page).get_by_role("button", name="Log out").click()
    assert "You are signed out." in _flash(page).inner_text()
    assert _nav(page).get_by_role("link", name="Log in").is_visible()
    page.goto("/account")
    assert page.url.startswith(live_server + "/login?next=/account")
    assert "Please log in to continue." in _flash(page).inner_text()

    # The login page we were sent to brings us back to My account.
    page.get_by_label("Email address").fill("browser.user@example.com")
    page.get_by_label("Password", exact=True).fill(E2E_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    assert page.url == live_server + "/account"
    assert "Signed in as Browser User." in _flash(page).inner_text()
    assert page.get_by_role("heading", name="My account", level=1).is_visible()
    assert "browser.user@example.com" in page.locator("dl.facts").first.inner_text()


def test_wrong_password_shows_one_message_for_unknown_and_known_emails(page, live_server, create_user):
    user = create_user("wrong.password@example.com")
    for email in (user.email, "nobody.here@example.com"):
        _log_in(page, email, "not the right password")
        assert page.url == live_server + "/login"
        alert = page.get_by_role("alert")
        assert alert.inner_text().split("\n")[-1].strip() == "Email or password is not correct."
        assert alert.inner_text().startswith("There is a problem with this form")
        assert page.get_by_label("Email address").input_value() == email  # kept for the next try
        assert page.get_by_label("Password", exact=True).input_value() == ""
        assert _nav(page).get_by_role("link", name="Log in").is_visible()
    _log_in(page, user.email, user.password)
    assert "Signed in as" in _flash(page).inner_text()


def test_pages_have_no_console_errors_and_the_stylesheet_applies(
    page, live_server, create_user, browser_errors
):
    user = create_user("clean.pages@example.com")
    for path in ("/", "/login", "/register", "/password-reset", "/no-such-page"):
        page.goto(path)
        assert page.title().endswith("Shop Community")
    _log_in(page, user.email)
    for path in ("/account", "/account/delete"):
        response = page.goto(path)
        assert response.status == 200
    # The stylesheet loaded under the CSP: the header has its colour, not the default.
    header_background = page.locator(".site-header").evaluate("el => getComputedStyle(el).backgroundColor")
    assert header_background == "rgb(31, 95, 139)"
    assert not browser_errors, browser_errors.all()


def test_password_reset_by_the_link_in_the_mail(page, live_server, create_user):
    user = create_user("forgetful@example.com")
    page.goto("/login")
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("Email address").fill(user.email)
    page.get_by_role("button", name="Send the link").click()
    assert page.get_by_role("heading", name="Check your email").is_visible()

    mail = live_server.wait_for_mail(user.email, "Reset your password")
    link = re.search(r"(http://127\.0\.0\.1:\d+/password-reset/\S+)", mail.get_content()).group(1)
    page.goto(link)
    new_password = "a fresh passphrase for the browser"
    page.get_by_label("New password (at least 8 characters)").fill(new_password)
    page.get_by_label("Repeat the new password").fill(new_password)
    page.get_by_role("button", name="Set the new password").click()
    assert "Your password was changed" in _flash(page).inner_text()

    _log_in(page, user.email, new_password)
    assert "Signed in as" in _flash(page).inner_text()
    assert live_server.wait_for_mail(user.email, "Your password was changed")
    # The link worked once only.
    response = page.goto(link)
    assert response.status == 410


def test_staff_account_made_with_the_cli_can_log_in(page, live_server, create_user):
    moderator = create_user("staff.member@example.com", role="moderator", display_name="Staff Member")
    assert re.search(r"moderator\s+staff\.member@example\.com", live_server.flask("users", "list").stdout)
    _log_in(page, moderator.email, moderator.password)
    assert "Signed in as Staff Member." in _flash(page).inner_text()
    page.goto("/account")
    assert "moderator" in page.locator("dl.facts").first.inner_text()


PHONE_WIDTH = PHONE["viewport"]["width"]
# Against the phone's width, not window.innerWidth: a mobile browser widens its layout
# viewport to whatever overflows, which would hide the very problem.
_HORIZONTAL_OVERFLOW = f"() => document.documentElement.scrollWidth - {PHONE_WIDTH}"


def test_phone_size_nav_and_forms_fit_without_horizontal_scrolling(new_page, live_server):
    page = new_page(**PHONE)
    long_name = "Someone" + "W" * 73  # 80 characters without a space, shown in the flash and on My account
    pages = ["/", "/login", "/register", "/password-reset"]
    for path in pages:
        page.goto(path)
        assert page.evaluate(_HORIZONTAL_OVERFLOW) <= 0, f"{path} scrolls sideways on a phone"
        for link in _nav(page).get_by_role("link").all():
            box = link.bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE_WIDTH, (path, link.inner_text())
        for field in page.locator("input:visible, button:visible").all():
            box = field.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE_WIDTH, (path, field.get_attribute("id"))

    _register(page, "phone.user@example.com", long_name)
    assert long_name in _flash(page).inner_text() or "Welcome" in _flash(page).inner_text()
    for path in ("/", "/account", "/account/delete"):
        page.goto(path)
        assert page.evaluate(_HORIZONTAL_OVERFLOW) <= 0, f"{path} scrolls sideways on a phone"
    _nav(page).get_by_role("button", name="Log out").click()
    _log_in(page, "phone.user@example.com")
    assert long_name in _flash(page).inner_text()
    assert page.evaluate(_HORIZONTAL_OVERFLOW) <= 0


_LABEL_PROBLEMS = """
() => {
  const problems = [];
  const visible = (el) => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length)
    && getComputedStyle(el).visibility !== "hidden";
  const ids = [...document.querySelectorAll("[id]")].map((el) => el.id);
  ids.filter((id, i) => ids.indexOf(id) !== i).forEach((id) => problems.push(`duplicate id ${id}`));
  for (const el of document.querySelectorAll("input, select, textarea")) {
    if (["hidden", "submit", "button"].includes(el.type)) continue;
    const labels = [...el.labels].filter((label) => visible(label) && label.textContent.trim());
    if (!labels.length) problems.push(`no visible label for ${el.outerHTML}`);
  }
  for (const button of document.querySelectorAll("button")) {
    if (!button.textContent.trim() && !button.getAttribute("aria-label")) problems.push(`unnamed ${button.outerHTML}`);
  }
  return problems;
}
"""


def test_every_field_has_a_visible_label_and_ids_are_unique(page, live_server, create_user):
    user = create_user("labels@example.com")
    for path in ("/", "/login", "/register", "/password-reset", "/no-such-page"):
        page.goto(path)
        assert page.evaluate(_LABEL_PROBLEMS) == [], path
    _log_in(page, user.email)
    for path in ("/account", "/account/delete"):
        page.goto(path)
        assert page.evaluate(_LABEL_PROBLEMS) == [], path
    # A refused form keeps its labels, and links each message to its field.
    page.get_by_role("button", name="Delete my account").click()
    assert page.evaluate(_LABEL_PROBLEMS) == []
    password = page.get_by_label("Your password")
    assert password.get_attribute("aria-invalid") == "true"
    assert (
        page.locator(f"#{password.get_attribute('aria-describedby')}").inner_text()
        == "Enter your password to confirm."
    )


def test_keyboard_only_skip_link_then_log_in(page, live_server, create_user):
    user = create_user("keyboard@example.com")
    page.goto("/login")
    page.keyboard.press("Tab")
    focused = page.evaluate(
        "() => [document.activeElement.textContent.trim(), document.activeElement.getBoundingClientRect().left]"
    )
    assert focused[0] == "Skip to content"
    assert focused[1] >= 0  # shown on screen when focused
    page.keyboard.press("Enter")
    assert page.url.endswith("#main")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.id") == "email"
    page.keyboard.type(user.email)
    page.keyboard.press("Tab")
    page.keyboard.type(user.password)
    page.keyboard.press("Enter")
    page.wait_for_url(live_server + "/")
    assert "Signed in as" in _flash(page).inner_text()
    # Focus is visible: the outline our stylesheet draws for keyboard users.
    page.goto("/account")
    page.keyboard.press("Tab")
    assert page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle") == "solid"
