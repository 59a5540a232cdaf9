"""Review photos: checked, re-encoded without metadata, stored under their content hash.

`prepare_photos(files)` runs before the review is stored: each upload is decoded
and re-encoded with Pillow (at most 2048 px on the long side, the first frame
only), from a fresh image that carries no metadata at all (EXIF, GPS, XMP, ICC,
comments), so the bytes we publish are exactly the bytes we hashed. Files that
are not JPEG/PNG/WebP images, decompression bombs and polyglots (an image with
something else inside or after it) are refused with a clear message.

Files live behind `PhotoStorage` (`REVIEW_PHOTO_STORAGE`, a dotted path to a
class taking the app): the default keeps them in <instance>/review-photos; a
deployment with several hosts points it at shared storage.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from sqlalchemy import event, func, select
from werkzeug.utils import import_string

from forum.errors import ValidationFailed
from forum.extensions import db
from moderation.audit import append_log

from .trust_models import ReviewPhoto

MAX_PHOTOS = 4
MAX_PHOTO_BYTES = 8 * 1024 * 1024
MAX_SIDE = 2048
MAX_PIXELS = 40_000_000  # decoded size above this is refused (decompression bombs)
FORMATS = {"JPEG": ("jpg", "image/jpeg"), "PNG": ("png", "image/png"), "WEBP": ("webp", "image/webp")}
FILE_NAME = re.compile(r"^[0-9a-f]{64}\.(jpg|png|webp)$")
# Things that have no business inside a photo: markup, scripts, archives, documents, programs.
FOREIGN_SIGNATURES = (
    b"<script",
    b"<html",
    b"<!doctype",
    b"<svg",
    b"<?php",
    b"<?xml-stylesheet",
    b"<iframe",
    b"javascript:",
    b"pk\x03\x04",
    b"%pdf-",
    b"\x7felf",
    b"<body",
    b"onload=",
    b"onerror=",
)


class PhotoStorage:
    """Where photo files live. Keys are content-hash file names."""

    def save(self, name: str, data: bytes) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def read(self, name: str) -> bytes | None:  # pragma: no cover - interface
        raise NotImplementedError

    def delete(self, name: str) -> None:  # pragma: no cover - interface
        raise NotImplementedError


class LocalPhotoStorage(PhotoStorage):
    def __init__(self, app):
        self.root = Path(app.config.get("REVIEW_PHOTO_DIR") or Path(app.instance_path) / "review-photos")

    def _path(self, name: str) -> Path:
        if not FILE_NAME.match(name):
            raise ValueError("not a photo file name")
        return self.root / name[:2] / name

    def save(self, name: str, data: bytes) -> None:
        path = self._path(name)
        if path.exists():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(path.suffix + f".{os.getpid()}.tmp")
        temporary.write_bytes(data)
        os.replace(temporary, path)

    def read(self, name: str) -> bytes | None:
        try:
            return self._path(name).read_bytes()
        except (FileNotFoundError, ValueError):
            return None

    def delete(self, name: str) -> None:
        try:
            self._path(name).unlink()
        except (FileNotFoundError, ValueError):
            pass


def storage() -> PhotoStorage:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    found = app.extensions.get("review_photo_storage")
    if found is None:
        setting = app.config.get("REVIEW_PHOTO_STORAGE") or LocalPhotoStorage
        cls = import_string(setting) if isinstance(setting, str) else setting
        found = app.extensions["review_photo_storage"] = cls(app)
    return found


@dataclass
class PreparedPhoto:
    data: bytes
    sha256: str
    extension: str
    content_type: str
    width: int
    height: int

    @property
    def file_name(self) -> str:
        return f"{self.sha256}.{self.extension}"


def _refuse(name: str, why: str) -> ValidationFailed:
    label = f"“{name}”" if name else "A photo"
    return ValidationFailed(field_errors={"photos": [f"{label} {why}"]})


def _trailing_data(data: bytes, fmt: str) -> bool:
    """Bytes after the image's own end: the classic way to hide a second file in a photo."""
    if fmt == "PNG":
        end = data.rfind(b"IEND")
        return end < 0 or len(data[end + 8 :].rstrip(b"\x00")) > 0
    if fmt == "JPEG":
        return not data.rstrip(b"\x00\r\n").endswith(b"\xff\xd9")
    if fmt == "WEBP":
        declared = int.from_bytes(data[4:8], "little") + 8 if len(data) >= 12 else 0
        return len(data) > declared + 1
    return True


def prepare_photo(name: str, data: bytes) -> PreparedPhoto:
    from PIL import Image, ImageOps

    if not data:
        raise _refuse(name, "is empty.")
    if len(data) > MAX_PHOTO_BYTES:
        raise _refuse(name, f"is {len(data) / 1024 / 1024:.1f} MB; each photo may be at most 8 MB.")
    lowered = data.lower()
    if any(signature in lowered for signature in FOREIGN_SIGNATURES):
        raise _refuse(
            name,
            "contains something other than a picture (markup, a script or another file), so we cannot accept it.",
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            fmt = image.format
            if fmt not in FORMATS:
                raise _refuse(name, "is not a JPEG, PNG or WebP image.")
            width, height = image.size
            if width < 1 or height < 1 or width * height > MAX_PIXELS:
                raise _refuse(
                    name, f"is {width} × {height} pixels: too large to open safely (at most 40 megapixels)."
                )
            if _trailing_data(data, fmt):
                raise _refuse(
                    name,
                    "has extra data after the picture (a second file inside it, such as a motion photo's "
                    "video), so we cannot accept it. Save or export it as a still photo and try again.",
                )
            image.seek(0)
            image.load()
            image = ImageOps.exif_transpose(image)  # type: ignore[assignment]  # keep the photo upright once its EXIF is gone
    except ValidationFailed:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _refuse(
            name, "decodes to far more pixels than it should (a decompression bomb), so we cannot accept it."
        ) from None
    except Exception:  # UnidentifiedImageError, truncated or broken files, odd encoders
        raise _refuse(name, "is not a picture we can read. Use a JPEG, PNG or WebP photo.") from None
    extension, content_type = FORMATS[fmt]
    if fmt == "JPEG":
        mode = "RGB"
    else:
        mode = "RGBA" if image.mode in ("RGBA", "LA", "P", "PA") or "transparency" in image.info else "RGB"
    image = image.convert(mode)  # type: ignore[assignment]
    image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    # A brand-new image from the pixels alone: no info dict, so nothing of the upload's metadata can follow.
    clean = Image.frombytes(mode, image.size, image.tobytes())
    out = io.BytesIO()
    if fmt == "JPEG":
        clean.save(out, format="JPEG", quality=85, optimize=True)
    elif fmt == "PNG":
        clean.save(out, format="PNG", optimize=True)
    else:
        clean.save(out, format="WEBP", quality=85)
    encoded = out.getvalue()
    return PreparedPhoto(encoded, hashlib.sha256(encoded).hexdigest(), extension, content_type, *clean.size)


def prepare_photos(files) -> list[PreparedPhoto]:
    """files: [(file name, bytes)] as uploaded; empty file inputs are skipped."""
    uploads = [(name or "", data) for name, data in files if data or name]
    if len(uploads) > MAX_PHOTOS:
        raise ValidationFailed(
            field_errors={"photos": [f"Add at most {MAX_PHOTOS} photos; you chose {len(uploads)}."]}
        )
    return [prepare_photo(name, data) for name, data in uploads]


def attach_photos(review, user, photos: list[PreparedPhoto]) -> None:
    """Store the files and their rows, log each hash. Inside the submission's transaction."""
    for position, photo in enumerate(photos, start=1):
        storage().save(photo.file_name, photo.data)
        db.session.add(
            ReviewPhoto(
                review_id=review.id,
                position=position,
                sha256=photo.sha256,
                file_name=photo.file_name,
                content_type=photo.content_type,
                width=photo.width,
                height=photo.height,
                size=len(photo.data),
            )
        )
        append_log(
            actor=user,
            subject_kind="review",
            subject_id=review.id,
            action="photo",
            reason=f"photo_{position}",
            fingerprint=photo.sha256,
        )


def photos_of(review_ids) -> dict[int, list[ReviewPhoto]]:
    ids = list(review_ids)
    found: dict[int, list[ReviewPhoto]] = {i: [] for i in ids}
    if ids:
        for photo in db.session.scalars(
            select(ReviewPhoto)
            .where(ReviewPhoto.review_id.in_(ids))
            .order_by(ReviewPhoto.review_id, ReviewPhoto.position)
        ):
            found[photo.review_id].append(photo)
    return found


def queue_photos(review_id: int) -> list[ReviewPhoto]:
    """Photos of a review in the moderation queue: one query per request for every waiting review."""
    from flask import g

    from .models import Review

    cache = g.get("_review_queue_photos")
    if cache is None:
        cache = {}
        for photo in db.session.scalars(
            select(ReviewPhoto)
            .join(Review, Review.id == ReviewPhoto.review_id)
            .where(Review.status.in_(("pending", "hidden")))
            .order_by(ReviewPhoto.review_id, ReviewPhoto.position)
        ):
            cache.setdefault(photo.review_id, []).append(photo)
        g._review_queue_photos = cache
    if review_id not in cache:  # not waiting (e.g. a flagged published review): look it up alone
        cache[review_id] = photos_of([review_id])[review_id]
    return cache[review_id]


# --- deletion: rows now, files once the transaction has committed -------------------------

_PENDING_KEY = "review_photo_files_to_delete"


def delete_photos(review) -> int:
    """Delete a review's photos (rows now; files after commit, unless another review uses them)."""
    photos = list(db.session.scalars(select(ReviewPhoto).where(ReviewPhoto.review_id == review.id)))
    if not photos:
        return 0
    names = {p.file_name for p in photos}
    for photo in photos:
        db.session.delete(photo)
    db.session.flush()
    still_used = set(
        db.session.scalars(select(ReviewPhoto.file_name).where(ReviewPhoto.file_name.in_(names)))
    )
    pending = db.session.info.setdefault(_PENDING_KEY, set())
    pending.update(names - still_used)
    return len(photos)


def _delete_files_after_commit(session):
    names = session.info.pop(_PENDING_KEY, None)
    if not names:
        return
    try:
        store = storage()
    except RuntimeError:  # no app context: nothing we can reach
        return
    for name in names:
        store.delete(name)


def _forget_after_rollback(session):
    session.info.pop(_PENDING_KEY, None)


def init_app(app) -> None:
    from sqlalchemy.orm import Session

    if not event.contains(Session, "after_commit", _delete_files_after_commit):
        event.listen(Session, "after_commit", _delete_files_after_commit)
        event.listen(
            Session, "after_soft_rollback", lambda session, previous: _forget_after_rollback(session)
        )
    app.config.setdefault("REVIEW_PHOTO_STORAGE", "forum.catalog.photos.LocalPhotoStorage")


def photo_count_total() -> int:
    return db.session.scalar(select(func.count()).select_from(ReviewPhoto)) or 0
