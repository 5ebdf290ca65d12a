"""The log as C2SP tlog-tiles: hash tiles, entry bundles, and their paths.

A tile is 256 consecutive hashes at one level of tiles: level L holds the perfect nodes
of height 8·L (registry/log/tree.py stores every perfect node, so a tile is one ranged
read). An entry bundle holds the entries of a level-0 tile, each prefixed with its
length as a big-endian uint16. Only what the newest signed checkpoint covers is served:
a full tile never changes, and a partial one (width 1 to 255) names its width, so every
answer can be cached for ever and served by a CDN or a static bucket.
"""

import re
import struct
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.errors import NotFound, Unavailable
from registry.log import ledger
from registry.models import Event, LogNode

#: Hashes in a full tile, entries in a full bundle.
WIDTH = 256
#: Levels of perfect nodes a tile spans.
HEIGHT = 8
_ELEMENT = re.compile(r"x\d{3}\Z")
_LAST = re.compile(r"\d{3}\Z")
_TILE_WIDTH = re.compile(r"[1-9]\d{0,2}\Z")
_LEVEL = re.compile(r"(?:0|[1-9]\d?)\Z")


@dataclass(frozen=True)
class Tile:
    """A tile (or, with level None, an entry bundle) by its place: its index within its
    level, and its width (WIDTH for a full one)."""

    level: int | None
    index: int
    width: int

    @property
    def partial(self) -> bool:
        return self.width < WIDTH


def path(index: int) -> str:
    """A tile's index as its path: 1234067 as x001/x234/067, 5 as 005."""
    digits = str(index)
    digits = digits.zfill(-(-len(digits) // 3) * 3)
    groups = [digits[k : k + 3] for k in range(0, len(digits), 3)]
    return "/".join([*(f"x{g}" for g in groups[:-1]), groups[-1]])


def parse(level: str | None, rest: str) -> Tile:
    """The tile that `<level>/<rest>` names (`rest` as `x001/234[.p/<W>]`), or with level
    None the entry bundle. Raises ValueError for any other spelling: the paths are
    canonical, so that one tile has one address (and one cache entry)."""
    number = None
    if level is not None:
        if not _LEVEL.match(level) or int(level) > 63:
            raise ValueError("a level is a number from 0 to 63")
        number = int(level)
    width = WIDTH
    if ".p/" in rest:
        rest, given = rest.split(".p/", 1)
        if not _TILE_WIDTH.match(given) or int(given) >= WIDTH:
            raise ValueError("a partial tile's width is a number from 1 to 255")
        width = int(given)
    elements = rest.split("/")
    if not all(_ELEMENT.match(e) for e in elements[:-1]) or not _LAST.match(elements[-1]):
        raise ValueError("an index is written in 3-digit elements, all but the last x-prefixed")
    digits = "".join(e.lstrip("x") for e in elements)
    index = int(digits)
    if path(index) != rest:  # leading zero elements: 000/x001 is not 1
        raise ValueError("an index is written without leading zero elements")
    return Tile(number, index, width)


def hashes(session: Session, tile: Tile, signed_size: int) -> bytes:
    """The tile's hashes, concatenated. Raises NotFound for a tile the signed tree of
    `signed_size` entries does not hold whole."""
    assert tile.level is not None  # noqa: S101 - a hash tile, not a bundle
    first = tile.index * WIDTH
    _held(tile, first, signed_size // WIDTH**tile.level)
    rows = session.execute(
        select(LogNode.index, LogNode.hash)
        .where(
            LogNode.level == tile.level * HEIGHT,
            LogNode.index >= first,
            LogNode.index < first + tile.width,
        )
        .order_by(LogNode.index)
    ).all()
    # By position: a row's `index` would be the tuple's method.
    if [row[0] for row in rows] != list(range(first, first + tile.width)):
        raise Unavailable(
            f"The log's tree is missing nodes of tile {tile.level}/{path(tile.index)}; "
            "run `registry log verify`."
        )
    return b"".join(row[1] for row in rows)


def bundle(session: Session, tile: Tile, signed_size: int) -> bytes:
    """The entries of a level-0 tile, each after its length (big-endian uint16). Raises
    NotFound for entries the signed tree of `signed_size` entries does not hold."""
    first = tile.index * WIDTH
    _held(tile, first, signed_size)
    rows = session.execute(
        select(Event.log_index, Event.entry)
        .where(Event.log_index >= first, Event.log_index < first + tile.width)
        .order_by(Event.log_index)
    ).all()
    if [row.log_index for row in rows] != list(range(first, first + tile.width)):
        raise Unavailable(
            f"The log is missing entries of bundle {path(tile.index)}; run `registry log verify`."
        )
    out = bytearray()
    for row in rows:
        entry = ledger.stored_bytes(row.entry)
        if len(entry) >= 1 << 16:
            raise Unavailable(f"Entry {row.log_index} is too long for an entry bundle.")
        out += struct.pack(">H", len(entry)) + entry
    return bytes(out)


def _held(tile: Tile, first: int, units: int) -> None:
    """Raises NotFound unless the `units` (hashes or entries) at the tile's level that the
    signed tree holds reach the tile's end. A partial tile of a smaller signed tree stays
    served: what it holds never changes."""
    if first + tile.width > units:
        raise NotFound("The signed log holds no such tile.")
