"""Limits on failed sign-ins that a stranger cannot turn against the owner, counted in
the database so that they hold across workers and machines."""

from datetime import timedelta

import pytest

from registry import accounts, create_app
from registry.edge import database
from registry.models import utcnow
from tests.factories import PASSWORD, csrf_token, with_passwords

OWNER = "admin@test.example"
STRANGER = "203.0.113.66"


@pytest.fixture
def people(app, world):
    with app.app_context():
        with_passwords(database.session(), OWNER, "maker@test.example")
    return world


def _try(client, password: str, *, address: str = "127.0.0.1", email: str = OWNER):
    environ = {"REMOTE_ADDR": address}
    token = csrf_token(client, "/login", environ_base=environ)
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token},
        environ_base=environ,
    )


def test_a_strangers_wrong_passwords_do_not_lock_the_owner_out(app, client, people):
    """22 wrong passwords from elsewhere once blocked the brand office's own sign-in."""
    stranger = app.test_client()
    for _ in range(22):
        assert _try(stranger, "guess-guess", address=STRANGER).status_code in (422, 429)
    owner = _try(client, PASSWORD)
    assert owner.status_code == 302
    assert owner.headers["Location"] == "/admin/makers"


def test_the_stranger_is_stopped_per_account_and_client(app, client, people):
    stranger = app.test_client()
    for _ in range(10):
        assert _try(stranger, "guess-guess", address=STRANGER).status_code == 422
    refused = _try(stranger, PASSWORD, address=STRANGER)  # even the right one, now
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    assert "Too many failed sign-ins" in refused.get_data(as_text=True)
    # The owner, from their own client, is let in meanwhile; the stranger is still not.
    assert _try(client, PASSWORD).status_code == 302
    assert _try(stranger, PASSWORD, address=STRANGER).status_code == 429
    # The same client may still sign in to another account.
    assert _try(stranger, PASSWORD, address=STRANGER, email="maker@test.example").status_code == 302


def test_failures_are_counted_across_workers(app, database_url, tmp_path, people):
    """Two app instances on one database stand for two gunicorn workers (or machines):
    each sees the other's failures, so 10 is 10, not 10 per worker."""
    other = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "KEYS_DIR": str(tmp_path / "keys"),
            "BABEL_DEFAULT_LOCALE": "en",
        }
    )
    try:
        first, second = app.test_client(), other.test_client()
        for n in range(10):
            worker = first if n % 2 else second
            assert _try(worker, "guess-guess", address=STRANGER).status_code == 422
        assert _try(first, PASSWORD, address=STRANGER).status_code == 429
        assert _try(second, PASSWORD, address=STRANGER).status_code == 429
    finally:
        other.extensions["registry.engine"].dispose()


def test_a_delay_grows_with_the_accounts_failures(app, people):
    """Guesses spread over many addresses: each that failed waits longer and longer
    after its own failure; an address that has not failed is not held up."""
    rules = accounts.SignInLimits(
        account_client=(10, 900),
        client=(40, 900),
        account=(200, 3600),
        delay_after=3,
        delay_max=600,
    )
    now = utcnow()
    with app.app_context():
        session = database.session()
        waits = []
        for n in range(8):
            address = f"198.51.100.{n}"
            accounts.sign_in_failed(session, OWNER, address, rules, now=now)
            session.commit()
            waits.append(accounts.sign_in_wait(session, OWNER, address, rules, now=now))
        assert waits[:2] == [None, None]
        assert waits[2:] == [2, 4, 8, 16, 32, 64]
        assert accounts.sign_in_wait(session, OWNER, "198.51.100.200", rules, now=now) is None
        # Capped, and over once waited.
        for n in range(20):
            accounts.sign_in_failed(session, OWNER, f"192.0.2.{n}", rules, now=now)
        session.commit()
        assert accounts.sign_in_wait(session, OWNER, "192.0.2.1", rules, now=now) == 600
        later = now + timedelta(seconds=601)
        assert accounts.sign_in_wait(session, OWNER, "192.0.2.1", rules, now=later) is None


def test_the_cap_per_account_spares_clients_the_owner_signed_in_from(app, client, people):
    app.config["LOGIN_RATE_LIMIT_ACCOUNT"] = "30 per hour"
    assert _try(client, PASSWORD).status_code == 302  # the owner's own computer, earlier
    stranger = app.test_client()
    for n in range(30):  # spread thin: one guess per address
        assert _try(stranger, "guess-guess", address=f"198.51.100.{n}").status_code == 422
    assert _try(stranger, PASSWORD, address="198.51.100.250").status_code == 429
    owner = app.test_client()
    assert _try(owner, PASSWORD).status_code == 302


def test_old_failures_are_forgotten(app, people):
    rules = accounts.SignInLimits(
        account_client=(2, 900),
        client=(40, 900),
        account=(200, 3600),
        delay_after=100,
        delay_max=60,
    )
    long_ago = utcnow() - timedelta(hours=2)
    with app.app_context():
        session = database.session()
        for _ in range(3):
            accounts.sign_in_failed(session, OWNER, STRANGER, rules, now=long_ago)
        session.commit()
        assert accounts.sign_in_wait(session, OWNER, STRANGER, rules) is None
        accounts.sign_in_failed(session, OWNER, STRANGER, rules)  # forgets the old ones
        session.commit()
        assert accounts.sign_in_wait(session, OWNER, STRANGER, rules, now=long_ago) is None
