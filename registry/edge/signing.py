"""The application's key ring, commitment key and issuer identity, built once per app
from its config."""

from flask import Flask, current_app

import keys
from keys.commitments import CommitmentKey
from registry.certificates import Inspectorate, Issuer
from registry.log import ledger, proofs


def init_app(app: Flask) -> None:
    passphrase = app.config.get("KEY_PASSPHRASE")
    ring = keys.KeyRing(
        app.config["KEYS_DIR"], passphrase=passphrase.encode() if passphrase else None
    )
    # First start only: an empty ring gets a development key. A ring whose active key was
    # marked compromised stays without one until an operator rotates (signing answers 503).
    new_registry = not ring.keys()
    if app.config["GENERATE_KEY_ON_START"] and new_registry:
        ring.ensure_active()
    app.extensions["registry.keyring"] = ring
    # Made on first start, beside the signing keys, like the session secret; every session
    # of the app commits to private values with it (needs registry.edge.database first).
    # Made with the first signing key, never later (keys.commitments.CommitmentKey).
    commitment_key = CommitmentKey.in_directory(app.config["KEYS_DIR"], create=new_registry)
    ledger.keep_private(app.extensions["registry.sessionmaker"], commitment_key)
    app.extensions["registry.proofs"] = proofs.Proofs(commitment_key)
    app.extensions["registry.issuer"] = Issuer(
        name=app.config["ISSUER_NAME"],
        url=app.config["PUBLIC_BASE_URL"],
        brand=app.config["BRAND"],
        inspectorates=inspectorates(app.config["INSPECTORATES"]),
    )


def inspectorates(configured: object) -> tuple[Inspectorate, ...]:
    """REGISTRY_INSPECTORATES, checked at start: a name missing in either language would
    put English on Russian pages, or the reverse."""
    entries = list(configured) if isinstance(configured, list | tuple) else []
    found = tuple(
        Inspectorate(ru=entry["ru"].strip(), en=entry["en"].strip())
        for entry in entries
        if isinstance(entry, dict)
        and all(isinstance(entry.get(k), str) and entry[k].strip() for k in ("ru", "en"))
    )
    if not found or len(found) != len(entries):
        raise ValueError(
            'REGISTRY_INSPECTORATES must be a JSON list of {"ru": name, "en": name}, '
            "at least one, each name given in both languages"
        )
    return found


def keyring() -> keys.KeyRing:
    return current_app.extensions["registry.keyring"]


def seals() -> proofs.Proofs:
    """The registry's keys for proving its own rows (registry/log/proofs.py)."""
    return current_app.extensions["registry.proofs"]


def issuer() -> Issuer:
    return current_app.extensions["registry.issuer"]
