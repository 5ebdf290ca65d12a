"""The signer of the log's checkpoints, built once per app from its config.

The log itself (registry.log.checkpoints) takes its signer as an argument; this is where
an app makes it, from the key ring and the LOG_* settings, and sets it to watch the app's
sessions so that a write leaving enough entries unsigned is covered before it commits.
"""

import os
from pathlib import Path

from flask import Flask, current_app

from keys import note
from registry.log import checkpoints

_KEY = "registry.log_signer"


def init_app(app: Flask) -> None:
    """Needs the key ring (registry.edge.signing) and the sessions (registry.edge.database)."""
    origin = app.config["LOG_ORIGIN"]
    try:
        note.body(origin, 0, bytes(32))
    except ValueError as exc:
        raise RuntimeError(f"REGISTRY_LOG_ORIGIN {origin!r}: {exc}") from None
    state = app.config["LOG_SIGNED_STATE"] or os.path.join(
        app.config["KEYS_DIR"], "log-checkpoint.txt"
    )
    signer = checkpoints.Signer(
        ring=app.extensions["registry.keyring"],
        origin=origin,
        every=app.config["LOG_CHECKPOINT_ENTRIES"],
        state=Path(state),
    )
    app.extensions[_KEY] = signer
    checkpoints.watch(app.extensions["registry.sessionmaker"], signer)


def signer() -> checkpoints.Signer:
    """The current app's signer of checkpoints."""
    return current_app.extensions[_KEY]
