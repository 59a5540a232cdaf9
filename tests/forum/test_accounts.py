"""Accounts through HTTP: register, log in and out, reset, My account."""

import json
import re

from forum.accounts import services
from forum.models import AuthToken, User
from tests.conftest import STRONG_PASSWORD, login


def test_register_then_logged_in(client, app):
    response = client.post(
        "/register",
        data={
            "email": "New.Person@Example.com",
            "display_name": "New Person",
            "password": STRONG_PASSWORD,
            "confirm": STRONG_PASSWORD,
        },
    )
    assert response.status_code == 302
    page = client.get("/account").get_data(as_text=True)
    assert "new.person@example.com" in page
    user = User.query.filter_by(email="new.person@example.com").one()
    assert user.role == "member"
    assert user.password_hash.startswith("pbkdf2:")


def test_register_refuses_short_and_common_passwords(client):
    for password, message in [("short", "at least 8"), ("password123", "too common")]:
        response = client.post(
            "/register",
            data={"email": "a@example.com", "display_name": "A", "password": password, "confirm": password},
        )
        assert response.status_code == 422
        assert message in response.get_data(as_text=True)
    assert User.query.count() == 0


def test_register_accepts_long_passphrase(client):
    passphrase = "a long passphrase with many words " * 10
    response = client.post(
        "/register",
        data={
            "email": "long@example.com",
            "display_name": "Long",
            "password": passphrase,
            "confirm": passphrase,
        },
    )
    assert response.status_code == 302
    client.post("/logout")
    assert login(client, "long@example.com", passphrase).status_code == 302


def test_register_duplicate_email_is_a_clear_422(client, member):
    response = client.post(
        "/register",
        data={
            "email": "MEMBER@example.com",
            "display_name": "Again",
            "password": STRONG_PASSWORD,
            "confirm": STRONG_PASSWORD,
        },
    )
    assert response.status_code == 422
    assert "already exists" in response.get_data(as_text=True)


def test_login_failure_does_not_reveal_whether_email_exists(client, member):
    unknown = client.post("/login", data={"email": "nobody@example.com", "password": "whatever1"})
    wrong = client.post("/login", data={"email": member.email, "password": "whatever1"})
    assert unknown.status_code == wrong.status_code == 422
    assert "Email or password is not correct." in unknown.get_data(as_text=True)
    strip = lambda r: re.sub(r'value="[^"]*"', "", r.get_data(as_text=True))  # noqa: E731
    assert strip(unknown) == strip(wrong)


def test_login_changes_session_and_logout_ends_it(client, member):
    with client.session_transaction() as sess:
        sess["planted"] = "by an attacker"
    assert login(client, member.email).status_code == 302
    with client.session_transaction() as sess:
        assert "planted" not in sess
        assert sess["_user_id"] == f"{member.id}:{member.session_version}"
    assert client.get("/account").status_code == 200
    client.post("/logout")
    assert client.get("/account").status_code == 302


def test_logout_requires_post(client, member, login_as):
    login_as(member)
    assert client.get("/logout").status_code == 405
    assert client.get("/account").status_code == 200


def test_next_redirect_only_to_our_site(client, member):
    for evil in ["https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:alert(1)"]:
        response = client.post(
            f"/login?next={evil}", data={"email": member.email, "password": STRONG_PASSWORD}
        )
        assert response.status_code == 302
        assert response.headers["Location"] == "/", evil
        client.post("/logout")
    response = client.post("/login?next=/account", data={"email": member.email, "password": STRONG_PASSWORD})
    assert response.headers["Location"] == "/account"


def test_password_reset_single_use_link(client, member, sent_mail):
    same = client.post("/password-reset", data={"email": member.email})
    other = client.post("/password-reset", data={"email": "nobody@example.com"})
    assert same.status_code == other.status_code == 200
    assert same.get_data(as_text=True) == other.get_data(as_text=True)
    assert len(sent_mail) == 1
    link = re.search(r"http://localhost(/password-reset/\S+)", sent_mail[0].body).group(1)
    assert AuthToken.query.one().token_hash != link.rsplit("/", 1)[1]  # only the hash is stored
    assert client.get(link).status_code == 200
    new_password = "a brand new secret phrase"
    response = client.post(link, data={"password": new_password, "confirm": new_password})
    assert response.status_code == 302
    assert client.post(link, data={"password": new_password, "confirm": new_password}).status_code == 410
    assert client.get(link).status_code == 410
    assert login(client, member.email, new_password).status_code == 302


def test_password_reset_with_bad_token_is_410(client):
    assert client.get("/password-reset/not-a-token").status_code == 410


def test_change_password_signs_out_other_sessions(app, member):
    first, second = app.test_client(), app.test_client()
    login(first, member.email)
    login(second, member.email)
    new_password = "another strong passphrase"
    response = first.post(
        "/account/password",
        data={"current_password": STRONG_PASSWORD, "new_password": new_password, "confirm": new_password},
    )
    assert response.status_code == 302
    assert first.get("/account").status_code == 200
    assert second.get("/account").status_code == 302


def test_change_password_wrong_current_is_422(client, member, login_as):
    login_as(member)
    response = client.post(
        "/account/password",
        data={
            "current_password": "wrong one!",
            "new_password": "another strong one",
            "confirm": "another strong one",
        },
    )
    assert response.status_code == 422
    assert "current password is not correct" in response.get_data(as_text=True)


def test_change_display_name_and_email(client, member, login_as, sent_mail):
    login_as(member)
    assert client.post("/account/display-name", data={"display_name": "Mia M."}).status_code == 302
    response = client.post(
        "/account/email", data={"email": "mia@example.org", "current_password": STRONG_PASSWORD}
    )
    assert response.status_code == 302
    page = client.get("/account").get_data(as_text=True)
    assert "Mia M." in page and "mia@example.org" in page
    assert sent_mail[-1].to == ["member@example.com"]


def test_export_is_json_download_of_everything_stored(client, member, login_as):
    login_as(member)
    response = client.get("/account/export.json")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    data = json.loads(response.get_data(as_text=True))
    assert data["account"]["email"] == member.email
    assert data["account"]["display_name"] == member.display_name


def test_delete_account_explains_then_deletes(client, member, login_as):
    login_as(member)
    page = client.get("/account/delete")
    assert page.status_code == 200
    assert "cannot be undone" in page.get_data(as_text=True)
    assert client.post("/account/delete", data={"password": STRONG_PASSWORD}).status_code == 422
    assert (
        client.post("/account/delete", data={"password": STRONG_PASSWORD, "confirm": "y"}).status_code == 302
    )
    assert User.query.count() == 0
    assert client.get("/account").status_code == 302


def test_naughty_strings_in_registration_never_500(client, app):
    from tests.conftest import naughty_strings

    for n, value in enumerate(naughty_strings("registration form")):
        response = client.post(
            "/register",
            data={
                "email": f"n{n}@example.com",
                "display_name": value,
                "password": STRONG_PASSWORD,
                "confirm": STRONG_PASSWORD,
            },
        )
        assert response.status_code in (302, 422), (value, response.status_code)
        if response.status_code == 302:
            client.post("/logout")
            user = User.query.filter_by(email=f"n{n}@example.com").one()
            assert user.display_name == value.strip()
        response = client.post("/login", data={"email": value, "password": value or "x"})
        assert response.status_code in (422,), (value, response.status_code)
        response = client.post("/password-reset", data={"email": value})
        assert response.status_code in (200, 422), (value, response.status_code)


def test_display_name_shown_escaped(client, make_user, login_as):
    user = make_user(display_name="<script>alert(1)</script>")
    login_as(user)
    page = client.get("/account").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_services_register_normalises_email(app):
    user = services.register_user("Someone@EXAMPLE.com", "Some One", STRONG_PASSWORD)
    assert user.email == "someone@example.com"


def test_production_default_hash_is_scrypt():
    from forum.config import DefaultConfig

    assert DefaultConfig.PASSWORD_HASH_METHOD == "scrypt"


def test_logout_also_ends_a_remembered_session(client, member):
    response = client.post(
        "/login", data={"email": member.email, "password": STRONG_PASSWORD, "remember": "y"}
    )
    assert response.status_code == 302
    assert any(c.startswith("remember_token=") for c in response.headers.getlist("Set-Cookie"))
    assert client.get("/account").status_code == 200
    response = client.post("/logout")
    # The remember-me cookie is deleted, so it cannot sign the browser in again.
    assert any(c.startswith("remember_token=;") for c in response.headers.getlist("Set-Cookie"))
    assert client.get("/account").status_code == 302
    assert client.get_cookie("remember_token") is None


def test_password_change_keeps_remember_me_on_this_device_only(app, member):
    this_device, other_device = app.test_client(), app.test_client()
    for device in (this_device, other_device):
        device.post("/login", data={"email": member.email, "password": STRONG_PASSWORD, "remember": "y"})
    new_password = "another strong passphrase"
    response = this_device.post(
        "/account/password",
        data={"current_password": STRONG_PASSWORD, "new_password": new_password, "confirm": new_password},
    )
    assert response.status_code == 302
    # Even a fresh browser session on the other device (only its old remember-me cookie left) is out.
    with other_device.session_transaction() as sess:
        sess.clear()
    assert other_device.get("/account").status_code == 302
    with this_device.session_transaction() as sess:
        sess.clear()
    assert this_device.get("/account").status_code == 200


def test_login_after_expired_session_on_a_form_post_returns_to_the_form_page(client, member):
    response = client.post(
        "/account/display-name", data={"display_name": "X"}, headers={"Referer": "http://localhost/account"}
    )
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith("/login?next=")
    assert "display-name" not in location  # a POST-only address would answer 405 after login
    assert "next=/account" in location
    foreign = client.post(
        "/account/display-name",
        data={"display_name": "X"},
        headers={"Referer": "https://evil.example/account"},
    )
    assert foreign.headers["Location"] == "/login"
    page = client.get("/login?next=/account").get_data(as_text=True)
    assert 'action="/login?next=/account"' in page
    assert 'href="/register?next=/account"' in page  # "Create an account" keeps the destination
    response = client.post("/login?next=/account", data={"email": member.email, "password": STRONG_PASSWORD})
    assert response.headers["Location"] == "/account"


def test_register_honours_a_safe_next_only(client):
    data = {
        "email": "n1@example.com",
        "display_name": "N",
        "password": STRONG_PASSWORD,
        "confirm": STRONG_PASSWORD,
    }
    page = client.get("/register?next=/account").get_data(as_text=True)
    assert 'action="/register?next=/account"' in page
    assert client.post("/register?next=/account", data=data).headers["Location"] == "/account"
    client.post("/logout")
    data["email"] = "n2@example.com"
    assert client.post("/register?next=https://evil.example/", data=data).headers["Location"] == "/"


def test_account_page_labels_each_point_to_one_input(client, member, login_as):
    login_as(member)
    page = client.get("/account").get_data(as_text=True)
    ids = re.findall(r'\sid="([^"]+)"', page)
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    label_targets = re.findall(r'<label for="([^"]+)"', page)
    inputs = re.findall(r'<input [^>]*\bid="([^"]+)"[^>]*>', page)
    visible_inputs = [i for i in inputs if not re.search(rf'id="{i}"[^>]*type="hidden"', page)]
    assert sorted(label_targets) == sorted(visible_inputs)
    # Field names stay plain, so the posts keep working.
    assert 'name="current_password"' in page and 'name="new_password"' in page


def _reset_links(sent_mail):
    return [
        re.search(r"http://localhost(/password-reset/\S+)", m.body).group(1)
        for m in sent_mail
        if m.subject == "Reset your password"
    ]


def test_a_new_password_voids_every_other_reset_link(client, member, sent_mail):
    client.post("/password-reset", data={"email": member.email})
    client.post("/password-reset", data={"email": member.email})
    first, second = _reset_links(sent_mail)
    new_password = "a brand new secret phrase"
    assert client.post(first, data={"password": new_password, "confirm": new_password}).status_code == 302
    # The other link, still unexpired, no longer works.
    assert client.get(second).status_code == 410
    assert (
        client.post(
            second, data={"password": "an attacker's choice!", "confirm": "an attacker's choice!"}
        ).status_code
        == 410
    )
    assert login(client, member.email, new_password).status_code == 302


def test_changing_the_password_voids_outstanding_reset_links(client, member, login_as, sent_mail):
    client.post("/password-reset", data={"email": member.email})
    [link] = _reset_links(sent_mail)
    login_as(member)
    new_password = "another strong passphrase"
    response = client.post(
        "/account/password",
        data={"current_password": STRONG_PASSWORD, "new_password": new_password, "confirm": new_password},
    )
    assert response.status_code == 302
    assert client.get(link).status_code == 410
