"""Keys that rotate while the gateway runs: token-signing keys and audit HMAC keys, with key ids.

A mounted Kubernetes Secret is a folder whose files are links into `..data`, a link kubelet swaps to a new
timestamped folder on every change; these tests build exactly that layout and swap it the same way.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from spin_gateway.audit.log import AuditLog, read_records
from spin_gateway.audit.verify import verify
from spin_gateway.gateway_api.auth.tokens import TokenSigner
from spin_gateway.vocabulary.errors import AuthError, UsageError
from spin_gateway.vocabulary.keys import KeyRing, RingSource, fingerprint, read_ring

K1, K2, K3 = (f"key-{n}-".encode() * 8 for n in (1, 2, 3))


class MountedSecret:
    """A Secret volume as kubelet lays it out: <dir>/<key> -> ..data/<key>, ..data -> ..<timestamp>."""

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True)
        self.generation = 0

    def write(self, files: dict[str, bytes]) -> None:
        self.generation += 1
        stamp = self.folder / f"..2026_12_08_{self.generation:04d}"
        stamp.mkdir()
        for name, data in files.items():
            (stamp / name).write_bytes(data)
        tmp = self.folder / "..data_tmp"
        tmp.symlink_to(stamp.name)
        os.replace(tmp, self.folder / "..data")  # the atomic swap
        for name in files:
            link = self.folder / name
            if not link.is_symlink():
                link.symlink_to(f"..data/{name}")
        for stale in self.folder.iterdir():
            if stale.is_symlink() and not stale.name.startswith(".") and stale.name not in files:
                stale.unlink()


def test_a_ring_folder_names_its_keys_and_the_current_one(tmp_path):
    secret = MountedSecret(tmp_path / "keys")
    secret.write({"k1": K1 + b"\n", "k2.key": K2, "current": b"k2\n"})
    ring = read_ring(secret.folder)
    assert ring.current == "k2" and ring.keys == {"k1": K1, "k2": K2}
    one = tmp_path / "one.key"
    one.write_bytes(K1)
    assert read_ring(one) == KeyRing(fingerprint(K1), {fingerprint(K1): K1})


@pytest.mark.parametrize("files, words", [
    ({"k1": K1, "k2": K2}, "no file `current`"),
    ({"k1": K1, "current": b"k9"}, "names key id 'k9'"),
    ({"k1": b"short", "current": b"k1"}, "too short (5 bytes"),
    ({"bad name": K1}, "not named by a key id"),
])
def test_a_bad_ring_is_refused_naming_the_file_and_never_the_key(tmp_path, files, words):
    secret = MountedSecret(tmp_path / "keys")
    secret.write(files)
    with pytest.raises(UsageError) as info:
        read_ring(secret.folder, "signing key")
    assert words in info.value.message and K1.decode() not in info.value.message


def test_a_rotated_signing_key_keeps_old_tokens_valid_and_signs_new_ones_with_the_new_kid(tmp_path):
    secret = MountedSecret(tmp_path / "signing")
    secret.write({"k1": K1, "current": b"k1"})
    signer = TokenSigner(RingSource(secret.folder, "signing key", interval=0))
    old, old_claims = signer.issue("alice")
    assert old_claims.key_id == "k1"

    secret.write({"k1": K1, "k2": K2, "current": b"k2"})  # step 1 of the procedure: add k2, sign with it
    new, new_claims = signer.issue("alice")
    assert new_claims.key_id == "k2"
    assert signer.verify(old).key_id == "k1" and signer.verify(new).key_id == "k2"

    secret.write({"k2": K2, "current": b"k2"})  # step 2, once k1's tokens expired: remove k1
    with pytest.raises(AuthError, match="no longer holds"):
        signer.verify(old)
    assert signer.verify(new).subject == "alice"


def test_a_token_signed_by_no_key_of_the_ring_is_refused_even_with_a_known_kid(tmp_path):
    import jwt

    secret = MountedSecret(tmp_path / "signing")
    secret.write({"k1": K1, "current": b"k1"})
    signer = TokenSigner(RingSource(secret.folder, interval=0))
    forged = jwt.encode({"iss": "spin-gateway", "sub": "carol", "jti": "x" * 32, "iat": int(time.time()),
                         "exp": int(time.time()) + 60}, K3, algorithm="HS256", headers={"kid": "k1"})
    with pytest.raises(AuthError, match="not valid"):
        signer.verify(forged)


def test_tokens_from_before_key_ids_still_verify(tmp_path):
    import jwt

    legacy = jwt.encode({"iss": "spin-gateway", "sub": "alice", "jti": "a" * 32, "iat": int(time.time()),
                         "exp": int(time.time()) + 60}, K1, algorithm="HS256")  # no kid in the header
    assert TokenSigner(KeyRing("k2", {"k1": K1, "k2": K2})).verify(legacy).subject == "alice"


def test_a_half_made_rotation_is_not_taken_and_the_old_ring_stays(tmp_path):
    secret = MountedSecret(tmp_path / "signing")
    secret.write({"k1": K1, "current": b"k1"})
    source = RingSource(secret.folder, interval=0)
    secret.write({"k1": K1, "k2": K2, "current": b"k3"})  # current names a key that is not there (yet)
    assert source.get().current == "k1"
    secret.write({"k1": K1, "k2": K2, "current": b"k2"})
    assert source.get().current == "k2"


def test_audit_key_rotation_keeps_the_chain_verifiable_across_the_rotation(tmp_path):
    secret = MountedSecret(tmp_path / "audit-keys")
    secret.write({"a1": K1, "current": b"a1"})
    source = RingSource(secret.folder, interval=0)
    path = tmp_path / "audit" / "audit-r1.jsonl"
    log = AuditLog(path, keys=source.get, fsync=False, replica="r1")
    for n in range(3):
        log.write({"type": "test", "n": n})
    secret.write({"a1": K1, "a2": K2, "current": b"a2"})
    for n in range(3, 6):
        log.write({"type": "test", "n": n})
    log.close()
    records = list(read_records(path))
    assert [r["key_id"] for r in records] == ["a1"] * 3 + ["a2"] * 3
    assert {r["replica"] for r in records} == {"r1"}
    # verify with the whole ring: every record checked with the key it names, the head too
    report = verify(path, read_ring(secret.folder))
    assert report.ok and report.records == 6 and report.head == "ok", report.problem
    # without the retired key, verify says which key id it lacks, at the first record that needs it
    report = verify(path, {"a2": K2})
    assert not report.ok and report.line == 1 and "'a1'" in report.problem


def test_a_gateway_restarted_after_an_audit_key_rotation_continues_the_chain(tmp_path):
    secret = MountedSecret(tmp_path / "audit-keys")
    secret.write({"a1": K1, "current": b"a1"})
    path = tmp_path / "audit.log"
    log = AuditLog(path, keys=RingSource(secret.folder, interval=0).get, fsync=False)
    log.write({"type": "test"})
    log.close()
    secret.write({"a1": K1, "a2": K2, "current": b"a2"})
    again = AuditLog(path, keys=RingSource(secret.folder, interval=0).get, fsync=False)  # head MAC'd with a1
    again.write({"type": "test"})
    again.close()
    assert not any(r.get("type") == "gap" for r in read_records(path)), "the old head was not recognised"
    assert verify(path, read_ring(secret.folder)).ok
