"""The tamper suite: a database written by hand (issue 12, items 8 to 10).

The threat is someone who can write the database but cannot read the keys directory: a
leaked backup restored with changes, an SQL injection, a careless operator. Each case
writes a fresh history through the API, changes the database by hand, and expects:

1. `registry log verify` to exit non-zero naming the entry, the certificate or the kind
   of damage;
2. the full remote audit (`registry log verify --url … --state FILE`, every entry read
   again, the state holding the newest checkpoint seen before the damage) to fail naming
   it, where the damage is in what the log publishes (an entry the signer refused is
   named as served but signed by no checkpoint). Where it cannot be seen there by
   design (a column or a picture the public log does not hold), the case says so, and
   the scan is what must refuse it;
3. a scan (GET /api/v1/verify/<code> and /v/<code>) to show "invalid" ("Not valid") or
   to refuse, never the tampered state;
4. nothing to get signed: after a normal write, every checkpoint that opens under the
   registry's keys, in the database or in the signer's memory, signs a prefix of the
   genuine tree (the entries as the registry wrote them). Where the tree itself was
   written to (an entry forged, the tree rebuilt, the newest rows rolled back), the
   signer refuses: a write due a checkpoint logs an error, and `registry log checkpoint`
   exits non-zero saying why. Where the stored tree still holds what the registry wrote
   (a row deleted or swapped, a column, a picture), signing goes on, over that tree.

Cases "deleted", "swapped" and "forged" run twice: checked right after the damage, and
checked after a normal write (which must not launder it).
"""

import base64
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from keys import base64url, note
from registry import cli
from registry.log import ledger, merkle, tree
from schemas import canonical
from tests.factories import assay_data, bearer, certify, piece_data
from tests.test_log_verify import _rebuild_tree
from tests.test_photos import jpeg

# The codes of the history, by what each stands for.
PHOTOGRAPHED, STOLEN, PLAIN, NEWEST = range(4)


@dataclass
class History:
    """A fresh history, and what was true of it before anyone touched the database."""

    client: object
    world: object
    sql: Callable
    database_url: str
    keys: Path
    #: [photographed and valid, revoked as lost or stolen, valid, valid and written last]
    codes: list[str]
    photo_piece: int
    photo_id: int
    photo_sha: str
    #: The log's size before the newest certification, and after it (the whole history).
    before_newest: int
    size: int
    #: Each entry's leaf hash, as the registry wrote it.
    leaves: list[bytes]
    #: The remote auditor's state file: the newest checkpoint it saw, before the damage.
    state: Path

    def index(self, action: str, code: str) -> int:
        return self.sql(
            "SELECT e.log_index FROM event e JOIN certificate c ON c.id = e.certificate_id "
            "WHERE c.code = :c AND e.action = :a",
            c=code,
            a=action,
        ).scalar_one()


@dataclass
class Expect:
    """What each check must find after a case's damage."""

    #: Patterns that must all be in `registry log verify`'s output.
    local: tuple[str, ...]
    #: Patterns that must all be in the remote audit's output; None where the audit
    #: cannot see the damage by design (the case says why, and its scan must refuse it).
    remote: tuple[str, ...] | None
    #: code -> the statuses its scan may show (a refusal, 4xx or 5xx, always may).
    scans: dict[str, set[str]]
    #: "refused": the damage is in the log, and no signer may sign past it;
    #: "genuine": the stored tree still holds what the registry wrote, and a signer may go
    #: on signing it (the signatures then cover the genuine entries, not the damage).
    signing: str
    #: For damage the remote audit cannot see because no checkpoint covers it: a passing
    #: audit must have checked a checkpoint of at most this many entries.
    unsigned_from: int | None = None
    #: Images that must not be served (their bytes were replaced).
    refused_images: list[str] = field(default_factory=list)
    #: Text the verification page of the photographed piece must not hold.
    page_hides: list[str] = field(default_factory=list)


@pytest.fixture
def registry(env):
    """The `registry` command, run on the test's database and keys."""

    def run(*args):
        return CliRunner().invoke(cli.main, list(args), env=env)

    return run


def _photographed_certificate(client, world) -> tuple[int, str]:
    """A piece of world.maker's with a photo, then certified: (piece id, code)."""
    maker, inspector = bearer(world.maker), bearer(world.inspector)
    piece = client.post("/api/v1/pieces", json=piece_data(), headers=maker).json
    sent = client.put(
        f"/api/v1/pieces/{piece['id']}/photo", data=jpeg(), content_type="image/jpeg", headers=maker
    )
    assert sent.status_code == 200, sent.json
    attested = client.post(
        f"/api/v1/pieces/{piece['id']}/assay",
        json=assay_data(metal=piece["metal"], fineness=piece["fineness"]),
        headers=inspector,
    )
    assert attested.status_code == 201, attested.json
    return piece["id"], attested.json["certificate"]["code"]


@pytest.fixture
def history(client, world, sql, database_url, tmp_path) -> History:
    """Four certificates written through the API (one revoked as lost or stolen), then
    what the log held and its newest checkpoint as the remote auditor saw it."""
    photo_piece, photographed = _photographed_certificate(client, world)
    codes = [photographed] + [certify(client, world)[1]["code"] for _ in range(2)]
    revoked = client.post(
        f"/api/v1/certificates/{codes[STOLEN]}/revoke",
        json={"reason": "piece_lost_or_stolen", "note": "Reported stolen at the fair"},
        headers=bearer(world.inspector),
    )
    assert revoked.status_code == 200, revoked.json
    before_newest = sql("SELECT size FROM log_head").scalar_one()
    codes.append(certify(client, world)[1]["code"])
    photo_id, photo_sha = sql("SELECT id, sha256 FROM photo").one()
    entries = [bytes(e) for (e,) in sql("SELECT entry FROM event ORDER BY log_index")]
    state = tmp_path / "audit-state.txt"
    # As a monitor saved it, the newest checkpoint alone: its next run reads every entry.
    newest = client.get("/api/v1/log/checkpoint", headers={"Accept": "text/plain"})
    assert newest.status_code == 200
    state.write_text(newest.get_data(as_text=True))
    return History(
        client=client,
        world=world,
        sql=sql,
        database_url=database_url,
        keys=tmp_path / "keys",
        codes=codes,
        photo_piece=photo_piece,
        photo_id=photo_id,
        photo_sha=photo_sha,
        before_newest=before_newest,
        size=len(entries),
        leaves=[merkle.leaf_hash(e) for e in entries],
        state=state,
    )


# The damage, case by case ------------------------------------------------------------


def payload_edited(h: History) -> Expect:
    code = h.codes[PHOTOGRAPHED]
    payload = bytes(h.sql("SELECT payload FROM certificate WHERE code = :c", c=code).scalar_one())
    assert b'"fineness":585' in payload
    h.sql(
        "UPDATE certificate SET payload = :p WHERE code = :c",
        p=payload.replace(b'"fineness":585', b'"fineness":999'),
        c=code,
    )
    # The remote audit cannot see it by design: the log holds the certificate's hash, in
    # its issue entry, not its bytes; the scan checks the bytes against their signature.
    return Expect(local=(code,), remote=None, scans={code: {"invalid"}}, signing="genuine")


def status_set_back_to_valid(h: History) -> Expect:
    """The one UPDATE of the issue: a stolen piece's certificate said Authentic."""
    code = h.codes[STOLEN]
    h.sql("UPDATE certificate SET status = 'valid' WHERE code = :c", c=code)
    # The remote audit cannot see it by design: the status column is not in the log, whose
    # revocation entry is untouched; the scan must refuse the status (its seal fails).
    return Expect(local=(code,), remote=None, scans={code: {"invalid"}}, signing="genuine")


def revocation_removed(h: History) -> Expect:
    code = h.codes[STOLEN]
    index = h.index("certificate:revoked", code)
    h.sql(
        "UPDATE certificate SET status = 'valid', revoked_at = NULL, revocation_reason = NULL, "
        "revocation_note = NULL WHERE code = :c",
        c=code,
    )
    h.sql("DELETE FROM event WHERE log_index = :i", i=index)
    return Expect(
        local=(rf"\bentry {index}\b",),
        remote=(rf"\bentry {index}:",),
        scans={code: {"invalid"}},  # its seal covers the newest entry about it, gone
        signing="genuine",  # the stored tree still holds the revocation's leaf
    )


def deleted(h: History) -> Expect:
    """An entry's row deleted, the stored tree left as it was."""
    code = h.codes[PLAIN]
    index = h.index("certificate:issued", code)
    h.sql("DELETE FROM event WHERE log_index = :i", i=index)
    return Expect(
        local=(rf"\bentry {index}\b",),
        remote=(rf"\bentry {index}:",),
        scans={code: {"valid", "invalid"}},
        signing="genuine",
    )


def deleted_and_tree_rebuilt(h: History) -> Expect:
    """As a careful forger would: the entries after it moved down and the tree rebuilt
    from the entries as they now stand."""
    code = h.codes[PLAIN]
    index = h.index("certificate:issued", code)
    h.sql("DELETE FROM event WHERE log_index = :i", i=index)
    later = [r[0] for r in h.sql("SELECT log_index FROM event WHERE log_index > :i", i=index)]
    for moved in sorted(later):
        h.sql("UPDATE event SET log_index = :n WHERE log_index = :i", n=moved - 1, i=moved)
    h.sql("UPDATE log_head SET size = :n", n=_rebuild_tree(h.sql))
    return Expect(
        local=(rf"\bentry {index}\b|{code}|\(rewritten\)",),
        remote=_rewritten(index),
        scans={code: {"valid", "invalid"}},
        signing="refused",
    )


def _rewritten(index: int) -> tuple[str, ...]:
    """What the remote audit says of a log whose tree was rebuilt to match its entries.

    The server's proofs are then made from the rebuilt tree, and the audit keeps no
    leaves of its own (its state is the checkpoint and O(log n) hashes): it finds that
    the entries served do not make the signed root, and can locate the first that
    differs only where the server still proves a leaf of the signed tree.
    """
    return (
        r"does not hold",
        rf"\bentry {index}:|proves no leaf at entry \d+|there is no tree of \d+",
    )


def _swap(h: History, first: int, second: int) -> None:
    h.sql("UPDATE event SET log_index = 999999 WHERE log_index = :i", i=first)
    h.sql("UPDATE event SET log_index = :a WHERE log_index = :b", a=first, b=second)
    h.sql("UPDATE event SET log_index = :b WHERE log_index = 999999", b=second)


def swapped(h: History) -> Expect:
    """The revocation of the stolen piece and the issue of another swapped, rows only."""
    revocation = h.index("certificate:revoked", h.codes[STOLEN])
    issue = h.index("certificate:issued", h.codes[PLAIN])
    _swap(h, issue, revocation)
    return Expect(
        local=(rf"\bentry {issue}\b", rf"\bentry {revocation}\b"),
        remote=(rf"\bentry {issue}:", rf"\bentry {revocation}:"),
        scans={h.codes[STOLEN]: {"revoked", "invalid"}, h.codes[PLAIN]: {"valid", "invalid"}},
        signing="genuine",
    )


def swapped_and_tree_rebuilt(h: History) -> Expect:
    revocation = h.index("certificate:revoked", h.codes[STOLEN])
    issue = h.index("certificate:issued", h.codes[PLAIN])
    _swap(h, issue, revocation)
    _rebuild_tree(h.sql)
    return Expect(
        local=(rf"\bentry ({issue}|{revocation})\b|\(rewritten\)",),
        remote=_rewritten(issue),
        scans={h.codes[STOLEN]: {"revoked", "invalid"}, h.codes[PLAIN]: {"valid", "invalid"}},
        signing="refused",
    )


def forged(h: History) -> Expect:
    """A valid certificate revoked by hand: a certificate:revoked entry appended with the
    registry's own tree code, its event row, and the certificate's row to match (as the
    registry writes a revocation, the stolen one's copied)."""
    code, model = h.codes[PLAIN], h.codes[STOLEN]
    target = h.sql(
        "SELECT c.id, c.piece_id, m.slug FROM certificate c JOIN piece p ON p.id = c.piece_id "
        "JOIN maker m ON m.id = p.maker_id WHERE c.code = :c",
        c=code,
    ).one()
    row = h.sql(
        "SELECT e.entry, e.actor_id, e.actor_role, e.maker_id, c.revocation_reason, "
        "c.revocation_note FROM event e JOIN certificate c ON c.id = e.certificate_id "
        "WHERE c.code = :c AND e.action = 'certificate:revoked'",
        c=model,
    ).one()
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    entry = json.loads(bytes(row.entry))
    entry.update(
        at=ledger.entry_time(now), certificate=code, piece=target.piece_id, maker=target.slug
    )
    forged_entry = canonical.dumps(entry)
    engine = create_engine(h.database_url)
    try:
        with Session(engine) as session:
            index = tree.append(session, forged_entry)
            session.execute(
                text(
                    "INSERT INTO event (log_index, action, occurred_at, actor_id, actor_role, "
                    "maker_id, piece_id, certificate_id, entry) VALUES (:i, "
                    "'certificate:revoked', :t, :actor, :role, :maker, :piece, :cert, :e)"
                ),
                {
                    "i": index,
                    "t": now,
                    "actor": row.actor_id,
                    "role": row.actor_role,
                    "maker": row.maker_id,
                    "piece": target.piece_id,
                    "cert": target.id,
                    "e": forged_entry,
                },
            )
            session.execute(
                text(
                    "UPDATE certificate SET status = 'revoked', revoked_at = :t, "
                    "revocation_reason = :r, revocation_note = :n WHERE id = :c"
                ),
                {"t": now, "r": row.revocation_reason, "n": row.revocation_note, "c": target.id},
            )
            session.execute(
                text("UPDATE piece SET status = 'revoked' WHERE id = :p"), {"p": target.piece_id}
            )
            session.commit()
    finally:
        engine.dispose()
    assert index == h.size
    # The remote audit finds the log serving an entry that no checkpoint signs (the
    # signer refuses it); the scan must refuse the revocation, which no seal covers.
    return Expect(
        local=(rf"\bentry {index}\b",),
        remote=(rf"from entry {index} on that no checkpoint signs",),
        unsigned_from=index,
        scans={code: {"invalid"}},
        signing="refused",
    )


def _newest_checkpoint(h: History):
    return h.sql(
        "SELECT id, tree_size, note FROM checkpoint ORDER BY tree_size DESC, id DESC"
    ).first()


def checkpoint_note_edited(h: History) -> Expect:
    newest = _newest_checkpoint(h)
    lines = newest.note.split("\n")
    lines[2] = "A" * 43 + "="  # another root, the same length
    h.sql("UPDATE checkpoint SET note = :n WHERE id = :i", n="\n".join(lines), i=newest.id)
    code = h.codes[PHOTOGRAPHED]
    return Expect(
        local=(rf"\bentry {newest.tree_size - 1}\b", r"\(checkpoint\)"),
        remote=(r"checkpoint",),
        # A verdict does not stand on a checkpoint: it is what the signed log says.
        scans={code: {"valid", "invalid"}},
        signing="genuine",
    )


def checkpoint_columns_edited(h: History) -> Expect:
    newest = _newest_checkpoint(h)
    h.sql(
        "UPDATE checkpoint SET root_hash = :r, made_at = :t WHERE id = :i",
        r=b"\x11" * 32,
        t=datetime(2020, 1, 1),
        i=newest.id,
    )
    code = h.codes[PHOTOGRAPHED]
    # The remote audit cannot see it by design: it reads the signed note, as served, and
    # never the columns beside it (the database's index of the notes). A scan's verdict
    # does not stand on them either: it must stay what the signed log says.
    return Expect(
        local=(rf"\bcheckpoint {newest.id}\b", r"\(checkpoint\)"),
        remote=None,
        scans={code: {"valid", "invalid"}},
        signing="genuine",
    )


def rolled_back(h: History) -> Expect:
    """The newest rows gone, as a restore of an older copy would leave them: the newest
    certification's events, tree nodes, rows and checkpoints; the signer's memory, kept
    beside the keys, is not in the database and stays."""
    code, size = h.codes[NEWEST], h.before_newest
    ids = h.sql("SELECT id, piece_id, assay_id FROM certificate WHERE code = :c", c=code).one()
    h.sql("DELETE FROM event WHERE log_index >= :n", n=size)
    h.sql("DELETE FROM qr_image WHERE certificate_id = :c", c=ids.id)
    h.sql("DELETE FROM certificate WHERE id = :c", c=ids.id)
    h.sql("DELETE FROM assay_record WHERE id = :a", a=ids.assay_id)
    h.sql("DELETE FROM piece WHERE id = :p", p=ids.piece_id)
    for level, index in h.sql('SELECT level, "index" FROM log_node').all():
        if (index + 1) << level > size:  # a node over an entry at or past `size`
            h.sql('DELETE FROM log_node WHERE level = :l AND "index" = :i', l=level, i=index)
    h.sql("DELETE FROM checkpoint WHERE tree_size > :n", n=size)
    h.sql("UPDATE log_head SET size = :n", n=size)
    return Expect(
        local=(r"\(rewritten\)",),
        remote=(rf"shrank|\b{h.size}\b",),
        scans={code: {"invalid"}},
        signing="refused",
    )


def photo_replaced(h: History) -> Expect:
    h.sql("UPDATE photo SET data = :d WHERE id = :i", d=jpeg(size=(60, 30)), i=h.photo_id)
    # The remote audit cannot see it by design: the log holds the photo's hash, not its
    # bytes, and the audit reads the log alone. The registry must refuse the bytes.
    return Expect(
        local=(rf"\b(photo {h.photo_id}|piece {h.photo_piece})\b",),
        remote=None,
        scans={h.codes[PHOTOGRAPHED]: {"valid", "invalid"}},
        signing="genuine",
        refused_images=[f"/api/v1/photos/{h.photo_sha}.jpg"],
    )


def thumbnail_replaced(h: History) -> Expect:
    h.sql("UPDATE photo SET thumb = :d WHERE id = :i", d=jpeg(size=(16, 8)), i=h.photo_id)
    thumb = f"/api/v1/photos/{h.photo_sha}/thumb.jpg"
    # As for the photo: the log holds the thumbnail's hash alone (remote audit blind by
    # design); the registry must neither serve it nor show it on the page.
    return Expect(
        local=(rf"\b(photo {h.photo_id}|piece {h.photo_piece})\b",),
        remote=None,
        scans={h.codes[PHOTOGRAPHED]: {"valid", "invalid"}},
        signing="genuine",
        refused_images=[thumb],
        page_hides=[thumb],
    )


@dataclass(frozen=True)
class Case:
    tamper: Callable[[History], Expect]
    #: Whether a normal write comes between the damage and the checks (else after them).
    write_first: bool = False

    def __str__(self) -> str:
        return self.tamper.__name__ + (" then a write" if self.write_first else "")


CASES = [
    Case(payload_edited),
    Case(status_set_back_to_valid),
    Case(revocation_removed),
    *(
        Case(tamper, write_first)
        for tamper in (deleted, deleted_and_tree_rebuilt, swapped, swapped_and_tree_rebuilt, forged)
        for write_first in (False, True)
    ),
    Case(checkpoint_note_edited),
    Case(checkpoint_columns_edited),
    Case(rolled_back),
    Case(photo_replaced),
    Case(thumbnail_replaced),
]


# The checks -----------------------------------------------------------------------------


def _normal_write(h: History, caplog) -> list[str]:
    """An ordinary API call that appends to the log; the errors logged meanwhile."""
    caplog.clear()
    made = h.client.post("/api/v1/pieces", json=piece_data(), headers=bearer(h.world.maker))
    assert made.status_code == 201, made.json
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def _names(result, patterns: tuple[str, ...], what: str) -> None:
    assert result.exit_code != 0, f"{what} passed:\n{result.output}"
    for pattern in patterns:
        assert re.search(pattern, result.output), (
            f"{what} does not name {pattern!r}:\n{result.output}"
        )


def _remote(h: History, registry, live: str, expect: Expect) -> None:
    audit = registry("log", "verify", "--url", live, "--state", str(h.state))
    if expect.remote is not None:
        _names(audit, expect.remote, "the remote audit")
    elif expect.unsigned_from is not None and audit.exit_code == 0:
        checked = re.search(r"checkpoint of (\d+) entries is signed", audit.output)
        assert checked and int(checked.group(1)) <= expect.unsigned_from, audit.output


def _scanned(h: History, expect: Expect) -> None:
    for code, allowed in expect.scans.items():
        api = h.client.get(f"/api/v1/verify/{code}")
        if api.status_code < 400:
            assert api.json["status"] in allowed, (code, api.json["status"], allowed)
        else:
            assert api.mimetype == "application/problem+json", api.data
        page = h.client.get(f"/v/{code}")
        shown = page.get_data(as_text=True)
        if page.status_code < 400:
            verdict = re.search(r'data-verdict="([^"]+)"', shown)
            assert verdict and verdict.group(1) in allowed, (code, verdict, allowed)
            for hidden in expect.page_hides:
                assert hidden not in shown
        if "valid" not in allowed:
            assert ">Authentic<" not in shown
    for url in expect.refused_images:
        image = h.client.get(url)
        assert image.status_code == 404, (url, image.status_code)
        assert image.mimetype != "image/jpeg"


def _signed_notes(h: History) -> list[note.Checkpoint]:
    """Every checkpoint that opens under the registry's published keys: those in the
    database, and the one the signer remembers beside the keys."""
    published = h.client.get("/.well-known/jwks.json").json["keys"]
    trusted = {k["kid"]: base64url.decode(k["x"]) for k in published}
    notes = [n for (n,) in h.sql("SELECT note FROM checkpoint")]
    memory = h.keys / "log-checkpoint.txt"
    if memory.exists():
        notes.append(memory.read_text(encoding="utf-8"))
    opened = []
    for text_ in notes:
        try:
            opened.append(note.open_checkpoint(text_, trusted))
        except note.NoteError:
            continue  # a note changed by hand is signed by nobody
    return opened


def _root(leaves: list[bytes]) -> bytes:
    builder = merkle.Builder()
    for leaf in leaves:
        builder.append(leaf)
    return builder.root()


def _nothing_signed(h: History, registry, expect: Expect, errors: list[str]) -> None:
    genuine = list(h.leaves)
    made = registry("log", "checkpoint")
    if expect.signing == "genuine":
        # What was written since the damage, through the registry, is genuine too.
        genuine += [
            merkle.leaf_hash(bytes(e))
            for (e,) in h.sql(
                "SELECT entry FROM event WHERE log_index >= :n ORDER BY log_index", n=h.size
            )
        ]
    else:
        head = h.sql("SELECT size FROM log_head").scalar_one()
        newest = h.sql("SELECT max(tree_size) FROM checkpoint").scalar_one() or 0
        if head > newest:  # the write was due a checkpoint (none is when it seems covered)
            assert errors, "the write's signer did not say it refused to sign"
        assert made.exit_code != 0, f"registry log checkpoint signed:\n{made.output}"
        assert made.output.strip() and "Traceback" not in made.output, made.output
    for signed in _signed_notes(h):
        assert signed.size <= len(genuine), f"a checkpoint of {signed.size} entries is signed"
        assert signed.root == _root(genuine[: signed.size]), (
            f"the checkpoint of {signed.size} entries signs entries that are not the registry's"
        )


@pytest.mark.parametrize("case", CASES, ids=str)
def test_damage_by_hand_is_named_refused_and_never_signed(case, history, registry, live, caplog):
    h = history
    expect = case.tamper(h)
    if case.write_first:
        errors = _normal_write(h, caplog)

    _names(registry("log", "verify"), expect.local, "registry log verify")
    _remote(h, registry, live, expect)
    _scanned(h, expect)

    if not case.write_first:
        errors = _normal_write(h, caplog)
        _names(registry("log", "verify"), expect.local, "registry log verify after a write")
    _nothing_signed(h, registry, expect, errors)


def test_an_untouched_history_passes_every_check(history, registry, live):
    """The suite's baseline: the same checks find nothing before any damage."""
    h = history
    local = registry("log", "verify")
    assert local.exit_code == 0, local.output
    audit = registry("log", "verify", "--url", live, "--state", str(h.state))
    assert audit.exit_code == 0, audit.output
    statuses = {h.client.get(f"/api/v1/verify/{c}").json["status"] for c in h.codes}
    assert statuses == {"valid", "revoked"}
    assert h.client.get(f"/api/v1/photos/{h.photo_sha}/thumb.jpg").status_code == 200
    assert f"/api/v1/photos/{h.photo_sha}/thumb.jpg" in h.client.get(
        f"/v/{h.codes[PHOTOGRAPHED]}"
    ).get_data(as_text=True)
    assert all(s.root == _root(h.leaves[: s.size]) for s in _signed_notes(h))
    assert base64.b64decode(h.state.read_text().split("\n")[2]) == _root(h.leaves)
