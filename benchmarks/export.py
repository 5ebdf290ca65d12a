"""The audit's CSV export under gunicorn: how much memory a worker needs to stream it.

GET /api/v1/audit/export.csv with the benchmark inspector's token, read to the end by a
plain HTTP client, while the workers' resident memory is watched: the kernel's peak
(VmHWM, reset just before through /proc/PID/clear_refs) where it can be reset, and a
sample every few milliseconds in any case. The growth is the peak over the resident
memory just before, for the worker that served the export (the largest of them).
"""

import http.client
import threading
import time
from pathlib import Path
from typing import Any

PATH = "/api/v1/audit/export.csv"
#: (name, query): about 100,000 events (one per piece), then the whole log.
QUERIES = (
    ("piece:registered", "type=piece:registered"),
    ("whole log", ""),
)
GROWTH_TARGET_MB = 50.0
_SAMPLE_S = 0.005


def measure(port: int, workers: list[int], token: str) -> list[dict[str, Any]]:
    results = []
    for name, query in QUERIES:
        print(f"  {PATH}{'?' + query if query else ''} …", flush=True)
        results.append(_export(port, workers, token, name, query))
    return results


def _export(port: int, workers: list[int], token: str, name: str, query: str) -> dict[str, Any]:
    before = {pid: _status_kib(pid, "VmRSS") for pid in workers}
    reset = all(_reset_peak(pid) for pid in workers)
    sampled = dict(before)
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            for pid in workers:
                sampled[pid] = max(sampled[pid], _status_kib(pid, "VmRSS"))
            time.sleep(_SAMPLE_S)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    lines = size = 0
    first_byte = None
    try:
        connection.request(
            "GET",
            PATH + ("?" + query if query else ""),
            headers={"Authorization": f"Bearer {token}"},
        )
        response = connection.getresponse()
        status = response.status
        while chunk := response.read1(1 << 16):
            if first_byte is None:
                first_byte = time.perf_counter() - started
            size += len(chunk)
            lines += chunk.count(b"\n")  # CSV lines end \r\n; a chunk may split one
    finally:
        connection.close()
        seconds = time.perf_counter() - started
        done.set()
        sampler.join()
    peaks = {pid: _status_kib(pid, "VmHWM") for pid in workers} if reset else sampled
    growth = {pid: max(peaks[pid], sampled[pid]) - before[pid] for pid in workers}
    worker = max(growth, key=growth.get)
    rows = max(0, lines - 1)  # less the header line
    return {
        "name": name,
        "query": query,
        "status": status,
        "rows": rows,
        "megabytes": round(size / 1e6, 1),
        "seconds": round(seconds, 2),
        "rows_per_s": round(rows / seconds) if seconds else 0,
        "first_byte_ms": round(1000 * (first_byte or 0), 1),
        "rss_before_mb": round(before[worker] / 1024, 1),
        "peak_growth_mb": round(growth[worker] / 1024, 1),
        "peak_from": "VmHWM (reset before)" if reset else f"VmRSS sampled every {_SAMPLE_S}s",
        "target_met": status == 200 and growth[worker] / 1024 < GROWTH_TARGET_MB,
    }


def report(results: list[dict[str, Any]]) -> None:
    print()
    print(f"CSV export {PATH}, streamed by one gunicorn worker")
    print(
        f"{'export':18} {'status':>6} {'rows':>9} {'MB':>7} {'s':>6} {'rows/s':>8} "
        f"{'RSS before MB':>13} {'peak growth MB':>14}"
    )
    for r in results:
        print(
            f"{r['name']:18} {r['status']:6} {r['rows']:9,} {r['megabytes']:7.1f} "
            f"{r['seconds']:6.1f} {r['rows_per_s']:8,} {r['rss_before_mb']:13.1f} "
            f"{r['peak_growth_mb']:14.1f}   target < {GROWTH_TARGET_MB:g} MB "
            f"{'PASS' if r['target_met'] else 'MISS'}"
        )


def _status_kib(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _reset_peak(pid: int) -> bool:
    """Reset the process's peak resident memory (VmHWM) to its current size."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True
