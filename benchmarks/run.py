"""`make bench`: the registry's public verification under load, against bare Flask; the
audit's CSV export; the transparency log's appends and proofs; scans and sign-ins during
a bulk import.

Parts, in this order (`--only` picks some; `--only log` = append,proofs):

- http: serves the benchmark database (see `dataset`) with gunicorn and the shared
  settings that `make run` uses (registry.gunicorn_conf: sync workers, WORKERS of them, no
  access log), loads `/api/v1/verify/<code>` and `/v/<code>` with random existing codes,
  then a bare Flask app under the same settings, each with wrk, and prints requests/s, p50
  and p99 latency, errors, and the ratios to bare Flask against the targets.
  The verify API is loaded twice, by the same workers (`paired`): as deployed, and with
  scan counting off (REGISTRY_SCAN_COUNTING=false), each on its own copy of the database,
  and a third time with counting off again (`verify-control`): the first two p99s say
  what counting does to latency, the last two what the turns alone move a p99 by. What
  counting costs a scan in CPU (target: at most 50 µs) is measured apart, in one process
  with the requests alternating (`counting`), since the servers' CPU per request wanders
  by about ±100 µs from run to run.
- export: on the same server, streams the audit's CSV export of about 100,000 events and
  of the whole log, and reports the serving worker's peak memory growth (`export`).
- append: certificates issued per second in-process, with and without a checkpoint per
  write, on SQLite (fresh, and a copy of the benchmark database) and on PostgreSQL when
  a server answers (`logbench`).
- proofs: inclusion and consistency proofs in a log of 1,000,000 entries, ours against
  pymerkle's; then ours in a synthetic tree of 10,000,000 entries, against 2 ms
  (`logbench`).
- batch: a 10,000-row import and a 10,000-piece batch attestation, end to end in one
  process through the HTTP stack, on SQLite and on PostgreSQL, against 2,000 a second
  each; and the checkpoint latency, from a write to a signed checkpoint covering it,
  with the signer beside the writes (`batchbench`).
- scale: verification on PostgreSQL over 1,000,000 certificates (built once through
  imports and batch attestations, kept as a pg_dump) against 10,000, by p50 (`pgscale`).
- import: a fresh registry made and served as `make run` does (`registry serve`: nginx
  before gunicorn); a 10,000-row CSV import by a maker while buyers scan `/v/<code>` and
  a maker signs in to the portal a few times; reports the import's duration and rows/s,
  the scans' p50/p99/max during it (target: p99 under 200 ms) and each sign-in's status
  and latency (target: all succeed); bounded to a few minutes (`importbench`).

The servers run at once, each on a free port of 127.0.0.1 and its own copy of the cached
database, so a run never changes the cache and no two runs share a file. The endpoints
take turns (`--rounds`, 4): each is measured in slices, one after another's, so that the
machine's drifting load falls on all of them alike; an endpoint's figures are its slices'
sums, and the median of their percentiles. Every
figure goes to benchmarks/.data/results.json.
"""

import argparse
import dataclasses
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from benchmarks import (
    batchbench,
    counting,
    dataset,
    export,
    importbench,
    logbench,
    pgscale,
    profile,
)

ROOT = Path(__file__).resolve().parent.parent
LUA = Path(__file__).resolve().parent / "wrk.lua"
RESULTS = dataset.DATA / "results.json"

# Load settings, the same for every endpoint. One wrk thread (an event loop) stays well
# under a core at these rates, leaving the two cores to the two gunicorn workers as far
# as a shared machine allows. 16 connections are 8 per sync worker: both workers are
# busy all the time (the rest wait in the listen backlog), so requests/s is throughput
# at saturation and the latency includes that queueing, as a phone sees it at capacity.
# 3 s of warm-up (imports, SQLite page cache) are not counted; 20 s then give tens of
# thousands of samples per endpoint, and three endpoints fit in about 1.5 minutes.
THREADS = 1
CONNECTIONS = 16
#: Turns the endpoints take: each endpoint's --duration is measured in this many slices.
ROUNDS = 4
WARMUP_S = 3
DURATION_S = 20

#: The parts of a run, in the order they run (`--only`).
PARTS = ("http", "export", "append", "proofs", "batch", "import", "scale")
ALIASES = {"log": ("append", "proofs"), "all": PARTS}

#: Issue 15's targets (issue 3 asked for 0.6, 0.5 and 50 ms).
VERIFY_RATIO_TARGET = 0.7
PAGE_RATIO_TARGET = 0.6
P99_TARGET_MS = 25.0
#: Server CPU that counting scans (registry/scans.py) may add to a verification.
COUNTING_TARGET_US = 50.0


@dataclass(frozen=True)
class Endpoint:
    name: str
    app: str
    #: wrk path: a prefix to which a random code is appended, or a fixed path.
    path: str
    with_codes: bool
    #: REGISTRY_* settings of its server, beside the benchmark's own.
    settings: tuple[tuple[str, str], ...] = ()


#: benchmarks.paired's path prefix of the registry that counts no scans.
UNCOUNTED_PREFIX = "/uncounted"
# The registry as deployed, served beside one that counts no scans (benchmarks.paired):
# what counting costs, in one run, in the same workers.
PAIRED = "benchmarks.paired:app"
VERIFY = Endpoint("verify", PAIRED, "/api/v1/verify/", True)
UNCOUNTED = Endpoint("verify-uncounted", PAIRED, f"{UNCOUNTED_PREFIX}/api/v1/verify/", True)
#: benchmarks.paired's path prefix of a second registry that counts no scans: the same
#: as the uncounted one, so that the p99s of the two show what the turns alone move.
CONTROL_PREFIX = "/control"
CONTROL = Endpoint("verify-control", PAIRED, f"{CONTROL_PREFIX}/api/v1/verify/", True)
PAGE = Endpoint("page", "wsgi:app", "/v/", True)
BARE = Endpoint("bare", "benchmarks.bare:app", "/", False)
# Not in the default run: the signed certificate, for comparison and development.
CERTIFICATE = Endpoint("certificate", "wsgi:app", "/api/v1/certificates/", True)
ENDPOINTS = {e.name: e for e in (VERIFY, UNCOUNTED, CONTROL, PAGE, BARE, CERTIFICATE)}
REGISTRY_APPS = ("wsgi:app", PAIRED)
LABELS = {
    "verify": "/api/v1/verify/<code>",
    "verify-uncounted": "/api/v1/verify/<code> uncounted",
    "verify-control": "/api/v1/verify/<code> control",
    "page": "/v/<code>",
    "bare": "bare Flask {status: ok}",
    "certificate": "/api/v1/certificates/<code>",
}


@dataclass
class Result:
    endpoint: str
    label: str
    requests_per_s: float = 0.0
    p50_ms: float = 0.0
    p90_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    requests: int = 0
    non2xx: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    socket_errors: int = 0
    warmup_errors: int = 0
    #: CPU seconds per second of the server (master and workers) and of wrk.
    server_cores: float = 0.0
    wrk_cores: float = 0.0
    #: CPU seconds per second used by everything else on the machine during the run.
    other_cores: float = 0.0
    missing: str | None = None
    #: The measured runs (slices) the figures come from, and their time in all.
    slices: int = 0
    seconds: float = 0.0

    @property
    def cpu_ms_per_request(self) -> float:
        return 1000 * self.server_cores / self.requests_per_s if self.requests_per_s else 0.0

    @property
    def errors(self) -> int:
        return self.non2xx + self.socket_errors + self.warmup_errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "--only",
        default="all",
        help=f"comma-separated parts to run: {', '.join(PARTS)}, or log (= append,proofs) or "
        "all (the default)",
    )
    parser.add_argument("--duration", type=int, default=DURATION_S, help="seconds per endpoint")
    parser.add_argument("--warmup", type=int, default=WARMUP_S, help="seconds, not counted")
    parser.add_argument("--connections", type=int, default=CONNECTIONS)
    parser.add_argument("--threads", type=int, default=THREADS)
    parser.add_argument(
        "--pace",
        type=float,
        default=0.0,
        help="mean milliseconds each connection waits before a request (random, "
        "exponential): a load below saturation, where the p99 is a service time rather "
        "than a queue; 0 (the default) sends the next request as soon as one is answered. "
        "Implies --front",
    )
    parser.add_argument(
        "--front",
        action="store_true",
        help="serve each app behind nginx, as `registry serve` does (benchmarks/fronted.py)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=ROUNDS,
        help="turns the endpoints take, each a slice of --duration (1 with --profile)",
    )
    parser.add_argument(
        "--counting-pairs",
        type=int,
        default=counting.PAIRS,
        help="pairs of verify requests (counted, uncounted) of the in-process counting cost",
    )
    parser.add_argument(
        "--endpoints",
        default="bare,verify,verify-uncounted,verify-control,page",
        help=f"comma-separated, run in this order; of: {', '.join(ENDPOINTS)}",
    )
    parser.add_argument(
        "--append-n",
        type=int,
        default=logbench.APPEND_N,
        help="certificates issued per configuration on a fresh database",
    )
    parser.add_argument(
        "--append-big-n",
        type=int,
        default=logbench.BIG_APPEND_N,
        help="certificates issued per configuration on a copy of the benchmark database",
    )
    parser.add_argument(
        "--proof-samples",
        type=int,
        default=logbench.PROOF_SAMPLES,
        help="random indices (and sizes) per kind of proof",
    )
    parser.add_argument(
        "--import-rows",
        type=int,
        default=importbench.ROWS,
        help="rows of the bulk import during which scans and sign-ins are timed",
    )
    parser.add_argument(
        "--batch-rows",
        type=int,
        default=batchbench.ROWS,
        help="rows of the batched import, and pieces of the batch attestation",
    )
    parser.add_argument(
        "--scale-certificates",
        type=int,
        default=pgscale.SCALE_CERTIFICATES,
        help="certificates of the PostgreSQL registry at scale (built once, kept as a dump)",
    )
    parser.add_argument(
        "--rebuild", action="store_true", help="rebuild the cached databases and trees"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="record the workers with py-spy during each measured run (slows them a little)",
    )
    args = parser.parse_args(argv)
    args.front = args.front or args.pace > 0
    parts: list[str] = []
    for name in (part.strip() for part in args.only.split(",")):
        for part in ALIASES.get(name, (name,)):
            if part not in PARTS:
                parser.error(f"unknown part {part!r}: of {', '.join(PARTS)}, log, all")
            if part not in parts:
                parts.append(part)
    parts.sort(key=PARTS.index)
    names = [name.strip() for name in args.endpoints.split(",") if name.strip()]
    unknown = [name for name in names if name not in ENDPOINTS]
    if unknown:
        parser.error(f"unknown endpoints: {', '.join(unknown)}")
    if "http" in parts and shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install wrk (make bench does it)", file=sys.stderr)
        return 2

    started = time.monotonic()
    workers = int(os.environ.get("WORKERS", "2"))
    print(f"parts: {', '.join(parts)}; {os.cpu_count()} cores", flush=True)
    output: dict = {"at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "parts": parts}
    seconds: dict[str, float] = {}
    failed = False
    data = None
    if {"http", "export", "append"} & set(parts):
        data = dataset.ensure(rebuild=args.rebuild)
        seconds["dataset"] = round(time.monotonic() - started, 1)
        counts = data.counts
        print(
            f"database: {'BUILT' if data.built else 'reused'} {data.directory.relative_to(ROOT)} "
            f"({counts['pieces']:,} pieces, {counts['certificates']:,} certificates: "
            f"{counts['revoked']:,} revoked, {counts['superseded']:,} superseded; "
            f"{counts['events']:,} log events; built in {data.build_seconds:.0f} s)"
        )
        output["database"] = {"built": data.built, "path": str(data.database), **counts}
        output["database"]["build_seconds"] = data.build_seconds

    if {"http", "export"} & set(parts):
        part_started = time.monotonic()
        if "http" in parts:
            print(
                f"load: wrk -t{args.threads} -c{args.connections}"
                + (f", each waiting {args.pace:g} ms on average" if args.pace else "")
                + ("; behind nginx" if args.front else "")
                + f", {args.duration} s per "
                f"endpoint in {1 if args.profile else args.rounds} turns, after "
                f"{args.warmup} s of warm-up; "
                f"gunicorn -c python:registry.gunicorn_conf, {workers} sync workers; "
                f"load average before: {os.getloadavg()[0]:.2f}"
                + ("; PROFILED with py-spy (a little slower)" if args.profile else "")
            )
        else:
            names = []
        results, exports = _serve_and_measure(data, names, parts, workers, args)
        if "http" in parts:
            output["settings"] = {
                "threads": args.threads,
                "connections": args.connections,
                "pace_ms": args.pace,
                "front": args.front,
                "warmup_s": args.warmup,
                "duration_s": args.duration,
                "workers": workers,
                "cores": os.cpu_count(),
                "profiled": args.profile,
            }
            cost = None
            if {"verify", "verify-uncounted"} <= set(names) and not args.profile:
                print("  counting, in one process, requests alternating …", flush=True)
                cost = counting.measure(data, pairs=args.counting_pairs)
            verdict = _report(results, cost)
            output["results"] = [
                asdict(r) | {"errors": r.errors, "cpu_ms_per_request": r.cpu_ms_per_request}
                for r in results
            ]
            output.update(verdict)
            failed |= any(r.errors or r.missing for r in results)
        if "export" in parts:
            export.report(exports)
            output["export"] = exports
            failed |= any(r["status"] != 200 for r in exports)
        seconds["http+export"] = round(time.monotonic() - part_started, 1)

    if "append" in parts:
        part_started = time.monotonic()
        print("appends:", flush=True)
        appended = logbench.appends(
            args.append_n,
            big_log=data.database,
            big_keys=data.keys_dir,
            big_base_url=data.public_base_url,
            big_n=args.append_big_n,
        )
        logbench.report_appends(appended)
        output["appends"] = appended
        seconds["append"] = round(time.monotonic() - part_started, 1)

    if "proofs" in parts:
        part_started = time.monotonic()
        print("proofs:", flush=True)
        proved = logbench.proofs(args.proof_samples, rebuild=args.rebuild)
        logbench.report_proofs(proved)
        output["proofs"] = proved
        scaled = logbench.proofs_at_scale(args.proof_samples, rebuild=args.rebuild)
        logbench.report_scale(scaled)
        output["proofs_at_scale"] = scaled
        seconds["proofs"] = round(time.monotonic() - part_started, 1)

    if "batch" in parts:
        part_started = time.monotonic()
        print(f"batched writes ({args.batch_rows:,} rows each):", flush=True)
        batched = batchbench.measure(rows=args.batch_rows)
        failed |= not batchbench.report(batched)
        output["batch"] = batched
        latency = batchbench.checkpoint_latency()
        failed |= not batchbench.report_latency(latency)
        output["checkpoint_latency"] = latency
        seconds["batch"] = round(time.monotonic() - part_started, 1)

    if "import" in parts:
        part_started = time.monotonic()
        print(
            f"import and scans together ({args.import_rows:,} rows, "
            f"{importbench.SCANNERS} buyers scanning, {importbench.SIGN_INS} sign-ins; "
            f"registry serve, {workers} sync workers):",
            flush=True,
        )
        together = importbench.measure(rows=args.import_rows)
        failed |= not importbench.report(together)
        output["import"] = together
        seconds["import"] = round(time.monotonic() - part_started, 1)

    if "scale" in parts:
        part_started = time.monotonic()
        print(
            f"verification at scale on PostgreSQL ({args.scale_certificates:,} certificates "
            f"against {pgscale.SMALL_CERTIFICATES:,}):",
            flush=True,
        )
        scaled_up = pgscale.measure(certificates=args.scale_certificates, rebuild=args.rebuild)
        pgscale.report(scaled_up)
        output["scale"] = scaled_up
        seconds["scale"] = round(time.monotonic() - part_started, 1)

    wall = time.monotonic() - started
    print()
    print(
        "wall time: "
        + f"{int(wall // 60)} min {wall % 60:.0f} s ("
        + ", ".join(f"{name} {value:.0f} s" for name, value in seconds.items())
        + ")"
    )
    output["seconds"] = seconds
    output["wall_s"] = round(wall, 1)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(output, indent=2) + "\n")
    print(f"results: {RESULTS.relative_to(ROOT)}")
    return 1 if failed else 0


def _serve_and_measure(
    data: dataset.Dataset,
    names: list[str],
    parts: list[str],
    workers: int,
    args: argparse.Namespace,
) -> tuple[list[Result], list[dict]]:
    """wrk on each endpoint, then the CSV export, each app served on its own."""
    results: list[Result] = []
    exports: list[dict] = []
    # One server per app and settings, each on a fresh copy of the database.
    servers = list(dict.fromkeys((ENDPOINTS[name].app, ENDPOINTS[name].settings) for name in names))
    if "export" in parts and ("wsgi:app", ()) not in servers:
        servers.append(("wsgi:app", ()))
    endpoints = [ENDPOINTS[name] for name in names]
    rounds = 1 if args.profile else max(1, args.rounds)
    with tempfile.TemporaryDirectory(prefix="registry-bench-") as scratch, ExitStack() as stack:
        work = Path(scratch)
        served: dict[tuple[str, tuple], tuple[int, int, Path]] = {}
        for n, (app, settings) in enumerate(servers):
            env = _registry_env(work / str(n), data) if app in REGISTRY_APPS else _bare_env()
            if app == PAIRED:
                beside = _registry_env(work / f"{n}-uncounted", data)
                env["BENCH_UNCOUNTED_DATABASE_URL"] = beside["REGISTRY_DATABASE_URL"]
                env["BENCH_UNCOUNTED_KEYS_DIR"] = beside["REGISTRY_KEYS_DIR"]
                if "verify-control" in names:
                    again = _registry_env(work / f"{n}-control", data)
                    env["BENCH_CONTROL_DATABASE_URL"] = again["REGISTRY_DATABASE_URL"]
                    env["BENCH_CONTROL_KEYS_DIR"] = again["REGISTRY_KEYS_DIR"]
            env.update(settings)
            log = work / f"{app}-{n}.log"
            port, pid = stack.enter_context(
                _server(app, env, workers=workers, log=log, front=args.front)
            )
            served[(app, settings)] = (port, pid, log)
        # Every server is up at once and the endpoints take turns, `rounds` slices each:
        # the machine is shared, and its load drifts over a run by more than what is
        # compared (counting's 50 µs of a 1 ms scan); in turns, each endpoint meets the
        # same drift.
        prepared = {}
        for endpoint in endpoints:
            port, _, log = served[(endpoint.app, endpoint.settings)]
            print(f"  {LABELS[endpoint.name]} …", flush=True)
            prepared[endpoint.name] = _prepare(endpoint, port, log, data, args)
        slices: dict[str, list[Result]] = {endpoint.name: [] for endpoint in endpoints}
        for turn in range(rounds):
            # Each round starts one endpoint later, so that none always follows another.
            order = endpoints[turn % len(endpoints) :] + endpoints[: turn % len(endpoints)]
            for endpoint in order:
                if prepared[endpoint.name].missing:
                    continue
                port, pid, _ = served[(endpoint.app, endpoint.settings)]
                seconds = max(1, round(args.duration / rounds))
                slices[endpoint.name].append(_slice(endpoint, port, pid, data, args, seconds))
        for endpoint in endpoints:
            results.append(_merged(prepared[endpoint.name], slices[endpoint.name]))
        if "export" in parts:
            port, pid, log = served[("wsgi:app", ())]
            exports = export.measure(port, _process_tree(pid)[1:], data.inspector_token)
            if any(r["status"] != 200 for r in exports):
                print(textwrap.indent(_log_tail(log), "    | "))
    results.sort(key=lambda r: names.index(r.endpoint))
    return results, exports


def _registry_env(work: Path, data: dataset.Dataset) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    return env | dataset.private_copy(data, work)


def _bare_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}


@contextmanager
def _server(app: str, env: dict[str, str], *, workers: int, log: Path, front: bool = False):
    """gunicorn with the shared config on a free port, or behind nginx there; yields
    (port, pid of the process whose tree is the server)."""
    port = _free_port()
    env = {**env, "PORT": str(port), "WORKERS": str(workers)}
    # No --access-logfile: gunicorn then writes no access log, and neither server pays
    # for one. Errors and gunicorn's own messages go to the log file.
    command = [sys.executable, "-m", "gunicorn", "-c", "python:registry.gunicorn_conf", app]
    if front:
        command = [sys.executable, "-m", "benchmarks.fronted", app]
    with open(log, "wb") as output:
        process = subprocess.Popen(  # noqa: S603 - our own fixed command line
            command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        probe = f"http://127.0.0.1:{port}/" if app != "wsgi:app" else None
        _wait_until_up(process, port, probe, log)
        yield port, process.pid
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_up(process: subprocess.Popen, port: int, url: str | None, log: Path) -> None:
    # The registry answers /.well-known/jwks.json once a worker has the app loaded.
    url = url or f"http://127.0.0.1:{port}/.well-known/jwks.json"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        if _status(url) == 200:
            return
        time.sleep(0.2)
    raise SystemExit(f"gunicorn did not start serving {url}:\n{_log_tail(log)}")


def _log_tail(log: Path) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-30:])


def _status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - 127.0.0.1
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


def _prepare(
    endpoint: Endpoint, port: int, log: Path, data: dataset.Dataset, args: argparse.Namespace
) -> Result:
    """The endpoint's result before its slices: whether it answers, and its warm-up."""
    result = Result(endpoint.name, LABELS[endpoint.name])
    base = f"http://127.0.0.1:{port}"
    if endpoint.with_codes:
        sample = data.codes_file.read_text().split("\n", 1)[0]
        status = _status(base + endpoint.path + sample)
        if status != 200:
            result.missing = f"answers {status} for an existing code"
            print(f"    !! {endpoint.path}{sample} {result.missing}: not measured")
            print(textwrap.indent(_log_tail(log), "    | "))
            return result
    warmup = _wrk([*_wrk_command(args), f"-d{args.warmup}s", *_target(endpoint, port, data, args)])
    result.warmup_errors = warmup["non2xx"] + _socket_errors(warmup)
    return result


def _wrk_command(args: argparse.Namespace) -> list[str]:
    return ["wrk", f"-t{args.threads}", f"-c{args.connections}", "-s", str(LUA), "--latency"]


def _target(
    endpoint: Endpoint, port: int, data: dataset.Dataset, args: argparse.Namespace
) -> list[str]:
    """wrk's URL and the script's arguments."""
    url = f"http://127.0.0.1:{port}" + ("/" if endpoint.with_codes else endpoint.path)
    codes = str(data.codes_file) if endpoint.with_codes else ""
    return [url, "--", endpoint.path, codes, f"{args.pace:g}"]


def _slice(
    endpoint: Endpoint,
    port: int,
    pid: int,
    data: dataset.Dataset,
    args: argparse.Namespace,
    duration: int,
) -> Result:
    """One measured run of wrk, with the CPU its server, wrk and the machine used."""
    result = Result(endpoint.name, LABELS[endpoint.name])
    server = _process_tree(pid)
    spies = _start_profiles(endpoint, server[1:], args) if args.profile else []
    cpu_before = _cpu_seconds(server)
    busy_before = _machine_busy_seconds()
    children_before = _children_cpu_seconds()
    measured = _wrk([*_wrk_command(args), f"-d{duration}s", *_target(endpoint, port, data, args)])
    seconds = measured["duration_us"] / 1e6
    server_cpu = _cpu_seconds(server) - cpu_before
    wrk_cpu = _children_cpu_seconds() - children_before
    busy = _machine_busy_seconds() - busy_before
    if spies:
        _finish_profiles(endpoint, spies, requests=measured["requests"])

    result.requests = measured["requests"]
    result.seconds = seconds
    result.requests_per_s = measured["requests"] / seconds
    result.p50_ms = measured["p50_us"] / 1000
    result.p90_ms = measured["p90_us"] / 1000
    result.p99_ms = measured["p99_us"] / 1000
    result.max_ms = measured["max_us"] / 1000
    result.non2xx = measured["non2xx"]
    result.statuses = measured["statuses"]
    result.socket_errors = _socket_errors(measured)
    result.server_cores = server_cpu / seconds
    result.wrk_cores = wrk_cpu / seconds
    result.other_cores = max(0.0, busy - server_cpu - wrk_cpu) / seconds
    return result


def _merged(prepared: Result, slices: list[Result]) -> Result:
    """An endpoint's slices as one result: requests, CPU and errors summed, rates over
    the slices' whole time (rounded only here), each latency percentile the median of
    the slices' (wrk gives percentiles, not the latencies), and the largest maximum."""
    if not slices:
        return prepared
    total = sum(r.seconds for r in slices) or 1.0
    statuses: dict[str, int] = {}
    for r in slices:
        for status, n in r.statuses.items():
            statuses[status] = statuses.get(status, 0) + n

    def per_second(value: Callable[[Result], float]) -> float:
        return round(sum(value(r) * r.seconds for r in slices) / total, 2)

    return dataclasses.replace(
        prepared,
        requests=sum(r.requests for r in slices),
        requests_per_s=round(sum(r.requests for r in slices) / total, 1),
        p50_ms=statistics.median(r.p50_ms for r in slices),
        p90_ms=statistics.median(r.p90_ms for r in slices),
        p99_ms=statistics.median(r.p99_ms for r in slices),
        max_ms=max(r.max_ms for r in slices),
        non2xx=sum(r.non2xx for r in slices),
        statuses=statuses,
        socket_errors=sum(r.socket_errors for r in slices),
        server_cores=per_second(lambda r: r.server_cores),
        wrk_cores=per_second(lambda r: r.wrk_cores),
        other_cores=per_second(lambda r: r.other_cores),
        slices=len(slices),
        seconds=round(total, 3),
    )


def _start_profiles(
    endpoint: Endpoint, workers: list[int], args: argparse.Namespace
) -> list[tuple[subprocess.Popen, Path]]:
    # Samples only while a worker holds the GIL: its Python work, not its waiting (nor
    # the kernel's work on its sockets, which the CPU column of the table includes).
    spy = Path(sys.executable).with_name("py-spy")
    if not spy.exists():
        raise SystemExit(
            f"--profile needs py-spy: {Path(sys.executable).parent}/pip install py-spy"
        )
    spies = []
    for worker in workers:
        output = dataset.DATA / f"profile-{endpoint.name}-{worker}.txt"
        command = [str(spy), "record", "--pid", str(worker), "--duration", str(args.duration)]
        command += ["--rate", str(profile.RATE), "--gil", "--nonblocking", "--format", "raw"]
        command += ["--output", str(output)]
        process = subprocess.Popen(  # noqa: S603 - our own fixed command line
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        spies.append((process, output))
    return spies


def _finish_profiles(
    endpoint: Endpoint, spies: list[tuple[subprocess.Popen, Path]], *, requests: int
) -> None:
    stacks = []
    for process, output in spies:
        process.wait()
        if output.exists():
            stacks.append(output)
    summary = dataset.DATA / f"profile-{endpoint.name}.txt"
    summary.write_text(profile.summarize(profile.load(stacks), requests=requests) + "\n")
    for output in stacks:
        output.unlink()
    print(f"    profile: {summary.relative_to(ROOT)}")


def _wrk(command: list[str]) -> dict:
    completed = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    for line in completed.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            return json.loads(line.removeprefix("BENCH_JSON "))
    raise SystemExit(f"wrk failed ({completed.returncode}):\n{completed.stdout}{completed.stderr}")


def _socket_errors(run: dict) -> int:
    return run["connect_errors"] + run["read_errors"] + run["write_errors"] + run["timeouts"]


# CPU accounting from /proc, so that a run on a busy machine says so.

_TICK = os.sysconf("SC_CLK_TCK")


def _process_tree(pid: int) -> list[int]:
    pids, queue = [], [pid]
    while queue:
        current = queue.pop()
        pids.append(current)
        try:
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            children = []
        queue.extend(int(child) for child in children)
    return pids


def _cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / _TICK


def _machine_busy_seconds() -> float:
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / _TICK


def _children_cpu_seconds() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _report(
    results: list[Result], cost: "tuple[counting.Cost, counting.Cost] | None" = None
) -> dict:
    print()
    # Server CPU per request (its workers' CPU time over the requests served) varies less
    # than requests/s when other processes share the machine; "others" says how much did.
    print(
        f"{'endpoint':31} {'requests/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}"
        f"   {'server CPU ms/req':>17} {'other cores':>11}"
    )
    for r in results:
        if r.missing:
            print(f"{r.label:31} {'— not measured: ' + r.missing}")
            continue
        print(
            f"{r.label:31} {r.requests_per_s:10,.0f} {r.p50_ms:8.1f} {r.p99_ms:8.1f} "
            f"{r.errors:7,}   {r.cpu_ms_per_request:17.2f} {r.other_cores:11.2f}"
        )
    by_name = {r.endpoint: r for r in results}
    verdict: dict = {"ratios": {}, "targets": {}}
    bare = by_name.get("bare")
    print()
    for name, target in (("verify", VERIFY_RATIO_TARGET), ("page", PAGE_RATIO_TARGET)):
        r = by_name.get(name)
        if r is None:
            continue
        note = ""
        if r.missing or bare is None or bare.missing or not bare.requests_per_s:
            ok, ratio = False, None
            shown = "  n/a"
        else:
            ratio = round(r.requests_per_s / bare.requests_per_s, 3)
            ok, shown = ratio >= target, f"{ratio:5.2f}"
            by_cpu = round(bare.cpu_ms_per_request / r.cpu_ms_per_request, 3)
            verdict["ratios"][f"{name}/bare by CPU per request"] = by_cpu
            note = f"   (by server CPU per request: {by_cpu:.2f})"
        verdict["ratios"][f"{name}/bare"] = ratio
        verdict["targets"][f"{name}/bare >= {target}"] = ok
        print(f"ratio {name + '/bare':12} {shown}   target >= {target:.2f}   {_mark(ok)}{note}")
    for name in ("verify", "page"):
        r = by_name.get(name)
        if r is None:
            continue
        ok = not r.missing and r.p99_ms < P99_TARGET_MS
        verdict["targets"][f"{name} p99 < {P99_TARGET_MS:g} ms"] = ok
        shown = "  n/a" if r.missing else f"{r.p99_ms:5.1f}"
        print(f"p99 {name:14} {shown}   target < {P99_TARGET_MS:.0f} ms    {_mark(ok)}")
    _counting(by_name, verdict, cost)

    failed = [r for r in results if r.errors]
    if failed:
        print()
        print("!" * 78)
        for r in failed:
            print(
                f"!! ERRORS on {r.label}: {r.non2xx:,} non-2xx {r.statuses or ''}, "
                f"{r.socket_errors:,} socket errors, {r.warmup_errors:,} in the warm-up"
            )
        print("!! the numbers above are not valid measurements")
        print("!" * 78)
    busiest = max((r.other_cores for r in results), default=0.0)
    if busiest > 0.25:
        print(
            f"note: other processes used up to {busiest:.2f} cores during the runs: "
            "the machine was not quiet, so these numbers are low"
        )
    return verdict


def _counting(
    by_name: dict[str, Result],
    verdict: dict,
    cost: "tuple[counting.Cost, counting.Cost] | None",
) -> None:
    """What counting scans costs a verification: server CPU per scan, measured in one
    process with the requests alternating (benchmarks/counting.py: the figure judged, as
    the servers' difference over HTTP is within their noise), and the p99 with counting
    and without, from the servers' turns."""
    counted, uncounted = by_name.get("verify"), by_name.get("verify-uncounted")
    if counted is None or uncounted is None:
        return
    target = f"counting <= {COUNTING_TARGET_US:g} µs/scan"
    if counted.missing or uncounted.missing or cost is None:
        print("counting          n/a   (a verify run was not measured)")
        verdict["targets"][target] = False
        return
    measured, control = cost
    http_us = 1000 * (counted.cpu_ms_per_request - uncounted.cpu_ms_per_request)
    ok = measured.total_us <= COUNTING_TARGET_US
    verdict["counting"] = {
        "cpu_us_per_scan": round(measured.total_us, 1),
        "request_thread_us": round(measured.request_us, 1),
        "flush_thread_us": round(measured.flush_us, 1),
        "pairs": measured.pairs,
        "control_us": round(control.total_us, 1),
        "http_server_cpu_difference_us": round(http_us, 1),
        "p99_ms_counted": counted.p99_ms,
        "p99_ms_uncounted": uncounted.p99_ms,
    }
    again = by_name.get("verify-control")
    control_p99 = ""
    if again is not None and not again.missing:
        verdict["counting"]["p99_ms_uncounted_again"] = again.p99_ms
        control_p99 = f", {again.p99_ms:.1f} ms control (uncounted too)"
    verdict["targets"][target] = ok
    print(
        f"counting {measured.total_us:+8.1f} µs CPU per scan   target <= "
        f"{COUNTING_TARGET_US:.0f} µs   {_mark(ok)}   (request thread "
        f"{measured.request_us:+.1f}, flushing thread {measured.flush_us:+.1f}; "
        f"{measured.pairs:,} pairs of requests in one process; the method's control "
        f"{control.total_us:+.1f})"
    )
    print(
        f"         p99 {counted.p99_ms:.1f} ms counted, {uncounted.p99_ms:.1f} ms uncounted"
        f"{control_p99}; servers' CPU over HTTP {http_us:+.0f} µs/request (noise there: "
        "about ±100)"
    )


def _mark(ok: bool) -> str:
    return "PASS" if ok else "MISS"
