"""`registry backup` and `registry restore`, as an operator runs them beside the server.

A backup is a consistent snapshot taken while the server writes; a restore puts it back,
and refuses to take the log back behind a checkpoint already published (the signer's
memory, an auditor's state) unless told --accept-fork, which it then says loudly.
"""

import json
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from registry import cli
from tests.factories import certify


@pytest.fixture
def registry(env):
    def run(*args, ok=True):
        result = CliRunner().invoke(cli.main, [str(a) for a in args], env=env)
        if ok:
            assert result.exit_code == 0, result.output + result.stderr
        return result

    return run


@pytest.fixture
def history(app, client, world, registry):
    """An initialised registry with two certificates, each write signing a checkpoint."""
    registry("init")
    for _ in range(2):
        certify(client, world)


@pytest.fixture
def memory(env) -> Path:
    """The signer's memory: the last checkpoint it signed (LOG_SIGNED_STATE's default)."""
    return Path(env["REGISTRY_KEYS_DIR"]) / "log-checkpoint.txt"


def _size(checkpoint_text: str) -> int:
    return int(checkpoint_text.split("\n")[1])


@pytest.fixture
def sql(database_url):
    """One value read straight from the database, on a connection of its own each time:
    a restore replaces the database under any connection kept open."""

    def run(statement: str):
        engine = create_engine(database_url)
        try:
            with engine.connect() as connection:
                return connection.execute(text(statement)).scalar_one()
        finally:
            engine.dispose()

    return run


def _certificates(sql) -> int:
    return sql("SELECT count(*) FROM certificate")


def _stop(app) -> None:
    """The server stops before a restore (a restore into a running server is not
    supported): its connections are closed."""
    app.extensions["registry.engine"].dispose()


def test_a_restore_behind_a_published_checkpoint_is_refused_unless_the_fork_is_accepted(
    history, app, client, world, registry, sql, memory, tmp_path
):
    backup = tmp_path / "backup"
    made = registry("backup", backup)
    assert "backup in" in made.output
    manifest = json.loads((backup / "manifest.json").read_text())
    assert _certificates(sql) == 2
    # More writes: each signs a newer checkpoint, which the server serves.
    for _ in range(2):
        certify(client, world)
    published = memory.read_text()
    assert _size(published) > manifest["tree_size"]
    _stop(app)

    refused = registry("restore", backup, ok=False)
    assert refused.exit_code == 1
    assert "would take the log back behind a checkpoint already published" in refused.stderr
    assert (
        f"the signer's memory ({memory}): a checkpoint of {_size(published)} entries"
        in refused.stderr
    )
    assert f"holds a log of {manifest['tree_size']} entries" in refused.stderr
    assert "--accept-fork" in refused.stderr
    assert _certificates(sql) == 4  # nothing was restored
    assert memory.read_text() == published

    accepted = registry("restore", backup, "--accept-fork")
    assert "WARNING: THE LOG HAS FORKED" in accepted.stderr
    assert f"a checkpoint of {_size(published)} entries" in accepted.stderr
    assert _certificates(sql) == 2
    # The memory is set aside, never deleted, and set to the backup's checkpoint.
    (aside,) = memory.parent.glob("log-checkpoint.txt.replaced-*")
    assert aside.read_text() == published
    assert str(aside) in accepted.stderr
    assert memory.read_text() == manifest["checkpoint"]["note"]

    # The signer signs again, over the restored log, and the log verifies.
    certify(client, world)
    size = sql("SELECT size FROM log_head")
    assert _size(memory.read_text()) == size > manifest["tree_size"]
    verified = registry("log", "verify")
    assert "log verified" in verified.output


def test_a_restore_with_nothing_written_since_needs_no_flag(
    history, app, registry, sql, memory, tmp_path
):
    backup = tmp_path / "backup"
    registry("backup", backup)
    signed = memory.read_text()
    _stop(app)

    restored = registry("restore", backup)
    assert "WARNING" not in restored.stderr
    assert "restored the backup" in restored.output
    assert _certificates(sql) == 2
    assert memory.read_text() == signed
    assert list(memory.parent.glob("*.replaced-*")) == []
    assert "log verified" in registry("log", "verify").output


def test_a_backup_that_extends_an_older_memory_is_restored_without_a_flag(
    history, app, client, world, registry, sql, memory, tmp_path
):
    """The signer's memory is behind the backup (a keys directory brought back from an
    older copy): the backup's tree extends it, proved from the backup's own nodes, and
    the memory moves forward to the backup's checkpoint."""
    older = memory.read_text()
    certify(client, world)
    backup = tmp_path / "backup"
    registry("backup", backup)
    manifest = json.loads((backup / "manifest.json").read_text())
    _stop(app)
    memory.write_text(older)

    restored = registry("restore", backup)
    assert "WARNING" not in restored.stderr
    assert _size(older) < manifest["tree_size"]
    assert memory.read_text() == manifest["checkpoint"]["note"]
    assert _certificates(sql) == 3


def test_a_backup_holds_the_public_state_and_no_secret(history, registry, memory, tmp_path):
    backup = tmp_path / "backup"
    registry("backup", backup)
    manifest = json.loads((backup / "manifest.json").read_text())
    files = {p.relative_to(backup).as_posix() for p in backup.rglob("*") if p.is_file()}
    database = manifest["database"]
    assert files == {
        "manifest.json",
        database,
        "keys/keyring.json",
        "keys/log-origin.txt",
        "keys/log-checkpoint.txt",
    }
    assert set(manifest["files"]) == files - {"manifest.json"}
    assert (
        database
        == {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}[manifest["backend"]]
    )
    assert manifest["checkpoint"]["size"] == _size(memory.read_text())
    assert manifest["origin"] == "registry.test/log"
    assert manifest["created_at"].endswith("Z")
    # Taking a backup into a directory that holds one already is refused.
    again = registry("backup", backup, ok=False)
    assert "is not an empty directory" in again.stderr


def test_a_damaged_backup_is_not_restored(history, app, registry, sql, tmp_path):
    backup = tmp_path / "backup"
    registry("backup", backup)
    manifest = json.loads((backup / "manifest.json").read_text())
    with open(backup / manifest["database"], "ab") as file:
        file.write(b"\0")
    _stop(app)
    refused = registry("restore", backup, ok=False)
    assert "its hash differs" in refused.stderr
    assert _certificates(sql) == 2


def test_an_audit_state_ahead_of_the_backup_refuses_the_restore(
    history, app, client, world, registry, sql, memory, tmp_path, live
):
    backup = tmp_path / "backup"
    registry("backup", backup)
    certify(client, world)
    state = tmp_path / "audit-state.txt"
    audited = registry("log", "verify", "--url", live, "--state", state)
    assert "verified" in audited.output
    _stop(app)
    # A machine whose keys directory came back without the signer's memory: only the
    # auditor remembers what was published.
    memory.unlink()

    refused = registry("restore", backup, "--audit-state", state, ok=False)
    assert f"the audit state {state}: a checkpoint of {_size(state.read_text())}" in refused.stderr
    assert "signer's memory" not in refused.stderr.split("\n")[1]
    assert "--accept-fork" in refused.stderr
    assert _certificates(sql) == 3


def test_the_snapshot_taken_while_writes_go_on_is_consistent(
    history, app, world, registry, sql, tmp_path
):
    acknowledged = [_certificates(sql)]
    stop = threading.Event()

    def writer():
        client = app.test_client()
        while not stop.is_set():
            certify(client, world)
            acknowledged.append(acknowledged[-1] + 1)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while acknowledged[-1] < 4:  # writes are under way
            stop.wait(0.01)
        before = acknowledged[-1]
        backup = tmp_path / "backup"
        registry("backup", backup)
        after = acknowledged[-1]
    finally:
        stop.set()
        thread.join(timeout=60)
    certify(app.test_client(), world)  # so that the restore is always behind
    _stop(app)

    registry("restore", backup, "--accept-fork")
    # Every write acknowledged before the backup began is in it, none begun after it
    # ended, and each one whole: its certificate with its log entries.
    assert before <= _certificates(sql) <= after + 1
    manifest = json.loads((backup / "manifest.json").read_text())
    assert sql("SELECT size FROM log_head") == manifest["tree_size"]
    assert "log verified" in registry("log", "verify").output


def test_a_restore_ends_every_portal_session_the_backup_held(
    history, app, world, registry, sql, database_url, tmp_path
):
    """A session live when the backup was taken may have been ended since (a sign-out, a
    password change): a restore must not bring it back."""
    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO portal_session (account_id, secret_hash, created_at, last_seen_at, "
                "expires_at) VALUES (:a, :h, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, :e)"
            ),
            {"a": _account_id(connection), "h": "0" * 64, "e": "2099-01-01 00:00:00"},
        )
    engine.dispose()
    backup = tmp_path / "backup"
    registry("backup", backup)
    _stop(app)
    restored = registry("restore", backup)
    assert "portal sessions ended: 1" in restored.output
    assert sql("SELECT count(*) FROM portal_session WHERE ended_at IS NULL") == 0


def _account_id(connection) -> int:
    return connection.execute(text("SELECT min(id) FROM account")).scalar_one()


def test_a_restore_into_a_keys_directory_of_another_commitment_key_is_refused(
    history, app, registry, sql, env, tmp_path
):
    """The rows' MACs and seals hold only under the backup's commitment key: with another
    one every scan would read Not valid, so the restore refuses before changing anything."""
    backup = tmp_path / "backup"
    registry("backup", backup)
    _stop(app)
    key = Path(env["REGISTRY_KEYS_DIR"]) / "commitment-key"
    key.write_text("11" * 32 + "\n")
    refused = registry("restore", backup, ok=False)
    assert refused.exit_code != 0
    assert "does not hold the commitment key" in refused.output + refused.stderr


def test_a_registry_with_signing_keys_never_makes_a_new_commitment_key(history, app, registry, env):
    """Lost with a partial restore of the keys directory, it must be put back, not made
    anew: a new one would quietly fail every proof the registry wrote."""
    (Path(env["REGISTRY_KEYS_DIR"]) / "commitment-key").unlink()
    refused = registry("keys", "list", ok=False)
    assert refused.exit_code != 0
    assert "commitment-key is missing" in str(refused.exception) + refused.output
