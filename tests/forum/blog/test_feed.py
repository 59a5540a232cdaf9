"""The Atom feed at /blog/feed.atom: valid Atom 1.0, published posts only, sanitised HTML."""

from __future__ import annotations

from xml.etree import ElementTree as ET

from forum.blog import services as blog

ATOM = "{http://www.w3.org/2005/Atom}"


def _feed(client):
    response = client.get("/blog/feed.atom")
    assert response.status_code == 200
    assert response.mimetype == "application/atom+xml"
    return ET.fromstring(response.data)


def test_feed_is_valid_atom_with_published_posts_only(client, make_post, member, make_comment):
    first = make_post("First post", "Hello **world**.")
    second = make_post("Second post", "More [news](https://shop.example.com/news).")
    make_post("Draft idea", "secret draft words", state="draft")
    make_post("Withdrawn post", "secret unpublished words", state="unpublished")
    make_comment(member, first, "a pending comment")

    root = _feed(client)
    assert root.tag == f"{ATOM}feed"
    for tag in ("id", "title", "updated"):
        assert root.find(f"{ATOM}{tag}").text
    links = {link.get("rel"): link.get("href") for link in root.findall(f"{ATOM}link")}
    assert links["self"].endswith("/blog/feed.atom") and links["alternate"].endswith("/blog")
    entries = root.findall(f"{ATOM}entry")
    assert [e.find(f"{ATOM}title").text for e in entries] == ["Second post", "First post"]
    for entry, post in zip(entries, (second, first)):
        assert entry.find(f"{ATOM}id").text.endswith(f"/blog/{post.slug}")
        assert entry.find(f"{ATOM}link").get("href").endswith(f"/blog/{post.slug}")
        assert entry.find(f"{ATOM}published").text.endswith("Z")
        assert entry.find(f"{ATOM}updated").text >= entry.find(f"{ATOM}published").text
        assert entry.find(f"{ATOM}author/{ATOM}name").text == "Eddie Editor"
        content = entry.find(f"{ATOM}content")
        assert content.get("type") == "html"
    assert "<strong>world</strong>" in entries[1].find(f"{ATOM}content").text
    assert 'rel="nofollow ugc noopener"' in entries[0].find(f"{ATOM}content").text
    raw = client.get("/blog/feed.atom").get_data(as_text=True)
    for secret in ("Draft idea", "secret draft", "Withdrawn post", "secret unpublished", "pending comment"):
        assert secret not in raw


def test_feed_drops_a_post_when_it_is_unpublished(client, make_post, editor):
    post = make_post("Soon gone", "x")
    assert len(_feed(client).findall(f"{ATOM}entry")) == 1
    blog.unpublish_post(editor, post.id)
    assert _feed(client).findall(f"{ATOM}entry") == []
    assert "Soon gone" not in client.get("/blog/feed.atom").get_data(as_text=True)


def test_empty_feed_is_still_valid(client):
    root = _feed(client)
    assert root.find(f"{ATOM}updated").text and root.findall(f"{ATOM}entry") == []


def test_feed_escapes_markup_and_survives_control_characters(client, make_post):
    make_post("<script>alert(1)</script> & \x01\x0b control", "Body <script>alert(2)</script> \x1f")
    root = _feed(client)  # parses: nothing XML cannot carry gets through
    entry = root.find(f"{ATOM}entry")
    assert entry.find(f"{ATOM}title").text.startswith("<script>alert(1)</script> & ")
    content = entry.find(f"{ATOM}content").text
    assert "<script" not in content and "&lt;script&gt;" in content
    assert b"<script>" not in client.get("/blog/feed.atom").data


def test_pages_link_the_feed(client, post):
    for url in ("/blog", f"/blog/{post.slug}"):
        assert 'type="application/atom+xml"' in client.get(url).get_data(as_text=True)
