"""Private values in the public log (e-mail addresses, state UINs, inspectors' notes) are
keyed commitments: HMAC-SHA256 with a key kept in the keys directory, so a reader of the
log cannot confirm a guess, while whoever holds the keys directory can still check."""

import hashlib
import json
import shutil
import stat

from sqlalchemy import select

from keys.commitments import FILE_NAME
from registry import accounts, create_app
from registry.edge import database
from registry.log import ledger
from registry.models import Event
from tests.factories import assay_data, bearer, piece_data

EMAIL = "jeweller@abakan.example"
UIN = "6431000012345678"
NOTES = "Stamped on the inner side of the shank"


def _app(database_url: str, keys_dir) -> object:
    return create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "KEYS_DIR": str(keys_dir),
            "PUBLIC_BASE_URL": "https://registry.test",
        }
    )


def _logged_account(app, email: str) -> str:
    """What the log of `app` names the new account `email` by."""
    with app.app_context():
        session = database.session()
        accounts.create(session, {"email": email, "role": "inspector"}, actor=None)
        session.commit()
        entry = session.scalar(
            select(Event.entry).where(Event.action == "account:created").order_by(Event.id.desc())
        )
    return json.loads(entry)["data"]["account"]


def test_two_registries_with_different_keys_commit_differently_to_one_e_mail(
    app, tmp_path, sqlite_template
):
    copy = tmp_path / "second.sqlite3"
    shutil.copy(sqlite_template, copy)
    second = _app(f"sqlite:///{copy}", tmp_path / "other-keys")
    try:
        here, there = _logged_account(app, EMAIL), _logged_account(second, EMAIL)
    finally:
        second.extensions["registry.engine"].dispose()

    assert here.startswith("hmac-sha256:") and there.startswith("hmac-sha256:")
    assert here != there


def test_a_guessed_value_s_plain_sha_256_matches_no_entry(app, client, world):
    admin, maker, inspector = bearer(world.admin), bearer(world.maker), bearer(world.inspector)
    created = client.post(
        "/api/v1/accounts", json={"email": EMAIL, "role": "inspector"}, headers=admin
    )
    assert created.status_code == 201, created.json
    piece = client.post("/api/v1/pieces", json=piece_data(uin=UIN), headers=maker)
    assert piece.status_code == 201, piece.json
    attested = client.post(
        f"/api/v1/pieces/{piece.json['id']}/assay",
        json=assay_data(notes=NOTES),
        headers=inspector,
    )
    assert attested.status_code == 201, attested.json

    with app.app_context():
        log = b"\n".join(database.session().scalars(select(Event.entry)))
    for guess in (EMAIL, UIN, NOTES):
        assert hashlib.sha256(guess.encode()).hexdigest().encode() not in log, guess
        assert guess.encode() not in log, guess
    # Whoever holds the keys directory can still check a value.
    with app.app_context():
        assert ledger.commitment(database.session(), EMAIL).encode() in log


def test_the_key_is_made_once_beside_the_signing_keys_readable_by_its_owner_only(
    app, database_url, tmp_path
):
    path = tmp_path / "keys" / FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    first = _logged_account(app, EMAIL)
    key = path.read_bytes()
    restarted = _app(database_url, tmp_path / "keys")
    try:
        with restarted.app_context():
            session = database.session()
            again = ledger.commitment(session, EMAIL)
            shown = repr(session.info)
    finally:
        restarted.extensions["registry.engine"].dispose()
    assert path.read_bytes() == key
    assert again == first
    assert key.strip().decode() not in shown  # a session's info never shows the key
