"""gunicorn's settings for the registry, shared by `registry serve`, `make run` and
`make bench`, so the benchmark measures the server that runs.

A module of the package, not a gunicorn.conf.py, because gunicorn reads that file only
from the working directory: an installed registry, served from anywhere, would run with
gunicorn's defaults (among them a 30 s worker timeout). Load it with
`gunicorn --config python:registry.gunicorn_conf`; each setting can be overridden on the
command line or by GUNICORN_CMD_ARGS.
"""

import gc
import os

from registry import front

bind = f"127.0.0.1:{os.environ.get('PORT', '8000')}"
# Sync workers, one per core: steadier than gthread under keep-alive load, where one
# worker could end up with every connection.
workers = int(os.environ.get("WORKERS", "2"))
worker_class = "sync"
# A sync worker answers its master only between requests: the longest request must fit.
# That is a bulk import of REGISTRY_IMPORT_MAX_ROWS (10,000) rows, about 50 s on SQLite
# (some 200 rows/s, each its own savepoint and log entry).
timeout = 120

# The scheme and the client's address come from proxies' headers only as the app decides
# (REGISTRY_PROXY_HOPS, through werkzeug's ProxyFix: registry/edge/headers.py), never as
# gunicorn does by default: it believes X-Forwarded-Proto, -Ssl and -Protocol from
# 127.0.0.1 and from any unix-socket peer whatever PROXY_HOPS says, so any local client,
# or one whose header nginx passes on, could make plain HTTP "https" (sending HSTS and
# Secure cookies), or get a 400 by sending two that disagree.
secure_scheme_headers: dict[str, str] = {}
forwarded_allow_ips = ""


def post_fork(server, worker) -> None:
    """In each new worker: have the kernel send it SIGTERM when its master ends, even by
    SIGKILL. A sync worker looks for its master only between waits of `timeout / 2` s,
    so orphaned workers kept the port for most of a minute and `registry serve` could not
    start again. SIGTERM, not SIGKILL: a request under way still finishes.

    A master that ends before the worker's own signal handlers are set is caught anyway:
    the worker then finds its parent changed before it first waits. Linux only.
    """
    failed = front.die_with_parent()
    if failed is not None:
        server.log.warning("worker %s will not end with its master: %s", worker.pid, failed)


def post_worker_init(worker) -> None:
    """In each worker, once the app is loaded: move every object made so far (the app,
    its modules, SQLAlchemy's metadata and compiled statements, some 170,000 objects) out
    of the garbage collector's reach. They live as long as the worker, yet every full
    collection walked them all: about 0.1 s, set off by whatever a request allocated
    that survived it (a scan's count held until its flush), and paid by the request
    that happened to be running."""
    gc.freeze()
