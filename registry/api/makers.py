"""The brand's makers: the public directory, and admission, changes and suspension by
the brand office."""

from flask import g
from flask_smorest import Blueprint

from registry import makers
from registry.api.common import guarded, json_body
from registry.edge import database
from schemas.makers import (
    MakerDetailsIn,
    MakerIn,
    MakerList,
    MakerListArgs,
    MakerOut,
    SuspendIn,
)
from schemas.standards import Role

bp = Blueprint("makers", __name__, url_prefix="/api/v1", description="The brand's makers")


@bp.get("/makers")
@bp.arguments(MakerListArgs, location="query", error_status_code=400)
@bp.response(200, MakerList)
def directory(args):
    """The brand's makers, optionally of one region."""
    return {"items": makers.directory(database.session(), region=args.get("region"), public=True)}


@bp.get("/makers/<slug>")
@bp.response(200, MakerOut)
@bp.alt_response(404, response="NOT_FOUND")
def show(slug):
    """One maker of the brand."""
    return makers.get(database.session(), slug, public=True)


@bp.post("/makers")
@guarded(bp, Role.ADMIN)
@json_body(bp, MakerIn)
@bp.response(201, MakerOut)
@bp.alt_response(409, response="CONFLICT")
def admit(data):
    """Admit a maker of Krasnoyarsk Krai, Khakassia or Tuva to the brand."""
    maker = makers.admit(database.session(), data, actor=g.actor)
    database.session().commit()
    return maker


@bp.patch("/makers/<slug>")
@guarded(bp, Role.ADMIN)
@json_body(bp, MakerDetailsIn)
@bp.response(200, MakerOut)
@bp.alt_response(404, response="NOT_FOUND")
def change(data, slug):
    """Change a maker's names, city or showcase contacts (null removes a contact)."""
    maker = makers.get(database.session(), slug)
    makers.update(database.session(), maker, data, actor=g.actor)
    database.session().commit()
    return maker


@bp.post("/makers/<slug>/suspend")
@guarded(bp, Role.ADMIN)
@json_body(bp, SuspendIn)
@bp.response(200, MakerOut)
@bp.alt_response(404, response="NOT_FOUND")
@bp.alt_response(409, response="CONFLICT")
def suspend(data, slug):
    """Suspend a maker: none of their pieces is registered or sold, and the showcase hides
    them, until reinstated. Their certificates keep their verdicts."""
    maker = makers.get(database.session(), slug)
    makers.suspend(database.session(), maker, data["reason"], actor=g.actor)
    database.session().commit()
    return maker


@bp.post("/makers/<slug>/reinstate")
@guarded(bp, Role.ADMIN)
@bp.response(200, MakerOut)
@bp.alt_response(404, response="NOT_FOUND")
@bp.alt_response(409, response="CONFLICT")
def reinstate(slug):
    """End a maker's suspension."""
    maker = makers.get(database.session(), slug)
    makers.reinstate(database.session(), maker, actor=g.actor)
    database.session().commit()
    return maker
