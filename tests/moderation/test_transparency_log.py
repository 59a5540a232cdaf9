"""The moderation log as a public transparency log (issue 15): entries, checkpoints, proofs,
witnesses, key rotation, `flask audit verify` against the checkpoints, and the verify page."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from xml.etree import ElementTree as ET

import pytest
from sqlalchemy import select, text, update

from forum.catalog.models import Review
from forum.errors import ValidationFailed
from forum.extensions import db
from moderation import logverify as lv
from moderation import services as moderation
from moderation import tlog
from moderation.audit import HASHED_FIELDS, compute_row_hash
from moderation.models import ModerationLog, ModerationLogHead


def is_postgres() -> bool:
    return db.engine.dialect.name == "postgresql"


@pytest.fixture
def published(submit, moderator):
    """Three published reviews and one rejected: 7 log entries."""
    reviews = [submit(rating=r, title=f"Review {r}", body=f"Body {r}") for r in (1, 3, 5)]
    for review in reviews:
        moderation.approve_submission("review", review.id, moderator)
    rejected = submit(rating=2, title="Buy cheap pills", body="spam spam")
    moderation.reject_submission(
        "review", rejected.id, moderator, reason="spam", note="Private note: obvious spam"
    )
    return reviews


def checkpoint_now(runner) -> tlog.LogCheckpoint:
    result = runner.invoke(args=["log", "checkpoint"])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    return tlog.latest_checkpoint()


def get_json(client, url, status=200):
    response = client.get(url)
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_json()


def served_key(client) -> lv.Verifier:
    return lv.parse_vkey(client.get("/transparency/log/key").get_data(as_text=True))


# --- entries ------------------------------------------------------------------------------------


def test_entries_are_public_ordered_and_hold_only_codes(client, published, moderator):
    data = get_json(client, "/transparency/log/entries?start=0&end=100")
    assert data["tree_size"] == 8 and data["start"] == 0 and data["end"] == 8
    entries = data["entries"]
    assert [e["index"] for e in entries] == list(range(8))
    assert all(set(e) == set(lv.ENTRY_FIELDS) for e in entries)
    approve = entries[3]
    assert (approve["kind"], approve["action"], approve["to_state"]) == ("review", "approve", "published")
    assert approve["fingerprint"] == published[0].fingerprint and approve["actor_role"] == "moderator"
    assert re.fullmatch(r"mod-[0-9a-f]{10}", approve["moderator"])  # random: says nothing about who
    assert moderator.display_name not in json.dumps(entries) and moderator.email not in json.dumps(entries)
    # One moderator, one stable pseudonym; members and the system have none.
    assert len({e["moderator"] for e in entries if e["actor_role"] == "moderator"}) == 1
    assert all(e["moderator"] is None for e in entries if e["action"] == "submitted")
    reject = entries[-1]
    assert reject["reason"] == "spam" and "Private note" not in json.dumps(entries)
    assert client.get("/transparency/log/entries").headers["Access-Control-Allow-Origin"] == "*"


def test_entries_pages_are_capped_and_bad_queries_are_400_json(client, published, monkeypatch):
    from moderation import tlog_views

    monkeypatch.setattr(tlog_views, "MAX_ENTRIES", 3)
    data = get_json(client, "/transparency/log/entries?start=2&end=100")
    assert [e["index"] for e in data["entries"]] == [2, 3, 4] and data["end"] == 5
    assert get_json(client, "/transparency/log/entries?start=50&end=60")["entries"] == []
    for query in ("start=-1", "start=x", "start=5&end=2", "end=1e3", "start=%20"):
        response = client.get(f"/transparency/log/entries?{query}")
        assert response.status_code == 400, query
        assert response.get_json()["status"] == 400
    for url in (
        "/transparency/log/proof/inclusion?index=0",
        "/transparency/log/proof/inclusion?index=9&size=8",
        "/transparency/log/proof/inclusion?index=0&size=99",
        "/transparency/log/proof/consistency?old=5&new=3",
        "/transparency/log/proof/consistency?old=1&new=99",
    ):
        response = client.get(url)
        assert response.status_code in (400, 422), url
        assert response.is_json


# --- checkpoints, proofs -------------------------------------------------------------------------


def test_checkpoint_is_signed_with_the_served_key_and_fails_with_another(client, runner, published):
    assert client.get("/transparency/log/checkpoint").status_code == 404
    cp = checkpoint_now(runner)
    assert cp.tree_size == 8
    note = client.get("/transparency/log/checkpoint").get_data(as_text=True)
    checkpoint = lv.parse_checkpoint(lv.open_note(note, served_key(client)))
    assert checkpoint.size == 8 and checkpoint.root == lv.root_hash(
        [lv.entry_leaf_hash(e) for e in get_json(client, "/transparency/log/entries")["entries"]]
    )
    assert checkpoint.origin == "community.localhost/moderation-log"
    with pytest.raises(lv.NoteError):
        lv.open_note(note, lv.Signer.generate(checkpoint.origin).verifier)
    # The private key is in the instance folder, never served.
    assert (tlog._key_path()).read_text().startswith("PRIVATE+KEY+")
    assert "PRIVATE" not in client.get("/transparency/log/key").get_data(as_text=True)


def test_checkpoints_only_when_grown_and_at_most_every_interval(client, runner, app, published, submit):
    checkpoint_now(runner)
    assert tlog.publish_checkpoint(respect_interval=False) == 0  # nothing new
    submit()
    assert tlog.publish_checkpoint(respect_interval=True) == 0  # grown, but not due yet
    app.config["LOG_CHECKPOINT_MINUTES"] = 0
    assert tlog.publish_checkpoint(respect_interval=True) == 1
    result = runner.invoke(args=["log", "checkpoint", "--if-due"])
    assert "No new checkpoint" in result.output
    listed = get_json(client, "/transparency/log/checkpoints")
    assert [c["tree_size"] for c in listed["checkpoints"]] == [8, 9] and listed["total"] == 2
    feed = ET.fromstring(client.get("/transparency/log/checkpoints.atom").data)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    assert [e.find("a:title", ns).text for e in feed.findall("a:entry", ns)] == [
        "community.localhost/moderation-log size 9",
        "community.localhost/moderation-log size 8",
    ]
    assert "\u2014 community.localhost/moderation-log " in feed.find("a:entry/a:content", ns).text


def test_inclusion_and_consistency_proofs_verify_against_checkpoints(
    client, runner, published, submit, moderator
):
    first = checkpoint_now(runner)
    for n in range(9):
        moderation.approve_submission("review", submit(title=f"More {n}").id, moderator)
    second = checkpoint_now(runner)
    assert second.tree_size == first.tree_size + 18
    leaves = [lv.entry_leaf_hash(e) for e in get_json(client, "/transparency/log/entries")["entries"]]
    root = bytes.fromhex(second.root_hash)
    for index in range(second.tree_size):
        data = get_json(client, f"/transparency/log/proof/inclusion?index={index}&size={second.tree_size}")
        proof = [lv.unb64(h) for h in data["proof"]]
        assert lv.unb64(data["leaf_hash"]) == leaves[index]
        assert lv.verify_inclusion(index, second.tree_size, leaves[index], proof, root)
    for old in range(0, second.tree_size + 1):
        data = get_json(client, f"/transparency/log/proof/consistency?old={old}&new={second.tree_size}")
        proof = [lv.unb64(h) for h in data["proof"]]
        assert lv.verify_consistency(old, second.tree_size, lv.root_hash(leaves[:old]), root, proof)
    # Every prefix root computed from the stored nodes matches the in-memory tree.
    for size in range(0, second.tree_size + 1):
        assert tlog.root_at(size) == lv.root_hash(leaves[:size])


# --- witnesses ---------------------------------------------------------------------------------


@pytest.fixture
def witness(app):
    signer = lv.Signer.generate("witness.example/w1", lv.SIG_COSIGNATURE_V1)
    app.config["LOG_WITNESS_KEYS"] = signer.verifier.vkey
    return signer


def test_witness_cosignature_is_checked_kept_and_shown(client, runner, published, witness, app):
    app.config["WTF_CSRF_ENABLED"] = True  # a machine endpoint: no CSRF token needed
    cp = checkpoint_now(runner)
    line = lv.cosign(cp.text, witness, 1_790_000_000)
    response = client.post("/transparency/log/cosignature", data=line.encode(), content_type="text/plain")
    assert response.status_code == 201, response.get_data(as_text=True)
    assert (
        client.post(
            "/transparency/log/cosignature", data=line.encode(), content_type="text/plain"
        ).status_code
        == 200
    )  # idempotent
    note = client.get("/transparency/log/checkpoint").get_data(as_text=True)
    assert note.endswith(line + "\n")
    assert (
        lv.verify_cosignature(lv.open_note(note, served_key(client)), line, witness.verifier) == 1_790_000_000
    )
    listed = get_json(client, "/transparency/log/checkpoints")["checkpoints"][0]
    assert listed["cosignatures"] == [
        {"witness": "witness.example/w1", "timestamp": 1_790_000_000, "line": line}
    ]


def test_bad_or_unknown_cosignatures_are_refused(client, runner, published, witness):
    cp = checkpoint_now(runner)
    stranger = lv.Signer.generate("stranger.example/w", lv.SIG_COSIGNATURE_V1)

    def post(body):
        return client.post("/transparency/log/cosignature", data=body.encode(), content_type="text/plain")

    assert post(lv.cosign(cp.text, stranger, 1_790_000_000)).status_code == 403
    wrong_tree = lv.Checkpoint(cp.origin, cp.tree_size, b"\x00" * 32).text
    assert post(lv.cosign(wrong_tree, witness, 1_790_000_000)).status_code == 422
    assert post("not a cosignature").status_code == 422
    assert post("").status_code == 422
    assert post(lv.cosign(cp.text, witness, 4_000_000_000)).status_code == 422  # from the future
    assert (
        client.post(
            "/transparency/log/cosignature?size=999",
            data=lv.cosign(cp.text, witness, 1).encode(),
            content_type="text/plain",
        ).status_code
        == 404
    )
    assert db.session.scalar(select(tlog.LogCosignature.id)) is None


# --- flask audit verify -----------------------------------------------------------------------


@pytest.fixture
def tamper(app):
    """Raw SQL with the append-only triggers out of the way, as an attacker with DB access."""
    if is_postgres():
        db.session.execute(text("ALTER TABLE moderation_log DISABLE TRIGGER USER"))
    else:
        db.session.execute(text("DROP TRIGGER moderation_log_no_update"))
        db.session.execute(text("DROP TRIGGER moderation_log_no_delete"))
    db.session.commit()
    yield
    db.session.rollback()
    if is_postgres():
        db.session.execute(text("ALTER TABLE moderation_log ENABLE TRIGGER USER"))
        db.session.commit()


def rewrite_history(seq: int, rebuild_tree: bool = True) -> None:
    """Change one old row, recompute the whole hash chain (and the public tree) consistently."""
    db.session.execute(
        text(
            "UPDATE moderation_log SET reason = 'off_topic', action = 'reject', "
            "to_state = 'rejected' WHERE seq = :seq"
        ),
        {"seq": seq},
    )
    db.session.commit()
    db.session.expire_all()
    prev = "0" * 64
    for row in db.session.execute(select(ModerationLog).order_by(ModerationLog.seq)).scalars().all():
        fields = {name: getattr(row, name) for name in HASHED_FIELDS}
        row_hash = compute_row_hash(prev, fields)
        db.session.execute(
            text("UPDATE moderation_log SET prev_hash = :p, row_hash = :h WHERE id = :id"),
            {"p": prev, "h": row_hash, "id": row.id},
        )
        prev = row_hash
    db.session.execute(update(ModerationLogHead).values(last_hash=prev))
    if rebuild_tree:
        db.session.execute(text("DELETE FROM log_node"))
        db.session.execute(text("DELETE FROM log_leaf"))
        db.session.flush()
        tlog.extend_tree()
    db.session.commit()
    db.session.expire_all()


def audit_verify(runner):
    result = runner.invoke(args=["audit", "verify"])
    return result.exit_code, result.output


def test_audit_verify_checks_the_tree_against_every_checkpoint(runner, published):
    code, output = audit_verify(runner)
    assert code == 0 and "no checkpoint has been published yet" in output
    checkpoint_now(runner)
    code, output = audit_verify(runner)
    assert code == 0, output
    assert "the chain is intact" in output and "matches all 1 signed checkpoints" in output


@pytest.mark.parametrize("rebuild_tree", [False, True], ids=["chain-only", "chain-and-tree"])
def test_rewritten_and_rechained_history_fails_audit_verify(runner, published, tamper, rebuild_tree, submit):
    checkpoint_now(runner)
    rewrite_history(2, rebuild_tree=rebuild_tree)
    from moderation.audit import verify_chain

    assert verify_chain().ok  # the hash chain alone no longer tells
    code, output = audit_verify(runner)
    assert code == 1
    assert "BROKEN transparency log" in output
    assert ("history was rewritten" in output) if rebuild_tree else ("differs from its log row" in output)


def test_rewritten_history_with_a_new_checkpoint_still_fails_audit_verify(runner, published, tamper, submit):
    checkpoint_now(runner)
    rewrite_history(3)
    submit()  # the log grows, a fresh checkpoint is signed over the rewritten tree
    assert tlog.publish_checkpoint(respect_interval=False) == 1
    code, output = audit_verify(runner)
    assert code == 1 and "history was rewritten" in output and "size 8" in output


# --- erasure, key rotation ------------------------------------------------------------------------


def test_an_erased_review_keeps_its_entries_and_proofs(client, runner, published, moderator):
    checkpoint_now(runner)
    before = get_json(client, "/transparency/log/entries")["entries"]
    review = published[0]
    author = review.author
    from forum.accounts import services as accounts
    from tests.conftest import STRONG_PASSWORD

    accounts.delete_account(author, STRONG_PASSWORD)  # reviews taken down and erased
    moderation_after = get_json(client, "/transparency/log/entries")["entries"]
    assert moderation_after[:8] == before  # nothing that was there changed
    assert any(e["id"] == review.id and e["reason"] == "account_deleted" for e in moderation_after[8:])
    cp = checkpoint_now(runner)
    code, output = audit_verify(runner)
    assert code == 0, output
    leaves = [lv.entry_leaf_hash(e) for e in moderation_after]
    proof = get_json(client, f"/transparency/log/proof/inclusion?index=1&size={cp.tree_size}")["proof"]
    assert lv.verify_inclusion(
        1, cp.tree_size, leaves[1], [lv.unb64(p) for p in proof], bytes.fromhex(cp.root_hash)
    )


def test_rotate_key_starts_a_new_origin_with_a_handover_signed_by_both(client, runner, published):
    first = checkpoint_now(runner)
    old_key = served_key(client)
    result = runner.invoke(
        args=["log", "rotate-key", "--origin", "community.localhost/moderation-log/2", "--yes"]
    )
    assert result.exit_code == 0, result.output
    new_key = served_key(client)
    assert new_key.name == "community.localhost/moderation-log/2" and new_key != old_key
    handover = get_json(client, "/transparency/log/handovers")["handovers"][0]
    text = lv.open_note(handover["note"], old_key)
    assert lv.open_note(handover["note"], new_key) == text
    assert f"new-key {new_key.vkey}" in text.splitlines()
    entries = get_json(client, "/transparency/log/entries")["entries"]
    assert entries[-1]["action"] == "rotate_key" and entries[-1]["kind"] == "log_key"
    latest = tlog.latest_checkpoint()
    assert latest.origin == new_key.name and latest.tree_size == first.tree_size + 1
    lv.open_note(client.get("/transparency/log/checkpoint").get_data(as_text=True), new_key)
    code, output = audit_verify(runner)
    assert code == 0 and "matches all 2 signed checkpoints" in output, output
    assert list(tlog._key_path().parent.glob("log-signing-key.retired-*"))


# --- the signing key from the environment ------------------------------------------------------


@pytest.mark.parametrize("source", ["setting", "FLASK_LOG_SIGNING_KEY", "LOG_SIGNING_KEY"])
def test_signing_key_from_the_setting_or_environment_signs_and_cannot_be_rotated(
    source, app_config, monkeypatch, request
):
    """LOG_SIGNING_KEY (a setting, FLASK_LOG_SIGNING_KEY, or the plain environment variable) is the
    key checkpoints are signed with, no key file is made, and `flask log rotate-key` refuses."""
    key = lv.Signer.generate("keys.example/moderation-log")
    monkeypatch.delenv("LOG_SIGNING_KEY", raising=False)
    monkeypatch.delenv("FLASK_LOG_SIGNING_KEY", raising=False)
    if source == "setting":
        app_config["LOG_SIGNING_KEY"] = key.skey
    else:
        monkeypatch.setenv(source, key.skey)
    app = request.getfixturevalue("app")  # created now, with the key in place
    client, runner = app.test_client(), app.test_cli_runner()
    request.getfixturevalue("published")  # log entries to sign

    assert runner.invoke(args=["log", "key"]).output.strip() == key.verifier.vkey
    assert served_key(client) == key.verifier
    cp = checkpoint_now(runner)
    assert cp.origin == key.name and cp.tree_size == 8
    note = client.get("/transparency/log/checkpoint").get_data(as_text=True)
    checkpoint = lv.parse_checkpoint(lv.open_note(note, key.verifier))  # signed by our key
    assert (checkpoint.origin, checkpoint.size, checkpoint.root.hex()) == (key.name, 8, cp.root_hash)
    with pytest.raises(lv.NoteError):
        lv.open_note(note, lv.Signer.generate(key.name).verifier)
    assert not tlog._key_path().exists()  # nothing written to the instance folder

    refused = runner.invoke(args=["log", "rotate-key", "--origin", "keys.example/other", "--yes"])
    assert refused.exit_code == 1 and "comes from LOG_SIGNING_KEY" in refused.output
    db.session.expire_all()
    assert served_key(client) == key.verifier and tlog.latest_checkpoint().id == cp.id
    assert get_json(client, "/transparency/log/handovers")["handovers"] == []
    assert len(get_json(client, "/transparency/log/entries")["entries"]) == 8  # no rotate_key entry
    assert not list(tlog._key_path().parent.glob("log-signing-key*"))


# --- pages ------------------------------------------------------------------------------------


def test_verify_page_shows_the_log_index_and_inclusion_proof(client, runner, published):
    review = published[1]
    page = client.get(f"/reviews/{review.id}/verify").get_data(as_text=True)
    assert "newer than our latest signed checkpoint" in page
    cp = checkpoint_now(runner)
    page = client.get(f"/reviews/{review.id}/verify").get_data(as_text=True)
    leaf = tlog.publication_leaf("review", review.id)
    assert f'<strong id="log-index">{leaf.idx}</strong>' in page
    proof = tlog.inclusion(leaf.idx, cp.tree_size)
    for value in proof["proof"]:
        assert f"<li><code>{value}</code></li>" in page
    assert cp.root_b64 in page and "Check it by hand" in page


def test_log_overview_page_and_api_list_of_published_reviews(client, runner, published, submit):
    checkpoint_now(runner)
    page = client.get("/transparency/log")
    assert page.status_code == 200 and "python -m moderation.logverify" in page.get_data(as_text=True)
    submit(title="Still pending")
    data = get_json(client, "/api/reviews?per_page=2")
    assert data["total"] == 3 and data["pages"] == 2
    assert [r["id"] for r in data["reviews"]] == [published[0].id, published[1].id]
    assert get_json(client, "/api/reviews?page=2&per_page=2")["reviews"][0]["title"] == "Review 5"


# --- no personal data ------------------------------------------------------------------------

ENTRY_SHAPE = {
    "index": lambda v: isinstance(v, int),
    "time": lambda v: re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", v),
    "kind": lambda v: re.fullmatch(r"[a-z_]{1,30}", v),
    "id": lambda v: isinstance(v, int),
    "action": lambda v: re.fullmatch(r"[a-z_]{1,30}", v),
    "from_state": lambda v: v is None or re.fullmatch(r"[a-z_]{1,20}", v),
    "to_state": lambda v: v is None or re.fullmatch(r"[a-z_]{1,20}", v),
    "reason": lambda v: v is None or re.fullmatch(r"[a-z_0-9]{1,40}", v),  # e.g. photo_1
    "fingerprint": lambda v: v is None or re.fullmatch(r"[0-9a-f]{64}", v),
    "actor_role": lambda v: re.fullmatch(r"[a-z_]{1,20}", v),
    "moderator": lambda v: v is None or re.fullmatch(r"mod-[0-9a-f]{10}", v),
}


def assert_no_personal_data(entries: list[dict], secrets: set[str]) -> None:
    for entry in entries:
        for name, check in ENTRY_SHAPE.items():
            assert check(entry[name]), (name, entry[name])  # codes, numbers and hashes only
    dumped = json.dumps(entries, ensure_ascii=False)
    # Strings of hex digits and time punctuation could only collide with hashes and times.
    meaningful = [s for s in secrets if len(s.strip()) >= 6 and not re.fullmatch(r"[0-9a-fA-F:.+\-TZ\s]*", s)]
    leaked = [s for s in meaningful if s in dumped]
    assert not leaked, leaked[:5]


def test_entries_hold_no_personal_data_from_naughty_strings(client, runner, make_user, product, moderator):
    from forum.accounts.suspensions import suspend_member
    from forum.catalog import services as catalog
    from tests.conftest import naughty_strings

    secrets: set[str] = set()
    strings = [s for s in naughty_strings() if s.strip()][:120]
    for n, value in enumerate(strings):
        try:
            author = make_user("member", email=f"naughty{n}@example.org", display_name=value[:60].strip())
        except ValidationFailed:  # not a valid display name: the string still goes into the review
            db.session.rollback()
            author = make_user("member", email=f"naughty{n}@example.org", display_name=f"Naughty Person {n}")
        secrets |= {author.email, author.display_name}
        try:
            review = catalog.submit_review(author, product, 1 + n % 5, value[:150] or "t", value or "b")
        except ValidationFailed:  # refused input (e.g. too long, control characters): nothing logged
            db.session.rollback()
            continue
        secrets |= {review.title, review.body}
        if n % 2:
            moderation.approve_submission("review", review.id, moderator)
        else:
            moderation.reject_submission("review", review.id, moderator, reason="spam", note=value or None)
            secrets.add(value)
    victim = make_user("member", email="suspended.person@example.org", display_name="Suspended Person")
    suspend_member(
        moderator,
        victim.id,
        reason="Repeated abuse of Jane Doe at 12 Secret Lane",
        until=(tlog.utcnow() + timedelta(days=3)).date(),
    )
    secrets |= {
        victim.email,
        victim.display_name,
        "Jane Doe",
        "12 Secret Lane",
        moderator.email,
        moderator.display_name,
    }
    checkpoint_now(runner)
    entries = get_json(client, "/transparency/log/entries?start=0&end=1000")["entries"]
    assert len(entries) > 100
    assert_no_personal_data(entries, secrets)


def test_entries_hold_no_personal_data_from_the_demo(client, runner, app):
    from forum.demo import load_demo_data
    from forum.models import User

    for _ in load_demo_data():
        pass
    checkpoint_now(runner)
    users = db.session.scalars(select(User)).all()
    secrets = {u.email for u in users} | {u.display_name for u in users}
    secrets |= {r.title for r in db.session.scalars(select(Review)) if r.title}
    secrets |= {r.decision_note for r in db.session.scalars(select(Review)) if r.decision_note}
    size = tlog.tree_size()
    entries = []
    for start in range(0, size, 1000):
        entries += get_json(client, f"/transparency/log/entries?start={start}&end={start + 1000}")["entries"]
    assert len(entries) == size > 200
    assert_no_personal_data(entries, secrets)
    code, output = audit_verify(runner)
    assert code == 0, output


def test_cosignature_posts_are_rate_limited(app_config, published):
    app_config.update(RATELIMIT_ENABLED=True, RATELIMIT_COSIGNATURE="2 per hour")
    from forum import create_app

    app = create_app(app_config)
    client = app.test_client()
    with app.app_context():
        statuses = [
            client.post("/transparency/log/cosignature", data=b"junk", content_type="text/plain").status_code
            for _ in range(3)
        ]
    assert statuses == [422, 422, 429]
