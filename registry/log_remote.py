"""`registry log verify --url`: audit a running registry through its public API alone.

Nothing the server computes is taken on trust: the checkpoints' signatures are checked
with the keys of its JWKS (or keys the auditor pins), the consistency proof between an
earlier checkpoint and the newest is checked with RFC 9162's algorithm, and for sampled
entries the leaf hash is computed here from the entry and its inclusion proof checked
against the newest signed root. An auditor that keeps the newest checkpoint it saw in
a state file (`--state`) proves at its next run that the log only grew since.
"""

import base64
import json
import random
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from keys import base64url, note
from registry import merkle
from schemas import canonical

_TIMEOUT_S = 20


class AuditFailed(Exception):
    """The registry's log does not hold up, or could not be read."""


@dataclass
class RemoteReport:
    older: note.Checkpoint | None = None
    newer: note.Checkpoint | None = None
    sampled: list[int] = field(default_factory=list)


class _Client:
    def __init__(self, url: str):
        if not url.startswith(("http://", "https://")):
            raise AuditFailed(f"{url!r} is not an http:// or https:// address")
        self.base = url.rstrip("/")

    def get(self, path: str, accept: str = "application/json"):
        url = self.base + path
        request = urllib.request.Request(url, headers={"Accept": accept})  # noqa: S310 - http(s)
        try:
            with urllib.request.urlopen(request, timeout=_TIMEOUT_S) as response:  # noqa: S310
                body = response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:300].decode("utf-8", "replace")
            raise AuditFailed(f"GET {url}: HTTP {exc.code}: {detail}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise AuditFailed(f"GET {url}: {exc}") from None
        if accept == "application/json":
            try:
                return json.loads(body)
            except ValueError:
                raise AuditFailed(f"GET {url}: the answer is not JSON") from None
        return body.decode("utf-8")


def published_keys(client: _Client) -> dict[str, bytes]:
    """The registry's Ed25519 keys from its JWKS: kid -> raw public key."""
    found = {}
    for jwk in client.get("/.well-known/jwks.json").get("keys", []):
        if jwk.get("kty") == "OKP" and jwk.get("crv") == "Ed25519" and "kid" in jwk:
            found[jwk["kid"]] = base64url.decode(jwk["x"])
    if not found:
        raise AuditFailed("the registry publishes no Ed25519 key")
    return found


def audit(
    url: str,
    *,
    state: Path | None = None,
    samples: int = 16,
    pinned: dict[str, bytes] | None = None,
    seed: int | None = None,
) -> RemoteReport:
    """Audit the log served at `url`; raises AuditFailed at the first thing that fails."""
    client = _Client(url)
    public = pinned or published_keys(client)
    report = RemoteReport()
    newer = _open(client.get("/api/v1/log/checkpoint", accept="text/plain"), public, "newest")
    report.newer = newer
    if state is not None and state.exists():
        older = _open(state.read_text(encoding="utf-8"), public, f"saved ({state})")
        if older.origin != newer.origin:
            raise AuditFailed(
                f"the saved checkpoint is of log {older.origin!r}, not {newer.origin!r}"
            )
    elif newer.size > 1:
        earlier = client.get(f"/api/v1/log/checkpoint?tree_size={newer.size // 2}")
        older = _open(earlier["note"], public, "earlier")
    else:
        older = newer
    report.older = older
    _consistent(client, older, newer)
    # Unpredictable to the server, which must not know which entries will be checked.
    rng = random.SystemRandom() if seed is None else random.Random(seed)  # noqa: S311
    picks = {0, newer.size - 1} | {rng.randrange(newer.size) for _ in range(samples)}
    for index in sorted(i for i in picks if 0 <= i < newer.size):
        _included(client, index, newer)
        report.sampled.append(index)
    if state is not None:
        state.write_text(newer.text, encoding="utf-8")
    return report


def _open(text: str, public: dict[str, bytes], which: str) -> note.Checkpoint:
    try:
        return note.open_checkpoint(text, public)
    except note.NoteError as exc:
        raise AuditFailed(f"the {which} checkpoint does not hold: {exc}") from None


def _consistent(client: _Client, older: note.Checkpoint, newer: note.Checkpoint) -> None:
    if older.size > newer.size:
        raise AuditFailed(
            f"the log shrank: a checkpoint of {older.size} entries, now one of {newer.size}"
        )
    if older.size == newer.size:
        if older.root != newer.root:
            raise AuditFailed(f"two checkpoints of {newer.size} entries have different roots")
        return
    if older.size == 0:
        return
    answer = client.get(f"/api/v1/log/proof/consistency?first={older.size}&second={newer.size}")
    try:
        proof = [base64.b64decode(h, validate=True) for h in answer["proof"]]
        merkle.verify_consistency(older.size, newer.size, older.root, newer.root, proof)
    except (KeyError, TypeError, ValueError) as exc:
        raise AuditFailed(
            f"the consistency proof from {older.size} to {newer.size} entries fails: {exc}"
        ) from None


def _included(client: _Client, index: int, newer: note.Checkpoint) -> None:
    entries = client.get(f"/api/v1/log/entries?start={index}&limit=1").get("entries") or []
    if not entries or entries[0].get("index") != index:
        raise AuditFailed(f"entry {index} is not served")
    leaf = merkle.leaf_hash(canonical.dumps(entries[0]["entry"]))
    answer = client.get(f"/api/v1/log/proof/inclusion?index={index}&tree_size={newer.size}")
    try:
        proof = [base64.b64decode(h, validate=True) for h in answer["proof"]]
        merkle.verify_inclusion(index, newer.size, leaf, proof, newer.root)
    except (KeyError, TypeError, ValueError) as exc:
        raise AuditFailed(f"entry {index} is not proved in the signed tree: {exc}") from None


def pinned_keys(vkeys: list[str]) -> dict[str, bytes]:
    """Keys given as signed-note verifier keys (name+keyid+base64(0x01 || key))."""
    found = {}
    for text in vkeys:
        try:
            name, key_id, encoded = text.split("+")
            raw = base64.b64decode(encoded, validate=True)
        except ValueError:
            raise AuditFailed(f"not a verifier key: {text!r}") from None
        if len(raw) != 33 or raw[0] != note.ED25519:
            raise AuditFailed(f"not an Ed25519 verifier key: {text!r}")
        if note.key_id(name, note.ED25519, raw[1:]).hex() != key_id:
            raise AuditFailed(f"the key ID of {text!r} does not match its key")
        found[key_id] = raw[1:]
    return found
