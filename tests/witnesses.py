"""A witness (`registry witness serve`) in its own process, for the tests that drive one."""

import http.client
import os
import subprocess
import sys
import time
from pathlib import Path

from tests.factories import free_port

ROOT = Path(__file__).resolve().parent.parent


def registry_command(*args: str, env: dict | None = None, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 - the project's own command
        [sys.executable, "-m", "registry.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=60,
        **kwargs,
    )


class Served:
    def __init__(self, folder: Path, vkeys: list[str]):
        self.folder = folder
        self.vkeys = vkeys
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> "Served":
        command = [sys.executable, "-m", "registry.cli", "witness", "serve"]
        command += ["--port", str(self.port), "--keys", str(self.folder)]
        for vkey in self.vkeys:
            command += ["--log", vkey]
        # Its messages go to a file beside its state (a pipe nobody reads could fill).
        self.log = self.folder.parent / f"{self.folder.name}-witness.log"
        with open(self.log, "ab") as output:
            self.process = subprocess.Popen(  # noqa: S603 - the project's own command
                command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=output
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                self.get("/")
                return self
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError(self.log.read_text()) from None
                time.sleep(0.05)
        raise RuntimeError("the witness did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)

    def _ask(self, method: str, path: str, body: bytes | None = None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request(method, path, body=body)
            answer = connection.getresponse()
            return answer.status, answer.getheader("Content-Type"), answer.read().decode()
        finally:
            connection.close()

    def post(self, body: bytes) -> tuple[int, str, str]:
        return self._ask("POST", "/add-checkpoint", body)

    def get(self, path: str) -> tuple[int, str]:
        status, _, text = self._ask("GET", path)
        return status, text
