# ruff: noqa: F811  (fixtures imported from test_transparency_log are parameters here)
"""`python -m moderation.logverify URL --state FILE` against a live server (werkzeug in a thread),
with an injected fetch function for answers a real site should never give."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from forum.catalog.models import Review
from forum.extensions import db
from moderation import logverify as lv
from moderation import services as moderation
from moderation import tlog
from tests.moderation.test_transparency_log import published, rewrite_history, tamper  # noqa: F401  (fixtures)

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def live_url(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


@pytest.fixture
def state_file(tmp_path):
    return tmp_path / "log-state.json"


def run(url, state_file, fetch=lv.http_fetch):
    out, err = io.StringIO(), io.StringIO()
    code = lv.main([url, "--state", str(state_file)], fetch=fetch, out=out, err=err)
    return code, out.getvalue() + err.getvalue()


def publish_checkpoint():
    assert tlog.publish_checkpoint(respect_interval=False) == 1
    db.session.expire_all()


def test_verifier_runs_twice_with_the_log_grown_in_between(
    live_url, state_file, published, submit, moderator
):  # noqa: F811  (fixture imported for re-use)
    publish_checkpoint()
    code, output = run(live_url, state_file)
    assert code == 0, output
    assert output.startswith("OK community.localhost/moderation-log: tree size 8 verified (8 new entries)")
    assert "3 published reviews match" in output
    state = json.loads(state_file.read_text())
    assert state["size"] == 8 and state["key"] == tlog.signer().verifier.vkey

    for n in range(3):
        moderation.approve_submission("review", submit(title=f"Later {n}").id, moderator)
    publish_checkpoint()
    code, output = run(live_url, state_file)
    assert code == 0, output
    assert "tree size 14 verified (6 new entries)" in output and "6 published reviews match" in output
    assert json.loads(state_file.read_text())["size"] == 14


def test_review_published_after_the_checkpoint_matches_an_uncheckpointed_entry(
    live_url, state_file, published, submit, moderator
):  # noqa: F811  (fixture imported for re-use)
    publish_checkpoint()
    moderation.approve_submission("review", submit(title="Fresh").id, moderator)
    code, output = run(live_url, state_file)
    assert code == 0, output
    assert "4 published reviews match" in output and "1 published after the checkpoint" in output


def test_rewritten_history_fails_the_verifier_with_state_from_before(
    live_url, state_file, published, tamper, submit, runner
):  # noqa: F811
    publish_checkpoint()
    assert run(live_url, state_file)[0] == 0
    rewrite_history(2)
    submit()
    publish_checkpoint()  # a freshly signed checkpoint over the rewritten tree
    assert runner.invoke(args=["audit", "verify"]).exit_code == 1
    code, output = run(live_url, state_file)
    assert code == 1
    assert "FAIL: the checkpoint of size 9 does not extend the one of size 8" in output
    assert "history rewritten" in output
    # A newcomer without state sees a self-consistent log: the state is what catches it.
    assert run(live_url, state_file.with_name("fresh.json"))[0] == 0


def _rewriting(path_part, change):
    def fetch(url):
        data = lv.http_fetch(url)
        return change(data) if path_part in url else data

    return fetch


def test_bad_signature_fails(live_url, state_file, published):  # noqa: F811  (fixture imported for re-use)
    publish_checkpoint()
    code, output = run(
        live_url,
        state_file,
        _rewriting("/transparency/log/checkpoint", lambda data: data.replace(b"\n8\n", b"\n7\n")),
    )
    assert code == 1 and "FAIL: bad signature on the latest checkpoint" in output
    assert not state_file.exists()


def test_a_key_changed_without_a_handover_fails(live_url, state_file, published):  # noqa: F811  (fixture imported for re-use)
    publish_checkpoint()
    assert run(live_url, state_file)[0] == 0
    impostor = lv.Signer.generate(tlog.signer().name)

    def fetch(url):
        if url.endswith("/transparency/log/key"):
            return impostor.verifier.vkey.encode()
        if url.endswith("/transparency/log/checkpoint"):
            cp = tlog.latest_checkpoint()
            return lv.sign_note(cp.text, [impostor]).encode()
        return lv.http_fetch(url)

    code, output = run(live_url, state_file, fetch)
    assert code == 1 and "without a hand-over signed by both" in output


def test_a_key_rotation_is_followed_through_its_handover(live_url, state_file, published):  # noqa: F811  (fixture imported for re-use)
    publish_checkpoint()
    assert run(live_url, state_file)[0] == 0
    tlog.rotate_key("community.localhost/moderation-log/2")
    code, output = run(live_url, state_file)
    assert code == 0, output
    assert output.startswith("OK community.localhost/moderation-log/2: tree size 9")


def test_a_root_that_does_not_match_fails(live_url, state_file, published):  # noqa: F811  (fixture imported for re-use)
    publish_checkpoint()
    code, output = run(
        live_url,
        state_file,
        _rewriting("/transparency/log/entries", lambda data: data.replace(b'"spam"', b'"off_topic"')),
    )
    assert code == 1 and "does not match the checkpoint's root" in output


def test_a_published_review_with_another_text_or_no_entry_fails(live_url, state_file, published):  # noqa: F811  (fixture imported for re-use)
    publish_checkpoint()
    code, output = run(
        live_url,
        state_file,
        _rewriting("/api/reviews", lambda data: data.replace(b'"Body 3"', b'"Body 3, improved"')),
    )
    assert code == 1
    assert f"published review {published[1].id}" in output and "different fingerprint" in output

    # A review put online behind the log's back (no moderation, no entry).
    sneaky = Review(
        product_id=published[0].product_id,
        author_id=None,
        rating=5,
        title="Best ever",
        body="Five stars",
        fingerprint=lv.content_fingerprint("Best ever", "Five stars"),
        status="published",
        published_at=published[0].published_at,
    )
    db.session.add(sneaky)
    db.session.commit()
    code, output = run(live_url, state_file)
    assert code == 1 and f"published review {sneaky.id}" in output and "has no publication entry" in output


def test_a_copy_of_the_verifier_imports_nothing_from_the_app(live_url, tmp_path, published):  # noqa: F811  (fixture imported for re-use)
    """Run the file on its own in a fresh interpreter (a live run over the network)."""
    publish_checkpoint()
    state = tmp_path / "standalone.json"
    script = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('logverify', {str(PROJECT_ROOT / 'moderation' / 'logverify.py')!r})\n"
        "module = sys.modules['logverify'] = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)\n"
        "code = module.main(sys.argv[1:])\n"
        "leaked = sorted({n.split('.')[0] for n in sys.modules} & {'forum', 'moderation', 'flask', 'sqlalchemy', 'werkzeug'})\n"
        "print('imported:', leaked)\n"
        "sys.exit(code if not leaked else 3)\n"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-c", script, live_url, "--state", str(state)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "imported: []" in result.stdout and "tree size 8 verified" in result.stdout

    result = subprocess.run(
        [sys.executable, "-m", "moderation.logverify", live_url, "--state", str(state)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=PROJECT_ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "(0 new entries)" in result.stdout


def test_the_verify_pages_hand_check_snippet_prints_the_root(live_url, published):  # noqa: F811  (fixture imported for re-use)
    import html
    import re
    import urllib.request

    publish_checkpoint()
    page = urllib.request.urlopen(f"{live_url}/reviews/{published[2].id}/verify").read().decode()
    snippet = html.unescape(
        re.search(
            r"<pre class=\"code\"><code>(python3 - &lt;&lt;'EOF'.*?EOF)</code></pre>", page, re.S
        ).group(1)
    )
    snippet = snippet.replace("python3 -", f"{sys.executable} -", 1)
    result = subprocess.run(["bash", "-c", snippet], capture_output=True, text=True, timeout=60)
    root = tlog.latest_checkpoint().root_b64
    assert result.stdout.strip() == f"{root} (must be {root})", result.stderr
