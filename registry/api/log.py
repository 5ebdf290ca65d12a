"""The transparency log, public: checkpoints, entries, and the proofs that anyone can
check against a checkpoint with RFC 9162's algorithms alone."""

import json

from flask import Response, current_app, request
from flask_smorest import Blueprint

import keys
from registry.api.common import guarded
from registry.edge import database, http_cache, limits, log_signer, signing
from registry.log import checkpoints, ledger, public, tree
from registry.log.public import b64
from registry.models import Checkpoint
from schemas.log import (
    CheckpointArgs,
    CheckpointOut,
    ConsistencyArgs,
    ConsistencyOut,
    EntriesArgs,
    EntriesOut,
    InclusionArgs,
    InclusionOut,
)
from schemas.standards import Role

bp = Blueprint("log", __name__, url_prefix="/api/v1/log", description="Transparency log")

# What a proof says of given trees never changes: cache it for a day.
_IMMUTABLE = 24 * 3600
# The newest checkpoint changes with every write: a few seconds spare the server.
_LATEST = 5
_CHECKPOINT = CheckpointOut()


def _public(args_schema):
    """Query arguments (400 when they do not parse) and the public answers' documentation."""

    def decorator(view):
        view = bp.arguments(args_schema, location="query", error_status_code=400)(view)
        view = bp.alt_response(400, response="BAD_REQUEST")(view)
        view = bp.alt_response(404, response="NOT_FOUND")(view)
        view = bp.alt_response(429, response="TOO_MANY_REQUESTS")(view)
        return limits.public(view)

    return decorator


@bp.get("/checkpoint")
@_public(CheckpointArgs)
@bp.response(200, CheckpointOut)
@bp.alt_response(
    200,
    success=True,
    content_type="text/plain",
    schema={"type": "string"},
    description="With Accept: text/plain, the signed note alone",
)
def checkpoint(args):
    """The newest signed checkpoint (or the newest of a tree no larger than `tree_size`).

    The note is a C2SP tlog-checkpoint; verify it with `verifier_key`, or with the key
    `kid` of /.well-known/jwks.json.
    """
    found = public.checkpoint(database.session(), at_most=args.get("tree_size"))
    if request.accept_mimetypes.best_match(["application/json", "text/plain"]) == "text/plain":
        response = Response(checkpoints.served(found), mimetype="text/plain")
    else:
        document = _CHECKPOINT.dump(_checkpoint(found))
        response = Response(json.dumps(document), mimetype="application/json")
    # Fixed once a larger tree exists: no later checkpoint can be of N entries or fewer.
    fixed = "tree_size" in args and args["tree_size"] < tree.size(database.session())
    max_age = _IMMUTABLE if fixed else _LATEST
    response.vary.add("Accept")
    return http_cache.public(response, max_age=max_age)


@bp.post("/checkpoint")
@guarded(bp, Role.INSPECTOR, Role.ADMIN)
@bp.response(201, CheckpointOut)
@bp.alt_response(503, response="SERVICE_UNAVAILABLE")
def make_checkpoint():
    """Sign a checkpoint of the log as it stands now (an inspector or the brand office)."""
    session = database.session()
    made = checkpoints.make(session, log_signer.signer())
    session.commit()
    return _checkpoint(made)


def _checkpoint(found: Checkpoint) -> dict:
    origin = found.note.split("\n", 1)[0]
    try:
        vkey = checkpoints.verifier_key(origin, signing.keyring().get(found.kid))
    except keys.UnknownKey:
        vkey = None  # a key no longer in the ring: the note cannot be checked with ours
    return {
        "origin": origin,
        "tree_size": found.tree_size,
        "root_hash": b64(found.root_hash),
        "timestamp": found.made_at,
        "kid": found.kid,
        "verifier_key": vkey,
        "note": checkpoints.served(found),
        "cosignatures": [
            {"witness": c.witness, "signed_at": c.signed_at}
            for c in checkpoints.cosignatures(database.session(), found)
        ],
        "witnessed": bool(log_signer.witnesses()) and found.cosignatures >= log_signer.quorum(),
    }


@bp.get("/entries")
@_public(EntriesArgs)
@bp.response(200, EntriesOut)
def entries(args):
    """Entries from `start`, in order, each the event whose RFC 8785 form is its leaf."""
    page_max = current_app.config["LOG_PAGE_MAX"]
    limit = min(args.get("limit", 100), page_max)
    size, found = public.entries(database.session(), args["start"], limit)
    # The stored bytes are placed in the answer as they are: they are what is hashed.
    parts = [b'{"index":%d,"entry":%s}' % (i, ledger.as_json(entry)) for i, entry in found]
    body = b'{"tree_size":%d,"entries":[%s]}' % (size, b",".join(parts))
    # The entries never change, but the log's size in the answer does.
    response = Response(body, mimetype="application/json")
    return http_cache.public(response, max_age=_LATEST)


@bp.get("/proof/inclusion")
@_public(InclusionArgs)
@bp.response(200, InclusionOut)
def inclusion(args):
    """The audit path of entry `index` in the tree of `tree_size` entries (RFC 9162
    section 2.1.3)."""
    proof = public.inclusion(
        database.session(), database.engine(), args["index"], args.get("tree_size")
    )
    body = {
        "index": proof.index,
        "tree_size": proof.tree_size,
        "leaf_hash": b64(proof.leaf_hash),
        "root_hash": b64(proof.root_hash),
        "proof": [b64(h) for h in proof.proof or ()],  # public.inclusion always proves
    }
    return _immutable(body, "tree_size" in args)


@bp.get("/proof/consistency")
@_public(ConsistencyArgs)
@bp.response(200, ConsistencyOut)
def consistency(args):
    """The proof that the tree of `first` entries is a prefix of the tree of `second`
    (RFC 9162 section 2.1.4)."""
    proof = public.consistency(database.engine(), args["first"], args["second"])
    body = {
        "first": proof.first,
        "second": proof.second,
        "first_root": b64(proof.first_root),
        "second_root": b64(proof.second_root),
        "proof": [b64(h) for h in proof.proof],
    }
    return _immutable(body, True)


def _immutable(body: dict, fixed: bool) -> Response:
    response = Response(json.dumps(body), mimetype="application/json")
    return http_cache.public(response, max_age=_IMMUTABLE if fixed else _LATEST)
