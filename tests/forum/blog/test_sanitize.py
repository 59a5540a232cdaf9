"""Post Markdown is rendered through forum.sanitize: nothing a browser would run gets through."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from xml.etree import ElementTree as ET

import pytest

from tests.forum.catalog.conftest import scripts_in

ATTACKS = [
    "[click me](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](  javascript:alert(1))",
    "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<a href="https://x.example.com" onclick="alert(1)">x</a>',
    "![tracker](https://evil.example.com/pixel.png)",
    "<iframe src=https://evil.example.com></iframe>",
    "<style>body{display:none}</style>",
    '<div style="background:url(javascript:alert(1))">x</div>',
    "<svg onload=alert(1)>",
    "[x](vbscript:msgbox(1))",
]


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def _problems(html: str) -> list[str]:
    """Anything in this HTML fragment that a browser would load or run."""
    parser = _Tags()
    parser.feed(html)
    parser.close()
    problems = []
    for tag, attrs in parser.tags:
        if tag in {"script", "img", "iframe", "style", "svg", "object", "embed", "form", "input", "div"}:
            problems.append(f"<{tag}>")
        for name, value in attrs.items():
            if name.startswith("on") or name in {"style", "src"}:
                problems.append(f"{tag} {name}")
            if name == "href" and not re.match(r"(https?:|mailto:|/|#)", value or ""):
                problems.append(f"href {value}")
    return problems


def _article(html: str) -> str:
    match = re.search(r'<div class="prose">(.*?)</div>\s*</article>', html, re.S)
    assert match, "no post body on the page"
    return match.group(1)


@pytest.mark.parametrize("attack", ATTACKS)
def test_post_markdown_cannot_carry_script(client, make_post, editor, login_as, attack):
    post = make_post("Attack", f"Before\n\n{attack}\n\nAfter")
    bodies = [_article(client.get(f"/blog/{post.slug}").get_data(as_text=True))]
    login_as(editor)
    preview = client.post("/blog/manage/new", data={"title": "p", "body": attack, "action": "preview"})
    assert "nothing is saved yet" in preview.get_data(as_text=True)
    bodies.append(_article(preview.get_data(as_text=True)))
    feed = ET.fromstring(client.get("/blog/feed.atom").data)
    bodies.append(feed.find("{http://www.w3.org/2005/Atom}entry/{http://www.w3.org/2005/Atom}content").text)
    for body in bodies:
        assert _problems(body) == [], (attack, body)
    assert "Before" in bodies[0] and "After" in bodies[0]
    assert scripts_in(client.get(f"/blog/{post.slug}").get_data(as_text=True)) == []


def test_comment_text_is_escaped_not_rendered(client, member, post, make_comment):
    make_comment(
        member, post, "<script>alert(1)</script> **not bold** [x](javascript:alert(1))", state="published"
    )
    page = client.get(f"/blog/{post.slug}").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; **not bold** [x](javascript:alert(1))" in page
    assert scripts_in(page) == []


def test_the_checker_itself_sees_danger():
    assert (
        _problems('<img src="x">') and _problems('<a href="javascript:x">') and _problems('<p onclick="x">')
    )
    assert _problems('<a href="https://ok.example.com" rel="nofollow">ok</a>') == []
