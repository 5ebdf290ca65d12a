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
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import keys
from keys import base64url, note
from registry.log import merkle
from schemas import canonical

_TIMEOUT_S = 20
_MAX_ANSWER = 16 * 1024 * 1024  # bytes read of one answer at most
_MAX_WAIT_S = 60  # longest Retry-After honoured


class AuditFailed(Exception):
    """The registry's log does not hold up."""


class Unreachable(AuditFailed):
    """The registry could not be asked: nothing is known either way."""


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

    def get(self, path: str, accept: str = "application/json", *, missing_ok: bool = False):
        url = self.base + path
        request = urllib.request.Request(url, headers={"Accept": accept})  # noqa: S310 - http(s)
        for attempt in (1, 2):
            try:
                with urllib.request.urlopen(request, timeout=_TIMEOUT_S) as response:  # noqa: S310
                    body = response.read(_MAX_ANSWER + 1)
                break
            except urllib.error.HTTPError as exc:
                if exc.code == 404 and missing_ok:
                    return None
                if exc.code == 429 and attempt == 1:
                    time.sleep(min(_retry_after(exc), _MAX_WAIT_S))
                    continue
                detail = exc.read(300).decode("utf-8", "replace")
                if exc.code == 429:
                    raise Unreachable(f"GET {url}: rate-limited; sample fewer entries") from None
                raise AuditFailed(f"GET {url}: HTTP {exc.code}: {detail}") from None
            except (urllib.error.URLError, OSError) as exc:
                raise Unreachable(f"GET {url}: {exc}") from None
        if len(body) > _MAX_ANSWER:
            raise AuditFailed(f"GET {url}: the answer is larger than {_MAX_ANSWER} bytes")
        if accept == "application/json":
            try:
                answer = json.loads(body)
            except ValueError:
                raise AuditFailed(f"GET {url}: the answer is not JSON") from None
            if not isinstance(answer, dict):
                raise AuditFailed(f"GET {url}: the answer is not a JSON object")
            return answer
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError:
            raise AuditFailed(f"GET {url}: the answer is not UTF-8") from None


def _retry_after(error: urllib.error.HTTPError) -> float:
    try:
        return max(float(error.headers.get("Retry-After", "1")), 0)
    except ValueError:
        return 1.0


@dataclass(frozen=True)
class Trusted:
    """Keys a checkpoint may be signed by: kid -> raw key, when each stopped being
    trusted (a compromise), and the log names they may sign for (None: any)."""

    keys: dict[str, bytes]
    distrusted_from: dict[str, datetime] = field(default_factory=dict)
    names: frozenset[str] | None = None


def published_keys(client: _Client) -> Trusted:
    """The registry's Ed25519 keys from its JWKS, with their compromise times."""
    found, distrusted = {}, {}
    listed = client.get("/.well-known/jwks.json").get("keys")
    for jwk in listed if isinstance(listed, list) else []:
        if not isinstance(jwk, dict) or jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
            continue
        try:
            found[jwk["kid"]] = base64url.decode(jwk["x"])
            if jwk.get("compromised_since"):
                since = datetime.fromisoformat(jwk["compromised_since"].replace("Z", "+00:00"))
                distrusted[jwk["kid"]] = since
        except (KeyError, TypeError, ValueError):
            continue
    if not found:
        raise AuditFailed("the registry publishes no Ed25519 key")
    return Trusted(found, distrusted)


def audit(
    url: str,
    *,
    state: Path | None = None,
    samples: int = 16,
    pinned: Trusted | None = None,
    seed: int | None = None,
) -> RemoteReport:
    """Audit the log served at `url`; raises AuditFailed at the first thing that fails
    (Unreachable when the registry could not be asked)."""
    client = _Client(url)
    try:
        return _audit(client, state, samples, pinned or published_keys(client), seed)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise AuditFailed(f"an answer of the registry is not what its API says: {exc!r}") from None


def _audit(client, state, samples, trusted: Trusted, seed) -> RemoteReport:
    report = RemoteReport()
    newer = _open(client.get("/api/v1/log/checkpoint", accept="text/plain"), trusted, "newest")
    report.newer = newer
    older = None
    if state is not None and state.exists():
        older = _open(state.read_text(encoding="utf-8"), trusted, f"saved ({state})")
        if older.origin != newer.origin:
            raise AuditFailed(
                f"the saved checkpoint is of log {older.origin!r}, not {newer.origin!r}"
            )
    elif newer.size > 1:
        earlier = client.get(f"/api/v1/log/checkpoint?tree_size={newer.size // 2}", missing_ok=True)
        if earlier is not None:  # none made that early (a log older than its checkpoints)
            older = _open(earlier["note"], trusted, "earlier")
    report.older = older or newer
    _consistent(client, report.older, newer)
    if newer.size:
        # Unpredictable to the server, which must not know which entries will be checked.
        rng = random.SystemRandom() if seed is None else random.Random(seed)  # noqa: S311
        picks = {0, newer.size - 1} | {rng.randrange(newer.size) for _ in range(samples)}
        for index in sorted(picks):
            _included(client, index, newer)
            report.sampled.append(index)
    if state is not None:
        # As durably as the keys: the next run's consistency check starts from it.
        keys.write_atomically(state, newer.text.encode("utf-8"))
    return report


def _open(text: str, trusted: Trusted, which: str) -> note.Checkpoint:
    try:
        opened = note.open_checkpoint(text, trusted.keys)
    except note.NoteError as exc:
        raise AuditFailed(f"the {which} checkpoint does not hold: {exc}") from None
    if trusted.names is not None and opened.origin not in trusted.names:
        raise AuditFailed(f"the {which} checkpoint is of log {opened.origin!r}, not a trusted one")
    since = trusted.distrusted_from.get(opened.kid) if opened.kid is not None else None
    if since is not None and (
        opened.timestamp is None or datetime.fromtimestamp(opened.timestamp, UTC) >= since
    ):
        raise AuditFailed(
            f"the {which} checkpoint is signed by key {opened.kid} after its compromise"
        )
    return opened


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


def pinned_keys(vkeys: list[str]) -> Trusted:
    """Keys given as signed-note verifier keys (name+keyid+base64(0x01 || key)): only
    checkpoints of the log they name, signed by them, are trusted."""
    found, names = {}, set()
    for text in vkeys:
        try:
            name, key_id, encoded = text.split("+", 2)  # base64 may hold "+" too
            raw = base64.b64decode(encoded, validate=True)
        except ValueError:
            raise AuditFailed(f"not a verifier key: {text!r}") from None
        if len(raw) != 33 or raw[0] != note.ED25519:
            raise AuditFailed(f"not an Ed25519 verifier key: {text!r}")
        if note.key_id(name, note.ED25519, raw[1:]).hex() != key_id:
            raise AuditFailed(f"the key ID of {text!r} does not match its key")
        found[key_id] = raw[1:]
        names.add(name)
    return Trusted(found, names=frozenset(names))
