"""What the inspectors' portal reads beside the other services: a piece's history and
audit events as the log states them, the log's status, the usual inspectorate.

Read-only: nothing here writes, so nothing here appends to the log.
"""

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.certificates import EAST_SIBERIAN
from registry.log import audit, checkpoints, tree, witnessing
from registry.models import (
    Account,
    AssayRecord,
    Checkpoint,
    LogVerification,
    Maker,
    WitnessState,
)

#: The state assay office of the three regions: what an attestation names by default.
INSPECTORATE = EAST_SIBERIAN.en


@dataclass(frozen=True)
class Names:
    """Who and whose in a list of events, for inspectors, who may see every record: an
    account by the name it goes by (else its e-mail), a maker by its names."""

    people: dict[int, str]
    makers: dict[str, Maker]


def names(session: Session, steps: Iterable["Step"]) -> Names:
    """The names of the accounts that acted and of the makers named in `steps`."""
    steps = list(steps)
    ids = {step.actor_id for step in steps if step.actor_id}
    slugs = {step.maker for step in steps if step.maker}
    people = {}
    if ids:
        rows = session.execute(
            select(Account.id, Account.display_name, Account.email).where(Account.id.in_(ids))
        )
        people = {account_id: name or email for account_id, name, email in rows}
    makers = {}
    if slugs:
        makers = {m.slug: m for m in session.scalars(select(Maker).where(Maker.slug.in_(slugs)))}
    return Names(people=people, makers=makers)


# A piece's history is read a page of the audit at a time, like any other audit.
_HISTORY_PAGE = 500


@dataclass(frozen=True)
class Step:
    """One event as its log entry states it. `action` is None for an entry that does not
    read as an event (stored bytes someone altered: `registry log verify` reports it)."""

    index: int
    action: str | None
    at: datetime | None
    actor_role: str | None
    actor_id: int | None = None
    maker: str | None = None
    piece: int | None = None
    certificate: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class WitnessStatus:
    """A configured witness as the log page shows it."""

    name: str
    #: What the pages call it (its inspectorate), in English and Russian.
    en: str
    ru: str
    cosigned_size: int = 0
    cosigned_at: datetime | None = None
    #: Entries of the newest checkpoint it has not cosigned yet.
    lag: int = 0
    refusals: int = 0
    last_refusal: str | None = None
    last_refusal_at: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None


@dataclass
class LogStatus:
    size: int
    checkpoint: Checkpoint | None
    verification: LogVerification | None
    #: Why the signer would refuse to sign the log as it stands, if it would.
    refusal: str | None = None
    witnesses: list[WitnessStatus] = field(default_factory=list)

    @property
    def uncovered(self) -> int:
        """Entries appended since the latest checkpoint was signed."""
        return self.size - (self.checkpoint.tree_size if self.checkpoint else 0)


def step(index: int, entry: bytes) -> Step:
    """An entry of the log as a step of a history; never raises."""
    try:
        event = json.loads(entry)
    except ValueError:
        event = None
    if not isinstance(event, dict):
        return Step(index=index, action=None, at=None, actor_role=None)
    raw_actor, raw_data = event.get("actor"), event.get("data")
    actor: dict[str, Any] = raw_actor if isinstance(raw_actor, dict) else {}
    data: dict[str, Any] = raw_data if isinstance(raw_data, dict) else {}
    return Step(
        index=index,
        action=_text(event.get("action")),
        at=_time(event.get("at")),
        actor_role=_text(actor.get("role")),
        actor_id=actor.get("id") if isinstance(actor.get("id"), int) else None,
        maker=_text(event.get("maker")),
        piece=event.get("piece") if isinstance(event.get("piece"), int) else None,
        certificate=_text(event.get("certificate")),
        data=data,
    )


def events(
    session: Session, filters: dict[str, Any], *, after: int | None, limit: int
) -> tuple[list[Step], int | None]:
    """A page of the audit (audit.page, same filters and cursor) as steps."""
    rows, next_after = audit.page(session, filters, after=after, limit=limit)
    return [step(index, entry) for index, entry in rows], next_after


def history(session: Session, piece_id: int) -> list[Step]:
    """Every event of a piece, in log order: its whole history as the log records it."""
    found: list[Step] = []
    after = None
    while True:
        steps, after = events(session, {"piece": piece_id}, after=after, limit=_HISTORY_PAGE)
        found.extend(steps)
        if after is None:
            return found


def log_status(
    session: Session,
    signer: checkpoints.Signer,
    witnesses: Iterable[witnessing.Witness] = (),
) -> LogStatus:
    """The log's size, its latest checkpoint, the last `registry log verify`, why
    `signer` would refuse to sign the log, when entries wait for a checkpoint, and how
    far each of `witnesses` has cosigned it, with its alarms."""
    last_check = session.scalar(
        select(LogVerification)
        .order_by(LogVerification.checked_at.desc(), LogVerification.id.desc())
        .limit(1)
    )
    size, newest = tree.size(session), checkpoints.latest(session)
    waiting = size > (newest.tree_size if newest else 0)
    return LogStatus(
        size=size,
        checkpoint=newest,
        verification=last_check,
        refusal=signer.refusal(session) if waiting else None,
        witnesses=[_witness_status(session, w, newest) for w in witnesses],
    )


def _witness_status(
    session: Session, witness: witnessing.Witness, newest: Checkpoint | None
) -> WitnessStatus:
    shown = WitnessStatus(name=witness.name, en=witness.en, ru=witness.ru)
    state = session.get(WitnessState, witness.name)
    if state is not None:
        shown.cosigned_size, shown.cosigned_at = state.cosigned_size, state.cosigned_at
        shown.refusals, shown.last_refusal = state.refusals, state.last_refusal
        shown.last_refusal_at = state.last_refusal_at
        shown.last_error, shown.last_error_at = state.last_error, state.last_error_at
    shown.lag = max(0, (newest.tree_size if newest else 0) - shown.cosigned_size)
    return shown


def usual_inspectorate(session: Session, inspector: Account) -> str:
    """The inspectorate the inspector named last, or the regions' own by default."""
    last = session.scalar(
        select(AssayRecord.inspectorate)
        .where(AssayRecord.inspector_id == inspector.id)
        .order_by(AssayRecord.id.desc())
        .limit(1)
    )
    return last or INSPECTORATE


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None
