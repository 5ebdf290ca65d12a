"""Where a gunicorn worker's time goes: a summary of py-spy's raw (collapsed) stacks.

    py-spy record --pid WORKER --format raw --output stacks.txt --nonblocking
    python -m benchmarks.profile stacks.txt [more.txt …]

Prints the project's functions (registry/, keys/, schemas/) by inclusive samples, the
self time by package, and for each sample the innermost project frame with the library
function it called: where a fix would go. `python -m benchmarks --profile` records these for
every worker during the measured runs (py-spy from PyPI must be in the venv).
"""

import re
import sys
from collections import Counter
from pathlib import Path

_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")
_PROJECT = ("registry/", "keys/", "schemas/", "wsgi.py")
#: Samples per second that `python -m benchmarks --profile` asks py-spy for.
RATE = 250


def load(paths: list[Path]) -> Counter:
    """Collapsed stacks and their sample counts, merged over files."""
    stacks: Counter = Counter()
    for path in paths:
        for line in path.read_text(errors="replace").splitlines():
            stack, _, count = line.rpartition(" ")
            if stack and count.isdigit():
                stacks[stack] += int(count)
    return stacks


def _name(frame: str) -> str:
    # "function (path/to/file.py:123)" -> "function (file.py)"; lines vary per sample.
    match = _FRAME.match(frame)
    if not match:
        return frame
    file = match["file"]
    for marker in ("site-packages/", "/work/main/", "lib/python3"):
        if marker in file:
            file = file.split(marker, 1)[1]
    return f"{match['function']} ({file})"


def _is_project(name: str) -> bool:
    return any(f"({prefix}" in name for prefix in _PROJECT)


def summarize(
    stacks: Counter, *, top: int = 15, requests: int | None = None, rate: int = RATE
) -> str:
    """The tables; with the `requests` served while sampling at `rate` per second, each
    line also says the sampled time in µs per request."""
    total = sum(stacks.values())
    if not total:
        return "no samples"
    inclusive: Counter = Counter()
    packages: Counter = Counter()
    calls: Counter = Counter()
    for stack, count in stacks.items():
        names = [_name(frame) for frame in stack.split(";")]
        for name in set(names):
            if _is_project(name):
                inclusive[name] += count
        packages[_package(names[-1])] += count
        # The innermost project frame and the library call it made: "what to fix where".
        depth = next((i for i in range(len(names) - 1, -1, -1) if _is_project(names[i])), None)
        if depth is None:
            calls["(no project frame) " + _package(names[-1])] += count
        else:
            callee = names[depth + 1] if depth + 1 < len(names) else "(itself)"
            calls[f"{names[depth]} -> {callee}"] += count

    def table(title: str, counter: Counter) -> list[str]:
        lines = [title]
        for name, n in counter.most_common(top):
            per_request = f"{1e6 * n / rate / requests:7.0f} µs" if requests else ""
            lines.append(f"  {100 * n / total:5.1f}% {per_request}  {name}")
        return lines

    heading = f"{total:,} samples"
    if requests:
        heading += f" over {requests:,} requests: {1e6 * total / rate / requests:.0f} µs each"
    return "\n".join(
        [heading]
        + table("inclusive, project functions:", inclusive)
        + table("self time by package:", packages)
        + table("innermost project frame -> what it called:", calls)
    )


def _package(name: str) -> str:
    # "function (flask/app.py)" -> "flask"; the standard library shows as its module.
    file = name.rpartition("(")[2].rstrip(")")
    return file.split("/", 1)[0].removesuffix(".py") if file else name


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    print(summarize(load([Path(a) for a in argv])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
