"""The moderation log as a public transparency log (docs/transparency-log.md).

Every moderation log row becomes, in the same transaction, a public entry (ids, codes,
fingerprints and a moderator pseudonym: never names, emails, text or notes) and a leaf of an
RFC 6962 Merkle tree. The perfect subtrees of the tree are stored (`log_node`) so that roots
and proofs need one query. `publish_checkpoint` signs the tree head as a C2SP checkpoint;
witnesses add cosignatures; `verify_tree` (in `flask audit verify`) recomputes everything from
the log rows and checks it against every checkpoint ever published.

The tree, note and entry formats live in `moderation.logverify`, the stand-alone verifier,
so the site and outside verifiers share one implementation.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    and_,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from forum.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from forum.extensions import db
from forum.timeutil import UTCDateTime, utcnow

from . import logverify as lv
from .models import ModerationLog, ModerationLogHead

# Roles whose actions are shown under a pseudonym; everyone else (members, system) is only a role.
STAFF_ROLES = ("moderator", "admin")
KEY_FILE = "log-signing-key"


# --- storage ----------------------------------------------------------------------------------


class LogPseudonym(db.Model):  # type: ignore[name-defined]  # db.Model is dynamic
    """A staff member's public name in the log: random, so it reveals nothing, and kept when
    the account is deleted (it is not personal data on its own)."""

    __tablename__ = "log_pseudonym"

    actor_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    pseudonym: Mapped[str] = mapped_column(String(20), unique=True)


class LogLeaf(db.Model):  # type: ignore[name-defined]  # db.Model is dynamic
    """The public entry of log row `seq`, as the exact bytes hashed into leaf `idx`."""

    __tablename__ = "log_leaf"

    idx: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    entry: Mapped[str] = mapped_column(Text)
    leaf_hash: Mapped[str] = mapped_column(String(64))


class LogNode(db.Model):  # type: ignore[name-defined]  # db.Model is dynamic
    """The hash of the perfect subtree of 2**level leaves starting at leaf idx * 2**level."""

    __tablename__ = "log_node"

    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(64))


class LogCheckpoint(db.Model):  # type: ignore[name-defined]  # db.Model is dynamic
    """Every signed checkpoint ever published (never deleted)."""

    __tablename__ = "log_checkpoint"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    origin: Mapped[str] = mapped_column(String(200))
    tree_size: Mapped[int] = mapped_column(Integer)
    root_hash: Mapped[str] = mapped_column(String(64))  # hex
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    __table_args__ = (UniqueConstraint("origin", "tree_size"),)

    @property
    def root_b64(self) -> str:
        return lv.b64(bytes.fromhex(self.root_hash))

    @property
    def text(self) -> str:
        return lv.Checkpoint(self.origin, self.tree_size, bytes.fromhex(self.root_hash)).text


class LogCosignature(db.Model):  # type: ignore[name-defined]  # db.Model is dynamic
    __tablename__ = "log_cosignature"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    checkpoint_id: Mapped[int] = mapped_column(ForeignKey("log_checkpoint.id"), index=True)
    witness: Mapped[str] = mapped_column(String(200))
    timestamp: Mapped[int] = mapped_column(BigInteger)
    line: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("checkpoint_id", "witness"),)


class LogKeyHandover(db.Model):  # type: ignore[name-defined]  # db.Model is dynamic
    """A key rotation: a note naming both keys, signed by both."""

    __tablename__ = "log_key_handover"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    old_key: Mapped[str] = mapped_column(String(300))
    new_key: Mapped[str] = mapped_column(String(300))
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# --- entries and the tree, at write time ------------------------------------------------------


def _pseudonym(actor_id: int | None, role: str) -> str | None:
    if actor_id is None or role not in STAFF_ROLES:
        return None
    found = db.session.get(LogPseudonym, actor_id)
    if found is None:
        found = LogPseudonym(actor_id=actor_id, pseudonym=f"mod-{secrets.token_hex(5)}")
        db.session.add(found)
        db.session.flush()
    return found.pseudonym


def _time(moment) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def public_entry(row: ModerationLog, index: int, pseudonym: str | None) -> dict:
    return {
        "index": index,
        "time": _time(row.created_at),
        "kind": row.subject_kind,
        "id": row.subject_id,
        "action": row.action,
        "from_state": row.from_state,
        "to_state": row.to_state,
        "reason": row.reason,
        "fingerprint": row.fingerprint,
        "actor_role": row.actor_role,
        "moderator": pseudonym,
    }


def tree_size() -> int:
    last = db.session.scalar(select(func.max(LogLeaf.idx)))
    return 0 if last is None else last + 1


def extend_tree() -> int:
    """Add a leaf for every log row not in the tree yet (normally the one just appended).
    Runs inside the caller's transaction, under the log head's lock; returns the leaves added."""
    size = tree_size()
    rows = db.session.scalars(
        select(ModerationLog).where(ModerationLog.seq > size).order_by(ModerationLog.seq)
    ).all()
    added = 0
    for row in rows:
        if row.seq != size + 1:
            break  # a gap: `flask audit verify` reports it
        entry = public_entry(row, size, _pseudonym(row.actor_id, row.actor_role))
        data = lv.entry_bytes(entry)
        value = lv.leaf_hash(data)
        db.session.add(
            LogLeaf(idx=size, seq=row.seq, entry=data.decode("utf-8", "surrogatepass"), leaf_hash=value.hex())
        )
        db.session.add(LogNode(level=0, idx=size, hash=value.hex()))
        level, idx = 0, size
        while idx & 1:
            left = db.session.get(LogNode, (level, idx - 1))
            assert left is not None  # the left sibling of an odd index is always stored
            value = lv.node_hash(bytes.fromhex(left.hash), value)
            level, idx = level + 1, idx >> 1
            db.session.add(LogNode(level=level, idx=idx, hash=value.hex()))
        size += 1
        added += 1
    if added:
        db.session.flush()
    return added


def _lock_log() -> None:
    """Take the log head's lock (as append_log does), so the tree grows from one place at a time."""
    db.session.execute(
        update(ModerationLogHead).where(ModerationLogHead.id == 1).values(last_seq=ModerationLogHead.last_seq)
    )


# --- roots and proofs from stored nodes --------------------------------------------------------


def _pieces(lo: int, hi: int) -> list[tuple[int, int]]:
    """The stored perfect subtrees (level, idx) whose RFC 6962 combination is MTH(lo..hi)."""
    n = hi - lo
    if n <= 0:
        return []
    if n & (n - 1) == 0 and lo % n == 0:
        level = n.bit_length() - 1
        return [(level, lo >> level)]
    k = lv.split_point(n)
    return _pieces(lo, lo + k) + _pieces(lo + k, hi)


def _with_stored_nodes(compute):
    """Run `compute(mth)` twice: once to learn which ranges it needs, then with their hashes
    loaded in one query."""
    ranges: list[tuple[int, int]] = []
    compute(lambda lo, hi: ranges.append((lo, hi)) or lv.EMPTY_ROOT)
    wanted = {piece for lo, hi in ranges for piece in _pieces(lo, hi)}
    hashes: dict[tuple[int, int], bytes] = {}
    by_level: dict[int, list[int]] = {}
    for level, idx in sorted(wanted):
        by_level.setdefault(level, []).append(idx)
    if by_level:
        # One query; per level "idx IN (...)" so that both databases use the primary key.
        where = or_(
            *[and_(LogNode.level == level, LogNode.idx.in_(idxs)) for level, idxs in by_level.items()]
        )
        for node in db.session.scalars(select(LogNode).where(where)):
            hashes[(node.level, node.idx)] = bytes.fromhex(node.hash)

    def mth(lo: int, hi: int) -> bytes:
        n = hi - lo
        if n == 0:
            return lv.EMPTY_ROOT
        if n & (n - 1) == 0 and lo % n == 0:
            return hashes[(n.bit_length() - 1, lo >> (n.bit_length() - 1))]
        k = lv.split_point(n)
        return lv.node_hash(mth(lo, lo + k), mth(lo + k, hi))

    return compute(mth)


def root_at(size: int) -> bytes:
    return _with_stored_nodes(lambda mth: mth(0, size))


def inclusion(index: int, size: int) -> dict:
    current = tree_size()
    if not (0 <= index < size <= current):
        raise ValidationFailed(
            f"Ask for an index smaller than size, and a size from 1 to {current} (the tree size)."
        )
    proof, root = _with_stored_nodes(lambda mth: (lv.inclusion_proof(index, size, mth), mth(0, size)))
    leaf = db.session.get(LogLeaf, index)
    assert leaf is not None  # index < size, checked above
    return {
        "index": index,
        "tree_size": size,
        "leaf_hash": lv.b64(bytes.fromhex(leaf.leaf_hash)),
        "root_hash": lv.b64(root),
        "proof": [lv.b64(p) for p in proof],
    }


def consistency(old: int, new: int) -> dict:
    current = tree_size()
    if not (0 <= old <= new <= current):
        raise ValidationFailed(f"Ask for 0 <= old <= new <= {current} (the tree size).")
    proof = _with_stored_nodes(lambda mth: lv.consistency_proof(old, new, mth))
    return {"old": old, "new": new, "proof": [lv.b64(p) for p in proof]}


def entries(start: int, end: int, limit: int = 1000) -> list[dict]:
    end = min(end, start + limit)
    rows = db.session.scalars(
        select(LogLeaf.entry).where(LogLeaf.idx >= start, LogLeaf.idx < end).order_by(LogLeaf.idx)
    ).all()
    return [json.loads(text) for text in rows]


def publication_leaf(kind: str, item_id: int) -> LogLeaf | None:
    """The leaf of the latest log entry that published this item."""
    seq = db.session.scalar(
        select(ModerationLog.seq)
        .where(
            ModerationLog.subject_kind == kind,
            ModerationLog.subject_id == item_id,
            ModerationLog.to_state == "published",
        )
        .order_by(ModerationLog.seq.desc())
        .limit(1)
    )
    if seq is None:
        return None
    return db.session.scalar(select(LogLeaf).where(LogLeaf.seq == seq))


# --- keys -------------------------------------------------------------------------------------


def default_origin() -> str:
    configured = current_app.config.get("LOG_ORIGIN")
    if configured:
        return configured
    from urllib.parse import urlsplit

    host = urlsplit(current_app.config.get("SITE_URL") or "").netloc or "community.localhost"
    return f"{host}/moderation-log"


def _key_path() -> Path:
    return Path(current_app.instance_path) / KEY_FILE


def _key_from_environment() -> str | None:
    return current_app.config.get("LOG_SIGNING_KEY") or os.environ.get("LOG_SIGNING_KEY")


def signer() -> lv.Signer:
    """The log's private key: LOG_SIGNING_KEY (FLASK_LOG_SIGNING_KEY) or <instance>/log-signing-key,
    created there on first use (never in the repository)."""
    configured = _key_from_environment()
    if configured:
        return lv.Signer.from_skey(configured)
    path = _key_path()
    try:
        return lv.Signer.from_skey(path.read_text())
    except FileNotFoundError:
        pass
    new = lv.Signer.generate(default_origin())
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first: use theirs
        return lv.Signer.from_skey(path.read_text())
    with os.fdopen(fd, "w") as fh:
        fh.write(new.skey + "\n")
    return new


def known_verifiers() -> dict[str, lv.Verifier]:
    """Every key the log has ever signed with, by origin (the current one and those handed over)."""
    keys = {}
    for old_key, new_key in db.session.execute(select(LogKeyHandover.old_key, LogKeyHandover.new_key)):
        for vkey in (old_key, new_key):
            verifier = lv.parse_vkey(vkey)
            keys[verifier.name] = verifier
    current = signer().verifier
    keys[current.name] = current
    return keys


# --- checkpoints ------------------------------------------------------------------------------


def latest_checkpoint() -> LogCheckpoint | None:
    return db.session.scalar(select(LogCheckpoint).order_by(LogCheckpoint.id.desc()).limit(1))


def publish_checkpoint(respect_interval: bool = True) -> int:
    """Sign and store a checkpoint if the log has grown (or the origin changed) since the last
    one and, with respect_interval, at least LOG_CHECKPOINT_MINUTES have passed. Returns 1 if
    one was published, else 0. Commits. (Worker job: run every minute or so.)"""
    key = signer()
    _lock_log()
    extend_tree()
    size = tree_size()
    latest = latest_checkpoint()
    if latest is not None and latest.origin == key.name and latest.tree_size == size:
        db.session.commit()
        return 0
    if respect_interval and latest is not None and latest.origin == key.name:
        minutes = float(current_app.config["LOG_CHECKPOINT_MINUTES"])
        if utcnow() - latest.created_at < timedelta(minutes=minutes):
            db.session.commit()
            return 0
    checkpoint = lv.Checkpoint(key.name, size, root_at(size))
    db.session.add(
        LogCheckpoint(
            origin=key.name,
            tree_size=size,
            root_hash=checkpoint.root.hex(),
            note=lv.sign_note(checkpoint.text, [key]),
        )
    )
    try:
        db.session.commit()
    except IntegrityError:  # another process published the same checkpoint at the same moment
        db.session.rollback()
        return 0
    return 1


def served_note(checkpoint: LogCheckpoint) -> str:
    """The signed checkpoint with its witnesses' cosignature lines added (as C2SP shows them)."""
    lines = db.session.scalars(
        select(LogCosignature.line)
        .where(LogCosignature.checkpoint_id == checkpoint.id)
        .order_by(LogCosignature.id)
    ).all()
    return checkpoint.note + "".join(f"{line}\n" for line in lines)


def cosignatures_by_checkpoint(ids: list[int]) -> dict[int, list[LogCosignature]]:
    found: dict[int, list[LogCosignature]] = {i: [] for i in ids}
    if ids:
        for cosig in db.session.scalars(
            select(LogCosignature).where(LogCosignature.checkpoint_id.in_(ids)).order_by(LogCosignature.id)
        ):
            found[cosig.checkpoint_id].append(cosig)
    return found


def witness_keys() -> dict[str, lv.Verifier]:
    raw = current_app.config.get("LOG_WITNESS_KEYS") or ()
    if isinstance(raw, str):
        raw = raw.replace(",", " ").split()
    keys = {}
    for vkey in raw:
        verifier = lv.parse_vkey(vkey)
        if verifier.sig_type != lv.SIG_COSIGNATURE_V1:
            raise ValueError(f"witness key {verifier.name} is not a cosignature/v1 (type 0x04) key")
        keys[verifier.name] = verifier
    return keys


def add_cosignature(line: str, size: int | None = None) -> tuple[LogCosignature, bool]:
    """Check a witness's tlog-cosignature/v1 line against a checkpoint (the latest, or the one of
    `size` under the current origin) and keep it. Returns (cosignature, created). Commits."""
    line = (line or "").strip()
    try:
        parsed = lv.parse_signature_line(line)
    except lv.NoteError as error:
        raise ValidationFailed(f"Send one cosignature line: {error}.") from error
    witness = witness_keys().get(parsed.name)
    if witness is None or witness.key_id != parsed.key_id:
        raise PermissionDenied("This key is not one of our witnesses (LOG_WITNESS_KEYS).")
    if size is None:
        checkpoint = latest_checkpoint()
    else:
        checkpoint = db.session.scalar(
            select(LogCheckpoint).where(
                LogCheckpoint.origin == signer().name, LogCheckpoint.tree_size == size
            )
        )
    if checkpoint is None:
        raise NotFound("There is no such checkpoint.")
    try:
        timestamp = lv.verify_cosignature(checkpoint.text, line, witness)
    except lv.NoteError as error:
        raise ValidationFailed(
            f"The cosignature does not verify for the checkpoint of size {checkpoint.tree_size}: {error}."
        ) from error
    if timestamp > time.time() + 300:
        raise ValidationFailed("The cosignature's time is in the future.")
    existing = db.session.scalar(
        select(LogCosignature).where(
            LogCosignature.checkpoint_id == checkpoint.id, LogCosignature.witness == witness.name
        )
    )
    if existing is not None:
        if existing.line == line:
            return existing, False
        raise Conflict("This witness has already cosigned this checkpoint.")
    cosig = LogCosignature(checkpoint_id=checkpoint.id, witness=witness.name, timestamp=timestamp, line=line)
    db.session.add(cosig)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("This witness has already cosigned this checkpoint.") from None
    return cosig, True


# --- key rotation -------------------------------------------------------------------------------


def rotate_key(new_origin: str | None = None) -> tuple[lv.Signer, lv.Signer]:
    """Start a new origin with a new key. The hand-over (old key, new key, tree head) is a note
    signed by both keys and a log entry; the first checkpoint of the new origin follows. Commits."""
    from .audit import append_log

    if _key_from_environment():
        raise ValidationFailed(
            "The signing key comes from LOG_SIGNING_KEY: put the new key there yourself "
            "(rotate-key only manages the key in the instance folder)."
        )
    old = signer()
    name = new_origin or f"{default_origin()}/{utcnow():%Y%m%dT%H%M%SZ}"
    if name == old.name:
        raise ValidationFailed("The new origin must differ from the current one.")
    try:
        new = lv.Signer.generate(name)
    except lv.NoteError as error:
        raise ValidationFailed(f"Unusable origin: {error}.") from error
    append_log(
        actor=None,
        actor_role="system",
        subject_kind="log_key",
        subject_id=0,
        action="rotate_key",
        fingerprint=hashlib.sha256(new.verifier.vkey.encode("utf-8")).hexdigest(),
    )
    size = tree_size()
    text = (
        f"{old.name} key handover\nold-key {old.verifier.vkey}\nnew-key {new.verifier.vkey}\n"
        f"tree-size {size}\nroot {lv.b64(root_at(size))}\n"
    )
    db.session.add(
        LogKeyHandover(
            old_key=old.verifier.vkey, new_key=new.verifier.vkey, note=lv.sign_note(text, [old, new])
        )
    )
    path = _key_path()
    retired = path.with_name(f"{KEY_FILE}.retired-{utcnow():%Y%m%dT%H%M%S%f}")
    path.rename(retired)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(new.skey + "\n")
    try:
        db.session.commit()
    except Exception:
        db.session.rollback()
        path.unlink()
        retired.rename(path)
        raise
    publish_checkpoint(respect_interval=False)
    return old, new


# --- verification (flask audit verify) -----------------------------------------------------------


@dataclass
class TreeResult:
    ok: bool
    size: int
    checkpoints: int
    problem: str | None = None


def verify_tree(batch_size: int = 5000) -> TreeResult:
    """Recompute every public entry from the log rows, the tree from them, and compare with the
    stored leaves and with every checkpoint ever published (signature and root)."""
    pseudonyms = dict(db.session.execute(select(LogPseudonym.actor_id, LogPseudonym.pseudonym)).all())
    checkpoints = db.session.scalars(
        select(LogCheckpoint).order_by(LogCheckpoint.tree_size, LogCheckpoint.id)
    ).all()
    try:
        keys = known_verifiers()
    except (lv.NoteError, ValueError) as error:
        return TreeResult(False, 0, 0, f"the log's keys are unusable: {error}")
    for checkpoint in checkpoints:
        key = keys.get(checkpoint.origin)
        try:
            if key is None:
                raise lv.NoteError(f"no known key for origin {checkpoint.origin}")
            if lv.parse_checkpoint(lv.open_note(checkpoint.note, key)) != lv.Checkpoint(
                checkpoint.origin, checkpoint.tree_size, bytes.fromhex(checkpoint.root_hash)
            ):
                raise lv.NoteError("the signed text differs from the stored size and root")
        except lv.NoteError as error:
            return TreeResult(
                False, 0, 0, f"checkpoint {checkpoint.id} (size {checkpoint.tree_size}): {error}"
            )
    compact = lv.CompactRange()
    pending = list(checkpoints)
    matched = 0

    def settle() -> str | None:
        nonlocal matched
        while pending and pending[0].tree_size == compact.size:
            checkpoint = pending.pop(0)
            if compact.root().hex() != checkpoint.root_hash:
                return (
                    f"the entries 0..{compact.size - 1} recomputed from the log rows do not give the root of "
                    f"checkpoint {checkpoint.id} (size {checkpoint.tree_size}, published "
                    f"{checkpoint.created_at:%Y-%m-%d %H:%M} UTC): history was rewritten"
                )
            matched += 1
        return None

    problem = settle()
    last_seq = 0
    while problem is None:
        rows = db.session.execute(
            select(ModerationLog, LogLeaf.entry, LogLeaf.leaf_hash)
            .outerjoin(LogLeaf, LogLeaf.seq == ModerationLog.seq)
            .where(ModerationLog.seq > last_seq)
            .order_by(ModerationLog.seq)
            .limit(batch_size)
        ).all()
        if not rows:
            break
        for row, stored_entry, stored_hash in rows:
            last_seq = row.seq
            index = compact.size
            pseudonym = pseudonyms.get(row.actor_id) if row.actor_role in STAFF_ROLES else None  # type: ignore[arg-type]
            data = lv.entry_bytes(public_entry(row, index, pseudonym))
            value = lv.leaf_hash(data)
            if stored_entry is not None and (
                stored_hash != value.hex() or stored_entry.encode("utf-8", "surrogatepass") != data
            ):
                problem = f"entry {index} (log row {row.seq}) differs from its log row"
                break
            compact.append(value)
            problem = settle()
            if problem:
                break
        db.session.expunge_all()
    if problem is None and pending:
        problem = (
            f"checkpoint {pending[0].id} has {pending[0].tree_size} entries but the log only "
            f"{compact.size}: entries were deleted"
        )
    if problem is None and compact.size:
        stored_size = tree_size()
        if stored_size and root_at(min(stored_size, compact.size)) != _prefix_root(
            min(stored_size, compact.size)
        ):
            problem = "the stored tree nodes do not match the entries (proofs would fail)"
    if problem:
        return TreeResult(False, compact.size, matched, problem)
    return TreeResult(True, compact.size, matched)


def _prefix_root(size: int) -> bytes:
    compact = lv.CompactRange()
    for value in db.session.scalars(
        select(LogLeaf.leaf_hash).where(LogLeaf.idx < size).order_by(LogLeaf.idx)
    ):
        compact.append(bytes.fromhex(value))
    return compact.root()
