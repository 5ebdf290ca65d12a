"""The JSON API (v1) and its OpenAPI document, generated from the marshmallow schemas."""

import http
from typing import Any

import flask_smorest
from flask import Flask
from flask_smorest.utils import prepare_response

from registry.edge import direct, problems
from schemas.problem import ProblemSchema


class Api(flask_smorest.Api):
    """flask-smorest, speaking RFC 9457 for every error it documents and returns."""

    ERROR_SCHEMA = ProblemSchema

    def _register_error_handlers(self):
        # registry.edge.problems registers the handlers, for the whole app.
        pass

    def _register_responses(self):
        for status in http.HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if status >= 400:
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, problems.PROBLEM_JSON)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Problem details (RFC 9457)", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, problems.PROBLEM_JSON)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)


def init_app(app: Flask) -> Api:
    from registry.api import (
        accounts,
        audit,
        certificates,
        common,
        log,
        makers,
        ownership,
        photos,
        pieces,
        qr,
        reports,
        sales,
        shops,
        tiles,
        verification,
        wellknown,
    )

    # Before the blueprints: their rules look the converter up when they are added.
    app.url_map.converters["id"] = common.RowId
    from registry.api import parsing

    parsing.init_app()
    api = Api(
        app,
        spec_kwargs={
            "info": {
                "description": "Certificates of Yenisey Siberia jewellery: register pieces, "
                "attest assays, verify signed certificates."
            }
        },
    )
    api.spec.components.security_scheme(
        "bearer", {"type": "http", "scheme": "bearer", "description": "An API token: ysr_…"}
    )
    for module in (
        makers,
        shops,
        accounts,
        pieces,
        photos,
        certificates,
        qr,
        sales,
        verification,
        ownership,
        reports,
        log,
        tiles,
        audit,
        wellknown,
    ):
        api.register_blueprint(module.bp)
    direct.route(app, "/api/v1/verify/", verification.verify_direct)
    return api
