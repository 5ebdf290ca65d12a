"""`registry serve` as an operator runs it: after its gunicorn master is killed alone (the
OOM killer, a mistaken `kill -9`), nothing it started keeps the port, and it starts
again at once.

Linux only: the processes are found in /proc, and workers follow their master through
PR_SET_PDEATHSIG, which only Linux has.
"""

import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests import factories

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG and /proc are Linux's"
)

ROOT = Path(__file__).resolve().parent.parent
REGISTRY = Path(sys.executable).with_name("registry")
START_TIMEOUT = 60
#: Orphaned workers used to keep the port for some 45 s: well beyond this bound.
GONE_TIMEOUT = 10


def _processes() -> dict[int, tuple[str, int]]:
    """Every running process: its state and parent (zombies, already dead, left out)."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # ended while we looked
        state, ppid = text[text.rindex(")") + 2 :].split()[:2]
        if state not in ("Z", "X"):
            found[int(stat.parent.name)] = (state, int(ppid))
    return found


def _children(pid: int) -> list[int]:
    return [child for child, (_state, ppid) in _processes().items() if ppid == pid]


def _command(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    except OSError:
        return []


def _port_free(port: int) -> bool:
    # As gunicorn and nginx bind: SO_REUSEADDR, so a closed connection's TIME_WAIT does
    # not count, only a socket someone still listens on.
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _answers(port: int) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", "/.well-known/jwks.json")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


@pytest.fixture
def serve(tmp_path):
    """Starts `registry serve` with the given options on a database made by `registry
    init`; nothing it started outlives the test."""
    env = {
        **os.environ,
        "REGISTRY_DATABASE_URL": f"sqlite:///{tmp_path / 'registry.sqlite3'}",
        "REGISTRY_KEYS_DIR": str(tmp_path / "keys"),
        "REGISTRY_PUBLIC_BASE_URL": "https://registry.test",
    }
    subprocess.run(  # noqa: S603 - our own fixed command line
        [str(REGISTRY), "init"], cwd=ROOT, env=env, check=True, capture_output=True, timeout=60
    )
    started: list[subprocess.Popen] = []
    seen: set[int] = set()
    log = tmp_path / "serve.log"

    def start(port: int, *options: str) -> subprocess.Popen:
        """`registry serve --port PORT OPTIONS`, once it answers."""
        with open(log, "ab") as output:
            process = subprocess.Popen(  # noqa: S603 - our own fixed command line
                [str(REGISTRY), "serve", "--port", str(port), *options],
                cwd=ROOT,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        started.append(process)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and process.poll() is None:
            if _answers(port):
                seen.update(_descendants(process.pid))
                return process
            time.sleep(0.1)
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
        pytest.fail(f"registry serve did not start serving:\n{tail}")

    yield start
    for process in started:
        seen.update(_descendants(process.pid))
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    for pid in seen & set(_processes()):  # only what this test started, by its id
        if any(name in " ".join(_command(pid)) for name in ("gunicorn", "nginx")):
            os.kill(pid, signal.SIGKILL)


def _descendants(pid: int) -> set[int]:
    processes = _processes()
    found: set[int] = set()
    parents = {pid}
    while parents:
        parents = {child for child, (_, ppid) in processes.items() if ppid in parents} - found
        found |= parents
    return found


def _gunicorn_master(serve_pid: int) -> int:
    # Without the front, `registry serve` becomes gunicorn's master itself (exec).
    if "gunicorn" in _command(serve_pid):
        return serve_pid
    (master,) = [pid for pid in _children(serve_pid) if "gunicorn" in _command(pid)]
    return master


@pytest.mark.parametrize(
    "options",
    [
        pytest.param(["--no-front"], id="gunicorn"),
        pytest.param(
            [],
            id="front",
            marks=pytest.mark.skipif(
                shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists(),
                reason="nginx is not installed",
            ),
        ),
    ],
)
def test_killing_the_gunicorn_master_alone_frees_the_port_for_a_restart(serve, options):
    port = factories.free_port()
    first = serve(port, *options)
    master = _gunicorn_master(first.pid)
    workers = _children(master)
    assert workers, "gunicorn has no workers"

    os.kill(master, signal.SIGKILL)

    deadline = time.monotonic() + GONE_TIMEOUT
    while time.monotonic() < deadline:
        if not set(workers) & set(_processes()) and _port_free(port):
            break
        time.sleep(0.1)
    assert not set(workers) & set(_processes()), "gunicorn's workers outlived their master"
    assert _port_free(port), f"port {port} is still held after gunicorn's master died"

    serve(port, *options)  # fails unless it starts and answers


@pytest.mark.skipif(
    shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists(),
    reason="nginx is not installed",
)
def test_the_verifier_of_the_log_runs_beside_the_server(serve, tmp_path):
    """`registry serve` starts `registry log verify-jobs`: a verification asked for (as
    the inspectors' portal asks) is done without anyone starting anything."""
    import sqlite3

    serve(factories.free_port())
    database = sqlite3.connect(tmp_path / "registry.sqlite3")
    with database:
        database.execute(
            "INSERT INTO log_verification_job (requested_at, state, checked)"
            " VALUES (CURRENT_TIMESTAMP, 'queued', 0)"
        )
    deadline = time.monotonic() + 30
    state = None
    while time.monotonic() < deadline:
        (state,) = database.execute("SELECT state FROM log_verification_job").fetchone()
        if state in ("done", "failed"):
            break
        time.sleep(0.2)
    database.close()
    assert state == "done"


@pytest.mark.skipif(
    shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists(),
    reason="nginx is not installed",
)
def test_the_signer_of_the_logs_checkpoints_runs_beside_the_server(serve, tmp_path):
    """`registry serve` starts `registry log signer`: a write that signs nothing itself
    (as the served workers' writes sign nothing) is in a signed checkpoint a moment later."""
    import sqlite3

    serve(factories.free_port())
    env = {
        **os.environ,
        "REGISTRY_DATABASE_URL": f"sqlite:///{tmp_path / 'registry.sqlite3'}",
        "REGISTRY_KEYS_DIR": str(tmp_path / "keys"),
        "REGISTRY_PUBLIC_BASE_URL": "https://registry.test",
        "REGISTRY_LOG_CHECKPOINT_ENTRIES": "0",
    }
    admitted = subprocess.run(  # noqa: S603 - our own fixed command line
        [
            str(REGISTRY),
            "makers",
            "admit",
            "--name-ru",
            "Мастерская",
            "--name-en",
            "Signer Workshop",
            "--region",
            "RU-KYA",
            "--city",
            "Красноярск",
            "--mark",
            "SIG1",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert admitted.returncode == 0, admitted.stderr
    database = sqlite3.connect(tmp_path / "registry.sqlite3")
    (size,) = database.execute("SELECT size FROM log_head").fetchone()
    deadline = time.monotonic() + 10
    signed = 0
    while time.monotonic() < deadline:
        (signed,) = database.execute("SELECT max(tree_size) FROM checkpoint").fetchone()
        if signed == size:
            break
        time.sleep(0.05)
    database.close()
    assert signed == size
