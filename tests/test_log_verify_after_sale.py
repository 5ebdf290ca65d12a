"""`registry log verify` holds shops, sales and owners to the log (issue 13, item 8): a
row written or changed by hand is named, as the certificates and assays are."""

import pytest
from click.testing import CliRunner

from registry import cli
from tests.factories import bearer, certify


@pytest.fixture
def verify(env):
    def run():
        return CliRunner().invoke(cli.main, ["log", "verify"], env=env)

    return run


@pytest.fixture
def sold(client, world) -> str:
    """A certified piece its maker sold: the certificate's code."""
    code = certify(client, world)[1]["code"]
    sale = client.post(f"/api/v1/certificates/{code}/sale", headers=bearer(world.maker))
    assert sale.status_code == 201, sale.json
    return code


def test_a_sale_as_logged_verifies(sold, verify):
    result = verify()
    assert result.exit_code == 0, result.output


def test_a_sale_cancelled_by_hand_is_named(sold, verify, sql):
    sql("UPDATE sale SET cancelled_at = CURRENT_TIMESTAMP")
    result = verify()
    assert result.exit_code != 0
    assert "its sales are not what the log records" in result.output


def test_a_sale_added_by_hand_is_named(client, world, verify, sql):
    code = certify(client, world)[1]["code"]
    sql(
        "INSERT INTO sale (piece_id, certificate_id, maker_id, seller_id, sold_at) "
        "SELECT c.piece_id, c.id, p.maker_id, a.id, CURRENT_TIMESTAMP FROM certificate c "
        "JOIN piece p ON p.id = c.piece_id JOIN account a ON a.maker_id = p.maker_id "
        "WHERE c.code = :c",
        c=code,
    )
    result = verify()
    assert result.exit_code != 0
    assert "a sale the log never recorded" in result.output


def test_an_owner_added_by_hand_is_named(sold, verify, sql):
    """An owner, reporting the piece stolen, written in on the sale slip's claim."""
    sql(
        "INSERT INTO ownership (piece_id, claim_id, key_hash, since, report, reported_at) "
        "SELECT piece_id, id, 'y', CURRENT_TIMESTAMP, 'stolen', CURRENT_TIMESTAMP "
        "FROM ownership_claim"
    )
    result = verify()
    assert result.exit_code != 0
    assert "has an owner the log never recorded" in result.output


def test_an_owners_claim_report_and_withdrawal_verify(client, world, verify):
    code = certify(client, world)[1]["code"]
    sale = client.post(f"/api/v1/certificates/{code}/sale", headers=bearer(world.maker))
    claimed = client.post("/api/v1/ownership/claim", json={"claim_code": sale.json["claim_code"]})
    assert claimed.status_code == 201, claimed.json
    key = claimed.json["owner_key"]
    for kind in ("stolen", "found", "lost"):
        said = client.post("/api/v1/ownership/report", json={"owner_key": key, "kind": kind})
        assert said.status_code == 200, said.json
    result = verify()
    assert result.exit_code == 0, result.output
