"""The counting comparison's server: the registry as deployed, and beside it in the same
workers the registry with scan counting off (REGISTRY_SCAN_COUNTING=false, on its own
copy of the database and keys, named by BENCH_UNCOUNTED_DATABASE_URL and
BENCH_UNCOUNTED_KEYS_DIR), answering under UNCOUNTED; and, where BENCH_CONTROL_* name a
third copy, another uncounted registry under CONTROL.

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
#: As benchmarks.run's CONTROL_PREFIX.
CONTROL = "/control"

counted = create_app()


def _uncounted(name: str) -> Any:
    """The same, counting nothing, on its own copy (benchmarks.run makes it)."""
    return dataset.app_with(
        dict(os.environ)
        | {
            "REGISTRY_DATABASE_URL": os.environ[f"BENCH_{name}_DATABASE_URL"],
            "REGISTRY_KEYS_DIR": os.environ[f"BENCH_{name}_KEYS_DIR"],
            "REGISTRY_SCAN_COUNTING": "false",
        }
    )


uncounted = _uncounted("UNCOUNTED")
# A second uncounted registry, when benchmarks.run asks for it: its p99 against the
# first's is what the turns themselves move a p99 by (an A/A comparison).
control = _uncounted("CONTROL") if "BENCH_CONTROL_DATABASE_URL" in os.environ else None


def app(environ: dict, start_response: Any) -> Iterable[bytes]:
    path = environ.get("PATH_INFO", "")
    if path.startswith(UNCOUNTED):
        environ["PATH_INFO"] = path[len(UNCOUNTED) :]
        return uncounted(environ, start_response)
    if control is not None and path.startswith(CONTROL):
        environ["PATH_INFO"] = path[len(CONTROL) :]
        return control(environ, start_response)
    return counted(environ, start_response)
