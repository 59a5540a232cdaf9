"""Links are made inside the sanitiser, with one scheme allowlist (http, https, mailto)."""

from __future__ import annotations

import pytest

from forum.sanitize import ALLOWED_PROTOCOLS, LINK_REL, count_links, linkify_plain_text, render_markdown


@pytest.mark.parametrize("render", [render_markdown, linkify_plain_text])
@pytest.mark.parametrize(
    "text",
    [
        "ftp://files.example.com/a.zip",
        "FTP://X.COM/",
        "irc://chat.example.com/room",
        "file:///etc/passwd",
        "javascript:alert(1)//x.com",
        "gopher://old.example.com",
    ],
)
def test_no_link_is_made_for_a_scheme_outside_the_allowlist(render, text):
    html = str(render(f"see {text} now"))
    assert "<a " not in html, html


@pytest.mark.parametrize("render", [render_markdown, linkify_plain_text])
def test_allowed_schemes_and_bare_domains_become_nofollow_links(render):
    html = str(render("a http://ok.com/x?y=1 b https://shop.example.com c www.b.com"))
    assert html.count("<a ") == 3
    assert html.count(f'rel="{LINK_REL}"') == 3
    assert 'href="http://www.b.com"' in html


def test_markdown_links_use_the_same_allowlist():
    assert ALLOWED_PROTOCOLS == ["http", "https", "mailto"]
    html = str(
        render_markdown("[a](ftp://x.com) [b](javascript:alert(1)) [c](https://c.com) [d](mailto:d@e.com)")
    )
    assert 'href="ftp:' not in html and 'href="javascript:' not in html
    assert 'href="https://c.com"' in html and 'href="mailto:d@e.com"' in html
    assert count_links("[a](ftp://x.com) ftp://y.com https://z.com") == 2  # the ftp text link has no href


def test_code_is_never_linkified():
    html = str(render_markdown("`https://in.code.com` and\n\n    https://block.code.com\n"))
    assert "<a " not in html


def test_every_naughty_string_renders_to_allowed_html_only():
    """The whole list through both renderers every form's text goes through (the forms'
    own tests each send a share of it over HTTP: tests/conftest.py naughty_strings)."""
    from html.parser import HTMLParser

    from forum.sanitize import ALLOWED_ATTRIBUTES, ALLOWED_PROTOCOLS, ALLOWED_TAGS

    from ..conftest import naughty_strings

    class Check(HTMLParser):
        def handle_starttag(self, tag, attrs):
            assert tag in ALLOWED_TAGS, tag
            for name, value in attrs:
                assert name in ALLOWED_ATTRIBUTES.get(tag, []), (tag, name)
                if name == "href":
                    scheme = (value or "").split(":", 1)[0].lower() if ":" in (value or "") else "http"
                    assert scheme in ALLOWED_PROTOCOLS, value

    for text in naughty_strings():
        for html in (render_markdown(text), linkify_plain_text(text)):
            checker = Check()
            checker.feed(str(html))
            checker.close()
