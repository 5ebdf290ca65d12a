"""The brand's shops: the public directory of where its pieces are sold, and admission
by the brand office."""

import json

from flask import Response, current_app, g
from flask_smorest import Blueprint

from registry import shops
from registry.api.common import guarded, json_body
from registry.edge import database, http_cache, limits
from schemas.shops import ShopIn, ShopList, ShopListArgs, ShopOut
from schemas.standards import Role

bp = Blueprint("shops", __name__, url_prefix="/api/v1", description="The brand's shops")

_LIST = ShopList()


@bp.get("/shops")
@limits.public
@bp.arguments(ShopListArgs, location="query", error_status_code=400)
@bp.response(200, ShopList)
@bp.alt_response(304, response="NOT_MODIFIED")
@bp.alt_response(400, response="BAD_REQUEST")
@bp.alt_response(429, response="TOO_MANY_REQUESTS")
def directory(args):
    """Where the brand's pieces are sold: its shops, optionally of one region."""
    found = shops.directory(database.session(), region=args.get("region"))
    document = _LIST.dump({"items": [shops.described(shop) for shop in found]})
    response = Response(json.dumps(document, ensure_ascii=False), mimetype="application/json")
    return http_cache.public(response, max_age=current_app.config["VERDICT_MAX_AGE"])


@bp.post("/shops")
@guarded(bp, Role.ADMIN)
@json_body(bp, ShopIn)
@bp.response(201, ShopOut)
@bp.alt_response(404, response="NOT_FOUND")
@bp.alt_response(409, response="CONFLICT")
def admit(data):
    """Admit a shop (the Jewellery Centre, a maker's own shop, an authorised retailer)."""
    shop = shops.admit(database.session(), data, actor=g.actor)
    database.session().commit()
    return shops.described(shop)
