"""Check our public moderation log from outside: `python -m moderation.logverify URL --state FILE`.

This file is self-contained on purpose: it needs only the Python standard library and the
`cryptography` package, and imports nothing else from the application, so anyone can copy
it and run it (`python logverify.py https://community.shop.example --state log-state.json`).
The application imports its Merkle tree, signed-note and entry-encoding functions from here,
so the site and every verifier compute exactly the same bytes.

Formats (see docs/transparency-log.md):
- Merkle tree: RFC 6962 / RFC 9162, SHA-256, leaf hash SHA-256(0x00 || entry),
  node hash SHA-256(0x01 || left || right), empty tree SHA-256("").
- Leaf bytes: the public entry as JSON with sorted keys, no spaces, non-ASCII unescaped, UTF-8.
- Checkpoints: C2SP tlog-checkpoint in a C2SP signed-note, Ed25519 (signature type 0x01).
- Witness cosignatures: C2SP tlog-cosignature v1 (Ed25519, key type 0x04).

Exit status: 0 with a one-line summary, 1 naming the first problem, 2 for usage or network errors.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import struct
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

# --- RFC 6962 / 9162 Merkle tree ----------------------------------------------------------

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def split_point(n: int) -> int:
    """The largest power of two smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def mth_from_leaves(leaf_hashes: list[bytes]) -> Callable[[int, int], bytes]:
    """mth(lo, hi): the Merkle tree hash of leaves lo..hi-1 of an in-memory list."""

    def mth(lo: int, hi: int) -> bytes:
        n = hi - lo
        if n == 0:
            return EMPTY_ROOT
        if n == 1:
            return leaf_hashes[lo]
        k = split_point(n)
        return node_hash(mth(lo, lo + k), mth(lo + k, hi))

    return mth


def root_hash(leaf_hashes: list[bytes]) -> bytes:
    compact = CompactRange()
    for value in leaf_hashes:
        compact.append(value)
    return compact.root()


def inclusion_proof(index: int, size: int, mth: Callable[[int, int], bytes]) -> list[bytes]:
    """RFC 6962 PATH(index, D[0:size]), leaf side first."""
    if not 0 <= index < size:
        raise ValueError("the index must be smaller than the tree size")

    def path(m: int, lo: int, hi: int) -> list[bytes]:
        n = hi - lo
        if n == 1:
            return []
        k = split_point(n)
        if m < k:
            return path(m, lo, lo + k) + [mth(lo + k, hi)]
        return path(m - k, lo + k, hi) + [mth(lo, lo + k)]

    return path(index, 0, size)


def consistency_proof(old: int, new: int, mth: Callable[[int, int], bytes]) -> list[bytes]:
    """RFC 6962 PROOF(old, D[0:new])."""
    if not 0 <= old <= new:
        raise ValueError("the old size must not be larger than the new size")
    if old == 0 or old == new:
        return []

    def subproof(m: int, lo: int, hi: int, whole: bool) -> list[bytes]:
        n = hi - lo
        if m == n:
            return [] if whole else [mth(lo, hi)]
        k = split_point(n)
        if m <= k:
            return subproof(m, lo, lo + k, whole) + [mth(lo + k, hi)]
        return subproof(m - k, lo + k, hi, False) + [mth(lo, lo + k)]

    return subproof(old, 0, new, True)


def verify_inclusion(index: int, size: int, leaf: bytes, proof: list[bytes], root: bytes) -> bool:
    """RFC 9162 section 2.1.3.2."""
    if not 0 <= index < size or len(leaf) != 32:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if len(p) != 32 or sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(old: int, new: int, old_root: bytes, new_root: bytes, proof: list[bytes]) -> bool:
    """RFC 9162 section 2.1.4.2 (a tree is consistent with the empty tree and with itself)."""
    if not 0 <= old <= new:
        return False
    if old == new:
        return not proof and old_root == new_root
    if old == 0:
        return not proof
    if not proof or any(len(p) != 32 for p in proof):
        return False
    if old & (old - 1) == 0:  # an exact power of two: the old root is a node of the new tree
        proof = [old_root, *proof]
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root


@dataclass
class CompactRange:
    """The roots of the perfect subtrees covering leaves [0, size): enough to extend the tree
    and compute its root without the older leaves (a verifier keeps this between runs)."""

    size: int = 0
    nodes: list[tuple[int, bytes]] = field(default_factory=list)  # (height, hash), left to right

    def append(self, value: bytes) -> None:
        height = 0
        while self.nodes and self.nodes[-1][0] == height:
            _, left = self.nodes.pop()
            value = node_hash(left, value)
            height += 1
        self.nodes.append((height, value))
        self.size += 1

    def root(self) -> bytes:
        if not self.nodes:
            return EMPTY_ROOT
        value = self.nodes[-1][1]
        for _, left in reversed(self.nodes[:-1]):
            value = node_hash(left, value)
        return value

    def to_json(self) -> dict:
        return {"size": self.size, "nodes": [[h, b64(v)] for h, v in self.nodes]}

    @classmethod
    def from_json(cls, data: dict) -> CompactRange:
        return cls(int(data["size"]), [(int(h), unb64(v)) for h, v in data["nodes"]])


# --- the public entries -------------------------------------------------------------------

ENTRY_FIELDS = (
    "index",
    "time",
    "kind",
    "id",
    "action",
    "from_state",
    "to_state",
    "reason",
    "fingerprint",
    "actor_role",
    "moderator",
)


def entry_bytes(entry: dict) -> bytes:
    """The canonical bytes of a public entry: the Merkle leaf."""
    if set(entry) != set(ENTRY_FIELDS):
        raise ValueError(f"an entry has exactly the fields {', '.join(ENTRY_FIELDS)}")
    return json.dumps(entry, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode(
        "utf-8", "surrogatepass"
    )


def entry_leaf_hash(entry: dict) -> bytes:
    return leaf_hash(entry_bytes(entry))


def content_fingerprint(title: str, body: str) -> str:
    """The review fingerprint (as forum.fingerprint computes it)."""
    payload = json.dumps([title, body], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8", "surrogatepass")).hexdigest()


# --- C2SP signed notes, checkpoints and cosignatures ---------------------------------------

SIG_ED25519 = 0x01
SIG_COSIGNATURE_V1 = 0x04
DASH = "\u2014"


class NoteError(ValueError):
    pass


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError) as error:
        raise NoteError(f"not base64: {text[:40]!r}") from error


def _check_name(name: str) -> None:
    if not name or any(c.isspace() or c == "+" for c in name):
        raise NoteError("a key name is non-empty, with no spaces and no '+'")


def key_id(name: str, sig_type: int, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([sig_type]) + public_key).digest()[:4]


def public_bytes(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


@dataclass(frozen=True)
class Verifier:
    name: str
    sig_type: int
    public_key: bytes

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.sig_type, self.public_key)

    @property
    def vkey(self) -> str:
        """The signed-note verifier key: <name>+<key id hex>+<base64(type || public key)>."""
        return f"{self.name}+{self.key_id.hex()}+{b64(bytes([self.sig_type]) + self.public_key)}"

    def verify(self, signature: bytes, message: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


def parse_vkey(vkey: str) -> Verifier:
    parts = vkey.strip().split("+", 2)  # base64 may contain "+" too
    if len(parts) != 3:
        raise NoteError("a verifier key reads <name>+<hex key id>+<base64 key>")
    name, hex_id, data = parts
    _check_name(name)
    raw = unb64(data)
    if len(raw) != 33 or raw[0] not in (SIG_ED25519, SIG_COSIGNATURE_V1):
        raise NoteError("only Ed25519 verifier keys (type 0x01 or 0x04) are supported")
    verifier = Verifier(name, raw[0], raw[1:])
    if verifier.key_id.hex() != hex_id.lower():
        raise NoteError("the verifier key's id does not match its name and key")
    return verifier


@dataclass(frozen=True)
class Signer:
    name: str
    private_key: Ed25519PrivateKey
    sig_type: int = SIG_ED25519

    @classmethod
    def generate(cls, name: str, sig_type: int = SIG_ED25519) -> Signer:
        _check_name(name)
        return cls(name, Ed25519PrivateKey.generate(), sig_type)

    @property
    def verifier(self) -> Verifier:
        return Verifier(self.name, self.sig_type, public_bytes(self.private_key.public_key()))

    @property
    def skey(self) -> str:
        """PRIVATE+KEY+<name>+<key id hex>+<base64(type || seed)> (as Go's note package writes it)."""
        from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

        seed = self.private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        return f"PRIVATE+KEY+{self.name}+{self.verifier.key_id.hex()}+{b64(bytes([self.sig_type]) + seed)}"

    @classmethod
    def from_skey(cls, skey: str) -> Signer:
        parts = skey.strip().split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            raise NoteError("a private key reads PRIVATE+KEY+<name>+<hex key id>+<base64 key>")
        name, hex_id, data = parts[2:]
        _check_name(name)
        raw = unb64(data)
        if len(raw) != 33 or raw[0] not in (SIG_ED25519, SIG_COSIGNATURE_V1):
            raise NoteError("only Ed25519 private keys are supported")
        signer = cls(name, Ed25519PrivateKey.from_private_bytes(raw[1:]), raw[0])
        if signer.verifier.key_id.hex() != hex_id.lower():
            raise NoteError("the private key's id does not match its name and key")
        return signer

    def sign(self, message: bytes) -> bytes:
        return self.private_key.sign(message)


def signature_line(name: str, kid: bytes, signature: bytes) -> str:
    return f"{DASH} {name} {b64(kid + signature)}\n"


def sign_note(text: str, signers: Iterable[Signer]) -> str:
    if not text.endswith("\n") or "\n\n" in text:
        raise NoteError("a note's text ends with a newline and has no blank line")
    lines = "".join(signature_line(s.name, s.verifier.key_id, s.sign(text.encode("utf-8"))) for s in signers)
    return f"{text}\n{lines}"


@dataclass(frozen=True)
class NoteSignature:
    name: str
    key_id: bytes
    signature: bytes  # for cosignatures: the 8-byte timestamp then the signature
    line: str


def parse_note(note: str) -> tuple[str, list[NoteSignature]]:
    cut = note.rfind("\n\n")
    if cut < 0 or not note.endswith("\n"):
        raise NoteError("not a signed note (no blank line before the signatures)")
    text, block = note[: cut + 1], note[cut + 2 :]
    signatures = [parse_signature_line(line) for line in block.splitlines()]
    if not signatures:
        raise NoteError("the note has no signature")
    return text, signatures


def parse_signature_line(line: str) -> NoteSignature:
    parts = line.rstrip("\n").split(" ")
    if len(parts) != 3 or parts[0] != DASH:
        raise NoteError(f"not a signature line: {line[:80]!r}")
    raw = unb64(parts[2])
    if len(raw) < 5:
        raise NoteError("a signature line is too short")
    return NoteSignature(parts[1], raw[:4], raw[4:], line.rstrip("\n"))


def open_note(note: str, verifier: Verifier) -> str:
    """The note's text if `verifier` signed it; NoteError otherwise."""
    text, signatures = parse_note(note)
    for sig in signatures:
        if sig.name == verifier.name and sig.key_id == verifier.key_id:
            if verifier.verify(sig.signature, text.encode("utf-8")):
                return text
            raise NoteError(f"the signature of {verifier.name} does not verify")
    raise NoteError(f"the note is not signed by {verifier.name} (key id {verifier.key_id.hex()})")


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        return "".join(
            f"{line}\n" for line in (self.origin, str(self.size), b64(self.root), *self.extensions)
        )


def parse_checkpoint(text: str) -> Checkpoint:
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "" or any(line == "" for line in lines[:-1]):
        raise NoteError("a checkpoint has an origin, a size and a root hash, one per line")
    origin, size, root = lines[0], lines[1], lines[2]
    if not size.isascii() or not size.isdigit() or (size != "0" and size.startswith("0")):
        raise NoteError("the checkpoint's tree size is not a decimal number")
    raw_root = unb64(root)
    if len(raw_root) != 32:
        raise NoteError("the checkpoint's root hash is not 32 bytes")
    return Checkpoint(origin, int(size), raw_root, tuple(lines[3:-1]))


def cosignature_message(checkpoint_text: str, timestamp: int) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n{checkpoint_text}".encode()


def cosign(checkpoint_text: str, witness: Signer, timestamp: int) -> str:
    """A C2SP tlog-cosignature/v1 line (what a witness sends back)."""
    signature = witness.sign(cosignature_message(checkpoint_text, timestamp))
    return signature_line(
        witness.name, witness.verifier.key_id, struct.pack(">Q", timestamp) + signature
    ).rstrip("\n")


def verify_cosignature(checkpoint_text: str, line: str, witness: Verifier) -> int:
    """The cosignature's timestamp if `line` is `witness`'s valid cosignature of the checkpoint."""
    sig = parse_signature_line(line)
    if sig.name != witness.name or sig.key_id != witness.key_id:
        raise NoteError("the cosignature is not from this witness")
    if len(sig.signature) != 8 + 64:
        raise NoteError("a cosignature holds an 8-byte timestamp and a 64-byte signature")
    (timestamp,) = struct.unpack(">Q", sig.signature[:8])
    if timestamp >= 2**63:
        raise NoteError("the cosignature's timestamp is out of range")
    if not witness.verify(sig.signature[8:], cosignature_message(checkpoint_text, timestamp)):
        raise NoteError("the cosignature does not verify")
    return timestamp


# --- the verifier ---------------------------------------------------------------------------


class Problem(Exception):
    """Something the log's operator must answer for (exit 1)."""


class FetchError(Exception):
    """The site could not be reached or answered nonsense (exit 2)."""


Fetch = Callable[[str], bytes]


def http_fetch(url: str) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": "logverify/1", "Accept": "*/*"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.read()
    except (urllib.error.URLError, OSError) as error:
        raise FetchError(f"{url}: {error}") from error


@dataclass
class Report:
    origin: str
    size: int
    new_entries: int
    reviews_checked: int
    pending_reviews: int
    first_run: bool = False

    def summary(self) -> str:
        pending = (
            f" ({self.pending_reviews} published after the checkpoint matched entries not yet checkpointed)"
            if self.pending_reviews
            else ""
        )
        history = "first run, state saved" if self.first_run else "consistent with the last run"
        return (
            f"OK {self.origin}: tree size {self.size} verified ({self.new_entries} new entries), "
            f"{history}; {self.reviews_checked} published reviews match their "
            f"publication entries{pending}."
        )


class LogVerifier:
    PAGE = 1000

    def __init__(self, base_url: str, fetch: Fetch = http_fetch, pinned_key: str | None = None):
        self.base = base_url.rstrip("/")
        self.fetch = fetch
        self.pinned_key = pinned_key

    def _get(self, path: str, **params) -> bytes:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        return self.fetch(f"{self.base}{path}{query}")

    def _json(self, path: str, **params):
        try:
            return json.loads(self._get(path, **params).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise FetchError(f"{path}: not JSON ({error})") from error

    def _entries(self, start: int, end: int) -> list[dict]:
        entries: list[dict] = []
        while start < end:
            stop = min(end, start + self.PAGE)
            page = self._json("/transparency/log/entries", start=start, end=stop)["entries"]
            if not page:
                raise Problem(
                    f"the log serves no entries from index {start} although its checkpoint has {end}"
                )
            for offset, entry in enumerate(page):
                if entry.get("index") != start + offset:
                    raise Problem(f"entry {start + offset} is served with index {entry.get('index')}")
            entries.extend(page[: end - start])
            start += len(page[: end - start])
        return entries

    def _published_reviews(self):
        page = 1
        while True:
            data = self._json("/api/reviews", page=page, per_page=100)
            yield from data["reviews"]
            if page >= data.get("pages", 0):
                return
            page += 1

    def run(self, state: dict | None) -> tuple[Report, dict]:
        served_key = self._get("/transparency/log/key").decode("utf-8").strip()
        try:
            key = parse_vkey(self.pinned_key or (state or {}).get("key") or served_key)
        except NoteError as error:
            raise Problem(f"the log's key is unusable: {error}") from error
        if state and served_key != state["key"]:
            key = self._follow_rotation(state, served_key)

        note = self._get("/transparency/log/checkpoint").decode("utf-8")
        try:
            checkpoint = parse_checkpoint(open_note(note, key))
        except NoteError as error:
            raise Problem(f"bad signature on the latest checkpoint: {error}") from error
        if checkpoint.origin != key.name:
            raise Problem(f"the checkpoint's origin {checkpoint.origin!r} is not the key's name {key.name!r}")

        compact = CompactRange.from_json(state["tree"]) if state else CompactRange()
        publications: dict[str, list[str]] = dict(state["publications"]) if state else {}
        if state:
            old_size, old_root = state["size"], unb64(state["root"])
            if checkpoint.size < old_size:
                raise Problem(
                    f"the log shrank: its checkpoint has {checkpoint.size} entries, "
                    f"{old_size} at the last run (history rewritten)"
                )
            if checkpoint.size == old_size and checkpoint.root != old_root:
                raise Problem(
                    f"the checkpoint of size {old_size} has a different root than at the last run "
                    "(history rewritten)"
                )
            if checkpoint.size > old_size and old_size > 0:
                data = self._json("/transparency/log/proof/consistency", old=old_size, new=checkpoint.size)
                try:
                    proof = [unb64(h) for h in data["proof"]]
                except (NoteError, KeyError, TypeError) as error:
                    raise Problem(f"the consistency proof is malformed: {error}") from error
                if not verify_consistency(old_size, checkpoint.size, old_root, checkpoint.root, proof):
                    raise Problem(
                        f"the checkpoint of size {checkpoint.size} does not extend the one of size "
                        f"{old_size} seen at the last run (history rewritten)"
                    )

        new_entries = self._entries(compact.size, checkpoint.size)
        for entry in new_entries:
            try:
                compact.append(entry_leaf_hash(entry))
            except ValueError as error:
                raise Problem(f"entry {entry.get('index')} is malformed: {error}") from error
            _note_publication(publications, entry)
        if compact.root() != checkpoint.root:
            raise Problem(
                f"the root of the {checkpoint.size} entries served does not match the checkpoint's root"
            )

        # Entries after the checkpoint are not committed yet: used only for reviews published since.
        pending: dict[str, list[str]] = {}
        try:
            later = self._json(
                "/transparency/log/entries", start=checkpoint.size, end=checkpoint.size + self.PAGE
            )["entries"]
        except FetchError:
            later = []
        for entry in later:
            _note_publication(pending, entry)

        checked = pending_matches = 0
        for review in self._published_reviews():
            rid = str(review["id"])
            fingerprint = content_fingerprint(review["title"], review["body"])
            if fingerprint in publications.get(rid, ()):
                checked += 1
            elif fingerprint in pending.get(rid, ()):
                checked += 1
                pending_matches += 1
            elif rid in publications or rid in pending:
                raise Problem(
                    f"published review {rid} ({review.get('url', '')}) has a different fingerprint "
                    f"({fingerprint}) than its publication entry in the log"
                )
            else:
                raise Problem(
                    f"published review {rid} ({review.get('url', '')}) has no publication entry in the log"
                )

        new_state = {
            "site": self.base,
            "origin": checkpoint.origin,
            "key": key.vkey,
            "size": checkpoint.size,
            "root": b64(checkpoint.root),
            "checkpoint": note,
            "tree": compact.to_json(),
            "publications": publications,
        }
        report = Report(
            checkpoint.origin,
            checkpoint.size,
            len(new_entries),
            checked,
            pending_matches,
            first_run=state is None,
        )
        return report, new_state

    def _follow_rotation(self, state: dict, served_key: str) -> Verifier:
        """The log changed keys: accept the new one only through a hand-over signed by both."""
        old = parse_vkey(state["key"])
        try:
            new = parse_vkey(served_key)
        except NoteError as error:
            raise Problem(f"the log's new key is unusable: {error}") from error
        data = self._json("/transparency/log/handovers")
        for handover in data.get("handovers", []):
            try:
                text = open_note(handover["note"], old)
                if open_note(handover["note"], new) != text:
                    continue
            except NoteError:
                continue
            if f"new-key {new.vkey}" in text.splitlines():
                return new
        raise Problem(
            f"the log's key changed from {old.vkey} to {new.vkey} without a hand-over signed by both"
        )


def _note_publication(table: dict[str, list[str]], entry: dict) -> None:
    if entry.get("kind") == "review" and entry.get("to_state") == "published" and entry.get("fingerprint"):
        known = table.setdefault(str(entry["id"]), [])
        if entry["fingerprint"] not in known:
            known.append(entry["fingerprint"])


def load_state(path: str) -> dict | None:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        return None


def save_state(path: str, state: dict) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".logverify-")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(state, fh, ensure_ascii=False, indent=1)
    os.replace(tmp, path)


def main(argv: list[str] | None = None, fetch: Fetch = http_fetch, out=None, err=None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    parser = argparse.ArgumentParser(
        prog="python -m moderation.logverify",
        description="Verify a community site's public moderation log: signed checkpoint, Merkle root, "
        "consistency with the last run, and a publication entry for every published review.",
    )
    parser.add_argument("url", help="the site, e.g. https://community.shop.example")
    parser.add_argument("--state", required=True, help="file remembering the last verified checkpoint")
    parser.add_argument("--key", help="the log's verifier key, if you got it another way (pins it)")
    args = parser.parse_args(argv)
    state = load_state(args.state)
    if state and state.get("site") not in (None, args.url.rstrip("/")):
        print(f"error: {args.state} belongs to {state['site']}", file=err)
        return 2
    try:
        report, new_state = LogVerifier(args.url, fetch, args.key).run(state)
    except Problem as problem:
        print(f"FAIL: {problem}", file=err)
        return 1
    except (FetchError, KeyError, TypeError, ValueError) as error:
        print(f"error: could not read the log: {error}", file=err)
        return 2
    save_state(args.state, new_state)
    print(report.summary(), file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
