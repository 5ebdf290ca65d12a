"""Stones and the inspectorate in the reader's language (issue 14, item 5): stones come
from a vocabulary with labels in both languages, free text only for "other"; the
inspectorate's names are configuration in both languages, and a certificate signs both.
"""

import io
import re

import pypdfium2 as pdfium
import pytest

from registry import create_app, imports
from tests.factories import assay_data, bearer, certify, piece_data

EAST_SIBERIAN_RU = "Восточно-Сибирская государственная инспекция пробирного надзора"
EAST_SIBERIAN_EN = "East Siberian State Inspectorate of Assay Supervision"


def _page(client, code: str, language: str) -> str:
    response = client.get(f"/v/{code}", headers={"Accept-Language": language})
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_a_certificate_signs_the_inspectorate_in_both_languages_and_stones_by_code(client, world):
    _, certificate = certify(
        client,
        world,
        stones=[
            {"type": "diamond", "count": 3, "carat": 0.15},
            {"type": "other", "name": "шунгит", "count": 1, "carat": 2},
        ],
    )
    payload = certificate["payload"]

    assert payload["schema_version"] == 3
    assert payload["assay"]["inspectorate"] == {"ru": EAST_SIBERIAN_RU, "en": EAST_SIBERIAN_EN}
    assert payload["piece"]["stones"] == [
        {"type": "diamond", "count": 3, "carat": 0.15},
        {"type": "other", "name": "шунгит", "count": 1, "carat": 2.0},
    ]


@pytest.mark.parametrize(
    ("language", "shown", "not_shown"),
    [
        ("ru", ("бриллиант × 3", "хризолит × 1", EAST_SIBERIAN_RU, "шунгит × 1"),
         ("diamond", "chrysolite", EAST_SIBERIAN_EN)),
        ("en", ("diamond × 3", "chrysolite × 1", EAST_SIBERIAN_EN, "шунгит × 1"),
         ("бриллиант", "хризолит", EAST_SIBERIAN_RU)),
    ],
)  # fmt: skip
def test_the_page_names_stones_and_the_inspectorate_in_its_language(
    client, world, language, shown, not_shown
):
    _, certificate = certify(
        client,
        world,
        description="Кольцо · ring",  # the maker's own words, in no one language
        stones=[
            {"type": "diamond", "count": 3, "carat": 0.15},
            {"type": "chrysolite", "count": 1, "carat": 0.8},
            {"type": "other", "name": "шунгит", "count": 1, "carat": 2},
        ],
    )
    html = _page(client, certificate["code"], language)
    body = re.sub(r"<[^>]+>", "", html[html.index("<main") :])  # the text a reader sees

    for text in shown:
        assert text in body
    for text in not_shown:
        assert text not in body


def test_other_needs_a_name_and_only_other_has_one(client, world):
    maker = bearer(world.maker)
    unnamed = client.post(
        "/api/v1/pieces",
        json=piece_data(stones=[{"type": "other", "count": 1, "carat": 1}]),
        headers=maker,
    )
    named = client.post(
        "/api/v1/pieces",
        json=piece_data(stones=[{"type": "diamond", "name": "big", "count": 1, "carat": 1}]),
        headers=maker,
    )
    unknown = client.post(
        "/api/v1/pieces",
        json=piece_data(stones=[{"type": "shungite", "count": 1, "carat": 1}]),
        headers=maker,
    )

    assert unnamed.status_code == 422
    assert unnamed.json["errors"] == {
        "stones": {"0": {"name": ["Name the stone: its type is other."]}}
    }
    assert named.status_code == 422
    assert "name" in named.json["errors"]["stones"]["0"]
    assert unknown.status_code == 422
    assert "other" in unknown.json["errors"]["stones"]["0"]["type"][0]


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("сапфир", {"type": "sapphire"}),
        ("Сапфир", {"type": "sapphire"}),
        ("Lapis Lazuli", {"type": "lapis_lazuli"}),
        ("lapis_lazuli", {"type": "lapis_lazuli"}),
        ("лазурит", {"type": "lapis_lazuli"}),
        ("алмаз", {"type": "diamond"}),
        ("жёмчуг", {"type": "pearl"}),
        ("другое (шунгит)", {"type": "other", "name": "шунгит"}),
        ("Other (Shungite)", {"type": "other", "name": "Shungite"}),
        ("сапфр", {"type": "сапфр"}),  # left for the schema to refuse, with the list
    ],
)
def test_a_stone_is_read_as_a_person_writes_it(typed, stored):
    assert imports.stone_type(typed) == stored


def test_a_csv_with_russian_stone_names_imports_by_the_vocabulary(client, world):
    body = (
        "reference,kind,title,metal,fineness,weight_g,stones\n"
        'ST-1,ring,Кольцо,gold,585,"3,42",сапфир:1:0.5; другое (шунгит):2:1.5\n'
        "ST-2,ring,Кольцо,gold,585,1.1,сапфр:1:0.5\n"
    ).encode()
    response = client.post(
        "/api/v1/pieces/import",
        data=body,
        headers={**bearer(world.maker), "Content-Type": "text/csv"},
    )

    assert response.status_code == 200, response.json
    first, second = response.json["rows"]
    piece = client.get(f"/api/v1/pieces/{first['piece_id']}", headers=bearer(world.maker)).json
    assert piece["stones"] == [
        {"type": "sapphire", "count": 1, "carat": 0.5},
        {"type": "other", "name": "шунгит", "count": 2, "carat": 1.5},
    ]
    assert second["status"] != "created"
    assert "stones" in str(second)


def test_an_attestation_names_a_configured_inspectorate_or_the_first(client, world):
    inspector = bearer(world.inspector)
    maker = bearer(world.maker)
    ids = [
        client.post("/api/v1/pieces", json=piece_data(), headers=maker).json["id"] for _ in range(3)
    ]
    data = assay_data()
    del data["inspectorate"]
    left_out = client.post(f"/api/v1/pieces/{ids[0]}/assay", json=data, headers=inspector)
    in_russian = client.post(
        f"/api/v1/pieces/{ids[1]}/assay",
        json=assay_data(inspectorate=EAST_SIBERIAN_RU.upper()),
        headers=inspector,
    )
    unknown = client.post(
        f"/api/v1/pieces/{ids[2]}/assay",
        json=assay_data(inspectorate="Moscow Assay Office"),
        headers=inspector,
    )

    assert left_out.status_code == 201, left_out.json
    assert in_russian.status_code == 201, in_russian.json
    for answer in (left_out, in_russian):
        assert answer.json["inspectorate"] == EAST_SIBERIAN_EN
        signed = answer.json["certificate"]["payload"]["assay"]["inspectorate"]
        assert signed == {"ru": EAST_SIBERIAN_RU, "en": EAST_SIBERIAN_EN}
    assert unknown.status_code == 422
    assert EAST_SIBERIAN_EN in unknown.json["errors"]["inspectorate"][0]


@pytest.mark.parametrize(
    "configured",
    [
        [],
        [{"ru": "Инспекция"}],
        [{"ru": "", "en": "Inspectorate"}],
        "East Siberian",
    ],
)
def test_an_inspectorate_configured_in_one_language_stops_the_start(tmp_path, configured):
    with pytest.raises(ValueError, match="REGISTRY_INSPECTORATES"):
        create_app(
            {
                "TESTING": True,
                "DATABASE_URL": f"sqlite:///{tmp_path / 'r.sqlite3'}",
                "KEYS_DIR": str(tmp_path / "keys"),
                "INSPECTORATES": configured,
            }
        )


@pytest.mark.parametrize(
    ("language", "expected"), [("ru", EAST_SIBERIAN_RU), ("en", EAST_SIBERIAN_EN)]
)
def test_an_inspectorate_kept_in_one_language_is_shown_in_the_page_s(app, language, expected):
    """Attestations keep the inspectorate by its English name, and certificates before
    schema version 3 signed one name: where it is a configured inspectorate's, a page
    shows it in its own language."""
    shown = app.jinja_env.filters["in_locale"]
    with app.test_request_context("/", headers={"Accept-Language": language}):
        assert shown(EAST_SIBERIAN_EN) == expected
        assert shown({"ru": EAST_SIBERIAN_RU, "en": EAST_SIBERIAN_EN}) == expected
        assert shown("Assay office of Ulan-Ude") == "Assay office of Ulan-Ude"


def test_the_card_names_stones_in_both_languages(client, world):
    _, certificate = certify(client, world)  # a diamond, as piece_data gives
    response = client.get(f"/v/{certificate['code']}/card.pdf")
    text = pdfium.PdfDocument(io.BytesIO(response.data))[0].get_textpage().get_text_range()

    assert "бриллиант / diamond" in " ".join(text.replace("\u00a0", " ").split())
