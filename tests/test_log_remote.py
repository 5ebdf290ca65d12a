"""`registry log verify --url` reads every entry and recomputes the tree.

A monitor that sampled a few entries missed an edit anywhere else. These tests change
the database behind the registry's back at entries that no sample reaches (`--samples
0` checks the first and the last only), and expect every such entry to be named; and
they count the monitor's requests to see that a run from a saved state reads only the
entries added since.
"""

import threading
from urllib.parse import parse_qs

import pytest
from click.testing import CliRunner
from werkzeug.serving import make_server

from registry import cli
from registry.log import remote
from tests.factories import certify


@pytest.fixture
def small_pages(monkeypatch):
    """Pages of 4 entries, compared with the signed root every 8: a small log then reads
    in several pages and stretches, as a large one does."""
    monkeypatch.setattr(remote, "PAGE", 4, raising=False)
    monkeypatch.setattr(remote, "STRETCH", 8, raising=False)


@pytest.fixture
def live(app):
    """The app served over real HTTP on 127.0.0.1, as a registry that serves no tiles
    (the audit then reads pages of the entries API; tests/test_tiles.py has it read the
    tiles); `live.entries` lists the `start` of every entries page asked for."""
    starts: list[int] = []

    def counting(environ, start_response):
        if environ["PATH_INFO"] == "/api/v1/log/entries":
            starts.append(int(parse_qs(environ["QUERY_STRING"])["start"][0]))
        if environ["PATH_INFO"].startswith("/log/"):
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"no tiles here"]
        return app(environ, start_response)

    server = make_server("127.0.0.1", 0, counting, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    class Live:
        url = f"http://127.0.0.1:{server.server_port}"
        entries = starts

    yield Live
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def audit(env, live):
    def run(*args, state=None):
        more = ["--state", str(state)] if state else []
        command = ["log", "verify", "--url", live.url, "--samples", "0", *more, *args]
        return CliRunner().invoke(cli.main, command, env=env)

    return run


@pytest.fixture
def history(client, world, sql) -> int:
    """Six certificates: some thirty entries. The log's size."""
    for _ in range(6):
        certify(client, world)
    return sql("SELECT size FROM log_head").scalar_one()


def _entry(sql, index: int) -> bytes:
    return bytes(sql("SELECT entry FROM event WHERE log_index = :i", i=index).scalar_one())


def _edit(sql, index: int) -> None:
    changed = _entry(sql, index).replace(b'"action":"', b'"action":"x')
    sql("UPDATE event SET entry = :e WHERE log_index = :i", e=changed, i=index)


def _move(sql, source: int, target: int) -> None:
    sql("UPDATE event SET log_index = :t WHERE log_index = :s", t=target, s=source)


def _named(result, index: int, what: str) -> None:
    assert result.exit_code == 1, result.output
    assert "does not hold" in result.output, result.output
    assert f"entry {index}: {what}" in result.output, result.output


def test_an_untouched_log_is_read_whole(history, audit, small_pages, live):
    result = audit()
    assert result.exit_code == 0, result.output
    assert f"{history} entries read (from entry 0) make its root" in result.output
    # Every page once, then one look past the end: no entry is served unsigned.
    assert live.entries == [*range(0, history, 4), history]


def test_an_entry_edited_where_no_sample_looks_is_named(history, audit, sql, small_pages):
    index = history // 2
    _edit(sql, index)
    result = audit()
    _named(result, index, "the entry served (leaf ")
    assert "is not the one the signed tree holds there" in result.output
    assert "1 discrepancies" in result.output


def test_two_swapped_entries_are_both_named(history, audit, sql, small_pages):
    first, second = 5, history - 9
    _move(sql, first, 10**6)
    _move(sql, second, first)
    _move(sql, 10**6, second)
    result = audit()
    _named(result, first, "the entry served")
    _named(result, second, "the entry served")
    assert "2 discrepancies" in result.output


def test_a_removed_entry_is_named(history, audit, sql, small_pages):
    index = history // 3
    sql("DELETE FROM event WHERE log_index = :i", i=index)
    result = audit()
    _named(result, index, "the entry is not served")
    assert "1 discrepancies" in result.output


def test_an_inserted_entry_is_named_and_the_entries_it_moves(history, audit, sql, small_pages):
    """A forged entry put in at 6, the entries from 6 to 11 moved one on, and the one
    at 12 dropped to make room: the log keeps its size, its first and last entries."""
    at, dropped = 6, 12
    sql("DELETE FROM event WHERE log_index = :i", i=dropped)
    for index in range(dropped - 1, at - 1, -1):
        _move(sql, index, index + 1)
    sql(
        "INSERT INTO event (log_index, action, occurred_at, actor_role, entry) "
        "VALUES (:i, 'certificate:revoked', CURRENT_TIMESTAMP, 'inspector', :e)",
        i=at,
        e=b'{"action":"certificate:revoked"}',
    )
    result = audit()
    for index in range(at, dropped + 1):
        _named(result, index, "the entry served")
    assert f"{dropped - at + 1} discrepancies" in result.output


def test_an_entry_not_in_canonical_form_is_named(history, audit, sql, small_pages):
    index = history // 2
    spaced = _entry(sql, index).replace(b'"action":', b'"action": ')
    sql("UPDATE event SET entry = :e WHERE log_index = :i", e=spaced, i=index)
    result = audit()
    _named(result, index, "the entry is not in RFC 8785 canonical form")


def test_a_run_from_saved_state_reads_only_new_entries_and_names_an_edit_there(
    history, audit, client, world, sql, small_pages, live, tmp_path
):
    state = tmp_path / "seen.txt"
    assert audit(state=state).exit_code == 0
    live.entries.clear()
    for _ in range(3):
        certify(client, world)
    size = sql("SELECT size FROM log_head").scalar_one()

    result = audit(state=state)
    assert result.exit_code == 0, result.output
    assert f"{size - history} entries read (from entry {history})" in result.output
    assert live.entries and min(live.entries) == history, live.entries

    live.entries.clear()
    for _ in range(2):
        certify(client, world)
    _edit(sql, size + 2)
    edited = audit(state=state)
    _named(edited, size + 2, "the entry served")
    assert min(live.entries) == size, live.entries
    # A run that failed keeps the state it started from.
    assert f"\n{size}\n" in state.read_text()


def test_a_state_file_holding_only_the_checkpoint_is_read(
    history, audit, client, sql, small_pages, live, tmp_path
):
    """As the monitor saved it before it kept the tree's compact range."""
    state = tmp_path / "seen.txt"
    state.write_text(client.get("/api/v1/log/checkpoint", headers={"Accept": "text/plain"}).text)
    index = history // 2
    original = _entry(sql, index)
    _edit(sql, index)
    _named(audit(state=state), index, "the entry served")
    sql("UPDATE event SET entry = :e WHERE log_index = :i", e=original, i=index)
    first = audit(state=state)
    assert first.exit_code == 0, first.output
    assert f"{history} entries read (from entry 0)" in first.output
    assert "compact range" in state.read_text()
    live.entries.clear()
    again = audit(state=state)
    assert again.exit_code == 0, again.output
    assert f"0 entries read (from entry {history})" in again.output
    assert live.entries == [history]  # only the look past the end


def test_a_damaged_compact_range_in_the_state_file_is_refused(history, audit, tmp_path):
    state = tmp_path / "seen.txt"
    assert audit(state=state).exit_code == 0
    saved = state.read_text()
    hashes = saved.split("compact range ", 1)[1].split("\n")[1:]
    state.write_text(saved.replace(hashes[0], "A" * 43 + "="))
    result = audit(state=state)
    assert result.exit_code == 1
    assert "compact range is not the one of its checkpoint" in result.output


def test_past_the_located_limit_the_audit_says_more_differ(
    history, audit, sql, small_pages, monkeypatch
):
    monkeypatch.setattr(remote, "MAX_LOCATED", 2, raising=False)
    for index in (3, 9, 15, 21):
        _edit(sql, index)
    result = audit()
    _named(result, 3, "the entry served")
    _named(result, 9, "the entry served")
    assert "entry 15:" not in result.output
    assert "2 discrepancies in the entries read (more not located)" in result.output
