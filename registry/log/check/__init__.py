"""`registry log verify`: the whole log checked against itself and against the records.

It trusts nothing stored but the entries' bytes and the checkpoints' signatures. One
pass reads every entry in index order, a batch at a time:

- tree.py recomputes the tree from the entries and compares it with every stored node;
- records.py holds every row (events, makers, accounts, tokens, pieces, photos,
  certificates, assays) to what the entries say of it;
- checkpoints.py checks every stored checkpoint's signature, its root against the
  recomputed tree, and its consistency with the one before.

Every discrepancy is reported with the log index it concerns and its kind; the first
one decides. Memory stays bounded by the number of records, which records.py keeps in
dictionaries to match rows.
"""

import enum
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

import keys
from keys import note
from registry.log.check import after_sale as after_sale_check
from registry.log.check import checkpoints as checkpoint_check
from registry.log.check import records as record_check
from registry.log.check import tree as tree_check
from registry.models import Checkpoint, LogHead, LogVerification, utcnow


class Kind(enum.StrEnum):
    """What a discrepancy is; its value is what the command prints and the page shows."""

    HEAD = "head"
    MISSING = "missing"
    BEYOND_THE_HEAD = "beyond the head"
    MALFORMED_ENTRY = "malformed entry"
    ALTERED_ENTRY = "altered entry"
    UNPROVEN_ENTRY = "unproven entry"
    ALTERED_TREE = "altered tree"
    CHECKPOINT = "checkpoint"
    UNSIGNED = "unsigned"
    REWRITTEN = "rewritten"
    RECORD_DIFFERS = "record differs"
    UNLOGGED_RECORD = "unlogged record"
    MISSING_RECORD = "missing record"


#: Kinds of discrepancy in the log itself, reported before those of the records: a record
#: that disagrees with the log often follows from an entry that was removed or changed.
STRUCTURAL = frozenset(
    {
        Kind.HEAD,
        Kind.MISSING,
        Kind.BEYOND_THE_HEAD,
        Kind.MALFORMED_ENTRY,
        Kind.ALTERED_ENTRY,
        Kind.UNPROVEN_ENTRY,
        Kind.ALTERED_TREE,
        Kind.CHECKPOINT,
        Kind.UNSIGNED,
        Kind.REWRITTEN,
    }
)


@dataclass(frozen=True)
class Discrepancy:
    #: The log index concerned (the end of the log for a record the log never saw).
    index: int
    kind: Kind
    detail: str

    def __str__(self) -> str:
        return f"entry {self.index}: {self.kind}: {self.detail}"


@dataclass
class Report:
    """The outcome of a check: what was read, and every discrepancy found."""

    entries: int = 0
    checkpoints: int = 0
    certificates: int = 0
    assays: int = 0
    #: Photos set before the log recorded thumbnails' hashes: their thumbnails could not
    #: be checked against the log (no discrepancy; see records.py).
    unchecked_thumbnails: int = 0
    problems: list[Discrepancy] = field(default_factory=list)

    @property
    def first(self) -> Discrepancy | None:
        """The discrepancy to fix first: in the log before the records, lowest index."""
        if not self.problems:
            return None
        return min(self.problems, key=lambda p: (p.kind not in STRUCTURAL, p.index))

    def add(self, index: int, kind: Kind, detail: str) -> None:
        self.problems.append(Discrepancy(index, kind, detail))


def check(
    session: Session,
    ring: keys.KeyRing,
    *,
    origin: str,
    every: int = 1,
    trusted: note.Checkpoint | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Report:
    """Check the log and the records. With `every` == 1 (a checkpoint per write, the
    default), entries that no signed checkpoint covers are a discrepancy too. `trusted`
    is a checkpoint known from outside the database (the signer's last one): the entries
    must still make its tree, or the log was rewritten, checkpoints and all. `progress`
    is told the entries read so far and the log's size, batch by batch. Reads only."""
    report = Report()
    head = session.scalar(select(LogHead.size).where(LogHead.id == 1))
    if head is None:
        report.add(0, Kind.HEAD, "the log has no head row")
        return report
    stored = list(session.scalars(select(Checkpoint).order_by(Checkpoint.id)))
    sizes = {c.tree_size for c in stored} | ({trusted.size} if trusted else set())
    records = record_check.Records.start(session, report)
    after_sale = after_sale_check.AfterSale()

    def collect(row, entry: dict) -> None:
        records.collect(row, entry)
        after_sale.collect(row.log_index, entry)

    def on_batch(read: int) -> None:
        if progress is not None:
            progress(read, head)

    roots = tree_check.rebuild(session, head, sizes, report, on_entry=collect, on_batch=on_batch)
    records.compare(session, head)
    after_sale.compare(session, head, report)
    if trusted is not None and roots.get(trusted.size) != trusted.root:
        report.add(
            max(min(trusted.size, head) - 1, 0),
            Kind.REWRITTEN,
            f"the entries no longer make the tree of {trusted.size} entries that the registry "
            "signed last (kept outside the database): the log was rewritten or truncated",
        )
    checkpoint_check.verify(session, ring, origin, stored, roots, report)
    signed = max(sizes, default=0)
    if every == 1 and signed < head:
        report.add(
            signed,
            Kind.UNSIGNED,
            f"entries {signed} to {head - 1} are in no signed checkpoint, yet every write "
            "makes one (added outside the registry, or signed while no key was active: "
            "then rotate the key and run `registry log checkpoint`)",
        )
    return report


def record(session: Session, report: Report) -> LogVerification:
    """Keep the outcome for the inspectors' log status page; the caller commits, in a
    transaction of its own (the check itself reads one read-only snapshot).
    Informational: the check, run again, is the proof, not this row."""
    outcome = LogVerification(
        checked_at=utcnow(),
        tree_size=report.entries,
        checkpoints=report.checkpoints,
        discrepancies=len(report.problems),
        first=str(report.first) if report.first else None,
    )
    session.add(outcome)
    session.flush()
    return outcome
