"""Time in the registry never goes backwards, and a key's compromise is judged by where
in the log a certificate was recorded, not by the time a clock wrote into it.

The process clock is injected: the one the registry stamps and signs with
(registry.log.checkpoints.utcnow, behind Signer.now and checkpoints.now).
"""

from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from registry import cli
from registry.edge import signing
from registry.log import checkpoints
from tests.factories import assay_data, bearer, certify, piece_data


class Clock:
    def __init__(self):
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(checkpoints, "utcnow", clock)
    return clock


def _count(sql, table: str) -> int:
    return sql(f"SELECT count(*) FROM {table}").scalar_one()  # noqa: S608 - a fixed name


def test_with_the_clock_a_day_behind_nothing_is_signed(client, world, sql, env, clock):
    certify(client, world)  # a checkpoint signed at the right time
    piece = client.post("/api/v1/pieces", json=piece_data(), headers=bearer(world.maker)).json
    certificates, signed = _count(sql, "certificate"), _count(sql, "checkpoint")

    clock.offset = -timedelta(days=1)
    attested = client.post(
        f"/api/v1/pieces/{piece['id']}/assay", json=assay_data(), headers=bearer(world.inspector)
    )
    assert attested.status_code == 503
    assert attested.headers["Content-Type"] == "application/problem+json"
    assert "clock" in attested.json["detail"] and "behind" in attested.json["detail"]
    refused = client.post("/api/v1/log/checkpoint", headers=bearer(world.inspector))
    assert refused.status_code == 503 and "clock" in refused.json["detail"]
    result = CliRunner().invoke(cli.main, ["log", "checkpoint"], env=env)
    assert result.exit_code != 0
    assert _count(sql, "certificate") == certificates
    assert _count(sql, "checkpoint") == signed
    assert client.get("/api/v1/log/checkpoint").status_code == 200  # reads go on

    clock.offset = timedelta(0)  # set right, it signs again
    attested = client.post(
        f"/api/v1/pieces/{piece['id']}/assay", json=assay_data(), headers=bearer(world.inspector)
    )
    assert attested.status_code == 201, attested.json


def test_a_clock_a_little_behind_never_writes_a_time_before_the_last_checkpoint(
    client, world, sql, clock
):
    certify(client, world)
    newest = sql("SELECT max(made_at) FROM checkpoint").scalar_one()
    if isinstance(newest, str):  # SQLite hands a raw aggregate back as text
        newest = datetime.fromisoformat(newest)
    clock.offset = -checkpoints.CLOCK_TOLERANCE / 2
    _, certificate = certify(client, world)
    issued_at = datetime.fromisoformat(certificate["issued_at"].replace("Z", "+00:00"))
    assert issued_at.replace(tzinfo=None) >= newest.replace(tzinfo=None, microsecond=0)


def test_a_compromise_is_judged_by_position_in_the_log(app, client, world, sql, clock):
    _, before = certify(client, world)
    clock.offset = timedelta(minutes=10)
    leak = datetime.now(UTC) + timedelta(minutes=5)
    _, after = certify(client, world)

    inspector = bearer(world.inspector)
    with app.app_context():
        kid = signing.keyring().active().kid
    marked = client.post(
        f"/api/v1/keys/{kid}/compromise", json={"since": leak.isoformat()}, headers=inspector
    )
    if marked.status_code == 404:  # marked from the CLI only
        result = CliRunner().invoke(
            cli.main,
            # A kid may begin with "-" (one in 64): it goes after "--", as the help says.
            ["keys", "compromise", "--since", leak.strftime("%Y-%m-%dT%H:%M:%S"), "--", kid],
            env=_env(app),
        )
        assert result.exit_code == 0, result.output
    jwks = client.get("/.well-known/jwks.json").json["keys"]
    published = next(k for k in jwks if k["kid"] == kid)
    cut = published["compromised_from_entry"]
    assert isinstance(cut, int)
    assert client.get(f"/api/v1/verify/{before['code']}").json["status"] == "valid"
    verdict = client.get(f"/api/v1/verify/{after['code']}").json
    assert verdict["status"] == "invalid"
    assert verdict["log"]["index"] >= cut


def test_a_position_cut_off_holds_whatever_time_the_certificate_carries(app, client, world):
    """Even with a compromise time that the certificate's own (clock-written) issue time
    precedes, a certificate recorded after the cut-off position is not trusted."""
    _, first = certify(client, world)
    _, second = certify(client, world)
    index = client.get(f"/api/v1/verify/{second['code']}").json["log"]["index"]
    with app.app_context():
        ring = signing.keyring()
        kid = ring.active().kid
        ring.mark_compromised(kid, since=datetime.now(UTC) + timedelta(days=1), from_entry=index)
    assert client.get(f"/api/v1/verify/{first['code']}").json["status"] == "valid"
    verdict = client.get(f"/api/v1/verify/{second['code']}").json
    assert verdict["status"] == "invalid"
    assert "compromised" in verdict["signature"]["problem"]


def _env(app) -> dict[str, str]:
    return {
        "REGISTRY_DATABASE_URL": app.config["DATABASE_URL"],
        "REGISTRY_KEYS_DIR": app.config["KEYS_DIR"],
        "REGISTRY_PUBLIC_BASE_URL": app.config["PUBLIC_BASE_URL"],
        "REGISTRY_GENERATE_KEY_ON_START": "false",
    }
