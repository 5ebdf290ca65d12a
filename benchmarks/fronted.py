"""One benchmark server behind the buffering front, as `registry serve` runs it:
`python -m benchmarks.fronted APP` serves the WSGI app APP with the shared gunicorn
settings on a unix socket and nginx on 127.0.0.1:$PORT (registry/front.py).

Why the benchmark needs it: a sync worker serves one connection from its first byte to
its last. wrk paced with think time (`--pace`) opens its next connection at once and
sends the request only after the pause, so a bare gunicorn worker would sit waiting on
an idle socket for the whole pause; nginx holds such connections, as in production.
"""

import os
import sys

from registry import front


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m benchmarks.fronted APP", file=sys.stderr)
        return 2
    env = dict(os.environ)
    # nginx is one more proxy hop: the client's address comes from its header.
    env["REGISTRY_PROXY_HOPS"] = str(int(env.get("REGISTRY_PROXY_HOPS") or 0) + 1)
    state = front.private_state()
    settings = front.Front(
        host="127.0.0.1", port=int(env["PORT"]), max_body=16 * 1024 * 1024, state=state
    )
    command = [sys.executable, "-m", "gunicorn", "-c", "python:registry.gunicorn_conf", argv[0]]
    try:
        return front.serve(settings, command, env=env, nginx=front.nginx_binary())
    finally:
        front.cleanup(state)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
