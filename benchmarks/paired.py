"""The counting comparison's server: the registry as deployed, and beside it in the same
workers the registry with scan counting off (REGISTRY_SCAN_COUNTING=false, on its own
copy of the database and keys, named by BENCH_UNCOUNTED_DATABASE_URL and
BENCH_UNCOUNTED_KEYS_DIR), answering under UNCOUNTED.

Why one set of workers for both: two gunicorn servers of the very same app, measured in
turns, differed by 80-100 µs of CPU per request, run after run (each process's memory
layout, its hash seed, its core), more than the 50 µs compared. In the same processes
that difference is gone, and what is left is what counting costs.
"""

import os
from collections.abc import Iterable
from typing import Any

from benchmarks import dataset
from registry import create_app

#: As benchmarks.run's UNCOUNTED_PREFIX (not imported: that would load the runner here).
UNCOUNTED = "/uncounted"

counted = create_app()
# The same, counting nothing, on its own copy (benchmarks.run makes it).
uncounted = dataset.app_with(
    dict(os.environ)
    | {
        "REGISTRY_DATABASE_URL": os.environ["BENCH_UNCOUNTED_DATABASE_URL"],
        "REGISTRY_KEYS_DIR": os.environ["BENCH_UNCOUNTED_KEYS_DIR"],
        "REGISTRY_SCAN_COUNTING": "false",
    }
)


def app(environ: dict, start_response: Any) -> Iterable[bytes]:
    path = environ.get("PATH_INFO", "")
    if path.startswith(UNCOUNTED):
        environ["PATH_INFO"] = path[len(UNCOUNTED) :]
        return uncounted(environ, start_response)
    return counted(environ, start_response)
