"""A crash under load: while eight clients register pieces and attest them, the server
is SIGKILLed again and again, in the three ways a machine loses it: one worker alone (the
master starts another and serving goes on), the master alone (its workers end with it, by
PR_SET_PDEATHSIG: registry/gunicorn_conf.py), and the whole process group at once. After
each kill of the master or the group the server is started again on the same port.

Every write the server acknowledged (a 2xx answer) must be found after the restart with
its log entry, once; the log must be whole (indices 0..n-1, its head, its leaves and
perfect nodes, its newest checkpoint all agreeing); `registry log verify` must pass, and
so must the remote audit (`registry log verify --url … --state …`), run after every
restart with the same state file, which fails if the log it saw before was forked or
rewritten; new writes must continue the log where it stopped. Unacknowledged writes may
or may not have been committed, but none may be half there: a row without its entry or
the reverse.

The server is the one `make run` serves behind its front (registry.gunicorn_conf: sync
workers, here two), in a process group of its own. Runs on SQLite and, where
REGISTRY_TEST_DATABASE_URL is set, PostgreSQL. Each run prints its figures (writes
acknowledged, requests cut off, kills, seconds); about 1,000 writes take some 30 s.
"""

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from base64 import b64decode
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from registry import db
from registry.log import merkle, tree
from registry.models import AssayRecord, Certificate, Checkpoint, Event, LogHead, LogNode, Piece
from tests import factories
from tests.factories import World, assay_data, bearer, piece_data

ROOT = Path(__file__).resolve().parent.parent
REGISTRY = Path(sys.executable).with_name("registry")
PUBLIC_BASE_URL = "https://registry.test"  # the app fixture's: the log's origin follows it

CLIENTS = 8
#: The kills, in order: each kind more than once, worker and master kills in between.
KILLS = ("worker", "master", "group", "worker", "master", "group")
#: Acknowledged writes (registrations and attestations) wanted in all, shared evenly
#: between the stretches of load that end in a kill (about 30 s on 2 cores)…
WRITES = 1000
#: …within this long a stretch at most (a bound: the test fails if they are not reached).
LOAD_SECONDS = 30
AFTER_RESTART = 3  # pieces registered and certified one by one after each restart
AFTER_RESTART_ENTRIES = ["piece:registered", "assay:passed", "certificate:issued"] * AFTER_RESTART
REQUEST_TIMEOUT = 30
START_TIMEOUT = 60
#: Workers orphaned by their master's SIGKILL end this soon (they were kept ~45 s).
ORPHANS_END_S = 15


# The server.


class Gunicorn:
    """gunicorn with the shared config, in a process group of its own."""

    def __init__(self, env: dict[str, str], port: int, log: Path):
        self.port = port
        self.log = log
        with open(log, "ab") as output:
            self.process = subprocess.Popen(  # noqa: S603 - our own fixed command line
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "--config",
                    "python:registry.gunicorn_conf",
                    "wsgi:app",
                ],
                cwd=ROOT,
                env={**env, "PORT": str(port), "WORKERS": "2"},
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pgid = self.process.pid  # a session leader leads its process group

    def wait_until_up(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and self.process.poll() is None:
            answer = call(self.port, "GET", "/.well-known/jwks.json", timeout=5)
            if answer is not None and answer[0] == 200:
                return
            time.sleep(0.1)
        pytest.fail(f"gunicorn did not start serving:\n{self.log_tail()}")

    def workers(self) -> list[int]:
        return [pid for pid, ppid in _group_members(self.pgid) if ppid == self.pgid]

    def kill(self, what: str = "group") -> float:
        """SIGKILL to the whole group, the master alone, or one worker alone; returns,
        with the seconds it took, when what was killed is gone: the master and all its
        workers, or the worker (whose master then starts another)."""
        began = time.monotonic()
        if what == "worker":
            deadline = began + START_TIMEOUT
            while len(workers := self.workers()) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)  # the one killed last is not yet replaced
            assert workers, f"gunicorn has no worker:\n{self.log_tail()}"
            worker = workers[0]
            os.kill(worker, signal.SIGKILL)
            while worker in {pid for pid, _ in _group_members(self.pgid)}:
                assert time.monotonic() - began < 10, f"worker {worker} survived SIGKILL"
                time.sleep(0.01)
            assert self.process.poll() is None, f"the master ended:\n{self.log_tail()}"
            return time.monotonic() - began
        try:
            if what == "master":
                os.kill(self.pgid, signal.SIGKILL)
            else:
                os.killpg(self.pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pytest.fail(f"gunicorn master {self.pgid} survived SIGKILL")
        deadline = time.monotonic() + ORPHANS_END_S
        while _group_members(self.pgid) and time.monotonic() < deadline:
            time.sleep(0.02)
        left = _group_members(self.pgid)
        assert not left, f"gunicorn workers {left} outlived their master by {ORPHANS_END_S} s"
        return time.monotonic() - began

    def log_tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-40:])


def _group_members(pgid: int) -> list[tuple[int, int]]:
    """(pid, parent pid) of the group's processes that still run (zombies, already dead,
    do not count)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # ended while we looked
        state, ppid, group = text[text.rindex(")") + 2 :].split()[:3]
        if int(group) == pgid and state not in ("Z", "X"):
            members.append((int(stat.parent.name), int(ppid)))
    return members


@pytest.fixture
def servers(database_url, tmp_path):
    """Starts gunicorn on one port, as often as asked; none outlives the test."""
    started: list[Gunicorn] = []
    port = factories.free_port()

    def start(env: dict[str, str]) -> Gunicorn:
        server = Gunicorn(env, port, tmp_path / "gunicorn.log")
        started.append(server)
        server.wait_until_up()
        return server

    yield start
    for server in started:
        if server.process.poll() is None or _group_members(server.pgid):
            server.kill()


# The clients.


def call(port, method, path, *, token=None, body=None, timeout=REQUEST_TIMEOUT):
    """(status, JSON body) of one request on a connection of its own; None when the
    connection failed or was cut before the whole answer came."""
    headers = {"Accept": "application/json"}
    if token:
        headers.update(bearer(token))
    if body is not None:
        headers["Content-Type"] = "application/json"
        body = json.dumps(body).encode()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        data = response.read()
        return response.status, json.loads(data) if data else None
    except (OSError, http.client.HTTPException, ValueError):
        return None
    finally:
        connection.close()


@dataclass
class Acknowledged:
    """What the server answered 2xx to, across rounds: these writes must all be there."""

    pieces: dict[int, str] = field(default_factory=dict)  # id -> reference
    # assay id -> (piece id, result, certificate code or None)
    assays: dict[int, tuple[int, str, str | None]] = field(default_factory=dict)

    @property
    def certificates(self) -> dict[str, int]:
        return {code: piece for piece, _, code in self.assays.values() if code}


class Load:
    """Clients writing until told to stop, across kills and restarts.

    A kill opens a window (`kills` odd) that closes once the server serves again; a
    request without an answer is excused (cut off) only if a window was open at some
    time between its sending and its end. Clients wait while the server is down.
    """

    def __init__(self, acknowledged: Acknowledged):
        self.acknowledged = acknowledged
        self.port = 0
        self.lock = threading.Lock()
        self.up = threading.Event()
        self.stop = threading.Event()
        self.kills = 0  # twice the kills begun, plus one while a kill's window is open
        self.writes = 0
        self.cut_off = 0
        self.unexpected: list[str] = []

    def open_window(self) -> None:
        with self.lock:
            self.kills += 1

    def close_window(self) -> None:
        with self.lock:
            self.kills += 1

    def request(self, path, token, body) -> dict | None:
        """A write's answer when acknowledged; None when a kill cut it off."""
        before = self.kills
        self.up.wait()
        answer = call(self.port, "POST", path, token=token, body=body)
        with self.lock:
            if answer is None:
                if before % 2 == 0 and self.kills == before:
                    self.unexpected.append(f"POST {path}: no answer, and no kill")
                else:
                    self.cut_off += 1
                return None
            status, document = answer
            if status != 201:
                self.unexpected.append(f"POST {path}: {status} {document}")
                return None
            self.writes += 1
            return document

    def client(self, world: World, name: str, maker_token: str) -> None:
        """Registers pieces and attests each (every fourth fails) until stopped; a write
        cut off is left as it is and the next piece begun."""
        n = 0
        while not self.stop.is_set():
            n += 1
            reference = f"CRASH-{name}-{n}"
            piece = self.request("/api/v1/pieces", maker_token, piece_data(reference=reference))
            if piece is None:
                continue
            with self.lock:
                self.acknowledged.pieces[piece["id"]] = reference
            result = "failed" if n % 4 == 0 else "passed"
            assay = self.request(
                f"/api/v1/pieces/{piece['id']}/assay",
                world.inspector,
                assay_data(result=result, metal=piece["metal"], fineness=piece["fineness"]),
            )
            if assay is None:
                continue
            certificate = assay["certificate"]
            with self.lock:
                if (certificate is None) != (result == "failed"):
                    self.unexpected.append(f"a {result} assay answered {assay}")
                self.acknowledged.assays[assay["id"]] = (
                    piece["id"],
                    result,
                    certificate["code"] if certificate else None,
                )


# The checks.


def _check_log(engine) -> int:
    """The log is whole after the crash; its size."""
    with engine.connect() as connection:
        head = connection.scalar(select(LogHead.size).where(LogHead.id == 1))
        events = connection.execute(
            select(Event.log_index, Event.entry).order_by(Event.log_index)
        ).all()
        leaves = connection.execute(
            select(LogNode.index, LogNode.hash).where(LogNode.level == 0).order_by(LogNode.index)
        ).all()
        nodes = connection.scalar(select(func.count()).select_from(LogNode))
        newest = connection.execute(
            select(Checkpoint.tree_size, Checkpoint.root_hash).order_by(Checkpoint.id.desc())
        ).first()
    indices = [event.log_index for event in events]
    n = len(indices)
    missing = sorted(set(range(max(indices, default=-1) + 1)) - set(indices))
    assert indices == list(range(n)), f"log indices not 0..{n - 1}: missing {missing[:10]}"
    assert head == n, f"log_head.size {head}, but {n} events"
    assert [leaf.index for leaf in leaves] == list(range(n)), "level-0 nodes are not 0..n-1"
    hashes = [merkle.leaf_hash(bytes(event.entry)) for event in events]
    wrong = [i for i, leaf in enumerate(leaves) if bytes(leaf.hash) != hashes[i]]
    assert not wrong, f"leaf hashes differ from their entries at indices {wrong[:10]}"
    perfect = sum(n >> level for level in range(n.bit_length()))
    assert nodes == perfect, f"{nodes} stored tree nodes; a tree of {n} has {perfect}"
    builder = merkle.Builder()
    for value in hashes:
        builder.append(value)
    with engine.connect() as connection:
        stored_root = tree.root(connection, n)  # folded from the stored perfect nodes
    assert stored_root == builder.root(), "the stored tree's root is not the entries'"
    # LOG_CHECKPOINT_ENTRIES is 1: each write's own transaction signed the log it left.
    assert newest is not None, "no checkpoint"
    assert newest.tree_size == n, f"newest checkpoint of {newest.tree_size} entries, log of {n}"
    assert bytes(newest.root_hash) == builder.root(), "the newest checkpoint's root is wrong"
    return n


def _check_rows(engine, acknowledged: Acknowledged) -> dict[str, tuple[int, bytes]]:
    """No row without its entry nor entry without its row; every acknowledged write
    there as it was answered. The log index and entry of each certificate's issue."""
    with engine.connect() as connection:
        events = connection.execute(
            select(Event.action, Event.piece_id, Event.certificate_id, Event.log_index, Event.entry)
        ).all()
        pieces = {
            row.id: row
            for row in connection.execute(select(Piece.id, Piece.reference, Piece.status))
        }
        assays = {
            row.id: row
            for row in connection.execute(
                select(AssayRecord.id, AssayRecord.piece_id, AssayRecord.result)
            )
        }
        certificates = {
            row.code: row
            for row in connection.execute(
                select(Certificate.id, Certificate.code, Certificate.piece_id, Certificate.assay_id)
            )
        }
    entries = [(event, json.loads(bytes(event.entry))) for event in events]

    registered = Counter(
        event.piece_id for event, _ in entries if event.action == "piece:registered"
    )
    assert registered == Counter(pieces.keys()), "pieces and piece:registered events differ"
    for event, entry in entries:
        if event.action == "piece:registered":
            assert entry["piece"] == event.piece_id
            assert entry["data"]["reference"] == pieces[event.piece_id].reference
    attested = Counter(
        (entry["data"]["assay"], event.piece_id, event.action)
        for event, entry in entries
        if event.action in ("assay:passed", "assay:failed")
    )
    assert attested == Counter(
        (assay.id, assay.piece_id, f"assay:{assay.result}") for assay in assays.values()
    ), "assay records and assay events differ"
    issued = {
        entry["certificate"]: event
        for event, entry in entries
        if event.action == "certificate:issued"
    }
    assert len(issued) == sum(1 for event, _ in entries if event.action == "certificate:issued")
    assert {code: (e.certificate_id, e.piece_id) for code, e in issued.items()} == {
        code: (c.id, c.piece_id) for code, c in certificates.items()
    }, "certificates and certificate:issued events differ"

    twice = [ref for ref, n in Counter(p.reference for p in pieces.values()).items() if n > 1]
    assert not twice, f"pieces registered twice: {twice[:10]}"
    twice = [pid for pid, n in Counter(a.piece_id for a in assays.values()).items() if n > 1]
    assert not twice, f"pieces attested twice: {twice[:10]}"
    lost = [pid for pid, ref in acknowledged.pieces.items() if pid not in pieces]
    assert not lost, f"acknowledged pieces missing: {lost[:10]}"
    for piece_id, reference in acknowledged.pieces.items():
        assert pieces[piece_id].reference == reference
    lost = [aid for aid in acknowledged.assays if aid not in assays]
    assert not lost, f"acknowledged assays missing: {lost[:10]}"
    for assay_id, (piece_id, result, code) in acknowledged.assays.items():
        assert (assays[assay_id].piece_id, assays[assay_id].result) == (piece_id, result)
        if result == "passed":
            assert code in certificates, f"acknowledged certificate {code} missing"
            assert (certificates[code].piece_id, certificates[code].assay_id) == (
                piece_id,
                assay_id,
            )
            assert pieces[piece_id].status == "certified"
        else:
            assert pieces[piece_id].status == "assay_failed"
    return {code: (event.log_index, bytes(event.entry)) for code, event in issued.items()}


def _check_api(port: int, world: World, acknowledged: Acknowledged, engine) -> None:
    """Each acknowledged piece is served; each certificate verifies, with a proof of
    its issue's inclusion in the log that checks against the checkpoint served."""
    issues = _check_rows(engine, acknowledged)
    for piece_id, reference in acknowledged.pieces.items():
        answer = call(port, "GET", f"/api/v1/pieces/{piece_id}", token=world.inspector)
        assert answer is not None and answer[0] == 200, answer
        assert answer[1]["reference"] == reference
    for code in acknowledged.certificates:
        answer = call(port, "GET", f"/api/v1/verify/{code}")
        assert answer is not None and answer[0] == 200, (code, answer)
        verdict = answer[1]
        assert verdict["status"] == "valid", verdict
        index, entry = issues[code]
        assert verdict["log"]["index"] == index
        assert verdict["log"]["entry"] == json.loads(entry)
        inclusion = verdict["log"]["inclusion"]
        assert inclusion is not None, verdict["log"]
        merkle.verify_inclusion(
            index,
            inclusion["tree_size"],
            merkle.leaf_hash(entry),
            [b64decode(h) for h in inclusion["proof"]],
            b64decode(inclusion["root_hash"]),
        )


def _registry_log_verify(env: dict[str, str]) -> str:
    result = subprocess.run(  # noqa: S603 - our own fixed command line
        [str(REGISTRY), "log", "verify"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"registry log verify:\n{result.stdout}{result.stderr}"
    return result.stdout


def _remote_audit(env: dict[str, str], port: int, state: Path) -> str:
    """The monitor's audit through the public API, resuming from `state`: it fails if
    the log it saw last is not a prefix of the one served now."""
    result = subprocess.run(  # noqa: S603 - our own fixed command line
        [
            str(REGISTRY),
            "log",
            "verify",
            "--url",
            f"http://127.0.0.1:{port}",
            "--state",
            str(state),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"registry log verify --url:\n{result.stdout}{result.stderr}"
    return result.stdout


def _write_after_restart(port: int, world: World, acknowledged: Acknowledged, tag: str):
    """A few pieces, registered and certified one after another: all acknowledged."""
    for n in range(AFTER_RESTART):
        reference = f"AFTER-{tag}-{n}"
        made = call(
            port, "POST", "/api/v1/pieces", token=world.maker, body=piece_data(reference=reference)
        )
        assert made is not None and made[0] == 201, made
        acknowledged.pieces[made[1]["id"]] = reference
        attested = call(
            port,
            "POST",
            f"/api/v1/pieces/{made[1]['id']}/assay",
            token=world.inspector,
            body=assay_data(),
        )
        assert attested is not None and attested[0] == 201, attested
        code = attested[1]["certificate"]["code"]
        acknowledged.assays[attested[1]["id"]] = (made[1]["id"], "passed", code)


# The test.


def test_acknowledged_writes_survive_sigkill(database_url, tmp_path, world, servers):
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    env.update(
        REGISTRY_DATABASE_URL=database_url,
        REGISTRY_KEYS_DIR=str(tmp_path / "keys"),  # the app fixture's: its key signs
        REGISTRY_PUBLIC_BASE_URL=PUBLIC_BASE_URL,
        REGISTRY_RATELIMIT_ENABLED="false",
        REGISTRY_GENERATE_KEY_ON_START="false",
        REGISTRY_LOG_LEVEL="WARNING",
    )
    audit_state = tmp_path / "audit-state"
    engine = create_engine(db.normalise_url(database_url))
    acknowledged = Acknowledged()
    load = Load(acknowledged)
    began = time.monotonic()
    server = servers(env)
    load.port = server.port
    load.up.set()
    threads = [
        threading.Thread(
            target=load.client,
            args=(world, str(i), world.maker if i % 2 else world.other_maker),
            daemon=True,
        )
        for i in range(CLIENTS)
    ]
    for thread in threads:
        thread.start()
    cut_off: Counter[str] = Counter()
    try:
        for number, what in enumerate(KILLS, start=1):
            # Load until this stretch's share of the writes is acknowledged, then kill.
            stretch = time.monotonic()
            restarts = sum(kind != "worker" for kind in KILLS[: number - 1])
            wanted = WRITES * number // len(KILLS) - len(AFTER_RESTART_ENTRIES) * restarts
            while (
                load.writes < wanted
                and time.monotonic() - stretch < LOAD_SECONDS
                and not load.unexpected
            ):
                time.sleep(0.005)
            assert not load.unexpected, "\n".join(load.unexpected[:10]) + "\n" + server.log_tail()
            cut_before = load.cut_off
            load.open_window()
            if what != "worker":
                load.up.clear()  # clients wait for the restart
            seconds = server.kill(what)
            if what == "worker":
                # The master replaces the worker; the clients never stopped. A request
                # the dying worker had taken is cut off, and excused, only up to here.
                load.close_window()
                time.sleep(0.1)  # the client whose request it cut has counted it
                cut_off[what] += load.cut_off - cut_before
                print(
                    f"\nkill {number} ({what}, gone in {seconds:.2f} s): "
                    f"{load.writes} writes acknowledged so far"
                )
                continue
            time.sleep(0.2)  # requests under way when the server died have ended
            cut_off[what] += load.cut_off - cut_before
            server = servers(env)
            load.port = server.port

            size = _check_log(engine)
            _check_rows(engine, acknowledged)
            audit = _remote_audit(env, server.port, audit_state)
            print(
                f"\nkill {number} ({what}, all gone in {seconds:.2f} s): "
                f"{load.writes} writes acknowledged so far, log size {size}; "
                f"{audit.strip().splitlines()[-1]}"
            )
            _write_after_restart(server.port, world, acknowledged, str(number))
            assert _check_log(engine) == size + len(AFTER_RESTART_ENTRIES)
            with engine.connect() as connection:
                new = connection.scalars(
                    select(Event.action).where(Event.log_index >= size).order_by(Event.log_index)
                )
                assert list(new) == AFTER_RESTART_ENTRIES
            load.close_window()
            load.up.set()
    finally:
        load.stop.set()
        load.up.set()
        for thread in threads:
            thread.join(timeout=REQUEST_TIMEOUT + 5)
    try:
        assert not any(thread.is_alive() for thread in threads), "a client hung"
        assert not load.unexpected, "\n".join(load.unexpected[:10]) + "\n" + server.log_tail()
        # Kills came while clients were busy, not between requests (a master's orphaned
        # workers finish the request they hold, so its kills may cut off none).
        assert cut_off["worker"] > 0, "no kill of a worker cut off a request"
        assert cut_off["group"] > 0, "no kill of the group cut off a request"

        size = _check_log(engine)
        _check_api(server.port, world, acknowledged, engine)
        summary = _registry_log_verify(env)
        assert summary.startswith("log verified: "), summary
        audit = _remote_audit(env, server.port, audit_state)
        with engine.connect() as connection:
            written = connection.scalar(select(func.count()).select_from(Piece)) + (
                connection.scalar(select(func.count()).select_from(AssayRecord))
            )
        answered = len(acknowledged.pieces) + len(acknowledged.assays)
        assert answered >= WRITES, (
            f"only {answered} writes acknowledged, {LOAD_SECONDS} s a stretch at most"
        )
        print(
            f"\n{len(KILLS)} kills ({', '.join(KILLS)}) of {CLIENTS} writers in "
            f"{time.monotonic() - began:.1f} s: {answered} writes acknowledged, all found "
            f"once; {sum(cut_off.values())} requests cut off ({dict(cut_off)}), "
            f"{written - answered} writes committed but never answered; log size {size}; "
            f"{summary.strip()}; {audit.strip().splitlines()[-1]}"
        )
    finally:
        engine.dispose()
