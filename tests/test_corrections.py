"""A maker corrects or withdraws a piece before it is certified (issue 14, item 12): both
logged, a failed piece corrected goes back to wait for assay, and `registry log verify`
holds the rows to the newest declaration and to the withdrawals."""

import json
import re

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from registry import cli
from registry.edge import database
from registry.models import Event
from tests.factories import (
    assay_data,
    bearer,
    certify,
    csrf_token,
    piece_data,
    post_form,
    sign_in,
    with_passwords,
)


@pytest.fixture
def verify(env):
    def run(*args):
        return CliRunner().invoke(cli.main, ["log", "verify", *args], env=env)

    return run


def _new(client, world, **fields) -> dict:
    made = client.post("/api/v1/pieces", json=piece_data(**fields), headers=bearer(world.maker))
    assert made.status_code == 201, made.json
    return made.json


def _entries(app, action: str) -> list[dict]:
    with app.app_context():
        rows = database.session().scalars(select(Event.entry).where(Event.action == action))
        return [json.loads(row) for row in rows]


def test_a_corrected_declaration_is_what_the_certificate_signs(app, client, world, verify):
    piece = _new(client, world, metal="silver", fineness=925, stones=[])
    corrected = client.put(
        f"/api/v1/pieces/{piece['id']}",
        json=piece_data(reference="R-FIXED", metal="gold", fineness=585, weight_g=4.2, stones=[]),
        headers=bearer(world.maker),
    )
    assert corrected.status_code == 200, corrected.json
    assert (corrected.json["metal"], corrected.json["fineness"]) == ("gold", 585)
    (entry,) = _entries(app, "piece:corrected")
    assert entry["piece"] == piece["id"] and entry["data"]["reference"] == "R-FIXED"
    assert entry["actor"]["role"] == "maker"

    attested = client.post(
        f"/api/v1/pieces/{piece['id']}/assay",
        json=assay_data(metal="gold", fineness=585),
        headers=bearer(world.inspector),
    )
    assert attested.status_code == 201, attested.json
    signed = client.get(f"/api/v1/verify/{attested.json['certificate']['code']}").json
    assert signed["certificate"]["piece"]["metal"] == "gold"
    assert verify().exit_code == 0


def test_a_piece_that_failed_its_assay_is_corrected_and_waits_again(client, world):
    piece = _new(client, world, metal="gold", fineness=750, stones=[])
    failed = client.post(
        f"/api/v1/pieces/{piece['id']}/assay",
        json=assay_data(result="failed", metal="gold", fineness=585),
        headers=bearer(world.inspector),
    )
    assert failed.status_code == 201
    corrected = client.put(
        f"/api/v1/pieces/{piece['id']}",
        json=piece_data(reference=piece["reference"], metal="gold", fineness=585, stones=[]),
        headers=bearer(world.maker),
    )
    assert corrected.json["status"] == "awaiting_assay"
    queue = client.get(
        "/api/v1/pieces?status=awaiting_assay", headers=bearer(world.inspector)
    ).json["items"]
    assert piece["id"] in [p["id"] for p in queue]


def test_only_its_maker_corrects_or_withdraws_a_piece_not_yet_certified(client, world):
    piece = _new(client, world)
    certified_id, _ = certify(client, world)
    body = piece_data()
    assert (
        client.put(
            f"/api/v1/pieces/{certified_id}", json=body, headers=bearer(world.maker)
        ).status_code
        == 409
    )
    assert (
        client.post(
            f"/api/v1/pieces/{certified_id}/withdraw", headers=bearer(world.maker)
        ).status_code
        == 409
    )
    # Another maker's piece is not found, as an id no piece has.
    for token in (world.other_maker,):
        assert (
            client.put(
                f"/api/v1/pieces/{piece['id']}", json=body, headers=bearer(token)
            ).status_code
            == 404
        )
        assert (
            client.post(f"/api/v1/pieces/{piece['id']}/withdraw", headers=bearer(token)).status_code
            == 404
        )
    assert (
        client.post(
            f"/api/v1/pieces/{piece['id']}/withdraw", headers=bearer(world.inspector)
        ).status_code
        == 403
    )
    # A reference another of the maker's pieces has is refused, naming the field.
    taken = client.put(
        f"/api/v1/pieces/{piece['id']}",
        json=piece_data(
            reference=client.get(
                f"/api/v1/pieces/{certified_id}", headers=bearer(world.maker)
            ).json["reference"]
        ),
        headers=bearer(world.maker),
    )
    assert taken.status_code == 409 and "reference" in taken.json["errors"]


def test_a_withdrawn_piece_is_never_assayed_and_stays_in_the_log(app, client, world, verify):
    piece = _new(client, world)
    withdrawn = client.post(f"/api/v1/pieces/{piece['id']}/withdraw", headers=bearer(world.maker))
    assert withdrawn.status_code == 200 and withdrawn.json["status"] == "withdrawn"
    assert (
        client.post(
            f"/api/v1/pieces/{piece['id']}/assay",
            json=assay_data(),
            headers=bearer(world.inspector),
        ).status_code
        == 409
    )
    assert (
        client.put(
            f"/api/v1/pieces/{piece['id']}", json=piece_data(), headers=bearer(world.maker)
        ).status_code
        == 409
    )
    again = client.post(f"/api/v1/pieces/{piece['id']}/withdraw", headers=bearer(world.maker))
    assert again.status_code == 409
    queue = client.get(
        "/api/v1/pieces?status=awaiting_assay", headers=bearer(world.inspector)
    ).json["items"]
    assert piece["id"] not in [p["id"] for p in queue]
    assert len(_entries(app, "piece:withdrawn")) == 1
    assert verify().exit_code == 0


def test_a_withdrawal_undone_by_hand_is_named(client, world, verify, sql):
    piece = _new(client, world)
    client.post(f"/api/v1/pieces/{piece['id']}/withdraw", headers=bearer(world.maker))
    sql("UPDATE piece SET status = 'awaiting_assay' WHERE id = :i", i=piece["id"])
    result = verify()
    assert result.exit_code != 0
    assert f"piece {piece['id']}'s status awaiting_assay is not what the log says" in result.output


def test_a_withdrawal_made_by_hand_is_named(client, world, verify, sql):
    piece = _new(client, world)
    sql("UPDATE piece SET status = 'withdrawn' WHERE id = :i", i=piece["id"])
    result = verify()
    assert result.exit_code != 0
    assert f"piece {piece['id']}'s status withdrawn is not what the log says" in result.output


def test_a_corrected_piece_altered_by_hand_is_named(client, world, verify, sql):
    piece = _new(client, world, metal="silver", fineness=925, stones=[])
    client.put(
        f"/api/v1/pieces/{piece['id']}",
        json=piece_data(metal="gold", fineness=585, stones=[]),
        headers=bearer(world.maker),
    )
    sql("UPDATE piece SET metal = 'silver', fineness = 925 WHERE id = :i", i=piece["id"])
    result = verify()
    assert result.exit_code != 0
    assert f"piece {piece['id']} was altered" in result.output


# In the portal.


@pytest.fixture
def maker(app, client, world):
    with app.app_context():
        with_passwords(database.session(), "maker@test.example")
    assert sign_in(client, "maker@test.example").status_code == 302
    return client


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_the_maker_corrects_a_declaration_in_the_portal(maker, world, lang):
    piece = _new(
        maker,
        world,
        stones=[
            {"type": "diamond", "count": 3, "carat": 0.15},
            {"type": "other", "name": "шунгит", "count": 1, "carat": 0.5},
        ],
    )
    page = maker.get(f"/maker/pieces/{piece['id']}?lang={lang}").get_data(as_text=True)
    assert "data-correct" in page and 'data-form="withdraw"' in page
    form = maker.get(f"/maker/pieces/{piece['id']}/edit").get_data(as_text=True)
    assert f'value="{piece["reference"]}"' in form
    stones = re.search(r'id="f-stones"[^>]*value="([^"]*)"', form).group(1)
    assert stones == "diamond:3:0.15; other (шунгит):1:0.5"
    values = {
        "reference": piece["reference"],
        "kind": "ring",
        "title": "Кольцо «Енисей», исправлено",
        "metal": piece["metal"],
        "fineness": str(piece["fineness"]),
        "weight_g": "3,50",
        "stones": stones,
    }
    bad = post_form(maker, f"/maker/pieces/{piece['id']}/edit", {**values, "fineness": "600"})
    assert bad.status_code == 422
    assert "исправлено" in bad.get_data(as_text=True)  # nothing typed is lost
    saved = post_form(maker, f"/maker/pieces/{piece['id']}/edit", values)
    assert saved.status_code == 303
    shown = maker.get(saved.headers["Location"]).get_data(as_text=True)
    assert "исправлено" in shown
    assert ("Декларация исправлена" if lang == "ru" else "The declaration is corrected") in shown
    got = maker.get(f"/api/v1/pieces/{piece['id']}", headers=bearer(world.maker)).json
    assert got["stones"][1] == {"type": "other", "name": "шунгит", "count": 1, "carat": 0.5}


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_the_maker_withdraws_a_piece_once_it_is_confirmed(maker, world, lang):
    piece = _new(maker, world)
    maker.get(f"/maker/?lang={lang}")
    path = f"/maker/pieces/{piece['id']}"
    unconfirmed = post_form(maker, f"{path}/withdraw", {}, form_page=path)
    assert unconfirmed.status_code == 422
    assert 'aria-invalid="true"' in unconfirmed.get_data(as_text=True)
    token = csrf_token(maker, path)
    done = maker.post(f"{path}/withdraw", data={"confirm": "yes", "csrf_token": token})
    assert done.status_code == 303
    page = maker.get(path).get_data(as_text=True)
    assert "b-withdrawn" in page
    assert 'data-form="withdraw"' not in page and "data-correct" not in page
    assert ("Снято мастером" if lang == "ru" else "Withdrawn by the maker") in page
