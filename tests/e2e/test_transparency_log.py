"""A review's verify page in a real browser: after a moderator approves it and a checkpoint is
signed, the page shows its entry in the public moderation log and an inclusion proof that the
browser's own fetches of the log confirm; and `logverify` accepts the live site."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
import sys

import pytest

from tests.e2e.conftest import E2E_PASSWORD, PROJECT_ROOT

pytestmark = pytest.mark.e2e

SKU = "E2E-TLOG-LAMP"


def _log_in(page, email: str):
    page.goto("/login")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(E2E_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    assert page.locator(".flashes").inner_text().startswith("Signed in as")


def _root_from_proof(index: int, size: int, leaf: bytes, proof: list[bytes]) -> bytes:
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if fn % 2 or fn == sn:
            r = hashlib.sha256(b"\x01" + p + r).digest()
            while fn % 2 == 0 and fn:
                fn, sn = fn // 2, sn // 2
        else:
            r = hashlib.sha256(b"\x01" + r + p).digest()
        fn, sn = fn // 2, sn // 2
    assert sn == 0
    return r


def test_verify_page_shows_the_reviews_log_entry_and_its_inclusion_proof(
    live_server, new_page, create_user, tmp_path
):
    csv_file = tmp_path / "products.csv"
    csv_file.write_text(f"sku,name,description\n{SKU},Desk lamp,Warm light.\n", encoding="utf-8")
    live_server.flask("products", "import", str(csv_file))
    customer = create_user("tlog.customer@example.com", display_name="Tlog Customer")
    moderator = create_user("tlog.moderator@example.com", role="moderator", display_name="Tlog Moderator")

    shopper = new_page()
    _log_in(shopper, customer.email)
    shopper.goto(f"/products/{SKU}")
    shopper.get_by_label("4 stars (good)").check()
    shopper.get_by_label("Title").fill("Bright enough to read by")
    shopper.get_by_label("Your review").fill("Transparency log lamp review.")
    shopper.get_by_role("button", name="Send for moderation").click()

    desk = new_page()
    _log_in(desk, moderator.email)
    desk.goto("/moderation")
    desk.locator("tr.desk-row", has_text="Bright enough to read by").locator("a.desk-open").click()
    desk.locator("main").get_by_role("button", name="Approve", exact=True).click()
    assert "published exactly as submitted" in desk.locator(".flashes").inner_text()

    visitor = new_page()
    visitor.goto(f"/products/{SKU}")
    visitor.locator("article.review").get_by_role(
        "link", name=re.compile("Permanent link and fingerprint")
    ).click()
    review_id = int(re.search(r"/reviews/(\d+)", visitor.url).group(1))
    visitor.goto(f"/reviews/{review_id}/verify")
    assert "newer than our latest signed checkpoint" in visitor.locator("#transparency-log").inner_text()

    # The worker signs a checkpoint; the page now carries the proof.
    live_server.flask("log", "checkpoint")
    visitor.reload()
    section = visitor.locator("#transparency-log")
    assert section.get_by_role("heading", name="Its inclusion proof").is_visible()
    index = int(visitor.locator("#log-index").inner_text())
    size = int(visitor.locator("#log-tree-size").inner_text())
    root = base64.b64decode(visitor.locator("#log-root").inner_text())
    proof = [base64.b64decode(h) for h in visitor.locator("#log-proof code").all_inner_texts()]
    entry = json.loads(visitor.locator("#log-entry").inner_text())
    fingerprint = visitor.locator("#fingerprint").text_content()
    assert (entry["kind"], entry["id"], entry["to_state"], entry["fingerprint"]) == (
        "review",
        review_id,
        "published",
        fingerprint,
    )
    assert "Tlog" not in json.dumps(entry)
    leaf = hashlib.sha256(
        b"\x00" + json.dumps(entry, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    ).digest()
    assert base64.b64encode(leaf).decode() == visitor.locator("#log-leaf-hash").inner_text()
    assert _root_from_proof(index, size, leaf, proof) == root
    # The root is the one in the signed checkpoint the site serves.
    checkpoint = visitor.request.get("/transparency/log/checkpoint").text()
    assert checkpoint.split("\n")[1:3] == [str(size), base64.b64encode(root).decode()]
    assert visitor.locator("#log-checkpoint").inner_text().strip() == checkpoint.strip()

    # And the stand-alone verifier accepts the live site.
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "moderation.logverify",
            str(live_server),
            "--state",
            str(tmp_path / "state.json"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=PROJECT_ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("OK ")
