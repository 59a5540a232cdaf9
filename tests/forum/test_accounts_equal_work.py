"""Login costs one hash check whether or not the email exists; undeliverable addresses are refused."""

from __future__ import annotations

import pytest
from sqlalchemy import event, func, select

from forum.accounts import services
from forum.extensions import db
from forum.models import AuthToken, OutboxMessage, PasswordResetRequest
from forum.worker import Worker
from tests.conftest import STRONG_PASSWORD


@pytest.fixture
def hash_calls(monkeypatch):
    calls = {"check": 0, "generate": 0}
    real_check, real_generate = services.check_password_hash, services.generate_password_hash

    def check(*args, **kwargs):
        calls["check"] += 1
        return real_check(*args, **kwargs)

    def generate(*args, **kwargs):
        calls["generate"] += 1
        return real_generate(*args, **kwargs)

    monkeypatch.setattr(services, "check_password_hash", check)
    monkeypatch.setattr(services, "generate_password_hash", generate)
    return calls


def _login_cost(client, calls, email, password="wrong password here"):
    calls["check"] = calls["generate"] = 0
    response = client.post("/login", data={"email": email, "password": password})
    assert response.status_code in (200, 422)
    assert "Email or password is not correct." in response.get_data(as_text=True)
    return dict(calls)


def test_unknown_and_known_emails_cost_the_same_hash_work(client, member, hash_calls):
    _login_cost(client, hash_calls, "warm-up@example.com")  # the app makes its dummy hash once
    known = _login_cost(client, hash_calls, member.email)
    unknown = _login_cost(client, hash_calls, "nobody@example.com")
    assert known == unknown == {"check": 1, "generate": 0}


def test_the_dummy_hash_uses_the_configured_method_and_is_made_once(app, hash_calls):
    first = services._dummy_password_hash()
    assert services._dummy_password_hash() == first
    assert hash_calls["generate"] == 1
    assert first.startswith(app.config["PASSWORD_HASH_METHOD"].split(":")[0])


@pytest.mark.parametrize("address", ["jürgen@example.com", "用户@例子.广告", "θσερ@example.com"])
def test_addresses_our_mail_server_cannot_deliver_to_are_refused_at_registration(client, address):
    response = client.post(
        "/register",
        data={"email": address, "display_name": "J", "password": STRONG_PASSWORD, "confirm": STRONG_PASSWORD},
    )
    assert response.status_code == 422
    assert (
        "cannot send mail to an address with accented or non-Latin letters before the @"
        in response.get_data(as_text=True)
    )


def test_removal_request_form_refuses_them_too(client):
    response = client.post(
        "/removal-request",
        data={
            "email": "jürgen@example.com",
            "links": "",
            "scope": "everything",
            "removal_kind": "whole",
            "details": "",
        },
    )
    assert response.status_code == 422
    assert "cannot send mail to an address" in response.get_data(as_text=True)


def test_internationalised_domains_are_fine_and_smtputf8_allows_the_rest(app, client):
    response = client.post(
        "/register",
        data={
            "email": "anna@bücher.example",
            "display_name": "Anna",
            "password": STRONG_PASSWORD,
            "confirm": STRONG_PASSWORD,
        },
    )
    assert response.status_code == 302
    app.config["MAIL_SMTPUTF8"] = True
    assert services.normalise_email("jürgen@example.com") == "jürgen@example.com"


# --- the password reset and removal request forms do the same work for every address ---


@pytest.fixture
def statements(app):
    """Every SQL statement the app runs while `statements.watch` is on (the literal values
    are bound parameters, so a known and an unknown address give the same text)."""
    seen: list[str] = []
    state = {"on": False}

    def record(conn, cursor, statement, parameters, context, executemany):
        if state["on"]:
            seen.append(" ".join(statement.split()))

    event.listen(db.engine, "before_cursor_execute", record)

    class Watch:
        def __call__(self, action):
            seen.clear()
            state["on"] = True
            try:
                action()
            finally:
                state["on"] = False
            return list(seen)

    yield Watch()
    event.remove(db.engine, "before_cursor_execute", record)


def _writes(sql: list[str]) -> list[str]:
    return [s for s in sql if s.split()[0].upper() in {"INSERT", "UPDATE", "DELETE"}]


@pytest.fixture
def requests_only_enqueue(app_config):
    app_config["WORKER_INLINE"] = False  # as in production: the worker resolves the rows
    return app_config


def _ask_reset(client, email):
    response = client.post("/password-reset", data={"email": email})
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_reset_request_does_the_same_database_work_for_known_and_unknown_addresses(
    requests_only_enqueue, client, member, statements
):
    _ask_reset(client, "warm-up@example.com")
    answers, email = {}, member.email
    known = statements(lambda: answers.setdefault("known", _ask_reset(client, email)))
    unknown = statements(lambda: answers.setdefault("unknown", _ask_reset(client, "nobody@example.com")))
    assert known == unknown  # every statement, reads included: the request looks nothing up
    assert len(_writes(known)) == 1 and _writes(known)[0].startswith("INSERT INTO password_reset_request")
    assert answers["known"] == answers["unknown"]
    assert db.session.scalar(select(func.count()).select_from(AuthToken)) == 0
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


def test_the_request_row_holds_only_the_normalised_address_and_the_time(requests_only_enqueue, client):
    _ask_reset(client, "  Somebody@Example.COM ")
    row = db.session.scalars(select(PasswordResetRequest)).one()
    assert row.email == "somebody@example.com"
    assert row.created_at is not None


def test_the_worker_mails_a_known_address_and_forgets_the_request(
    requests_only_enqueue, client, member, sent_mail
):
    _ask_reset(client, member.email.upper())
    assert sent_mail == []
    Worker(client.application).mail_step()  # one pass of the worker's mail loop
    assert len(sent_mail) == 1 and sent_mail[0].to == [member.email]
    assert "/password-reset/" in sent_mail[0].body
    assert db.session.scalars(select(PasswordResetRequest)).all() == []
    assert db.session.scalar(select(func.count()).select_from(AuthToken)) == 1


def test_an_unknown_address_is_forgotten_without_mail(requests_only_enqueue, client, sent_mail):
    _ask_reset(client, "nobody@example.com")
    assert services.resolve_password_reset_requests() == 1
    db.session.commit()
    assert db.session.scalars(select(PasswordResetRequest)).all() == []
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    assert db.session.scalar(select(func.count()).select_from(AuthToken)) == 0
    assert services.resolve_password_reset_requests() == 0  # nothing left: a second worker finds nothing


def test_with_the_inline_worker_the_reset_mail_arrives_at_once(client, member, sent_mail):
    _ask_reset(client, member.email)
    _ask_reset(client, "nobody@example.com")
    assert [message.to for message in sent_mail] == [[member.email]]
    assert db.session.scalars(select(PasswordResetRequest)).all() == []


def test_removal_request_form_does_the_same_work_for_known_and_unknown_addresses(
    requests_only_enqueue, client, member, statements
):
    """It already did: the account is looked up only after the mailbox's owner confirms."""

    def ask(email):
        data = {"email": email, "links": "", "scope": "everything", "removal_kind": "whole", "details": ""}
        assert client.post("/removal-request", data=data).status_code in (200, 303)

    ask("warm-up@example.com")
    email = member.email
    known = statements(lambda: ask(email))
    unknown = statements(lambda: ask("nobody@example.com"))

    # The same statements, apart from the transparency log's tree: how many of its nodes
    # are read and written depends on how many entries it has, not on the address.
    def outside_log_tree(sql):
        return [statement for statement in sql if "log_node" not in statement]

    assert outside_log_tree(known) == outside_log_tree(unknown)
    assert not any("user_account" in statement for statement in known)
