"""The signer of the log's checkpoints, built once per app from its config.

The log itself (registry.log.checkpoints) takes its signer as an argument; this is where
an app makes it, from the key ring and the LOG_* settings, and sets it to watch the app's
sessions so that a write leaving enough entries unsigned is covered before it commits.

It signs under the origin the first `registry init` kept beside the keys, whatever the
settings say now: a server and the commands started at other addresses sign one log.
"""

import logging
import os
from pathlib import Path

from flask import Flask, current_app
from sqlalchemy.orm import Session

from keys import note
from registry import config
from registry.log import checkpoints, witnessing

log = logging.getLogger(__name__)

_KEY = "registry.log_signer"
_WITNESSES = "registry.witnesses"


def init_app(app: Flask) -> None:
    """Needs the key ring (registry.edge.signing) and the sessions (registry.edge.database)."""
    wanted, asked = config.log_origin(app.config)
    state = app.config["LOG_SIGNED_STATE"] or os.path.join(
        app.config["KEYS_DIR"], "log-checkpoint.txt"
    )
    signer = checkpoints.Signer(
        ring=app.extensions["registry.keyring"],
        origin=wanted,
        every=app.config["LOG_CHECKPOINT_ENTRIES"],
        state=Path(state),
    )
    path = _origin_path(app)
    try:
        kept = checkpoints.kept_origin(path, signer)
    except (OSError, ValueError) as exc:
        raise RuntimeError(f"the log's origin cannot be read from {path}: {exc}") from None
    if kept is None:  # not initialised yet: `registry init` keeps this one
        try:
            note.body(wanted, 0, bytes(32))
        except ValueError as exc:
            raise RuntimeError(f"{asked or 'REGISTRY_LOG_ORIGIN'} {wanted!r}: {exc}") from None
    else:
        signer.origin = kept
        if asked and wanted != kept:
            _warn_ignored(app, asked, wanted, kept, path)
    app.extensions[_KEY] = signer
    checkpoints.watch(app.extensions["registry.sessionmaker"], signer)
    found = witnessing.configured(app.config["WITNESSES"])
    app.extensions[_WITNESSES] = (found, witnessing.quorum(app.config["WITNESS_QUORUM"], found))


def signer() -> checkpoints.Signer:
    """The current app's signer of checkpoints."""
    return current_app.extensions[_KEY]


def witnesses() -> tuple[witnessing.Witness, ...]:
    """The witnesses configured (REGISTRY_WITNESSES)."""
    return current_app.extensions[_WITNESSES][0]


def quorum() -> int:
    """Cosignatures that make a checkpoint witnessed (REGISTRY_WITNESS_QUORUM)."""
    return current_app.extensions[_WITNESSES][1]


def signed_size() -> int:
    """The size of the last checkpoint the signer remembers signing (0 for none): a
    database with a smaller log was rolled back. Raises Unavailable when the memory
    cannot be read."""
    last = signer().last_signed()
    return last.size if last is not None else 0


def keep_origin(session: Session) -> str:
    """Fix the log's origin for good, for `registry init` (checkpoints.keep_origin): the
    one kept already, or else the one the settings give."""
    wanted, _ = config.log_origin(current_app.config)
    return checkpoints.keep_origin(session, signer(), _origin_path(current_app), wanted)


def _origin_path(app: Flask) -> Path:
    return Path(app.config["KEYS_DIR"]) / checkpoints.ORIGIN_FILE


def _warn_ignored(app: Flask, asked: str, wanted: str, kept: str, path: Path) -> None:
    setting = (
        f"REGISTRY_LOG_ORIGIN {wanted!r}"
        if asked == "REGISTRY_LOG_ORIGIN"
        else f"REGISTRY_PUBLIC_BASE_URL {app.config['PUBLIC_BASE_URL']!r} (log origin {wanted!r})"
    )
    log.warning(
        "%s is ignored: this registry's log is %r, fixed by its first `registry init` and "
        "kept in %s, and checkpoints are signed under it. A log's origin never changes; "
        "to sign under another, start a new log (a new database and keys directory, then "
        "`registry init` with REGISTRY_LOG_ORIGIN set).",
        setting,
        kept,
        path,
    )
