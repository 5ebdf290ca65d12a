"""The Yenisey Siberia jewellery registry: a Flask application built by `create_app`."""

import logging
from typing import TYPE_CHECKING

from registry import config

if TYPE_CHECKING:
    from flask import Flask


def create_app(test_config: dict | None = None) -> "Flask":
    """Build the application: configuration, the edge (database, keys, errors, limits,
    headers, languages), then the API and the pages.

    Settings come from `REGISTRY_*` environment variables, or from `test_config` alone
    (over the defaults) when one is given.
    """
    # Imported here, not above: a service module (registry.pieces, registry.log…) loads
    # this package first, and must not bring Flask in with it.
    from flask import Flask

    app = Flask(__name__, instance_relative_config=True)
    app.config.from_object(config.Defaults)
    if test_config is None:
        config.load_environment(app.config)
    else:
        app.config.update(test_config)
    config.resolve(app.config, app.instance_path)
    logging.getLogger("registry").setLevel(app.config["LOG_LEVEL"])

    from registry import api, edge, web

    edge.init_app(app, inline_css=web.stylesheets(), inline_js=web.scripts())
    api.init_app(app)
    web.init_app(app)
    return app
