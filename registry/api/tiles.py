"""The log as C2SP tlog-tiles, at `<origin>`'s prefix /log: its checkpoint, hash tiles and
entry bundles, static and immutable, so that a CDN or a static bucket can serve the whole
log and a monitor reads a million entries in minutes (registry/log/tiles.py)."""

from flask import Response
from flask_smorest import Blueprint

from registry.edge import database, http_cache, limits
from registry.errors import NotFound
from registry.log import checkpoints, public, tiles

bp = Blueprint("tiles", __name__, url_prefix="/log", description="The log as tlog-tiles")

#: A tile never changes: a year, and `immutable`.
_FOR_EVER = 365 * 24 * 3600
#: The newest checkpoint changes with every write.
_LATEST = 5
_BINARY = {"type": "string", "format": "binary"}


@bp.get("/checkpoint")
@bp.response(200, {"type": "string"}, content_type="text/plain")
@bp.alt_response(404, response="NOT_FOUND")
@limits.public
def checkpoint():
    """The newest signed checkpoint (a C2SP tlog-checkpoint note)."""
    found = public.checkpoint(database.session())
    response = Response(checkpoints.served(found), content_type="text/plain; charset=utf-8")
    return http_cache.public(response, max_age=_LATEST)


@bp.get("/tile/<level>/<path:rest>")
@bp.response(200, _BINARY, content_type="application/octet-stream")
@bp.alt_response(404, response="NOT_FOUND")
@limits.public
def tile(level, rest):
    """A hash tile: `<L>/<N>[.p/<W>]`, N in 3-digit elements (`x001/234`); 256 hashes (or
    W, for a partial tile) at level L of the newest signed tree."""
    found = _parsed(level, rest)
    data = tiles.hashes(database.session(), found, _signed_size())
    return _immutable(data)


@bp.get("/tile/entries/<path:rest>")
@bp.response(200, _BINARY, content_type="application/octet-stream")
@bp.alt_response(404, response="NOT_FOUND")
@limits.public
def entries(rest):
    """An entry bundle: `<N>[.p/<W>]`, the entries of level-0 tile N, each after its
    length as a big-endian uint16."""
    found = _parsed(None, rest)
    data = tiles.bundle(database.session(), found, _signed_size())
    return _immutable(data)


def _parsed(level: str | None, rest: str) -> tiles.Tile:
    try:
        return tiles.parse(level, rest)
    except ValueError as exc:
        raise NotFound(f"No tile has this address: {exc}.") from exc


def _signed_size() -> int:
    return public.checkpoint(database.session()).tree_size


def _immutable(data: bytes) -> Response:
    response = Response(data, content_type="application/octet-stream")
    return http_cache.public(response, max_age=_FOR_EVER, immutable=True)
