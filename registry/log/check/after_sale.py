"""The records of what happens after a sale, held to the log: shops, sales, owners.

The entries are replayed piece by piece (a sale recorded or cancelled, an owner's claim,
report, withdrawal, or a reset by the brand office) into what the rows must then hold,
and every shop, sale and ownership row is compared with it. Claim codes and owner keys
are in the entries as keyed commitments and in the rows as plain hashes, so they are not
compared; their times, sellers and reports are. Who scanned, and buyers' reports, are
not in the log at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.log import check, events, ledger
from registry.models import Maker, Ownership, Sale, Shop
from schemas.standards import EventType

_PIECE_EVENTS = {
    EventType.SALE_RECORDED,
    EventType.SALE_CANCELLED,
    EventType.OWNERSHIP_CLAIMED,
    EventType.OWNERSHIP_REPORTED,
    EventType.OWNERSHIP_WITHDRAWN,
    EventType.OWNER_KEY_RESET,
}


@dataclass
class _Piece:
    """A piece's sales and owners as its entries make them, in order."""

    last: int = 0
    sales: list[dict[str, Any]] = field(default_factory=list)
    owners: list[dict[str, Any]] = field(default_factory=list)

    def play(self, index: int, action: str, at: str | None, data: dict) -> None:
        self.last = index
        owner = self.owners[-1] if self.owners and not self.owners[-1]["ended"] else None
        if action == EventType.SALE_RECORDED:
            self.sales.append({"sold_at": at, "seller": data.get("seller"), "cancelled_at": None})
        elif action == EventType.SALE_CANCELLED:
            if self.sales:
                self.sales[-1]["cancelled_at"] = at
            if owner:
                owner["ended"] = True
        elif action == EventType.OWNERSHIP_CLAIMED:
            if owner:
                owner["ended"] = True
            self.owners.append({"since": at, "report": None, "reported_at": None, "ended": False})
        elif action == EventType.OWNERSHIP_REPORTED and owner:
            owner["report"], owner["reported_at"] = data.get("kind"), at
        elif action == EventType.OWNERSHIP_WITHDRAWN and owner:
            owner["report"], owner["reported_at"] = None, None
        elif action == EventType.OWNER_KEY_RESET and owner:
            owner["ended"] = True


@dataclass
class AfterSale:
    """What the log says of shops, sales and owners, gathered entry by entry."""

    shops: dict[str, tuple[int, dict]] = field(default_factory=dict)
    pieces: dict[int, _Piece] = field(default_factory=dict)

    def collect(self, index: int, entry: dict) -> None:
        action = entry.get("action")
        said = entry.get("data")
        data: dict = said if isinstance(said, dict) else {}
        if action == EventType.SHOP_ADMITTED and isinstance(data.get("shop"), str):
            self.shops[data["shop"]] = (index, data)
        elif action in _PIECE_EVENTS and isinstance(entry.get("piece"), int):
            piece = self.pieces.setdefault(entry["piece"], _Piece())
            piece.play(index, str(action), entry.get("at"), data)

    def compare(self, session: Session, head: int, report: check.Report) -> None:
        self._shops(session, head, report)
        self._sales(session, head, report)
        self._owners(session, head, report)

    def _shops(self, session: Session, head: int, report: check.Report) -> None:
        seen = set()
        for shop in session.scalars(select(Shop).order_by(Shop.id)):
            seen.add(shop.slug)
            logged = self.shops.get(shop.slug)
            if logged is None:
                report.add(
                    head,
                    check.Kind.UNLOGGED_RECORD,
                    f"shop {shop.slug!r} was never admitted in the log (added by hand)",
                )
            elif events.shop_admission(shop) != logged[1]:
                report.add(
                    logged[0],
                    check.Kind.RECORD_DIFFERS,
                    f"shop {shop.slug!r} is not the one the log admitted",
                )
        for slug, (index, _) in self.shops.items():
            if slug not in seen:
                report.add(index, check.Kind.MISSING_RECORD, f"shop {slug!r} is gone")

    def _sales(self, session: Session, head: int, report: check.Report) -> None:
        shops = dict(session.execute(select(Shop.id, Shop.slug)).all())
        makers = dict(session.execute(select(Maker.id, Maker.slug)).all())
        stored: dict[int, list[dict[str, Any]]] = {}
        for sale in session.scalars(select(Sale).order_by(Sale.id)):
            seller = (
                f"shop:{shops.get(sale.shop_id)}"
                if sale.shop_id is not None
                else f"maker:{makers.get(sale.maker_id or 0)}"
            )
            stored.setdefault(sale.piece_id, []).append(
                {
                    "sold_at": ledger.entry_time(sale.sold_at),
                    "seller": seller,
                    "cancelled_at": ledger.entry_time(sale.cancelled_at)
                    if sale.cancelled_at
                    else None,
                }
            )
        self._held(stored, "sales", "a sale", head, report)

    def _owners(self, session: Session, head: int, report: check.Report) -> None:
        stored: dict[int, list[dict[str, Any]]] = {}
        for owner in session.scalars(select(Ownership).order_by(Ownership.id)):
            stored.setdefault(owner.piece_id, []).append(
                {
                    "since": ledger.entry_time(owner.since),
                    "report": owner.report,
                    "reported_at": ledger.entry_time(owner.reported_at)
                    if owner.reported_at
                    else None,
                    "ended": owner.ended_at is not None,
                }
            )
        self._held(stored, "owners", "an owner", head, report)

    def _held(
        self,
        stored: dict[int, list[dict[str, Any]]],
        what: str,
        noun: str,
        head: int,
        report: check.Report,
    ) -> None:
        for piece_id in sorted(set(stored) | set(self.pieces)):
            logged = self.pieces.get(piece_id)
            said = getattr(logged, what) if logged else []
            rows = stored.get(piece_id, [])
            if rows == said:
                continue
            if not said:
                report.add(
                    head,
                    check.Kind.UNLOGGED_RECORD,
                    f"piece {piece_id} has {noun} the log never recorded (added by hand)",
                )
            elif len(rows) < len(said):
                report.add(
                    logged.last if logged else head,
                    check.Kind.MISSING_RECORD,
                    f"piece {piece_id}: {noun} the log records is gone",
                )
            else:
                report.add(
                    logged.last if logged else head,
                    check.Kind.RECORD_DIFFERS,
                    f"piece {piece_id}: its {what} are not what the log records",
                )
