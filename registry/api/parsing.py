"""How the API reads JSON request bodies: webargs' `json` location, made strict.

webargs reads a body of another media type as no body at all, so a client that sends
JSON as text/plain, or a form, would be told that every required field is missing; and
a document nested deeper than Python's parser goes would escape as a RecursionError, a
500. Here the first is a 415 and the second a 400 "Malformed JSON", like any other body
that does not parse.
"""

import json
from typing import Any

from flask import Request
from flask_smorest import Blueprint
from marshmallow import Schema
from webargs import core
from webargs.flaskparser import abort, is_json_request


def load_json(request: Request, schema: Schema) -> Any:
    """The request's JSON document, or `missing` when there is no body."""
    body = request.get_data(cache=True)
    if not is_json_request(request):
        if body:
            abort(415)
        return core.missing
    try:
        return core.parse_json(body)
    except json.JSONDecodeError as exc:
        if exc.doc == "":
            return core.missing
        abort(400, exc=exc, messages={"json": ["Invalid JSON body."]})
    except (ValueError, RecursionError) as exc:
        # ValueError: an integer longer than Python converts (sys.get_int_max_str_digits);
        # RecursionError: nesting deeper than the parser goes.
        abort(400, exc=exc, messages={"json": ["Invalid JSON body."]})


def init_app() -> None:
    """Make flask-smorest's argument parser read JSON bodies with `load_json`.

    The loader is looked up when a request is parsed, so this works for blueprints
    already defined. Set on the parser instance, so webargs' own class is left alone.
    """
    parser = Blueprint.ARGUMENTS_PARSER
    parser.__location_map__ = {**parser.__location_map__, "json": load_json}
