"""The buffering front of one machine: nginx before gunicorn, started together.

gunicorn's sync workers serve one request each from its first byte to its last, and
have no read timeout: two clients sending a byte a second held both workers of a
machine and a buyer's scan waited a minute. nginx reads whole requests (headers and
bodies) with timeouts, from thousands of connections in one process, and hands gunicorn
only complete ones over a unix socket; the workers stay busy with work alone.

`registry serve` runs both under one supervisor: it writes nginx's configuration into a
private directory, starts gunicorn on a socket there and nginx on the public address,
stops both on SIGTERM or SIGINT, and stops the other when one of them ends. Its
children die with it (PR_SET_PDEATHSIG on Linux), so a killed supervisor frees the port.
"""

import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

#: How long a client may take to send its headers, or between two reads of its body.
CLIENT_TIMEOUT_S = 10
#: Room above the application's own body limit for multipart framing: a body slightly
#: over the limit still reaches the application, which answers it in its own words.
BODY_MARGIN = 64 * 1024
#: The routes whose requests carry a photo (registry.edge.bodies.uploads): their bodies may
#: be up to UPLOAD_MAX_BODY.
UPLOADS = (
    "^(/report|/maker/pieces/new|/maker/pieces/[0-9]+/photo|/maker/import"
    "|/api/v1/pieces/[0-9]+/photo|/api/v1/pieces/import)$"
)
#: nginx's own refusals, answered before the application sees the request, as problem
#: JSON (RFC 9457): nginx's code, then the status sent (nginx says 494 for what HTTP
#: calls 431), its title and detail.
_FRONT_ERRORS = {
    400: (400, "Bad Request", "The request is malformed."),
    408: (408, "Request Timeout", "The request was not sent in time."),
    413: (413, "Payload Too Large", "The request body is larger than the registry accepts."),
    414: (414, "URI Too Long", "The address is longer than the registry accepts."),
    494: (431, "Request Header Fields Too Large", "The request headers are too large."),
    502: (502, "Bad Gateway", "The registry is restarting; retry shortly."),
    503: (503, "Service Unavailable", "The registry is busy; retry shortly."),
    504: (504, "Gateway Timeout", "The registry took too long to answer; retry shortly."),
}
#: Security headers on nginx's own answers; the application sets its own on the rest.
_HEADERS = (
    ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
    ("Cache-Control", "no-store"),
)


class FrontError(Exception):
    """The front cannot start: what is missing, and how to get it."""


@dataclass(frozen=True)
class Front:
    host: str
    port: int
    #: The largest request body the application accepts (its MAX_CONTENT_LENGTH).
    max_body: int
    #: Private directory: nginx's configuration, temporary files, gunicorn's socket.
    state: Path
    #: The largest body of a request that carries a photo (UPLOAD_MAX_BODY): a buyer's
    #: report, a maker's piece or photo form, the photo API. The application reads it
    #: whole so that a photo over its limit gets the form back with what was typed, not
    #: nginx's bare refusal. Every other route keeps `max_body`.
    upload_max_body: int = 0

    @property
    def socket(self) -> Path:
        return self.state / "gunicorn.sock"


def nginx_binary() -> str:
    """nginx's path; FrontError when it is not installed."""
    found = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)),
        None,
    )
    if found is None:
        raise FrontError(
            "nginx is not installed: `make nginx` (Debian's nginx-light) installs it, "
            "or serve without the front (--no-front) behind a proxy that buffers requests."
        )
    return found


def configuration(front: Front) -> str:
    """nginx's configuration for `front` (a whole nginx.conf)."""
    errors = "\n".join(
        f"        error_page {code} ={answer[0]} /_front/{code};"
        for code, answer in _FRONT_ERRORS.items()
    )
    headers = "\n".join(
        f'            add_header {name} "{value}" always;' for name, value in _HEADERS
    )
    named = "\n".join(
        # A URI, not a named location: nginx serves those even for a request line it
        # could not parse (414), where a named location answers 500.
        f"""        location = /_front/{code} {{
            internal;
            default_type application/problem+json;
{headers}
            return {status} '{_problem(status, title, detail)}';
        }}"""
        for code, (status, title, detail) in _FRONT_ERRORS.items()
    )
    state = front.state
    proxy = _PROXY.rstrip("\n")
    return f"""# Written by `registry serve` for this run; not kept.
worker_processes 1;
pid {state}/nginx.pid;
error_log stderr warn;
daemon off;
events {{
    worker_connections 8192;
}}
http {{
    access_log off;
    server_tokens off;
    client_body_temp_path {state}/client_body;
    proxy_temp_path {state}/proxy;
    fastcgi_temp_path {state}/fastcgi;
    uwsgi_temp_path {state}/uwsgi;
    scgi_temp_path {state}/scgi;

    # Slow clients wait here, not in a worker.
    client_header_timeout {CLIENT_TIMEOUT_S}s;
    client_body_timeout {CLIENT_TIMEOUT_S}s;
    send_timeout 30s;
    keepalive_timeout 15s;
    reset_timedout_connection on;
    client_max_body_size {front.max_body + BODY_MARGIN};
    client_body_buffer_size 1m;
    large_client_header_buffers 4 16k;

    # Pages, JSON and the log's entry bundles compressed for a client that asks: a
    # verification page is some 7 KB on a phone's slow line. Small answers stay as they
    # are (compressing them costs more than it saves).
    gzip on;
    gzip_comp_level 5;
    gzip_min_length 1024;
    gzip_proxied any;
    gzip_vary on;
    gzip_types application/json application/problem+json application/octet-stream
               text/plain text/csv image/svg+xml;

    upstream registry {{
        server unix:{front.socket};
        keepalive 16;
    }}

    server {{
        listen {front.host}:{front.port} backlog=4096;
{errors}

        location / {{
{proxy}
        }}

        location ~ {UPLOADS} {{
            client_max_body_size {max(front.upload_max_body, front.max_body) + BODY_MARGIN};
{proxy}
        }}

{named}
    }}
}}
"""


# How every location hands a request to gunicorn.
_PROXY = """            proxy_pass http://registry;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            # The first hop: what the client sent in these is not kept.
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Host "";
            # Whole requests only, then the answer taken as fast as gunicorn gives it.
            proxy_request_buffering on;
            proxy_buffering on;
            # Above gunicorn's worker timeout: a long import ends by gunicorn's rules.
            proxy_read_timeout 130s;
"""


def _problem(status: int, title: str, detail: str) -> str:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    return json.dumps(body, separators=(",", ":"))


_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with_parent() -> str | None:
    """Have the kernel send this process SIGTERM when its parent ends, even by SIGKILL:
    the front's children with the supervisor, gunicorn's workers with their master
    (registry/gunicorn_conf.py). SIGTERM, not SIGKILL: a request under way still ends.
    Returns why it could not, or None; Linux only (elsewhere it says so)."""
    if not sys.platform.startswith("linux"):
        return "not Linux"
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        return os.strerror(ctypes.get_errno())
    return None


def _die_with_parent() -> None:
    """In a child, before exec."""
    die_with_parent()


def serve(
    front: Front,
    gunicorn_argv: Sequence[str],
    *,
    env: dict[str, str],
    nginx: str,
    helpers: dict[str, Sequence[str]] | None = None,
) -> int:
    """Run gunicorn (`gunicorn_argv`, bound to the front's socket), nginx and the
    `helpers` (name: command line, such as the log's verifier) until a signal or until
    one of them ends; return the exit status to leave with."""
    front.state.mkdir(parents=True, exist_ok=True)
    config = front.state / "nginx.conf"
    config.write_text(configuration(front), encoding="utf-8")
    check = subprocess.run(  # noqa: S603 - nginx's own check of the file just written
        [nginx, "-t", "-q", "-p", str(front.state), "-c", str(config)],
        capture_output=True,
        text=True,
        check=False,
    )
    if check.returncode != 0:
        raise FrontError(f"nginx refused its configuration: {check.stderr.strip()}")
    gunicorn = subprocess.Popen(  # noqa: S603 - the registry's own server, no shell
        [*gunicorn_argv, "--bind", f"unix:{front.socket}"],
        env=env,
        preexec_fn=_die_with_parent,  # noqa: PLW1509 - only prctl, before exec
    )
    nginx_process = subprocess.Popen(  # noqa: S603 - nginx, no shell
        [nginx, "-p", str(front.state), "-c", str(config)],
        preexec_fn=_die_with_parent,  # noqa: PLW1509 - only prctl, before exec
    )
    children = {"gunicorn": gunicorn, "nginx": nginx_process}
    for name, argv in (helpers or {}).items():
        children[name] = subprocess.Popen(  # noqa: S603 - the registry's own command, no shell
            list(argv),
            env=env,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - only prctl, before exec
        )
    stopping = False

    def _stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    previous = {s: signal.signal(s, _stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        while not stopping and all(child.poll() is None for child in children.values()):
            time.sleep(0.2)
    finally:
        for child in children.values():
            if child.poll() is None:
                child.terminate()
        deadline = time.monotonic() + 30
        for child in children.values():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if stopping:
        return 0
    ended = next(name for name, child in children.items() if child.returncode is not None)
    print(f"registry serve: {ended} ended ({children[ended].returncode}); stopped", file=sys.stderr)
    return children[ended].returncode or 1


def private_state() -> Path:
    """A directory of this run's own for the front's files (removed by `cleanup`).

    Others may pass through it but not list it: nginx's workers, which run as another
    user when started by root, must reach the socket and their temporary folders.
    """
    state = Path(tempfile.mkdtemp(prefix="registry-front-"))
    state.chmod(0o711)
    return state


def cleanup(state: Path) -> None:
    shutil.rmtree(state, ignore_errors=True)
