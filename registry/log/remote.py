"""`registry log verify --url`: audit a running registry through its public API alone.

Nothing the server computes is taken on trust. The checkpoints' signatures are checked
with the keys of its JWKS (or keys the auditor pins); the consistency proof between an
earlier checkpoint and the newest is checked with RFC 9162's algorithm; and every entry
the newest checkpoint covers is read once, an entry bundle of the log's tiles (or a page
of the entries API) at a time, its leaf hashed here from
the bytes served, and the tree recomputed, to end at the signed root.

The tree is recomputed as a compact range: the roots of the perfect subtrees that make
it up (O(log n) hashes, merkle.Builder). Every STRETCH entries the range reached is
compared with the newest signed root by a consistency proof, so that a difference is
found in the stretch it lies in, whose leaves alone are kept (STRETCH × 32 bytes), and
located there to the entry by bisection. The signed tree's leaf at that entry, proved
by an inclusion proof, then takes its place, and the check goes on: every entry that
differs is named, up to MAX_LOCATED of them.

An auditor that keeps a state file (`--state`) saves there the newest checkpoint and the
compact range at its size, and its next run reads only the entries added since. A state
file holding the checkpoint alone (as written before the range was kept) is read too:
that run reads every entry again.
"""

import base64
import json
import random
import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import keys
from keys import base64url, note
from registry.log import merkle, tiles
from schemas import canonical

_TIMEOUT_S = 20
_MAX_ANSWER = 16 * 1024 * 1024  # bytes read of one answer at most
_MAX_WAIT_S = 60  # longest Retry-After honoured
_MAX_RATE_LIMITED = 5  # consecutive 429 answers to one request before giving up
#: Entries asked for per page: the API serves up to LOG_PAGE_MAX (1000 by default).
PAGE = 1000
#: Entries in a full entry bundle of the log's tiles.
BUNDLE = tiles.WIDTH
#: Entries between two comparisons with the signed root (their leaves are kept).
STRETCH = 16 * PAGE
#: Differing entries located one by one, at most: past it, the audit says there are more.
MAX_LOCATED = 20


class AuditFailed(Exception):
    """The registry's log does not hold up; `problems` names each entry concerned."""

    def __init__(self, message: str, problems: list["Discrepancy"] | None = None):
        super().__init__(message)
        self.problems = problems or []


class Unreachable(AuditFailed):
    """The registry could not be asked: nothing is known either way."""


@dataclass(frozen=True)
class Discrepancy:
    index: int
    detail: str

    def __str__(self) -> str:
        return f"entry {self.index}: {self.detail}"


@dataclass
class RemoteReport:
    older: note.Checkpoint | None = None
    newer: note.Checkpoint | None = None
    #: The first entry read, and how many were read: [start, start + read).
    start: int = 0
    read: int = 0
    #: Entries whose inclusion proof in the newest tree was checked.
    sampled: list[int] = field(default_factory=list)
    #: The witnesses whose cosignature of the newest checkpoint holds, and its time.
    cosigned: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Witnesses:
    """The witnesses an auditor requires (`--witness`): their keys, and how many of them
    must have cosigned the newest checkpoint."""

    keys: tuple[note.VerifierKey, ...]
    quorum: int


class _Client:
    def __init__(self, url: str):
        if not url.startswith(("http://", "https://")):
            raise AuditFailed(f"{url!r} is not an http:// or https:// address")
        self.base = url.rstrip("/")
        self.requests = 0

    def get(self, path: str, accept: str = "application/json", *, missing_ok: bool = False):
        body = self.fetch(path, accept, missing_ok=missing_ok)
        if body is None:
            return None
        url = self.base + path
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

    def fetch(self, path: str, accept: str, *, missing_ok: bool = False) -> bytes | None:
        """The answer's bytes (None for a 404 when `missing_ok`)."""
        url = self.base + path
        request = urllib.request.Request(url, headers={"Accept": accept})  # noqa: S310 - http(s)
        for attempt in range(1, _MAX_RATE_LIMITED + 1):
            self.requests += 1
            try:
                with urllib.request.urlopen(request, timeout=_TIMEOUT_S) as response:  # noqa: S310
                    body = response.read(_MAX_ANSWER + 1)
                break
            except urllib.error.HTTPError as exc:
                if exc.code == 404 and missing_ok:
                    return None
                if exc.code == 429 and attempt < _MAX_RATE_LIMITED:
                    time.sleep(min(_retry_after(exc), _MAX_WAIT_S))
                    continue
                detail = exc.read(300).decode("utf-8", "replace")
                if exc.code == 429:
                    raise Unreachable(
                        f"GET {url}: still rate-limited after {attempt} tries"
                    ) from None
                raise AuditFailed(f"GET {url}: HTTP {exc.code}: {detail}") from None
            except (urllib.error.URLError, OSError) as exc:
                raise Unreachable(f"GET {url}: {exc}") from None
        if len(body) > _MAX_ANSWER:
            raise AuditFailed(f"GET {url}: the answer is larger than {_MAX_ANSWER} bytes")
        return body


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
    witnesses: Witnesses | None = None,
) -> RemoteReport:
    """Audit the log served at `url`; raises AuditFailed when anything fails, with every
    entry found to differ in its `problems` (Unreachable when the registry could not be
    asked). `samples` entries, besides the first and last, also have their inclusion
    proof checked: the proofs a buyer's phone is given. With `witnesses`, the newest
    checkpoint must carry a quorum of their cosignatures, each of which must hold."""
    client = _Client(url)
    try:
        return _audit(client, state, samples, pinned or published_keys(client), seed, witnesses)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise AuditFailed(f"an answer of the registry is not what its API says: {exc!r}") from None


# The state file ---------------------------------------------------------------------


@dataclass(frozen=True)
class Saved:
    checkpoint: note.Checkpoint
    #: The compact range at the checkpoint's size (largest subtree first); None when the
    #: file holds the checkpoint alone.
    edge: list[bytes] | None


#: Between the checkpoint note and the compact range in a state file. The note cannot
#: hold it: after its first blank line come only signature lines, each begun by "— ".
_RANGE = "\n\ncompact range "


def _load(path: Path, trusted: Trusted) -> Saved:
    """A state file: the checkpoint note, then (unless written before the range was
    kept) a blank line, "compact range N" and the range's hashes in base64, one a line."""
    text = path.read_text(encoding="utf-8")
    which = f"saved ({path})"
    if _RANGE not in text:
        return Saved(_open(text, trusted, which), None)
    text, kept = text.split(_RANGE, 1)
    checkpoint = _open(text + "\n", trusted, which)
    size, *hashes = kept.split()
    try:
        edge = [base64.b64decode(h, validate=True) for h in hashes]
    except ValueError:
        edge = []
    if (
        size != str(checkpoint.size)
        or len(edge) != checkpoint.size.bit_count()
        or any(len(h) != merkle.HASH_SIZE for h in edge)
        or (merkle.fold(edge) if edge else merkle.EMPTY_ROOT) != checkpoint.root
    ):
        raise AuditFailed(
            f"the {which} compact range is not the one of its checkpoint of "
            f"{checkpoint.size} entries: the state file is damaged"
        )
    return Saved(checkpoint, edge)


def _save(path: Path, checkpoint: note.Checkpoint, edge: list[bytes]) -> None:
    hashes = "".join(base64.b64encode(h).decode() + "\n" for h in edge)
    text = checkpoint.text.rstrip("\n") + f"{_RANGE}{checkpoint.size}\n{hashes}"
    # As durably as the keys: the next run starts from it.
    keys.write_atomically(path, text.encode("utf-8"))


# The audit --------------------------------------------------------------------------


def _audit(client: _Client, state, samples, trusted: Trusted, seed, witnesses) -> RemoteReport:
    report = RemoteReport()
    newer = _open(client.get("/api/v1/log/checkpoint", accept="text/plain"), trusted, "newest")
    if witnesses is not None:
        newer, report.cosigned = _witnessed(client, newer, trusted, witnesses)
    report.newer = newer
    older, saved = None, None
    if state is not None and state.exists():
        saved = _load(state, trusted)
        older = saved.checkpoint
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

    if saved is not None and saved.edge is not None:
        start, edge = saved.checkpoint.size, saved.edge
    else:
        start, edge = 0, []
    # Among the entries read. Unpredictable to the server, which must not know which
    # proofs will be checked.
    rng = random.SystemRandom() if seed is None else random.Random(seed)  # noqa: S311
    picks = (
        {start, newer.size - 1} | {rng.randrange(start, newer.size) for _ in range(samples)}
        if start < newer.size
        else set()
    )
    tree = _Recompute(client, newer, start, edge)
    leaves: dict[int, bytes] = {}
    for index, leaf in _read(client, start, newer.size, tree):
        if index in picks:
            leaves[index] = leaf
    tree.settle()
    report.start, report.read = start, newer.size - start
    if tree.problems:
        first = tree.problems[0]
        raise AuditFailed(
            f"{len(tree.problems)} discrepancies in the entries read"
            f"{' (more not located)' if tree.stopped else ''}; the first: {first}",
            tree.problems,
        )
    assert tree.size == newer.size  # noqa: S101 - every entry was read and agreed
    for index in sorted(picks):
        _included(client, index, newer, leaves[index])
        report.sampled.append(index)
    _all_signed(client, newer, trusted)
    if state is not None:
        _save(state, newer, tree.edge)
    return report


#: How long entries beyond the newest checkpoint may wait for one: a checkpoint signs
#: every write as it commits, or at most this long after (a signer on a timer).
UNSIGNED_GRACE_S = 3.0


def _all_signed(client: _Client, newer: note.Checkpoint, trusted: Trusted) -> None:
    """The log serves no entries that no checkpoint signs, once a signer has had time to.

    Entries the registry's signer refused (written by hand into its database, or after
    a rewrite) stay unsigned; a monitor must say so, as a scan of them is not vouched for.
    """
    served = client.get(f"/api/v1/log/entries?start={newer.size}&limit=1")["tree_size"]
    if served <= newer.size:
        return
    time.sleep(UNSIGNED_GRACE_S)
    latest = _open(client.get("/api/v1/log/checkpoint", accept="text/plain"), trusted, "newest")
    if latest.size >= served:
        return  # signed since; the next run reads them
    unsigned = served - latest.size
    raise AuditFailed(
        f"the log serves {unsigned} entries from entry {latest.size} on that no checkpoint "
        "signs: the registry refuses to sign them (written outside it?), so nothing vouches "
        "for them; run `registry log verify` beside the database",
        [
            Discrepancy(
                latest.size, f"entries {latest.size} to {served - 1} are signed by no checkpoint"
            )
        ],
    )


def _read(client: _Client, start: int, end: int, tree: "_Recompute") -> Iterator[tuple[int, bytes]]:
    """(index, leaf hash) of every entry in [start, end), each given to `tree`; the
    entries that are missing, repeated or malformed are its problems. Read as entry
    bundles where the registry serves its log as tiles (immutable, so a CDN may answer),
    else as pages of the entries API."""
    if client.fetch("/log/checkpoint", "text/plain", missing_ok=True) is not None:
        yield from _read_bundles(client, start, end, tree)
    else:
        yield from _read_pages(client, start, end, tree)


def _read_pages(
    client: _Client, start: int, end: int, tree: "_Recompute"
) -> Iterator[tuple[int, bytes]]:
    """As `_read`, from pages of the entries API, whose entries carry their indices."""
    expected = start
    while expected < end:
        limit = min(PAGE, end - expected)
        path = f"/api/v1/log/entries?start={expected}&limit={limit}"
        served = _page(client, path)
        progressed = False
        for index, raw in served:
            if not isinstance(index, int) or index < expected or index >= end:
                where = "before" if isinstance(index, int) and index < expected else "outside"
                tree.problem(
                    expected,
                    f"the page from {expected} serves an entry {index!r} "
                    f"{where} the range asked for",
                )
                continue
            if index > expected:
                tree.missing(expected, index)
                expected = index
            leaf = merkle.leaf_hash(raw)
            tree.append(index, leaf, raw)
            yield index, leaf
            expected += 1
            progressed = True
        if not progressed:
            tree.missing(expected, end)
            return


def _read_bundles(
    client: _Client, start: int, end: int, tree: "_Recompute"
) -> Iterator[tuple[int, bytes]]:
    """As `_read`, from the C2SP tlog-tiles entry bundles of the tree of `end` entries:
    full bundles of BUNDLE entries, and the last one partial."""
    for number in range(start // BUNDLE, -(-end // BUNDLE)):
        first = number * BUNDLE
        width = min(BUNDLE, end - first)
        path = f"/log/tile/entries/{tiles.path(number)}" + (f".p/{width}" if width < BUNDLE else "")
        try:
            body = client.fetch(path, "application/octet-stream", missing_ok=True)
        except AuditFailed:
            # A bundle the registry cannot make (an entry gone): the entries API names
            # each entry it serves, so the gap is found there.
            yield from _read_pages(client, max(start, first), first + width, tree)
            continue
        served = _bundle_entries(body) if body is not None else []
        wanted = range(max(start, first), first + width)
        for index in wanted:
            offset = index - first
            if offset >= len(served):
                tree.missing(index, first + width)
                break
            leaf = merkle.leaf_hash(served[offset])
            tree.append(index, leaf, served[offset])
            yield index, leaf
        if body is not None and len(served) != width:
            tree.problem(first, f"the bundle {path} holds {len(served)} entries, not {width}")


def _bundle_entries(body: bytes) -> list[bytes]:
    """The entries of a bundle: each after its length, a big-endian uint16; a bundle that
    ends inside an entry keeps the entries before it."""
    entries, pos = [], 0
    while pos + 2 <= len(body):
        length = int.from_bytes(body[pos : pos + 2], "big")
        if pos + 2 + length > len(body):
            break
        entries.append(body[pos + 2 : pos + 2 + length])
        pos += 2 + length
    return entries


def _page(client: _Client, path: str) -> list[tuple[Any, bytes]]:
    """(index, the entry's bytes as served) of each entry of an entries page."""
    body = client.fetch(path, "application/json")
    assert body is not None  # noqa: S101 - a 404 raises unless missing_ok
    try:
        return _entries_of(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise AuditFailed(
            f"GET {client.base}{path}: the answer is not an entries page: {exc}"
        ) from None


_DECODER = json.JSONDecoder()
_SPACE = re.compile(r"[ \t\n\r]*")


def _entries_of(text: str) -> list[tuple[Any, bytes]]:
    """The entries of {"tree_size": n, "entries": [{"index": i, "entry": {...}}, ...]},
    each with the exact text it is served as: that text is the leaf."""
    found: list[tuple[Any, bytes]] = []

    def members(pos: int, on_member) -> int:
        pos = _expect(text, pos, "{")
        if text[pos] == "}":
            return pos + 1
        while True:
            key, pos = _DECODER.raw_decode(text, pos)
            pos = _expect(text, _SPACE.match(text, pos).end(), ":")  # type: ignore[union-attr]
            pos = on_member(key, pos)
            pos = _SPACE.match(text, pos).end()  # type: ignore[union-attr]
            if text[pos] == "}":
                return pos + 1
            pos = _expect(text, pos, ",")

    def skip(pos: int) -> tuple[Any, int]:
        return _DECODER.raw_decode(text, pos)

    def entry(pos: int) -> int:
        item: dict[str, Any] = {}

        def member(key, pos):
            value, end = skip(pos)
            item[key] = value
            if key == "entry":
                item["raw"] = text[pos:end].encode("utf-8")
            return end

        end = members(pos, member)
        if "raw" not in item:
            raise ValueError("an entry without its 'entry'")
        found.append((item.get("index"), item["raw"]))
        return end

    def top(key, pos):
        if key != "entries":
            return skip(pos)[1]
        pos = _expect(text, pos, "[")
        if text[pos] == "]":
            return pos + 1
        while True:
            pos = _SPACE.match(text, entry(pos)).end()  # type: ignore[union-attr]
            if text[pos] == "]":
                return pos + 1
            pos = _expect(text, pos, ",")

    try:
        end = members(_SPACE.match(text, 0).end(), top)  # type: ignore[union-attr]
    except IndexError:
        raise ValueError("it ends too early") from None
    if text[end:].strip():
        raise ValueError("something follows it")
    return found


def _expect(text: str, pos: int, char: str) -> int:
    """Past `char` at `pos` and the white space after it."""
    if text[pos] != char:
        raise ValueError(f"{char!r} expected at character {pos}")
    return _SPACE.match(text, pos + 1).end()  # type: ignore[union-attr]


class _Recompute:
    """The tree recomputed from the leaves read, held against the newest signed tree.

    `edge` is the compact range at `size`, which agrees with the signed tree (it starts
    as the saved one, or the empty tree); the leaves read since are kept until the next
    comparison, every STRETCH of them.
    """

    def __init__(self, client: _Client, newer: note.Checkpoint, size: int, edge: list[bytes]):
        self.client, self.newer = client, newer
        self.size, self.edge = size, list(edge)
        self.leaves: list[bytes] = []
        self.problems: list[Discrepancy] = []
        self.located = 0
        #: Past MAX_LOCATED differing entries: only the entries' form is still checked.
        self.stopped = False

    def problem(self, index: int, detail: str) -> None:
        self.problems.append(Discrepancy(index, detail))

    def append(self, index: int, leaf: bytes, raw: bytes) -> None:
        try:
            parsed = json.loads(raw)
            if not isinstance(parsed, dict):
                self.problem(index, "the entry is not a JSON object")
            elif canonical.dumps(parsed) != raw:
                self.problem(index, "the entry is not in RFC 8785 canonical form")
        except ValueError as exc:
            self.problem(index, f"the entry is not canonical JSON: {exc}")
        if self.stopped:
            return
        self.leaves.append(leaf)
        if len(self.leaves) >= STRETCH:
            self.settle()

    def missing(self, start: int, end: int) -> None:
        """Entries [start, end) are not served: each is a discrepancy, and the signed
        tree's leaf, proved, takes its place."""
        self.settle()
        for index in range(start, end):
            if self.stopped or not self._locating():
                self.problem(index, f"entries {index} to {end - 1} are not served")
                return
            self.problem(index, "the entry is not served")
            self._take_signed(index, [])

    def settle(self) -> None:
        """Compare the leaves read since the last agreement with the signed tree; locate
        each that differs, and put the signed tree's leaf in its place."""
        while self.leaves and not self.stopped:
            if self._agrees(self.size + len(self.leaves), self._root(self.leaves)):
                self._advance(self.leaves)
                self.leaves = []
                return
            if not self._locating():
                return
            # Bisect: the prefix of `good` leaves agrees, the one of `bad` does not.
            good, bad = 0, len(self.leaves)
            while bad - good > 1:
                middle = (good + bad) // 2
                if self._agrees(self.size + middle, self._root(self.leaves[:middle])):
                    good = middle
                else:
                    bad = middle
            index = self.size + good
            self._take_signed(index, self.leaves[:good], served=self.leaves[good])
            self.leaves = self.leaves[good + 1 :]

    def _locating(self) -> bool:
        if self.located >= MAX_LOCATED:
            self.stopped = True
            self.leaves = []
            return False
        self.located += 1
        return True

    def _take_signed(self, index: int, before: list[bytes], served: bytes | None = None) -> None:
        """Advance past `before` and entry `index`, whose leaf is taken from the signed
        tree by its inclusion proof."""
        signed = self._signed_leaf(index)
        if served is not None:
            self.problem(
                index,
                f"the entry served (leaf {_b64(served)}) is not the one the signed tree "
                + (f"holds there (leaf {_b64(signed)})" if signed else "holds there"),
            )
        self._advance(before)
        if signed is None:
            raise AuditFailed(
                f"{len(self.problems)} discrepancies; the first: {self.problems[0]}; "
                f"the registry proves no leaf at entry {index} in the tree it signed (its "
                "stored tree is no longer that tree: rewritten, or rebuilt from edited "
                "entries), so no later entry is compared",
                self.problems,
            )
        self._advance([signed])

    def _signed_leaf(self, index: int) -> bytes | None:
        """The newest tree's leaf at `index`, as its inclusion proof proves it."""
        size, root = self.newer.size, self.newer.root
        answer = self.client.get(f"/api/v1/log/proof/inclusion?index={index}&tree_size={size}")
        try:
            leaf = base64.b64decode(answer["leaf_hash"], validate=True)
            proof = [base64.b64decode(h, validate=True) for h in answer["proof"]]
            merkle.verify_inclusion(index, size, leaf, proof, root)
        except (KeyError, TypeError, ValueError):
            return None
        return leaf

    def _root(self, leaves: list[bytes]) -> bytes:
        builder = merkle.Builder(self.size, self.edge)
        for leaf in leaves:
            builder.append(leaf)
        return builder.root()

    def _advance(self, leaves: list[bytes]) -> None:
        builder = merkle.Builder(self.size, self.edge)
        for leaf in leaves:
            builder.append(leaf)
        self.size, self.edge = builder.size, builder.edge

    def _agrees(self, size: int, root: bytes) -> bool:
        """Whether the tree of `size` entries whose root is `root` is a prefix of the
        newest signed tree (by its consistency proof)."""
        if size == self.newer.size:
            return root == self.newer.root
        answer = self.client.get(
            f"/api/v1/log/proof/consistency?first={size}&second={self.newer.size}"
        )
        try:
            proof = [base64.b64decode(h, validate=True) for h in answer["proof"]]
            merkle.verify_consistency(size, self.newer.size, root, self.newer.root, proof)
        except (KeyError, TypeError, ValueError):
            return False
        return True


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


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


#: How long a checkpoint may wait for its witnesses' cosignatures (they answer within a
#: second or two of its signing) before an auditor that requires them gives up.
COSIGNING_GRACE_S = 5.0


def _witnessed(
    client: _Client, newest: note.Checkpoint, trusted: Trusted, witnesses: Witnesses
) -> tuple[note.Checkpoint, dict[str, int]]:
    """The newest checkpoint once it carries a quorum of valid cosignatures by
    `witnesses`, read again while its witnesses may still be answering; raises
    AuditFailed for a cosignature by one of them that does not hold, or too few."""
    deadline = time.monotonic() + COSIGNING_GRACE_S
    while True:
        try:
            stamps = note.cosignatures(newest.text, witnesses.keys)
        except note.NoteError as exc:
            raise AuditFailed(f"the newest checkpoint's cosignatures do not hold: {exc}") from None
        if len(stamps) >= witnesses.quorum:
            return newest, stamps
        if time.monotonic() >= deadline:
            names = ", ".join(key.name for key in witnesses.keys)
            raise AuditFailed(
                f"the newest checkpoint ({newest.size} entries) has {len(stamps)} valid "
                f"cosignatures of the {witnesses.quorum} required from: {names}"
            )
        time.sleep(0.5)
        newest = _open(client.get("/api/v1/log/checkpoint", accept="text/plain"), trusted, "newest")


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


def _included(client: _Client, index: int, newer: note.Checkpoint, leaf: bytes) -> None:
    """Entry `index`'s inclusion proof in the newest tree, for its leaf as read."""
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
