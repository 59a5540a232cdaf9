"""The Merkle tree, signed notes and cosignatures of moderation.logverify (the code the site
and every outside verifier share).

The tree functions are checked against the RFC 6962 test vectors published with
transparency-dev/merkle (proof/verify_test.go; the vectors come from Google's
certificate-transparency merkle_tree_test): tests/data/rfc6962/vectors.json.
"""

from __future__ import annotations

import json
import struct

import pytest

from moderation import logverify as lv
from tests.conftest import TEST_DATA

VECTORS = json.loads((TEST_DATA / "rfc6962" / "vectors.json").read_text())
LEAVES = [lv.leaf_hash(bytes.fromhex(leaf)) for leaf in VECTORS["leaves"]]


def test_empty_tree_hash():
    assert lv.root_hash([]).hex() == VECTORS["empty_root"]
    assert lv.mth_from_leaves([])(0, 0).hex() == VECTORS["empty_root"]


@pytest.mark.parametrize("size", range(1, 9))
def test_roots_match_published_vectors(size):
    assert lv.root_hash(LEAVES[:size]).hex() == VECTORS["roots"][size - 1]
    assert lv.mth_from_leaves(LEAVES)(0, size).hex() == VECTORS["roots"][size - 1]


@pytest.mark.parametrize("vector", VECTORS["inclusion"], ids=lambda v: f"{v['leaf']}-of-{v['size']}")
def test_inclusion_proofs_match_published_vectors(vector):
    index, size = vector["leaf"] - 1, vector["size"]
    proof = lv.inclusion_proof(index, size, lv.mth_from_leaves(LEAVES))
    assert [p.hex() for p in proof] == vector["proof"]
    root = bytes.fromhex(VECTORS["roots"][size - 1])
    assert lv.verify_inclusion(index, size, LEAVES[index], proof, root)


@pytest.mark.parametrize("vector", VECTORS["consistency"], ids=lambda v: f"{v['old']}-to-{v['new']}")
def test_consistency_proofs_match_published_vectors(vector):
    old, new = vector["old"], vector["new"]
    proof = lv.consistency_proof(old, new, lv.mth_from_leaves(LEAVES))
    assert [p.hex() for p in proof] == vector["proof"]
    assert lv.verify_consistency(
        old, new, bytes.fromhex(VECTORS["roots"][old - 1]), bytes.fromhex(VECTORS["roots"][new - 1]), proof
    )


def _flip(proof, i):
    changed = list(proof)
    changed[i] = bytes([changed[i][0] ^ 1]) + changed[i][1:]
    return changed


MANY = [lv.leaf_hash(f"entry {i}".encode()) for i in range(200)]
MTH = lv.mth_from_leaves(MANY)
ROOTS = [MTH(0, n) for n in range(201)]


def test_compact_range_gives_every_root():
    compact = lv.CompactRange()
    assert compact.root() == ROOTS[0]
    for n, value in enumerate(MANY, start=1):
        compact.append(value)
        assert compact.root() == ROOTS[n]
    again = lv.CompactRange.from_json(json.loads(json.dumps(compact.to_json())))
    assert again.root() == ROOTS[200] and again.size == 200


def test_inclusion_proofs_verify_for_every_size_up_to_200_and_fail_when_a_hash_changes():
    for size in range(1, 201):
        for index in range(size):
            proof = lv.inclusion_proof(index, size, MTH)
            assert lv.verify_inclusion(index, size, MANY[index], proof, ROOTS[size]), (index, size)
            if index % 7 == 0 or index == size - 1:  # every hash of a sample of proofs
                for i in range(len(proof)):
                    assert not lv.verify_inclusion(index, size, MANY[index], _flip(proof, i), ROOTS[size])
                wrong_leaf = bytes([MANY[index][0] ^ 1]) + MANY[index][1:]
                assert not lv.verify_inclusion(index, size, wrong_leaf, proof, ROOTS[size])
                wrong_root = bytes([ROOTS[size][0] ^ 1]) + ROOTS[size][1:]
                assert not lv.verify_inclusion(index, size, MANY[index], proof, wrong_root)
                assert not lv.verify_inclusion(index, size * 2, MANY[index], proof, ROOTS[size])
                assert not lv.verify_inclusion(index, size, MANY[index], proof + [ROOTS[size]], ROOTS[size])


def test_consistency_proofs_verify_for_every_size_up_to_200_and_fail_when_a_hash_changes():
    for new in range(1, 201):
        for old in range(0, new + 1):
            proof = lv.consistency_proof(old, new, MTH)
            assert lv.verify_consistency(old, new, ROOTS[old], ROOTS[new], proof), (old, new)
            if 0 < old < new:
                for i in range(len(proof)):
                    assert not lv.verify_consistency(old, new, ROOTS[old], ROOTS[new], _flip(proof, i))
                changed_old = bytes([ROOTS[old][0] ^ 1]) + ROOTS[old][1:]
                assert not lv.verify_consistency(old, new, changed_old, ROOTS[new], proof)
                changed_new = bytes([ROOTS[new][0] ^ 1]) + ROOTS[new][1:]
                assert not lv.verify_consistency(old, new, ROOTS[old], changed_new, proof)
                assert not lv.verify_consistency(old, new, ROOTS[old], ROOTS[new], proof[:-1])


def test_a_checkpoint_note_verifies_with_its_key_and_fails_with_another():
    signer = lv.Signer.generate("shop.example/moderation-log")
    other = lv.Signer.generate("shop.example/moderation-log")
    checkpoint = lv.Checkpoint("shop.example/moderation-log", 8, ROOTS[8])
    note = lv.sign_note(checkpoint.text, [signer])
    assert lv.parse_checkpoint(lv.open_note(note, signer.verifier)) == checkpoint
    with pytest.raises(lv.NoteError):
        lv.open_note(note, other.verifier)
    # Same name and key id, different key: the signature itself must fail.
    impostor = lv.Verifier(signer.name, lv.SIG_ED25519, other.verifier.public_key)
    text, (signature,) = lv.parse_note(note)
    forged = text + "\n" + lv.signature_line(impostor.name, impostor.key_id, signature.signature)
    with pytest.raises(lv.NoteError):
        lv.open_note(forged, impostor)
    tampered = note.replace("\n8\n", "\n9\n")
    with pytest.raises(lv.NoteError):
        lv.open_note(tampered, signer.verifier)


def test_keys_round_trip_in_signed_note_form():
    signer = lv.Signer.generate("example.com/log")
    vkey = signer.verifier.vkey
    name, kid, data = vkey.split("+", 2)
    assert name == "example.com/log" and len(kid) == 8
    assert lv.parse_vkey(vkey) == signer.verifier
    assert lv.Signer.from_skey(signer.skey).verifier == signer.verifier
    assert signer.skey.startswith("PRIVATE+KEY+example.com/log+")
    with pytest.raises(lv.NoteError):
        lv.parse_vkey(vkey.replace(kid, "00000000"))


def test_signed_note_format_matches_the_c2sp_example_layout():
    signer = lv.Signer.generate("example.com/behind-the-sofa")
    note = lv.sign_note("example.com/behind-the-sofa\n20852163\n" + lv.b64(ROOTS[5]) + "\n", [signer])
    text, signatures = lv.parse_note(note)
    assert note.count("\n\n") == 1 and signatures[0].line.startswith("\u2014 example.com/behind-the-sofa ")
    assert len(lv.unb64(signatures[0].line.split(" ")[2])) == 4 + 64


def test_cosignature_v1_verifies_and_binds_the_checkpoint_and_time():
    witness = lv.Signer.generate("witness.example/w1", lv.SIG_COSIGNATURE_V1)
    text = lv.Checkpoint("shop.example/log", 3, ROOTS[3]).text
    line = lv.cosign(text, witness, 1_700_000_000)
    assert lv.verify_cosignature(text, line, witness.verifier) == 1_700_000_000
    raw = lv.unb64(line.split(" ")[2])
    assert raw[:4] == witness.verifier.key_id and struct.unpack(">Q", raw[4:12])[0] == 1_700_000_000
    # The message is "cosignature/v1\ntime <t>\n" + the checkpoint (C2SP tlog-cosignature).
    assert lv.Verifier(witness.name, 4, witness.verifier.public_key).verify(
        raw[12:], b"cosignature/v1\ntime 1700000000\n" + text.encode()
    )
    with pytest.raises(lv.NoteError):
        lv.verify_cosignature(lv.Checkpoint("shop.example/log", 4, ROOTS[4]).text, line, witness.verifier)
    with pytest.raises(lv.NoteError):
        lv.verify_cosignature(text, line, lv.Signer.generate("witness.example/w1", 4).verifier)


def test_entry_bytes_are_canonical_and_refuse_unknown_fields():
    entry = {
        "index": 0,
        "time": "2026-11-30T22:00:00.000000Z",
        "kind": "review",
        "id": 1,
        "action": "approve",
        "from_state": "pending",
        "to_state": "published",
        "reason": None,
        "fingerprint": "ab" * 32,
        "actor_role": "moderator",
        "moderator": "mod-1a2b3c4d",
    }
    data = lv.entry_bytes(entry)
    assert data == lv.entry_bytes(dict(reversed(list(entry.items()))))
    assert data.startswith(b'{"action":"approve","actor_role":"moderator","fingerprint":')
    with pytest.raises(ValueError):
        lv.entry_bytes({**entry, "note": "x"})
