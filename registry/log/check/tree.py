"""The tree recomputed from the entries, and compared with the stored one.

Every entry is read in index order and must be RFC 8785 JSON carrying the registry's MAC
of its index and bytes (registry/log/proofs.py: an entry written by hand has none); its
leaf, and every perfect node it completes, must be stored exactly as computed (RFC 9162
§2.1.1). A
missing index, or an entry beyond the head, is a discrepancy of its own. The roots of
the sizes asked for (those of the checkpoints) are kept for checkpoints.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from types import SimpleNamespace

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.log import check, ledger, merkle, proofs
from registry.models import Event, LogNode
from schemas import canonical

_BATCH = 2000


def rebuild(
    session: Session,
    head: int,
    sizes: set[int],
    report: check.Report,
    *,
    on_entry: Callable[[SimpleNamespace, dict], None],
    on_batch: Callable[[int], None] | None = None,
) -> dict[int, bytes]:
    """Read every entry in order, rebuild the tree and compare it with the stored nodes;
    hand each well-formed entry, with its event row, to `on_entry`, and the number of
    entries read after each batch to `on_batch`. Returns the root of each of `sizes` the
    entries reach."""
    builder = merkle.Builder()
    keys_ = proofs.of(session)
    roots = {0: merkle.EMPTY_ROOT} if 0 in sizes else {}
    for rows in _batches(session):
        start = builder.size
        completed: dict[merkle.Node, bytes] = {}
        absent: set[int] = set()
        unproven: list[int] = []
        for row in rows:
            if row.log_index >= head:
                report.add(
                    row.log_index,
                    check.Kind.BEYOND_THE_HEAD,
                    f"an entry at index {row.log_index} lies beyond the log's size {head} "
                    "(added outside the registry)",
                )
                continue
            while builder.size < row.log_index:
                report.add(builder.size, check.Kind.MISSING, "no entry has this index (deleted)")
                absent.add(builder.size)
                builder.append(b"\x00" * 32)  # keeps the indices of what follows
            entry = _parsed(row, report)
            if not keys_.entry_holds(row.log_index, row.entry, row.mac):
                unproven.append(row.log_index)
            completed.update(builder.append(merkle.leaf_hash(row.entry)))
            if builder.size in sizes:
                roots[builder.size] = builder.root()
            if entry is not None:
                on_entry(row, entry)
        for index in absent:
            completed.pop((0, index), None)
        _compare_nodes(session, start, builder.size, completed, report)
        named = {p.index for p in report.problems if p.kind in check.STRUCTURAL}
        for index in unproven:  # said once: an entry found altered is unproven too
            if index not in named:
                report.add(
                    index,
                    check.Kind.UNPROVEN_ENTRY,
                    "the entry carries no valid MAC of the registry's at this index: it was "
                    "written outside the registry",
                )
        if on_batch is not None:
            on_batch(builder.size)
    report.entries = builder.size
    if builder.size < head:
        report.add(
            builder.size,
            check.Kind.MISSING,
            f"the log's head says {head} entries, only {builder.size} are stored (deleted)",
        )
    return roots


def _batches(session: Session) -> Iterator[list[SimpleNamespace]]:
    last = -1
    while True:
        rows = session.execute(
            select(
                Event.log_index,
                Event.entry,
                Event.action,
                Event.occurred_at,
                Event.actor_id,
                Event.actor_role,
                Event.maker_id,
                Event.piece_id,
                Event.certificate_id,
                Event.mac,
            )
            .where(Event.log_index > last)
            .order_by(Event.log_index)
            .limit(_BATCH)
        ).all()
        if not rows:
            return
        yield [
            SimpleNamespace(**{**row._asdict(), "entry": ledger.stored_bytes(row.entry)})
            for row in rows
        ]
        last = rows[-1].log_index


def _parsed(row: SimpleNamespace, report: check.Report) -> dict | None:
    try:
        entry = json.loads(row.entry)
        if canonical.dumps(entry) != row.entry:
            raise ValueError("not in RFC 8785 form")
    except (ValueError, TypeError) as exc:
        report.add(
            row.log_index, check.Kind.MALFORMED_ENTRY, f"the entry is not canonical JSON: {exc}"
        )
        return None
    if not isinstance(entry, dict):
        report.add(row.log_index, check.Kind.MALFORMED_ENTRY, "the entry is not a JSON object")
        return None
    return entry


def _compare_nodes(
    session: Session,
    start: int,
    end: int,
    completed: dict[merkle.Node, bytes],
    report: check.Report,
) -> None:
    """Every node the entries [start, end) complete must be stored as computed."""
    if not completed:
        return
    stored: dict[merkle.Node, bytes] = {}
    for level in {level for level, _ in completed}:
        first, last = start >> level, (end >> level) + 1
        stored.update(
            ((level, index), value)
            for index, value in session.execute(
                select(LogNode.index, LogNode.hash).where(
                    LogNode.level == level, LogNode.index >= first, LogNode.index <= last
                )
            )
        )
    for (level, index), value in sorted(completed.items()):
        if stored.get((level, index)) != value:
            first_leaf = index << level
            kind = check.Kind.ALTERED_ENTRY if level == 0 else check.Kind.ALTERED_TREE
            what = (
                "the entry is not the one the tree holds (edited, reordered or replaced)"
                if level == 0
                else f"the tree's node ({level}, {index}) does not match the entries "
                f"{first_leaf} to {first_leaf + (1 << level) - 1}"
            )
            if level == 0 or not report.problems:
                report.add(first_leaf, kind, what)
    # Nodes stored beyond the entries (a forged tree) are caught by the checkpoints' roots.
