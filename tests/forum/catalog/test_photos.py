"""Review photos: metadata removed, bad files refused, hashes that anyone can recompute, gone on removal."""

from __future__ import annotations

import hashlib
import io
import re
import zlib

import pytest
from PIL import ExifTags, Image
from sqlalchemy import select

from forum.catalog import photos
from forum.catalog.models import Review
from forum.catalog.trust_models import ReviewPhoto
from forum.extensions import db
from moderation import services as moderation
from moderation.models import ModerationLog


def jpeg_with_gps(size=(64, 48), color=(200, 30, 30)) -> bytes:
    image = Image.new("RGB", size, color)
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "TestCam"
    exif[ExifTags.Base.Model] = "Secret Phone 9"
    exif[ExifTags.Base.ImageDescription] = "At home, Elm Street 12"
    exif[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N",
        ExifTags.GPS.GPSLatitude: (52.0, 31.0, 12.0),
        ExifTags.GPS.GPSLongitudeRef: "E",
        ExifTags.GPS.GPSLongitude: (13.0, 24.0, 36.0),
    }
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif, comment=b"secret comment")
    data = out.getvalue()
    # The upload really carries GPS data.
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(ExifTags.IFD.GPSInfo)
    return data


def png_bytes(size=(40, 30), mode="RGBA", text=None) -> bytes:
    from PIL import PngImagePlugin

    image = Image.new(mode, size, (10, 200, 10, 128) if mode == "RGBA" else (10, 200, 10))
    info = PngImagePlugin.PngInfo()
    if text:
        info.add_text("Comment", text)
    out = io.BytesIO()
    image.save(out, format="PNG", pnginfo=info)
    return out.getvalue()


def webp_bytes(size=(30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (1, 2, 3)).save(out, format="WEBP")
    return out.getvalue()


def _submit(client, product, files, title="With photos"):
    data = {
        "rating": "4",
        "title": title,
        "body": "See the photos.",
        "photos": [(io.BytesIO(content), name) for name, content in files],
    }
    return client.post(f"/products/{product.sku}/reviews", data=data, content_type="multipart/form-data")


def test_photo_comes_back_without_gps_or_any_metadata(app, client, product, member, login_as, moderator):
    login_as(member)
    original = jpeg_with_gps(size=(3000, 1000))
    response = _submit(
        client,
        product,
        [("holiday.jpg", original), ("plant.png", png_bytes(text="secret")), ("w.webp", webp_bytes())],
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    review = db.session.scalar(select(Review))
    stored = list(db.session.scalars(select(ReviewPhoto).order_by(ReviewPhoto.position)))
    assert [p.content_type for p in stored] == ["image/jpeg", "image/png", "image/webp"]
    assert (stored[0].width, stored[0].height) == (2048, 683)  # at most 2048 px on the long side

    # Shown only once the review is published (the author and moderators may look before).
    client.post("/logout")
    assert client.get(f"/reviews/photos/{stored[0].file_name}").status_code == 404
    moderation.approve_submission("review", review.id, moderator)

    served = client.get(f"/reviews/photos/{stored[0].file_name}")
    assert served.status_code == 200 and served.mimetype == "image/jpeg"
    assert (
        served.headers["Cache-Control"] == "no-cache"
        and served.headers["X-Content-Type-Options"] == "nosniff"
    )
    data = served.data
    clean = Image.open(io.BytesIO(data))
    assert not clean.getexif()
    assert not clean.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    assert (
        b"Exif" not in data and b"TestCam" not in data and b"Elm Street" not in data and b"secret" not in data
    )
    assert "icc_profile" not in clean.info and "comment" not in clean.info
    png = client.get(f"/reviews/photos/{stored[1].file_name}").data
    assert b"secret" not in png and b"tEXt" not in png and b"iTXt" not in png

    # The verify page lists each photo's SHA-256; recomputed from the served bytes, they match.
    verify = client.get(f"/reviews/{review.id}/verify").get_data(as_text=True)
    listed = re.findall(r'<code class="fingerprint photo-sha256">([0-9a-f]{64})</code>', verify)
    links = re.findall(r'href="http://localhost(/reviews/photos/[0-9a-f]{64}\.\w+)"', verify)
    assert len(listed) == 3 and len(links) >= 3
    for link, digest in zip(links, listed):
        assert hashlib.sha256(client.get(link).data).hexdigest() == digest
    # ...and the log recorded the same hashes at submission.
    logged = list(
        db.session.scalars(
            select(ModerationLog.fingerprint)
            .where(ModerationLog.action == "photo")
            .order_by(ModerationLog.seq)
        )
    )
    assert logged == listed
    api = client.get(f"/api/reviews/{review.id}").get_json()
    assert [p["sha256"] for p in api["photos"]] == listed
    html = client.get(f"/products/{product.sku}").get_data(as_text=True)
    assert html.count('<img src="/reviews/photos/') == 3 and 'alt="Photo 1 of 3 from the reviewer"' in html


@pytest.mark.parametrize(
    "name,content,message",
    [
        ("notes.txt", b"just some text, not a picture", "is not a picture we can read"),
        ("fake.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 100, "is not a picture we can read"),
        ("page.png", b"<html><script>alert(1)</script></html>", "contains something other than a picture"),
        ("anim.gif", None, "is not a JPEG, PNG or WebP image"),
        ("polyglot.jpg", None, "extra data after the picture"),
        ("script.png", None, "contains something other than a picture"),
        ("zip.jpg", None, "contains something other than a picture"),
        ("bomb.png", None, "decompression bomb"),
        ("huge.png", None, "too large to open safely"),
        ("empty.jpg", b"", "is empty"),
    ],
)
def test_bad_files_are_refused_with_a_clear_message(
    client, product, member, login_as, name, content, message
):
    if name == "anim.gif":
        out = io.BytesIO()
        Image.new("RGB", (10, 10)).save(out, format="GIF")
        content = out.getvalue()
    elif name == "polyglot.jpg":
        content = jpeg_with_gps() + b"#!/bin/sh\necho hidden second file\n"
    elif name == "script.png":
        content = png_bytes(text="<script>alert(1)</script>")
    elif name == "zip.jpg":
        content = jpeg_with_gps() + b"PK\x03\x04" + b"\x00" * 40
    elif name == "bomb.png":
        content = _png_bomb(20_000, 20_000)
    elif name == "huge.png":
        content = _png_bomb(8_000, 8_000)
    login_as(member)
    response = _submit(client, product, [(name, content)])
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert message in text.replace("&#39;", "'"), text[-3000:]
    assert db.session.scalar(select(Review)) is None  # nothing half-written
    assert db.session.scalar(select(ReviewPhoto)) is None


def _png_bomb(width: int, height: int) -> bytes:
    """A tiny PNG that claims a huge picture (a decompression bomb)."""

    def chunk(kind, data):
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    row = b"\x00" + b"\x00" * width
    body = zlib.compress(row * 64, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def test_at_most_four_photos(client, product, member, login_as):
    login_as(member)
    response = _submit(client, product, [(f"p{n}.png", png_bytes(size=(10 + n, 10))) for n in range(5)])
    assert response.status_code == 422 and "at most 4 photos" in response.get_data(as_text=True)
    assert db.session.scalar(select(Review)) is None


def test_too_big_a_file_is_refused(app):
    with pytest.raises(Exception) as caught:
        photos.prepare_photo("huge.jpg", b"\xff\xd8" + b"\x00" * (8 * 1024 * 1024))
    assert "at most 8 MB" in str(caught.value.field_errors)


def test_removal_deletes_the_files(app, client, product, member, login_as, moderator):
    login_as(member)
    assert _submit(client, product, [("a.png", png_bytes())]).status_code == 302
    review = db.session.scalar(select(Review))
    moderation.approve_submission("review", review.id, moderator)
    name = db.session.scalar(select(ReviewPhoto.file_name))
    assert photos.storage().read(name) is not None
    moderation.remove_submission("review", review.id, moderator, reason="personal_information")
    assert photos.storage().read(name) is None
    assert db.session.scalar(select(ReviewPhoto)) is None
    assert client.get(f"/reviews/photos/{name}").status_code == 404


def test_moderators_see_photos_in_the_queue(client, product, member, login_as, moderator):
    login_as(member)
    assert _submit(client, product, [("a.png", png_bytes())]).status_code == 302
    name = db.session.scalar(select(ReviewPhoto.file_name))
    review_id = db.session.scalar(select(ReviewPhoto.review_id))
    client.post("/logout")
    login_as(moderator)
    # The queue lists the review; its decision page shows the photos.
    assert f"/moderation/items/review/{review_id}" in client.get("/moderation").get_data(as_text=True)
    page = client.get(f"/moderation/items/review/{review_id}").get_data(as_text=True)
    assert f"/reviews/photos/{name}" in page
    assert client.get(f"/reviews/photos/{name}").status_code == 200
