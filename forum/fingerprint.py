"""The public content fingerprint: anyone can recompute it from the published text.

SHA-256 (hex) of the UTF-8 bytes of the JSON array [title, body], written
without spaces and without escaping non-ASCII characters.
"""

import hashlib
import json


def fingerprint_payload(title: str, body: str) -> str:
    """The exact string whose UTF-8 bytes are hashed (shown on the verify pages)."""
    return json.dumps([title, body], ensure_ascii=False, separators=(",", ":"))


def content_fingerprint(title: str, body: str) -> str:
    # surrogatepass: a lone surrogate can arrive in JSON input; hash it rather than crash.
    return hashlib.sha256(fingerprint_payload(title, body).encode("utf-8", "surrogatepass")).hexdigest()
