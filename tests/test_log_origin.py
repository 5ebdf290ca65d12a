"""The log's origin (the name its checkpoints are signed under) is fixed once, by the first
`registry init`, and every later command and server reads it from there, whatever
address they are started with."""

import logging
from pathlib import Path

import pytest
from click.testing import CliRunner

from registry import cli, create_app
from registry.edge import database, log_signer
from registry.log import checkpoints
from tests.factories import bearer, maker_data

# `make run` with PORT=8101, then a shell without PORT (the issue's own case) or with
# another address.
SERVED = "http://127.0.0.1:8101"
ORIGIN = "127.0.0.1:8101/log"
OTHER = "http://127.0.0.1:8102"


@pytest.fixture
def registry(env):
    def run(*args, ok=True, **settings):
        result = CliRunner().invoke(
            cli.main, list(args), env=env | settings, catch_exceptions=False
        )
        if ok:
            assert result.exit_code == 0, result.output + result.stderr
        return result

    return run


def _server(env, **settings):
    return create_app(
        {
            "DATABASE_URL": env["REGISTRY_DATABASE_URL"],
            "KEYS_DIR": env["REGISTRY_KEYS_DIR"],
            "GENERATE_KEY_ON_START": False,
        }
        | settings
    )


def _newest_origin(app) -> str:
    with app.app_context():
        newest = checkpoints.latest(database.session())
        assert newest is not None
        return newest.note.split("\n", 1)[0]


def _ignored(caplog) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and "ignored" in r.getMessage()
    ]


def test_the_origin_of_the_first_init_holds_for_a_server_and_commands_at_another_address(
    registry, env, caplog
):
    registry("init", REGISTRY_PUBLIC_BASE_URL=SERVED)
    registry(
        "accounts",
        "create",
        "--role",
        "admin",
        "--email",
        "office@example.org",
        REGISTRY_PUBLIC_BASE_URL=SERVED,
    )
    token = registry(
        "tokens", "create", "--email", "office@example.org", REGISTRY_PUBLIC_BASE_URL=SERVED
    ).stdout.strip()
    caplog.clear()

    # A server started at another address signs its writes' checkpoints under the log's
    # own origin, and says that the address's origin is ignored.
    app = _server(env, PUBLIC_BASE_URL=OTHER)
    try:
        admitted = app.test_client().post(
            "/api/v1/makers", json=maker_data(), headers=bearer(token)
        )
        assert admitted.status_code == 201, admitted.json
        assert _newest_origin(app) == ORIGIN
        with app.app_context():
            assert log_signer.signer().origin == ORIGIN
    finally:
        app.extensions["registry.engine"].dispose()
    assert any("127.0.0.1:8102/log" in m and ORIGIN in m for m in _ignored(caplog))

    # So do the commands, started without the address at all or with another one.
    caplog.clear()
    made = registry("log", "checkpoint", REGISTRY_PUBLIC_BASE_URL=OTHER)
    assert made.stdout.startswith("checkpoint ")
    assert _ignored(caplog)
    assert "log verified" in registry("log", "verify", REGISTRY_PUBLIC_BASE_URL=OTHER).output
    environment = {k: v for k, v in env.items() if k != "REGISTRY_PUBLIC_BASE_URL"}
    bare = CliRunner().invoke(cli.main, ["log", "checkpoint"], env=environment)
    assert bare.exit_code == 0, bare.output
    assert "log verified" in registry("log", "verify").output
    app = _server(env, PUBLIC_BASE_URL=SERVED)
    try:
        assert _newest_origin(app) == ORIGIN
    finally:
        app.extensions["registry.engine"].dispose()


def test_a_first_init_takes_registry_log_origin_and_keeps_it(registry, env, caplog):
    chosen = "registry.example.org/jewellery-log"
    first = registry("init", REGISTRY_LOG_ORIGIN=chosen)
    app = _server(env, PUBLIC_BASE_URL=OTHER)
    try:
        assert _newest_origin(app) == chosen
        with app.app_context():
            assert log_signer.signer().origin == chosen
    finally:
        app.extensions["registry.engine"].dispose()
    registry("log", "checkpoint")
    assert "log verified" in registry("log", "verify").output
    assert f"log origin: {chosen}" in first.output


def test_init_again_never_changes_the_origin(registry, env, caplog):
    registry("init", REGISTRY_PUBLIC_BASE_URL=SERVED)
    caplog.clear()
    again = registry("init", REGISTRY_LOG_ORIGIN="elsewhere.example/log")
    registry("log", "checkpoint", REGISTRY_LOG_ORIGIN="elsewhere.example/log")
    assert f"log origin: {ORIGIN}" in again.output
    messages = _ignored(caplog)
    assert any("REGISTRY_LOG_ORIGIN" in m and "elsewhere.example/log" in m for m in messages)
    assert any("new log" in m for m in messages)
    app = _server(env)
    try:
        assert _newest_origin(app) == ORIGIN
    finally:
        app.extensions["registry.engine"].dispose()
    assert "log verified" in registry("log", "verify").output


@pytest.fixture(params=["the signer's memory", "the database's checkpoints"])
def kept_in(request):
    return request.param


def test_a_registry_initialised_before_the_origin_was_kept_keeps_its_signed_one(
    registry, env, kept_in
):
    """A registry whose log was signed before its origin was stored: `registry init` (run
    on every upgrade) keeps the origin its checkpoints were signed under, from the last
    checkpoint the signer remembers or else from the newest one in the database."""
    registry("init", REGISTRY_PUBLIC_BASE_URL=SERVED)
    keys_dir = Path(env["REGISTRY_KEYS_DIR"])
    (keys_dir / "log-origin.txt").unlink(missing_ok=True)
    if kept_in == "the database's checkpoints":
        (keys_dir / "log-checkpoint.txt").unlink()
    upgraded = registry("init")
    registry("log", "checkpoint")
    assert "log verified" in registry("log", "verify").output
    app = _server(env)
    try:
        assert _newest_origin(app) == ORIGIN
    finally:
        app.extensions["registry.engine"].dispose()
    assert f"log origin: {ORIGIN}" in upgraded.output
    # Kept from now on, wherever it was read from.
    assert (keys_dir / "log-origin.txt").read_text().strip() == ORIGIN
