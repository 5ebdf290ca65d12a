"""A live set-up on loopback, three processes: the registry as `registry serve` runs it
(nginx, gunicorn, the checkpoint signer) and two witnesses (`registry witness serve`),
over a log of some 1,000 writes. Every checkpoint ends up with both cosignatures, each
checked here by the test's own reading of the spec; a witness killed for 30 s holds up
neither writes nor scans, and catches up; an auditor requiring both witnesses passes,
and fails with a key swapped; a database rolled back and signed again is refused by both
witnesses, the alarm is raised, and no scan is proved against the fork.

Linux only, as tests/test_serve.py (which it shares the server's handling with).
"""

import http.client
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from keys import witness as witness_keys
from tests.factories import free_port
from tests.test_serve import REGISTRY, ROOT, _answers, _descendants
from tests.test_witness import _check_cosignature
from tests.witnesses import Served

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the server's processes are Linux's"
)

DOWN_S = 30
SETTLE_S = 90
HEADER = "reference,kind,title,metal,fineness,weight_g,stones,uin\n"


class Registry:
    def __init__(self, tmp: Path, witnesses: list[tuple[witness_keys.WitnessKey, Served]]):
        self.tmp = tmp
        self.database = tmp / "registry.sqlite3"
        self.port = free_port()
        self.env = {
            **os.environ,
            "REGISTRY_DATABASE_URL": f"sqlite:///{self.database}",
            "REGISTRY_KEYS_DIR": str(tmp / "keys"),
            "REGISTRY_PUBLIC_BASE_URL": "https://registry.test",
            "REGISTRY_LOG_CHECKPOINT_INTERVAL": "0.2",
            "REGISTRY_PUBLIC_RATE_LIMIT": "100000 per minute",
            "REGISTRY_WITNESSES": json.dumps(
                [
                    {"vkey": str(key.vkey), "url": served.base, "name": key.name}
                    for key, served in witnesses
                ]
            ),
        }
        self.log = tmp / "serve.log"
        self.process: subprocess.Popen | None = None
        self.seen: set[int] = set()

    def command(self, *args: str) -> str:
        done = subprocess.run(  # noqa: S603 - the project's own command
            [str(REGISTRY), *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    def start(self) -> None:
        with open(self.log, "ab") as output:
            self.process = subprocess.Popen(  # noqa: S603 - the project's own command
                [str(REGISTRY), "serve", "--port", str(self.port)],
                cwd=ROOT,
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while not _answers(self.port):
            assert time.monotonic() < deadline and self.process.poll() is None, self._tail()
            time.sleep(0.1)
        self.seen |= _descendants(self.process.pid)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.seen |= _descendants(self.process.pid)
            self.process.terminate()
            self.process.wait(timeout=60)

    def _tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-30:])

    def ask(self, method: str, path: str, body: bytes | None = None, **headers: str):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            connection.request(method, path, body=body, headers=headers)
            answer = connection.getresponse()
            data = answer.read()
            return answer.status, data
        finally:
            connection.close()

    def rows(self, sql: str, *args) -> list[tuple]:
        with sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=30) as db:
            return db.execute(sql, args).fetchall()


def _import(registry: Registry, token: str, prefix: str, count: int) -> list[int]:
    sheet = HEADER + "".join(
        f"{prefix}-{n:05d},ring,Кольцо,gold,585,3.42,,\n" for n in range(count)
    )
    status, body = registry.ask(
        "POST",
        "/api/v1/pieces/import",
        sheet.encode(),
        Authorization=f"Bearer {token}",
        **{"Content-Type": "text/csv; charset=utf-8"},
    )
    assert status == 200, body[:500]
    report = json.loads(body)
    assert report["created"] == count, report
    return [row["piece_id"] for row in report["rows"]]


def _attest(registry: Registry, token: str, pieces: list[int]) -> list[str]:
    batch = {
        "defaults": {
            "result": "passed",
            "metal": "gold",
            "fineness": 585,
            "assay_mark": "585-KRS-2026",
            "inspectorate": "East Siberian State Inspectorate of Assay Supervision",
        },
        "pieces": [{"piece_id": piece} for piece in pieces],
    }
    status, body = registry.ask(
        "POST",
        "/api/v1/assays/batch",
        json.dumps(batch).encode(),
        Authorization=f"Bearer {token}",
        **{"Content-Type": "application/json"},
    )
    assert status == 200, body[:500]
    return [row["certificate"] for row in json.loads(body)["pieces"] if row["certificate"]]


def _all_cosigned(registry: Registry, witnesses: int, timeout: float = SETTLE_S) -> int:
    """Wait until a checkpoint covers every entry and every checkpoint carries
    `witnesses` cosignatures; how many checkpoints there are."""
    deadline = time.monotonic() + timeout
    while True:
        total, short, covered = registry.rows(
            "SELECT count(*), sum(cosignatures < ?), max(tree_size) = (SELECT size FROM log_head)"
            " FROM checkpoint",
            witnesses,
        )[0]
        if total and not short and covered:
            return total
        assert time.monotonic() < deadline, f"{short} of {total} checkpoints not cosigned"
        time.sleep(0.5)


def _scan(registry: Registry, code: str) -> dict:
    status, body = registry.ask("GET", f"/api/v1/verify/{code}")
    assert status == 200, body[:300]
    return json.loads(body)


@pytest.fixture
def live(tmp_path):
    made = [witness_keys.generate(tmp_path / f"w{n}", f"witness-{n}.assay.test/w") for n in (1, 2)]
    served = []
    registry = Registry(tmp_path, [])
    registry.command("init")
    log_vkeys = registry.command("log", "vkey").splitlines()
    for n in (1, 2):
        served.append(Served(tmp_path / f"w{n}", log_vkeys).start())
    registry = Registry(tmp_path, list(zip(made, served, strict=True)))
    registry.start()
    try:
        yield registry, made, served
    finally:
        registry.stop()
        for witness in served:
            witness.stop()
        for pid in registry.seen:  # anything of this test's server still running
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass


def test_two_witnesses_cosign_a_live_log_survive_an_outage_and_refuse_a_fork(live, tmp_path):
    registry, keys_made, witnesses = live
    registry.command(
        "makers", "admit", "--slug", "live", "--name-ru", "Мастерская", "--name-en",
        "Workshop", "--region", "RU-KK", "--city", "Абакан", "--mark", "LV001",
    )  # fmt: skip
    registry.command(
        "accounts", "create", "--role", "maker", "--email", "m@live.test", "--maker", "live"
    )
    registry.command("accounts", "create", "--role", "inspector", "--email", "i@live.test")
    maker = registry.command("tokens", "create", "--email", "m@live.test")
    inspector = registry.command("tokens", "create", "--email", "i@live.test")

    # Some 1,000 writes: 500 pieces registered, 250 of them attested and certified.
    pieces = _import(registry, maker, "LIVE", 500)
    codes = _attest(registry, inspector, pieces[:250])
    assert len(codes) == 250
    size = registry.rows("SELECT size FROM log_head")[0][0]
    assert size >= 1000
    checkpoints = _all_cosigned(registry, 2)
    assert checkpoints > 1

    # A copy of the database as it is now, for the roll back below.
    snapshot = tmp_path / "snapshot.sqlite3"
    with sqlite3.connect(registry.database) as source, sqlite3.connect(snapshot) as copy:
        source.backup(copy)

    # One witness down for 30 s: writes and scans go on; it catches up when it returns.
    witnesses[1].stop()
    down_until = time.monotonic() + DOWN_S
    more = _import(registry, maker, "DOWN", 100)
    new_codes = _attest(registry, inspector, more[:20])
    while time.monotonic() < down_until:
        assert _scan(registry, new_codes[0])["status"] == "valid"
        time.sleep(1)
    assert registry.rows("SELECT max(cosignatures) FROM checkpoint")[0][0] == 2
    witnesses[1].start()
    _all_cosigned(registry, 2)

    # Every cosignature holds, read with the test's own code.
    lines = registry.rows(
        "SELECT c.line, k.note, c.witness FROM cosignature c JOIN checkpoint k"
        " ON k.id = c.checkpoint_id"
    )
    vkeys = {key.name: str(key.vkey) for key in keys_made}
    for line, note_text, name in lines:
        _check_cosignature(line, vkeys[name], note_text.rpartition("\n\n")[0] + "\n")
    assert len(lines) == 2 * registry.rows("SELECT count(*) FROM checkpoint")[0][0]

    # An auditor requiring both witnesses passes; with a key swapped for another, fails.
    url = f"http://127.0.0.1:{registry.port}"
    audit = [str(REGISTRY), "log", "verify", "--url", url, "--samples", "4"]
    for key in keys_made:
        audit += ["--witness", str(key.vkey)]
    passed = subprocess.run(audit, cwd=ROOT, capture_output=True, text=True, timeout=300)  # noqa: S603
    assert passed.returncode == 0, passed.stderr
    assert "(2 of 2 required)" in passed.stdout
    swapped = witness_keys.generate(tmp_path / "swapped", keys_made[1].name)
    audit[-1] = str(swapped.vkey)
    failed = subprocess.run(audit, cwd=ROOT, capture_output=True, text=True, timeout=300)  # noqa: S603
    assert failed.returncode == 1
    assert "1 valid cosignatures of the 2 required" in failed.stderr

    # The roll back: the old copy, the signer's memory of what it signed removed, then
    # more written than since the copy, and signed by the registry's own key.
    genuine = registry.rows("SELECT max(tree_size) FROM checkpoint WHERE cosignatures = 2")[0][0]
    registry.stop()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{registry.database}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(snapshot, registry.database)
    (tmp_path / "keys" / "log-checkpoint.txt").unlink()
    registry.start()
    forked_pieces = _import(registry, maker, "FORK", 300)
    forked_codes = _attest(registry, inspector, forked_pieces[:10])
    # Until each witness itself has refused a forked checkpoint larger than what it saw
    # (422). Before the fork grows past it, the registry refuses to ask from a size it
    # lacks; that is an alarm too, but not yet the witness's own word.
    deadline = time.monotonic() + SETTLE_S
    while True:
        refused = dict(registry.rows("SELECT witness, last_refusal FROM witness_state"))
        if all((refused.get(key.name) or "").startswith("422") for key in keys_made):
            break
        assert time.monotonic() < deadline, refused
        time.sleep(0.5)
    assert "ALARM" in registry.log.read_text(errors="replace")
    assert registry.rows("SELECT max(tree_size) FROM checkpoint")[0][0] > genuine
    # No scan is proved against the fork: the shared past is proved against the newest
    # checkpoint both witnesses cosigned, the fork's certificates against none.
    witnessed = registry.rows("SELECT max(tree_size) FROM checkpoint WHERE cosignatures = 2")[0][0]
    assert witnessed <= genuine
    assert _scan(registry, codes[0])["log"]["inclusion"]["tree_size"] == witnessed
    assert _scan(registry, forked_codes[0])["log"]["inclusion"] is None
    status, body = registry.ask("GET", "/api/v1/log/checkpoint")
    assert json.loads(body)["witnessed"] is False
