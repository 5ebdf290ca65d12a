"""The log as C2SP tlog-tiles (issue 15, item 5): hash tiles and entry bundles checked
against the tree and the proofs computed from the entries, by code of this test's own
written from the spec; the path encoding above index 1,000; only what a signed checkpoint
covers, cacheable for ever."""

import base64
import hashlib
import struct

import pytest
from sqlalchemy import select

from registry.edge import database, log_signer
from registry.log import checkpoints, ledger, tiles
from registry.models import Event
from schemas.standards import EventType

COUNT = 600  # two full level-0 tiles and a partial one of 88


def _leaf(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _mth(leaves: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1 over leaf hashes."""
    if len(leaves) == 1:
        return leaves[0]
    split = 1 << ((len(leaves) - 1).bit_length() - 1)
    return _node(_mth(leaves[:split]), _mth(leaves[split:]))


def _root_from_tiles(level0: list[bytes], level1: list[bytes], size: int) -> bytes:
    """The tree's root folded from its tiles as a client does: each full level-0 tile
    becomes its level-1 hash, and the rest of the leaves are hashed as they are."""
    full = size // 256
    subtrees = [_mth(level0[k * 256 : (k + 1) * 256]) for k in range(full)]
    assert subtrees == level1[:full]  # level 1 holds the roots of the full tiles
    rest = level0[full * 256 : size]
    # MTH splits at the largest power of two below the size: the full tiles (a perfect
    # 512 here) then the rest.
    return _node(_mth(subtrees), _mth(rest)) if rest else _mth(subtrees)


@pytest.fixture
def grown(app, client):
    """A log of COUNT entries, signed."""
    with app.app_context():
        session = database.session()
        for n in range(COUNT):
            ledger.append(session, EventType.KEY_GENERATED, actor=None, data={"n": n})
        made = checkpoints.make(session, log_signer.signer())
        session.commit()
        entries = [
            ledger.stored_bytes(e)
            for e in session.scalars(select(Event.entry).order_by(Event.log_index))
        ]
    return {"size": made.tree_size, "root": made.root_hash, "entries": entries}


def _get(client, path: str):
    response = client.get(path)
    assert response.status_code == 200, (path, response.get_data(as_text=True)[:300])
    return response


def test_tiles_and_bundles_hold_the_signed_tree(client, grown):
    size, entries = grown["size"], grown["entries"]
    assert size >= COUNT
    full, rest = divmod(size, 256)
    level0 = b"".join(_get(client, f"/log/tile/0/{tiles.path(n)}").data for n in range(full))
    level0 += _get(client, f"/log/tile/0/{tiles.path(full)}.p/{rest}").data
    leaves = [level0[k : k + 32] for k in range(0, len(level0), 32)]
    assert leaves == [_leaf(e) for e in entries]
    level1 = _get(client, f"/log/tile/1/000.p/{full}").data
    level1_hashes = [level1[k : k + 32] for k in range(0, len(level1), 32)]
    assert _root_from_tiles(leaves, level1_hashes, size) == grown["root"]

    bundled = []
    for name in [*(tiles.path(n) for n in range(full)), f"{tiles.path(full)}.p/{rest}"]:
        data = _get(client, f"/log/tile/entries/{name}").data
        while data:
            (length,) = struct.unpack(">H", data[:2])
            bundled.append(data[2 : 2 + length])
            data = data[2 + length :]
    assert bundled == entries


def test_an_inclusion_proof_is_the_one_the_tiles_give(client, grown):
    """The API's proof of an entry folds to the root that the tiles make."""
    size = grown["size"]
    proof = client.get(f"/api/v1/log/proof/inclusion?index=300&tree_size={size}").json
    leaves = [_leaf(e) for e in grown["entries"]]
    index, node = 300, leaves[300]
    path = [base64.b64decode(p) for p in proof["proof"]]
    # RFC 9162 §2.1.3.2, as written there.
    fn, sn, r = index, size - 1, node
    for p in path:
        if sn == 0:
            break
        if fn % 2 == 1 or fn == sn:
            r = _node(p, r)
            while fn % 2 == 0 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = _node(r, p)
        fn, sn = fn >> 1, sn >> 1
    assert r == grown["root"] == _mth(leaves)


def test_full_tiles_are_cached_for_ever_and_the_checkpoint_briefly(client, grown):
    tile = _get(client, "/log/tile/0/000")
    assert len(tile.data) == 256 * 32
    assert tile.headers["Content-Type"] == "application/octet-stream"
    assert tile.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert tile.headers["Access-Control-Allow-Origin"] == "*"
    note = _get(client, "/log/checkpoint")
    assert note.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert note.headers["Cache-Control"] == "public, max-age=5"
    origin, size, root = note.get_data(as_text=True).split("\n")[:3]
    assert int(size) == grown["size"]
    assert origin.endswith("/log")


@pytest.mark.parametrize(
    "path",
    [
        "/log/tile/0/003",  # beyond the signed tree
        "/log/tile/0/002.p/200",  # wider than the signed tree
        "/log/tile/1/000",  # no full level-1 tile yet
        "/log/tile/0/x001/234",  # index 1,234: the x001/234 form, beyond the log
        "/log/tile/0/1",  # not three digits
        "/log/tile/0/x000/002",  # a leading zero element
        "/log/tile/0/002.p/0",
        "/log/tile/0/002.p/256",
        "/log/tile/0/002.p/088",
        "/log/tile/64/000",
        "/log/tile/01/000",
        "/log/tile/entries/003",
        "/log/tile/entries/x001/x234/067",
        "/log/tile/entries/abc",
    ],
)
def test_a_tile_the_signed_log_does_not_hold_is_not_found(client, grown, path):
    refused = client.get(path)
    assert refused.status_code == 404
    assert refused.mimetype == "application/problem+json"


def test_the_path_encoding_of_the_spec():
    assert tiles.path(1234067) == "x001/x234/067"
    assert tiles.path(1234) == "x001/234"
    assert tiles.path(5) == "005"
    assert tiles.parse("2", "x001/x234/067.p/17") == tiles.Tile(2, 1234067, 17)
    assert tiles.parse(None, "x001/234") == tiles.Tile(None, 1234, 256)
    for n in range(0, 2_000_000, 7919):
        assert tiles.parse("0", tiles.path(n)).index == n


def test_before_any_checkpoint_there_are_no_tiles(client):
    assert client.get("/log/checkpoint").status_code == 404
    assert client.get("/log/tile/0/000.p/1").status_code == 404


# `registry log verify --url` reads the tiles.


@pytest.fixture
def tiled(app):
    """The app over real HTTP; `tiled.paths` lists every log path asked for."""
    import threading

    from werkzeug.serving import make_server

    asked: list[str] = []

    def counting(environ, start_response):
        asked.append(environ["PATH_INFO"])
        return app(environ, start_response)

    server = make_server("127.0.0.1", 0, counting, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    class Tiled:
        url = f"http://127.0.0.1:{server.server_port}"
        paths = asked

    yield Tiled
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def audit(env, tiled):
    from click.testing import CliRunner

    from registry import cli

    def run():
        command = ["log", "verify", "--url", tiled.url, "--samples", "0"]
        return CliRunner().invoke(cli.main, command, env=env)

    return run


def test_the_url_audit_reads_the_entry_bundles(grown, audit, tiled):
    result = audit()
    assert result.exit_code == 0, result.output
    assert f"{grown['size']} entries read (from entry 0) make its root" in result.output
    bundles = [p for p in tiled.paths if p.startswith("/log/tile/entries/")]
    full, rest = divmod(grown["size"], 256)
    assert bundles == [*(f"/log/tile/entries/{tiles.path(n)}" for n in range(full)),
                       f"/log/tile/entries/{tiles.path(full)}.p/{rest}"]  # fmt: skip
    # No page of the entries API but the one look past the end.
    assert [p for p in tiled.paths if p == "/api/v1/log/entries"] == ["/api/v1/log/entries"]


def test_an_entry_edited_in_a_bundle_is_named(grown, audit, sql):
    sql(
        "UPDATE event SET entry = :e WHERE log_index = 300",
        e=grown["entries"][300].replace(b'"action":"', b'"action":"x'),
    )
    result = audit()
    assert result.exit_code == 1, result.output
    assert "entry 300: the entry served" in result.output


def test_an_entry_removed_from_a_bundle_is_named(grown, audit, sql):
    """A bundle cannot be made without the entry: the audit reads that stretch from the
    entries API, which names the gap."""
    sql("DELETE FROM event WHERE log_index = 300")
    result = audit()
    assert result.exit_code == 1, result.output
    assert "entry 300: the entry is not served" in result.output
