"""The public transparency log over HTTP (`/transparency/log/...`): entries, checkpoints, proofs,
the key, witnesses' cosignatures and an Atom feed of checkpoints. Errors are JSON here
(forum.errors); anyone may read from any site (CORS)."""

from __future__ import annotations

import math
from typing import Any
from xml.etree import ElementTree as ET

from flask import Blueprint, Response, current_app, jsonify, render_template, request, url_for
from flask_limiter.util import get_remote_address
from sqlalchemy import func, select

from forum.errors import DomainError
from forum.extensions import csrf, db, limiter

from . import logverify as lv
from . import tlog

bp = Blueprint("tlog", __name__, url_prefix="/transparency/log")

MAX_ENTRIES = 1000
CHECKPOINTS_PER_PAGE = 100
ATOM_NS = "http://www.w3.org/2005/Atom"
FEED_ENTRIES = 50


class BadQuery(DomainError):
    status_code = 400
    title = "Bad request"


def _int_arg(name: str, default: int | None = None, minimum: int = 0) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        if default is None:
            raise BadQuery(f"{name} is required (a whole number).")
        return default
    if not raw.isascii() or not raw.isdigit() or len(raw) > 12 or int(raw) < minimum:
        raise BadQuery(f"{name} must be a whole number of {minimum} or more.")
    return int(raw)


@bp.after_request
def _public(response):
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.route("")
def overview():
    checkpoint = tlog.latest_checkpoint()
    return render_template(
        "moderation/transparency_log.html",
        checkpoint=checkpoint,
        note=tlog.served_note(checkpoint) if checkpoint else None,
        vkey=tlog.signer().verifier.vkey,
        tree_size=tlog.tree_size(),
        site=request.url_root.rstrip("/"),
    )


@bp.route("/entries")
def entries():
    start = _int_arg("start", 0)
    end = _int_arg("end", start + MAX_ENTRIES)
    if end < start:
        raise BadQuery("end must not be smaller than start.")
    size = tlog.tree_size()
    found = tlog.entries(start, min(end, size), MAX_ENTRIES)
    return jsonify(start=start, end=start + len(found), tree_size=size, entries=found)


def _checkpoint_json(checkpoint, cosignatures) -> dict:
    return {
        "origin": checkpoint.origin,
        "tree_size": checkpoint.tree_size,
        "root_hash": checkpoint.root_b64,
        "published_at": checkpoint.created_at.isoformat(timespec="seconds"),
        "note": checkpoint.note,
        "cosignatures": [
            {"witness": c.witness, "timestamp": c.timestamp, "line": c.line} for c in cosignatures
        ],
    }


@bp.route("/checkpoint")
def checkpoint():
    found = tlog.latest_checkpoint()
    if found is None:
        return _not_yet()
    return Response(tlog.served_note(found), mimetype="text/plain", headers={"Cache-Control": "no-cache"})


def _not_yet():
    response = jsonify(error="Not found", status=404, message="No checkpoint has been published yet.")
    response.status_code = 404
    return response


@bp.route("/checkpoints")
def checkpoints():
    total = db.session.scalar(select(func.count()).select_from(tlog.LogCheckpoint))
    pages = max(1, math.ceil(total / CHECKPOINTS_PER_PAGE))
    page = _int_arg("page", 1, minimum=1)
    rows = db.session.scalars(
        select(tlog.LogCheckpoint)
        .order_by(tlog.LogCheckpoint.id)
        .offset((page - 1) * CHECKPOINTS_PER_PAGE)
        .limit(CHECKPOINTS_PER_PAGE)
    ).all()
    cosigs = tlog.cosignatures_by_checkpoint([c.id for c in rows])
    return jsonify(
        page=page, pages=pages, total=total, checkpoints=[_checkpoint_json(c, cosigs[c.id]) for c in rows]
    )


@bp.route("/checkpoints.atom")
def checkpoints_feed():
    rows = db.session.scalars(
        select(tlog.LogCheckpoint).order_by(tlog.LogCheckpoint.id.desc()).limit(FEED_ENTRIES)
    ).all()
    ET.register_namespace("", ATOM_NS)
    feed = ET.Element(f"{{{ATOM_NS}}}feed")

    def add(parent, tag, text=None, **attributes):
        element = ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}", attributes)
        if text is not None:
            element.text = text
        return element

    site = current_app.config.get("SITE_NAME", "Community")
    add(feed, "title", f"{site}: moderation log checkpoints")
    add(feed, "id", url_for("tlog.checkpoints_feed", _external=True))
    add(feed, "link", rel="self", href=url_for("tlog.checkpoints_feed", _external=True))
    add(feed, "link", rel="alternate", href=url_for("tlog.overview", _external=True))
    updated = rows[0].created_at if rows else None
    add(feed, "updated", (updated.strftime("%Y-%m-%dT%H:%M:%SZ") if updated else "1970-01-01T00:00:00Z"))
    add(add(feed, "author"), "name", site)
    for row in rows:
        entry = add(feed, "entry")
        add(entry, "title", f"{row.origin} size {row.tree_size}")
        add(entry, "id", f"tag:{row.origin.split('/')[0]},2026:checkpoint:{row.origin}:{row.tree_size}")
        stamp = row.created_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        add(entry, "updated", stamp)
        add(entry, "published", stamp)
        add(entry, "link", rel="alternate", href=url_for("tlog.checkpoints", _external=True))
        add(entry, "content", row.note, type="text")
    body = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return Response(body, mimetype="application/atom+xml")


@bp.route("/key")
def key():
    return Response(tlog.signer().verifier.vkey + "\n", mimetype="text/plain")


@bp.route("/handovers")
def handovers():
    rows = db.session.scalars(select(tlog.LogKeyHandover).order_by(tlog.LogKeyHandover.id)).all()
    return jsonify(
        handovers=[
            {
                "old_key": h.old_key,
                "new_key": h.new_key,
                "note": h.note,
                "created_at": h.created_at.isoformat(timespec="seconds"),
            }
            for h in rows
        ]
    )


@bp.route("/proof/inclusion")
def inclusion_proof():
    return jsonify(tlog.inclusion(_int_arg("index"), _int_arg("size", minimum=1)))


@bp.route("/proof/consistency")
def consistency_proof():
    return jsonify(tlog.consistency(_int_arg("old"), _int_arg("new")))


def _cosignature_limit() -> str:
    return current_app.config["RATELIMIT_COSIGNATURE"]


@bp.route("/cosignature", methods=["POST"])
@csrf.exempt  # a machine-to-machine endpoint: no cookies, the signature is the authentication
@limiter.limit(_cosignature_limit, key_func=get_remote_address)
def cosignature():
    size = request.args.get("size")
    if size is not None:
        size = _int_arg("size")
    line = (
        request.get_data(as_text=True)
        if request.mimetype != "application/x-www-form-urlencoded"
        else request.form.get("cosignature", "")
    )
    cosig, created = tlog.add_cosignature(line, size)
    response = jsonify(witness=cosig.witness, timestamp=cosig.timestamp, created=created)
    response.status_code = 201 if created else 200
    return response


def review_log_context(review) -> dict:
    """What a review's verify page shows about its publication entry in the log."""
    leaf = tlog.publication_leaf("review", review.id)
    checkpoint = tlog.latest_checkpoint()
    context: dict[str, Any] = {
        "log_leaf": leaf,
        "log_checkpoint": checkpoint,
        "log_proof": None,
        "log_site": request.url_root.rstrip("/"),
    }
    if (
        leaf is not None
        and checkpoint is not None
        and leaf.idx < checkpoint.tree_size
        and checkpoint.origin == tlog.signer().name
    ):
        context["log_proof"] = tlog.inclusion(leaf.idx, checkpoint.tree_size)
        context["log_note"] = tlog.served_note(checkpoint)
    if leaf is not None:
        context["log_leaf_b64"] = lv.b64(bytes.fromhex(leaf.leaf_hash))
    return context
