"""Whom the served registry believes about the scheme a client used: a proxy's
X-Forwarded-* headers count only with REGISTRY_PROXY_HOPS set (or behind the nginx front
that `registry serve` starts, which writes them itself); from anyone else, even a client
on 127.0.0.1, they are ignored.

Believing a forged `X-Forwarded-Proto: https` on plain HTTP would send HSTS (pinning a
host to HTTPS it may not serve) and mark the session cookie Secure. The server is run as
an operator runs it, since gunicorn, not the app, read those headers.
"""

import http.client
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests import factories

ROOT = Path(__file__).resolve().parent.parent
REGISTRY = Path(sys.executable).with_name("registry")
START_TIMEOUT = 60

# Each header that gunicorn, by default, takes from 127.0.0.1 as saying "https".
FORGED = [
    {"X-Forwarded-Proto": "https"},
    {"X-Forwarded-Ssl": "on"},
    {"X-Forwarded-Protocol": "ssl"},
]


def _get(port: int, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str]]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}
    finally:
        connection.close()


@pytest.fixture
def served(tmp_path):
    """Starts `registry serve` with the given options and environment; returns its port.
    Everything it started is stopped, by its process group, at the end."""
    base = {
        **os.environ,
        "REGISTRY_DATABASE_URL": f"sqlite:///{tmp_path / 'registry.sqlite3'}",
        "REGISTRY_KEYS_DIR": str(tmp_path / "keys"),
        "REGISTRY_PUBLIC_BASE_URL": "https://registry.test",
    }
    base.pop("REGISTRY_PROXY_HOPS", None)
    base.pop("FORWARDED_ALLOW_IPS", None)
    subprocess.run(  # noqa: S603 - our own fixed command line
        [str(REGISTRY), "init"], cwd=ROOT, env=base, check=True, capture_output=True, timeout=60
    )
    started: list[subprocess.Popen] = []
    log = tmp_path / "serve.log"

    def start(*options: str, **env: str) -> int:
        port = factories.free_port()
        with open(log, "ab") as output:
            process = subprocess.Popen(  # noqa: S603 - our own fixed command line
                [str(REGISTRY), "serve", "--port", str(port), "--workers", "1", *options],
                cwd=ROOT,
                env={**base, **env},
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        started.append(process)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if _get(port, "/.well-known/jwks.json", {})[0] == 200:
                    return port
            except OSError:
                pass
            time.sleep(0.2)
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
        pytest.fail(f"registry serve did not start serving:\n{tail}")

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def test_gunicorn_alone_believes_no_forwarded_header_without_proxy_hops(served):
    port = served("--no-front", REGISTRY_PROXY_HOPS="0")
    for forged in FORGED:
        status, headers = _get(port, "/", forged)
        assert status == 200
        assert "strict-transport-security" not in headers, forged


def test_gunicorn_alone_believes_the_proxy_when_told_there_is_one(served):
    port = served("--no-front", REGISTRY_PROXY_HOPS="1")
    status, headers = _get(port, "/", {"X-Forwarded-Proto": "https"})
    assert status == 200
    assert headers["strict-transport-security"] == "max-age=63072000"
    # Only the proxy's own header: the others are not a proxy hop's to set.
    _status, plain = _get(port, "/", {"X-Forwarded-Ssl": "on"})
    assert "strict-transport-security" not in plain


@pytest.mark.skipif(
    shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists(),
    reason="nginx is not installed",
)
def test_through_the_front_a_clients_forged_header_is_not_believed(served):
    port = served()
    for forged in FORGED:
        status, headers = _get(port, "/", forged)
        assert status == 200
        assert "strict-transport-security" not in headers, forged
