"""Bad input, field by field, through the HTTP API.

Every case must get a 4xx RFC 9457 problem (`type`, `title`, `status`, `detail`, and
`errors` naming the field at fault), never a 500, and must leave every table as it was.
"""

import io
import json

import pytest
from sqlalchemy import func, select

from registry import codes, create_app, db
from registry.edge import database
from registry.models import Account, AssayRecord, Certificate, Event, Maker, Piece
from tests.factories import assay_data, bearer, maker_data, piece_data

PROBLEM = "application/problem+json"
TABLES = {
    "maker": Maker,
    "account": Account,
    "event": Event,
    "piece": Piece,
    "assay_record": AssayRecord,
    "certificate": Certificate,
}
PIECE_REQUIRED = ("reference", "kind", "title", "metal", "fineness", "weight_g")
CSV_HEADER = "reference,kind,title,description,metal,fineness,weight_g,stones,uin"
SMALL_MAX_ROWS = 3
SMALL_MAX_BYTES = 16 * 1024


# -- helpers ------------------------------------------------------------------------------


@pytest.fixture
def count(database_url):
    """Rows per table, read on a connection of its own (never the request's session)."""
    engine = db.make_engine(database_url)

    def count() -> dict[str, int]:
        with engine.connect() as connection:
            return {
                name: connection.scalar(select(func.count()).select_from(model))
                for name, model in TABLES.items()
            }

    yield count
    engine.dispose()


@pytest.fixture
def small_app(database_url, tmp_path, world):
    """An app over the same database as `app` (so `world`'s tokens work) with small limits."""
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "KEYS_DIR": str(tmp_path / "keys"),
            "PUBLIC_BASE_URL": "https://registry.test",
            "IMPORT_MAX_ROWS": SMALL_MAX_ROWS,
            "MAX_CONTENT_LENGTH": SMALL_MAX_BYTES,
            # An import may carry photos: its body is held to this limit instead.
            "UPLOAD_MAX_BODY": SMALL_MAX_BYTES,
        }
    )
    yield app
    with app.app_context():
        engine = database.engine()
    engine.dispose()


@pytest.fixture
def small_client(small_app):
    return small_app.test_client()


def assert_problem(response, status: int, *fields: str, slug: str | None = None) -> dict:
    """An RFC 9457 problem of `status`; its `errors` name every one of `fields`."""
    text = response.get_data(as_text=True)
    assert response.status_code == status, text[:1000]
    assert response.mimetype == PROBLEM, text[:1000]
    body = json.loads(text)
    assert {"type", "title", "status", "detail"} <= body.keys(), body
    assert body["status"] == status
    for member in ("type", "title", "detail"):
        assert isinstance(body[member], str) and body[member].strip(), body
    assert "Traceback" not in text
    for field in fields:
        assert field in body.get("errors", {}), body
    if slug is not None:
        assert body["type"] == f"/problems/{slug}", body
    return body


def register(client, token: str, **overrides) -> dict:
    response = client.post("/api/v1/pieces", json=piece_data(**overrides), headers=bearer(token))
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.json


def certify(client, world) -> dict:
    """A maker's piece that passed assay; returns its certificate."""
    piece = register(client, world.maker)
    response = client.post(
        f"/api/v1/pieces/{piece['id']}/assay", json=assay_data(), headers=bearer(world.inspector)
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.json["certificate"]


def references(client, token: str) -> list[str]:
    response = client.get("/api/v1/pieces?limit=200", headers=bearer(token))
    assert response.status_code == 200
    return [item["reference"] for item in response.json["items"]]


def without(data: dict, key: str) -> dict:
    return {k: v for k, v in data.items() if k != key}


# -- POST /api/v1/pieces --------------------------------------------------------------------


@pytest.mark.parametrize("field", PIECE_REQUIRED)
def test_piece_missing_required_field(client, world, count, field):
    before = count()
    response = client.post(
        "/api/v1/pieces", json=without(piece_data(), field), headers=bearer(world.maker)
    )
    body = assert_problem(response, 422, field, slug="invalid-input")
    assert list(body["errors"]) == [field]
    assert field in body["detail"]
    assert count() == before


BAD_PIECE_FIELDS = [
    # wrong types
    pytest.param("fineness", "585", id="fineness-string"),
    pytest.param("fineness", 585.5, id="fineness-fraction"),
    pytest.param("fineness", 585.0, id="fineness-float"),
    pytest.param("fineness", True, id="fineness-bool"),
    pytest.param("fineness", None, id="fineness-null"),
    pytest.param("fineness", 10**30, id="fineness-huge"),
    pytest.param("weight_g", "abc", id="weight-text"),
    pytest.param("weight_g", True, id="weight-bool"),
    pytest.param("weight_g", [3.42], id="weight-list"),
    pytest.param("weight_g", None, id="weight-null"),
    pytest.param("weight_g", "NaN", id="weight-nan"),
    pytest.param("weight_g", "Infinity", id="weight-infinity"),
    pytest.param("stones", "diamond:3:0.15", id="stones-string"),
    pytest.param("stones", {"type": "diamond", "count": 1, "carat": 0.1}, id="stones-object"),
    pytest.param("stones", ["diamond"], id="stone-not-object"),
    pytest.param("stones", [{"type": "diamond", "count": 0, "carat": 0.1}], id="stone-count-0"),
    pytest.param("stones", [{"type": "diamond", "count": -2, "carat": 0.1}], id="stone-count-neg"),
    pytest.param("stones", [{"type": "diamond", "count": "3", "carat": 0.1}], id="stone-count-str"),
    pytest.param(
        "stones", [{"type": "diamond", "count": 1.5, "carat": 0.1}], id="stone-count-frac"
    ),
    pytest.param("stones", [{"type": "diamond", "count": 1, "carat": -0.1}], id="carat-negative"),
    pytest.param("stones", [{"type": "diamond", "count": 1, "carat": 0}], id="carat-zero"),
    pytest.param("stones", [{"type": "diamond", "count": 1, "carat": 0.0001}], id="carat-4-places"),
    pytest.param("stones", [{"type": "diamond", "count": 1, "carat": "x"}], id="carat-text"),
    pytest.param("stones", [{"count": 1, "carat": 0.1}], id="stone-type-missing"),
    pytest.param("stones", [{"type": " ", "count": 1, "carat": 0.1}], id="stone-type-blank"),
    pytest.param(
        "stones", [{"type": "opal", "count": 1, "carat": 0.1, "x": 1}], id="stone-unknown"
    ),
    pytest.param("stones", [{"type": "opal", "count": 1, "carat": 0.1}] * 51, id="stones-too-many"),
    # out of range
    pytest.param("weight_g", 0, id="weight-zero"),
    pytest.param("weight_g", -1.5, id="weight-negative"),
    pytest.param("weight_g", 3.425, id="weight-3-places"),
    pytest.param("weight_g", "0.001", id="weight-below-centigram"),
    pytest.param("weight_g", "1e-99999999999", id="weight-underflow"),
    pytest.param("weight_g", 100000.01, id="weight-too-large"),
    pytest.param("weight_g", "1e99999999999", id="weight-huge-exponent"),
    pytest.param("title", "", id="title-empty"),
    pytest.param("title", " \t\n ", id="title-whitespace"),
    pytest.param("title", "x" * 201, id="title-too-long"),
    pytest.param("title", 42, id="title-number"),
    pytest.param("title", "a\x00b", id="title-nul"),
    pytest.param("title", "line\nbreak", id="title-line-break"),
    pytest.param("title", "bell\x07", id="title-control-character"),
    pytest.param("description", "escape \x1b[31m", id="description-control-character"),
    pytest.param("reference", "", id="reference-empty"),
    pytest.param("reference", "r" * 65, id="reference-too-long"),
    pytest.param("reference", ["REF-1"], id="reference-list"),
    pytest.param("description", "", id="description-empty"),
    pytest.param("description", "d" * 4001, id="description-too-long"),
    # vocabularies
    pytest.param("kind", "tiara", id="kind-unknown"),
    pytest.param("kind", "Ring", id="kind-wrong-case"),
    pytest.param("kind", None, id="kind-null"),
    pytest.param("metal", "copper", id="metal-unknown"),
    pytest.param("metal", "Gold", id="metal-wrong-case"),
    # state UIN
    pytest.param("uin", "123456789012345", id="uin-15-digits"),
    pytest.param("uin", "12345678901234567", id="uin-17-digits"),
    pytest.param("uin", "123456789012345a", id="uin-letter"),
    pytest.param("uin", "1234 5678 9012 3456", id="uin-spaces"),
    pytest.param("uin", "1234567890123456\n", id="uin-trailing-newline"),
    pytest.param("uin", 1234567890123456, id="uin-number"),
]


@pytest.mark.parametrize(("field", "value"), BAD_PIECE_FIELDS)
def test_piece_bad_field(client, world, count, field, value):
    before = count()
    response = client.post(
        "/api/v1/pieces", json=piece_data(**{field: value}), headers=bearer(world.maker)
    )
    body = assert_problem(response, 422, field, slug="invalid-input")
    assert list(body["errors"]) == [field], body
    assert count() == before


@pytest.mark.parametrize(
    ("metal", "fineness", "allowed"),
    [
        pytest.param("gold", 925, "375, 500, 585, 750, 958, 999", id="gold-925"),
        pytest.param("gold", 0, "375, 500, 585, 750, 958, 999", id="gold-0"),
        pytest.param("silver", 585, "800, 830, 875, 925, 960, 999", id="silver-585"),
        pytest.param("platinum", 585, "850, 900, 950, 999", id="platinum-585"),
        pytest.param("palladium", 925, "500, 850, 950, 999", id="palladium-925"),
        pytest.param("gold", -585, "375, 500, 585, 750, 958, 999", id="gold-negative"),
    ],
)
def test_piece_fineness_not_legal_for_metal(client, world, count, metal, fineness, allowed):
    before = count()
    response = client.post(
        "/api/v1/pieces",
        json=piece_data(metal=metal, fineness=fineness),
        headers=bearer(world.maker),
    )
    body = assert_problem(response, 422, "fineness", slug="invalid-input")
    assert "fineness" in body["detail"]
    message = " ".join(body["errors"]["fineness"])
    assert metal in message and allowed in message
    assert count() == before


def test_piece_unknown_field(client, world, count):
    before = count()
    response = client.post(
        "/api/v1/pieces", json=piece_data(colour="red"), headers=bearer(world.maker)
    )
    body = assert_problem(response, 422, "colour", slug="invalid-input")
    assert list(body["errors"]) == ["colour"]
    assert count() == before


def test_piece_every_bad_field_is_reported_at_once(client, world, count):
    before = count()
    data = piece_data(kind="tiara", weight_g=0, fineness="585", title=" ")
    response = client.post("/api/v1/pieces", json=data, headers=bearer(world.maker))
    body = assert_problem(response, 422, "kind", "weight_g", "fineness", "title")
    for field in ("fineness", "kind", "title", "weight_g"):
        assert field in body["detail"]
    assert count() == before


@pytest.mark.parametrize(
    "body",
    [
        pytest.param([piece_data()], id="array"),
        pytest.param("ring", id="string"),
        pytest.param(42, id="number"),
        pytest.param(None, id="null"),
    ],
)
def test_piece_body_not_an_object(client, world, count, body):
    before = count()
    response = client.post(
        "/api/v1/pieces",
        data=json.dumps(body),
        content_type="application/json",
        headers=bearer(world.maker),
    )
    assert_problem(response, 422, "_schema", slug="invalid-input")
    assert count() == before


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"{", id="truncated"),
        pytest.param(b"{'reference': 'R'}", id="single-quotes"),
        pytest.param(b'{"reference": "R",}', id="trailing-comma"),
        pytest.param(b"\xff\xfe{}", id="not-utf8"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, id="nested-too-deep"),
    ],
)
def test_piece_malformed_json(client, world, count, data):
    before = count()
    response = client.post(
        "/api/v1/pieces", data=data, content_type="application/json", headers=bearer(world.maker)
    )
    assert_problem(response, 400, slug="bad-json")
    assert count() == before


def test_piece_no_body_names_every_required_field(client, world, count):
    before = count()
    response = client.post("/api/v1/pieces", headers=bearer(world.maker))
    body = assert_problem(response, 422, *PIECE_REQUIRED, slug="invalid-input")
    assert sorted(body["errors"]) == sorted(PIECE_REQUIRED)
    assert count() == before


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        pytest.param(json.dumps(piece_data()), "text/plain", id="json-as-text-plain"),
        pytest.param("reference=R&kind=ring", "application/x-www-form-urlencoded", id="form"),
        pytest.param(json.dumps(piece_data()), "text/csv", id="json-as-csv"),
        pytest.param("<piece/>", "application/xml", id="xml"),
    ],
)
def test_piece_body_of_another_type_is_415(client, world, count, data, content_type):
    before = count()
    response = client.post(
        "/api/v1/pieces", data=data, content_type=content_type, headers=bearer(world.maker)
    )
    body = assert_problem(response, 415)
    assert "application/json" in body["detail"]
    assert count() == before


def test_piece_body_larger_than_max_content_length(client, world, count):
    before = count()
    response = client.post(
        "/api/v1/pieces",
        data=b" " * (8 * 1024 * 1024 + 1),
        content_type="application/json",
        headers=bearer(world.maker),
    )
    assert_problem(response, 413)
    assert count() == before


def test_piece_body_larger_than_configured_limit(small_client, world, count):
    before = count()
    # Were the limit not enforced, this would be a 422 for the description's length.
    data = piece_data(description="d" * SMALL_MAX_BYTES)
    response = small_client.post("/api/v1/pieces", json=data, headers=bearer(world.maker))
    assert_problem(response, 413)
    assert count() == before


def test_piece_duplicate_reference_is_409_but_another_maker_may_reuse_it(client, world, count):
    register(client, world.maker, reference="RING-1")
    before = count()
    for reference in ("RING-1", "  RING-1  "):
        response = client.post(
            "/api/v1/pieces", json=piece_data(reference=reference), headers=bearer(world.maker)
        )
        body = assert_problem(response, 409, "reference", slug="conflict")
        assert "RING-1" in body["detail"]
        assert count() == before

    response = client.post(
        "/api/v1/pieces", json=piece_data(reference="RING-1"), headers=bearer(world.other_maker)
    )
    assert response.status_code == 201, response.json
    assert response.json["maker"] == world.other_maker_slug
    after = count()
    assert after["piece"] == before["piece"] + 1


def test_piece_duplicate_uin_is_409_naming_uin(client, world, count):
    register(client, world.maker, uin="6431000000000001")
    before = count()
    for token in (world.maker, world.other_maker):
        response = client.post(
            "/api/v1/pieces", json=piece_data(uin="6431000000000001"), headers=bearer(token)
        )
        assert_problem(response, 409, "uin", slug="conflict")
        assert count() == before
    assert register(client, world.maker, uin=None)["uin"] is None


# -- POST /api/v1/makers ----------------------------------------------------------------------


BAD_MAKER_FIELDS = [
    pytest.param("region", "RU-MOW", id="region-moscow"),
    pytest.param("region", "KYA", id="region-without-country"),
    pytest.param("region", "ru-kya", id="region-lower-case"),
    pytest.param("region", "", id="region-empty"),
    pytest.param("region", None, id="region-null"),
    pytest.param("slug", "Bad Slug", id="slug-space-and-capitals"),
    pytest.param("slug", "-abc", id="slug-leading-dash"),
    pytest.param("slug", "abc-", id="slug-trailing-dash"),
    pytest.param("slug", "ab--c", id="slug-double-dash"),
    pytest.param("slug", "ab_c", id="slug-underscore"),
    pytest.param("slug", "a", id="slug-too-short"),
    pytest.param("slug", "a" * 65, id="slug-too-long"),
    pytest.param("slug", "мастер", id="slug-cyrillic"),
    pytest.param("slug", "abc\n", id="slug-trailing-newline"),
    pytest.param("name_ru", "", id="name-ru-empty"),
    pytest.param("name_ru", "я" * 201, id="name-ru-too-long"),
    pytest.param("name_en", "   ", id="name-en-blank"),
    pytest.param("city", None, id="city-null"),
    pytest.param("mark", "", id="mark-empty"),
    pytest.param("mark", "M" * 33, id="mark-too-long"),
    # Upper-casing "ß" gives "SS": a mark that grew past the column (a 500 on PostgreSQL).
    pytest.param("mark", "ß" * 32, id="mark-letters-outside-the-alphabets"),
    pytest.param("mark", "КЯ\n12", id="mark-line-break"),
    pytest.param("colour", "gold", id="unknown-field"),
]


@pytest.mark.parametrize(("field", "value"), BAD_MAKER_FIELDS)
def test_maker_bad_field(client, world, count, field, value):
    before = count()
    response = client.post(
        "/api/v1/makers", json=maker_data(**{field: value}), headers=bearer(world.admin)
    )
    body = assert_problem(response, 422, field, slug="invalid-input")
    assert list(body["errors"]) == [field], body
    assert count() == before


@pytest.mark.parametrize("field", ["name_ru", "name_en", "region", "city", "mark"])
def test_maker_missing_required_field(client, world, count, field):
    before = count()
    response = client.post(
        "/api/v1/makers", json=without(maker_data(), field), headers=bearer(world.admin)
    )
    body = assert_problem(response, 422, field, slug="invalid-input")
    assert list(body["errors"]) == [field]
    assert count() == before


def test_maker_without_slug_and_no_latin_name_needs_a_slug(client, world, count):
    before = count()
    data = without(maker_data(name_en="Мастерская"), "slug")
    response = client.post("/api/v1/makers", json=data, headers=bearer(world.admin))
    assert_problem(response, 422, "slug", slug="invalid-input")
    assert count() == before


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("slug", None, id="slug"),
        pytest.param("mark", None, id="mark"),
        pytest.param("mark", "lower", id="mark-other-case"),
    ],
)
def test_maker_duplicate_is_409_naming_the_field(client, world, count, field, value):
    first = client.post(
        "/api/v1/makers",
        json=maker_data(slug="khakas-gold", mark="KH001"),
        headers=bearer(world.admin),
    )
    assert first.status_code == 201, first.json
    taken = {"slug": "khakas-gold", "mark": "KH001"}[field]
    if value == "lower":
        taken = taken.lower()
    before = count()
    response = client.post(
        "/api/v1/makers", json=maker_data(**{field: taken}), headers=bearer(world.admin)
    )
    assert_problem(response, 409, field, slug="conflict")
    assert count() == before


# -- POST /api/v1/accounts -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "field"),
    [
        pytest.param({"email": "not-an-email", "role": "inspector"}, "email", id="email-bad"),
        pytest.param({"email": "a@", "role": "inspector"}, "email", id="email-no-domain"),
        pytest.param({"email": "", "role": "inspector"}, "email", id="email-empty"),
        pytest.param({"email": 5, "role": "inspector"}, "email", id="email-number"),
        pytest.param({"role": "inspector"}, "email", id="email-missing"),
        pytest.param({"email": "x@assay.example", "role": "superuser"}, "role", id="role-unknown"),
        pytest.param({"email": "x@assay.example", "role": "Inspector"}, "role", id="role-case"),
        pytest.param({"email": "x@assay.example"}, "role", id="role-missing"),
        pytest.param({"email": "x@assay.example", "role": "maker"}, "maker", id="maker-no-maker"),
        pytest.param(
            {"email": "x@assay.example", "role": "maker", "maker": ""}, "maker", id="maker-empty"
        ),
        pytest.param(
            {"email": "x@assay.example", "role": "maker", "maker": "a\x00b"},
            "maker",
            id="maker-nul",
        ),
        pytest.param(
            {"email": "x@assay.example", "role": "maker", "maker": "Maker 1"},
            "maker",
            id="maker-not-a-slug",
        ),
        pytest.param(
            {"email": "x@assay.example", "role": "inspector", "maker": "maker-1"},
            "maker",
            id="inspector-with-maker",
        ),
        pytest.param(
            {"email": "x@assay.example", "role": "admin", "maker": "maker-1"},
            "maker",
            id="admin-with-maker",
        ),
        pytest.param(
            {"email": "x@assay.example", "role": "inspector", "display_name": " "},
            "display_name",
            id="display-name-blank",
        ),
        pytest.param(
            {"email": "x@assay.example", "role": "inspector", "password": "x"},
            "password",
            id="unknown-field",
        ),
    ],
)
def test_account_bad_field(client, world, count, data, field):
    before = count()
    response = client.post("/api/v1/accounts", json=data, headers=bearer(world.admin))
    body = assert_problem(response, 422, field, slug="invalid-input")
    assert list(body["errors"]) == [field], body
    assert count() == before


def test_account_for_an_unknown_maker_is_404_naming_maker(client, world, count):
    before = count()
    response = client.post(
        "/api/v1/accounts",
        json={"email": "x@workshop.example", "role": "maker", "maker": "no-such-maker"},
        headers=bearer(world.admin),
    )
    body = assert_problem(response, 404, "maker", slug="not-found")
    assert "no-such-maker" in body["detail"]
    assert count() == before


@pytest.mark.parametrize("email", ["maker@test.example", "MAKER@Test.Example"])
def test_account_duplicate_email_is_409_naming_email(client, world, count, email):
    before = count()
    response = client.post(
        "/api/v1/accounts", json={"email": email, "role": "inspector"}, headers=bearer(world.admin)
    )
    assert_problem(response, 409, "email", slug="conflict")
    assert count() == before


# -- POST /api/v1/pieces/<id>/assay --------------------------------------------------------


BAD_ASSAYS = [
    pytest.param({"fineness": 925}, "fineness", id="gold-925"),
    pytest.param({"metal": "silver", "fineness": 585}, "fineness", id="silver-585"),
    pytest.param({"fineness": "585"}, "fineness", id="fineness-string"),
    pytest.param({"fineness": 585.5}, "fineness", id="fineness-fraction"),
    pytest.param({"result": "maybe"}, "result", id="result-unknown"),
    pytest.param({"result": "PASSED"}, "result", id="result-case"),
    pytest.param({"result": True}, "result", id="result-bool"),
    pytest.param({"metal": "copper"}, "metal", id="metal-unknown"),
    pytest.param({"assay_mark": ""}, "assay_mark", id="assay-mark-empty"),
    pytest.param({"assay_mark": "   "}, "assay_mark", id="assay-mark-blank"),
    pytest.param({"assay_mark": "m" * 65}, "assay_mark", id="assay-mark-too-long"),
    pytest.param({"inspectorate": ""}, "inspectorate", id="inspectorate-empty"),
    pytest.param({"inspectorate": "Moscow Assay"}, "inspectorate", id="inspectorate-unknown"),
    pytest.param({"notes": ""}, "notes", id="notes-empty"),
    pytest.param({"certificate": "x"}, "certificate", id="unknown-field"),
]


@pytest.mark.parametrize(("overrides", "field"), BAD_ASSAYS)
def test_assay_bad_field(client, world, count, overrides, field):
    piece = register(client, world.maker)
    before = count()
    response = client.post(
        f"/api/v1/pieces/{piece['id']}/assay",
        json=assay_data(**overrides),
        headers=bearer(world.inspector),
    )
    body = assert_problem(response, 422, field, slug="invalid-input")
    assert list(body["errors"]) == [field], body
    assert count() == before


@pytest.mark.parametrize("field", ["result", "metal", "fineness", "assay_mark"])
def test_assay_missing_required_field(client, world, count, field):
    piece = register(client, world.maker)
    before = count()
    response = client.post(
        f"/api/v1/pieces/{piece['id']}/assay",
        json=without(assay_data(), field),
        headers=bearer(world.inspector),
    )
    body = assert_problem(response, 422, field, slug="invalid-input")
    assert list(body["errors"]) == [field]
    assert count() == before


def test_assay_illegal_fineness_lists_the_allowed_values(client, world):
    piece = register(client, world.maker)
    response = client.post(
        f"/api/v1/pieces/{piece['id']}/assay",
        json=assay_data(fineness=925),
        headers=bearer(world.inspector),
    )
    body = assert_problem(response, 422, "fineness")
    assert "375, 500, 585, 750, 958, 999" in " ".join(body["errors"]["fineness"])


def test_assay_pass_of_another_metal_than_declared_is_422_naming_metal(client, world, count):
    piece = register(client, world.maker, metal="gold", fineness=585)
    before = count()
    response = client.post(
        f"/api/v1/pieces/{piece['id']}/assay",
        json=assay_data(metal="silver", fineness=925),
        headers=bearer(world.inspector),
    )
    body = assert_problem(response, 422, "metal", slug="invalid-input")
    assert "gold" in body["detail"]
    assert count() == before
    shown = client.get(f"/api/v1/pieces/{piece['id']}", headers=bearer(world.maker))
    assert shown.json["status"] == "awaiting_assay"


def test_assay_of_a_certified_piece_is_409(client, world, count):
    certificate = certify(client, world)
    piece_id = client.get("/api/v1/pieces?status=certified", headers=bearer(world.maker)).json[
        "items"
    ][0]["id"]
    before = count()
    for result in ("passed", "failed"):
        response = client.post(
            f"/api/v1/pieces/{piece_id}/assay",
            json=assay_data(result=result),
            headers=bearer(world.inspector),
        )
        assert_problem(response, 409, slug="conflict")
        assert count() == before
    shown = client.get(f"/api/v1/certificates/{certificate['code']}")
    assert shown.json["status"] == "valid"


@pytest.mark.parametrize("piece_id", ["999999", str(2**63), "9" * 40])
def test_assay_of_an_unknown_piece_is_404(client, world, count, piece_id):
    before = count()
    response = client.post(
        f"/api/v1/pieces/{piece_id}/assay", json=assay_data(), headers=bearer(world.inspector)
    )
    assert_problem(response, 404)
    shown = client.get(f"/api/v1/pieces/{piece_id}", headers=bearer(world.inspector))
    assert_problem(shown, 404)
    assert count() == before


# -- certificates: revoke, look up --------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "field"),
    [
        pytest.param({"reason": "bored", "note": "n"}, "reason", id="reason-unknown"),
        pytest.param({"reason": "Fraud", "note": "n"}, "reason", id="reason-case"),
        pytest.param({"reason": None, "note": "n"}, "reason", id="reason-null"),
        pytest.param({"note": "n"}, "reason", id="reason-missing"),
        pytest.param({"reason": "fraud"}, "note", id="note-missing"),
        pytest.param({"reason": "fraud", "note": ""}, "note", id="note-empty"),
        pytest.param({"reason": "fraud", "note": "  "}, "note", id="note-blank"),
        pytest.param({"reason": "fraud", "note": "n" * 1001}, "note", id="note-too-long"),
        pytest.param({"reason": "fraud", "note": "n", "by": "me"}, "by", id="unknown-field"),
    ],
)
def test_revoke_bad_field(client, world, count, data, field):
    certificate = certify(client, world)
    before = count()
    response = client.post(
        f"/api/v1/certificates/{certificate['code']}/revoke",
        json=data,
        headers=bearer(world.inspector),
    )
    body = assert_problem(response, 422, field, slug="invalid-input")
    assert list(body["errors"]) == [field], body
    assert count() == before
    assert client.get(f"/api/v1/certificates/{certificate['code']}").json["status"] == "valid"


def test_revoke_twice_is_409(client, world, count):
    certificate = certify(client, world)
    url = f"/api/v1/certificates/{certificate['printed_code']}/revoke"
    first = client.post(
        url, json={"reason": "fraud", "note": "Fake"}, headers=bearer(world.inspector)
    )
    assert first.status_code == 200, first.json
    before = count()
    again = client.post(
        url, json={"reason": "data_error", "note": "Again"}, headers=bearer(world.inspector)
    )
    body = assert_problem(again, 409, slug="conflict")
    assert "revoked" in body["detail"]
    assert count() == before
    shown = client.get(f"/api/v1/certificates/{certificate['code']}").json
    assert shown["revocation"]["reason"] == "fraud"


def _mistyped(code: str) -> str:
    """The code with its first symbol changed: a single substitution the check catches."""
    wrong = "0" if code[0] != "0" else "1"
    return wrong + code[1:]


MALFORMED_CODES = [
    pytest.param("hello", id="word"),
    pytest.param("YS-1234", id="too-short"),
    pytest.param("YS-" + "A" * 20, id="too-long"),
    pytest.param("A" * 5000, id="very-long"),
    pytest.param("YS-7K2M-9QXD-4TB-8R!", id="punctuation"),
    pytest.param("YS-UUUU-UUUU-UUU-UU0", id="check-only-symbol-in-data"),
    pytest.param("%00%00%00%00%00%00%00%00%00%00%00%00%00%00", id="nul"),
]


@pytest.mark.parametrize("code", MALFORMED_CODES)
def test_certificate_malformed_code_is_400(client, world, count, code):
    before = count()
    response = client.get(f"/api/v1/certificates/{code}")
    body = assert_problem(response, 400, "code", slug="malformed-code")
    assert body["type"] != "/problems/mistyped-code"
    revoke = client.post(
        f"/api/v1/certificates/{code}/revoke",
        json={"reason": "fraud", "note": "n"},
        headers=bearer(world.inspector),
    )
    assert_problem(revoke, 400, "code", slug="malformed-code")
    assert count() == before


def test_certificate_mistyped_code_is_400_of_another_type(client, world, count):
    certificate = certify(client, world)
    assert client.get(f"/api/v1/certificates/{certificate['code']}").status_code == 200
    before = count()
    for text in (_mistyped(certificate["code"]), _mistyped(certificate["code"]).lower()):
        response = client.get(f"/api/v1/certificates/{text}")
        body = assert_problem(response, 400, "code", slug="mistyped-code")
        assert body["type"] != "/problems/malformed-code"
        revoke = client.post(
            f"/api/v1/certificates/{text}/revoke",
            json={"reason": "fraud", "note": "n"},
            headers=bearer(world.inspector),
        )
        assert_problem(revoke, 400, "code", slug="mistyped-code")
    assert count() == before


@pytest.mark.parametrize("form", [str, codes.printed, lambda c: codes.printed(c).lower()])
def test_certificate_unknown_well_formed_code_is_404(client, world, count, form):
    before = count()
    code = form(codes.new())
    response = client.get(f"/api/v1/certificates/{code}")
    assert_problem(response, 404, slug="not-found")
    revoke = client.post(
        f"/api/v1/certificates/{code}/revoke",
        json={"reason": "fraud", "note": "n"},
        headers=bearer(world.inspector),
    )
    assert_problem(revoke, 404, slug="not-found")
    assert count() == before


# -- POST /api/v1/pieces/import --------------------------------------------------------------


def csv_body(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def post_import(client, token: str, data, content_type: str):
    return client.post(
        "/api/v1/pieces/import", data=data, content_type=content_type, headers=bearer(token)
    )


def test_import_csv_stores_good_rows_and_reports_bad_ones(client, world, count):
    register(client, world.maker, reference="OLD-1")
    before = count()
    body = csv_body(
        CSV_HEADER,
        "CSV-1,ring,Кольцо,,gold,585,3.42,diamond:3:0.15,",  # line 2: good
        "CSV-2,ring,Кольцо,,gold,925,3.42,,",  # 3: fineness illegal for gold
        "CSV-3,ring,,,gold,585,3.42,,",  # 4: no title
        "CSV-4,tiara,Диадема,,gold,585,abc,,",  # 5: kind and weight
        "CSV-5,pendant,Кулон,,silver,925,2.5,,6431000000000042",  # 6: good, with a UIN
        "CSV-1,ring,Again,,gold,585,1,,",  # 7: reference of line 2
        "OLD-1,ring,Old,,gold,585,1,,",  # 8: reference of an earlier piece
        "CSV-6,ring,Stones,,gold,585,1,diamond:0:0.1,",  # 9: stone count 0
        "CSV-7,ring,Stones,,gold,585,1,diamond-3,",  # 10: stones not a list
        "CSV-8,ring,UIN,,gold,585,1,,6431000000000042",  # 11: UIN of line 6
        "CSV-9,ring,UIN,,gold,585,1,,12345",  # 12: UIN too short
        "CSV-10,chain,Цепь,,gold,585.5,1,,",  # 13: fraction fineness
    )
    response = post_import(client, world.maker, body, "text/csv")
    assert response.status_code == 200, response.json
    report = response.json
    expected = {
        2: None,
        3: "fineness",
        4: "title",
        5: "kind",
        6: None,
        7: "reference",
        8: "reference",
        9: "stones",
        10: "stones",
        11: "uin",
        12: "uin",
        13: "fineness",
    }
    assert [row["row"] for row in report["rows"]] == list(expected)
    for row in report["rows"]:
        field = expected[row["row"]]
        if field is None:
            assert row["status"] == "created", row
            assert row["piece_id"] is not None and row["errors"] == {}
        else:
            assert row["status"] == "rejected", row
            assert row["piece_id"] is None
            assert field in row["errors"], row
    assert report["rows"][3]["errors"].keys() == {"kind", "weight_g"}
    assert report["created"] == 2 and report["rejected"] == 10

    after = count()
    assert after["piece"] == before["piece"] + 2
    assert after["event"] == before["event"] + 2
    assert {
        k: after[k] - before[k] for k in ("maker", "account", "assay_record", "certificate")
    } == {
        "maker": 0,
        "account": 0,
        "assay_record": 0,
        "certificate": 0,
    }
    stored = references(client, world.maker)
    assert sorted(stored) == ["CSV-1", "CSV-5", "OLD-1"]
    first = client.get(
        f"/api/v1/pieces/{report['rows'][0]['piece_id']}", headers=bearer(world.maker)
    )
    assert first.json["title"] == "Кольцо"
    assert first.json["stones"] == [{"type": "diamond", "count": 3, "carat": 0.15}]


@pytest.mark.parametrize(
    ("header", "missing"),
    [
        pytest.param("reference,kind,title,metal,fineness", ["weight_g"], id="no-weight"),
        pytest.param(
            "ref,kind,title,metal,fineness,weight", ["reference", "weight_g"], id="misnamed"
        ),
        pytest.param("", ["reference"], id="empty-file"),
    ],
)
def test_import_csv_missing_required_columns_is_422_naming_file(
    client, world, count, header, missing
):
    before = count()
    data = csv_body(header, "R-1,ring,Кольцо,gold,585,1") if header else b""
    response = post_import(client, world.maker, data, "text/csv")
    body = assert_problem(response, 422, "file", slug="invalid-input")
    for column in missing:
        assert column in body["detail"]
    assert count() == before


WINDOWS_1251 = (
    csv_body(
        CSV_HEADER,
        "W-1,ring,Кольцо «Енисей»,Золото Красноярска,gold,585,3.42,,",
        "W-2,brooch,Брошь «Саяны»,,silver,925,5.1,хризолит:2:0.4,",
    )
    .decode()
    .encode("windows-1251")
)


def test_import_windows_1251_without_charset_is_detected(client, world, count):
    """Not UTF-8 and no charset named: what Russian Excel saves, Windows-1251."""
    before = count()
    response = post_import(client, world.maker, WINDOWS_1251, "text/csv")
    assert response.status_code == 200, response.json
    assert response.json["created"] == 2, response.json
    titles = [
        client.get(f"/api/v1/pieces/{row['piece_id']}", headers=bearer(world.maker)).json["title"]
        for row in response.json["rows"]
    ]
    assert titles == ["Кольцо «Енисей»", "Брошь «Саяны»"]
    assert count()["piece"] == before["piece"] + 2


def test_import_in_a_charset_named_wrongly_is_refused_naming_the_encoding(client, world, count):
    before = count()
    response = post_import(client, world.maker, WINDOWS_1251, "text/csv; charset=utf-8")
    body = assert_problem(response, 422, "file", slug="invalid-input")
    assert "UTF-8" in body["detail"] and "charset" in body["detail"]
    assert count() == before


@pytest.mark.parametrize("charset", ["windows-1251", "cp1251", "Windows-1251"])
def test_import_windows_1251_with_charset_keeps_cyrillic(client, world, count, charset):
    before = count()
    response = post_import(client, world.maker, WINDOWS_1251, f"text/csv; charset={charset}")
    assert response.status_code == 200, response.json
    assert response.json["created"] == 2, response.json
    ids = [row["piece_id"] for row in response.json["rows"]]
    titles = [
        client.get(f"/api/v1/pieces/{i}", headers=bearer(world.maker)).json["title"] for i in ids
    ]
    assert titles == ["Кольцо «Енисей»", "Брошь «Саяны»"]
    brooch = client.get(f"/api/v1/pieces/{ids[1]}", headers=bearer(world.maker)).json
    # Russian stone names are the vocabulary's, stored by its codes.
    assert brooch["stones"] == [{"type": "chrysolite", "count": 2, "carat": 0.4}]
    assert count()["piece"] == before["piece"] + 2


def test_import_unknown_charset_is_refused_naming_it(client, world, count):
    before = count()
    response = post_import(client, world.maker, WINDOWS_1251, "text/csv; charset=klingon")
    body = assert_problem(response, 422, "file", slug="invalid-input")
    assert "klingon" in body["detail"].lower()
    assert count() == before


@pytest.mark.parametrize("content_type", ["text/csv", "text/csv; charset=utf-8"])
def test_import_utf8_with_byte_order_mark(client, world, count, content_type):
    before = count()
    data = "\ufeff".encode() + csv_body(CSV_HEADER, "BOM-1,ring,Кольцо,,gold,585,1.5,,")
    response = post_import(client, world.maker, data, content_type)
    assert response.status_code == 200, response.json
    assert response.json["created"] == 1, response.json
    assert response.json["rows"][0]["reference"] == "BOM-1"
    assert count()["piece"] == before["piece"] + 1


def test_import_csv_with_a_field_too_large_for_the_parser(client, world, count):
    before = count()
    data = csv_body(CSV_HEADER, "BIG-1,ring,Кольцо," + "d" * 200_000 + ",gold,585,1,,")
    response = post_import(client, world.maker, data, "text/csv")
    assert_problem(response, 422, "file", slug="invalid-input")
    assert count() == before


def test_import_json_array_with_bad_rows(client, world, count):
    before = count()
    rows = [
        piece_data(reference="J-1"),
        piece_data(reference="J-2", fineness=925),
        "not a piece",
        None,
        piece_data(reference="J-3", colour="red"),
        without(piece_data(reference="J-4"), "weight_g"),
        piece_data(reference="J-1"),
        piece_data(reference="J-5", stones=[{"type": "opal", "count": 1, "carat": -1}]),
        piece_data(reference="J-6"),
    ]
    response = post_import(client, world.maker, json.dumps(rows), "application/json")
    assert response.status_code == 200, response.json
    report = response.json
    expected = {
        1: None,
        2: "fineness",
        3: "_schema",
        4: "_schema",
        5: "colour",
        6: "weight_g",
        7: "reference",
        8: "stones",
        9: None,
    }
    assert [row["row"] for row in report["rows"]] == list(expected)
    for row in report["rows"]:
        field = expected[row["row"]]
        assert row["status"] == ("created" if field is None else "rejected"), row
        if field is not None:
            assert field in row["errors"], row
    assert report["created"] == 2 and report["rejected"] == 7
    assert sorted(references(client, world.maker)) == ["J-1", "J-6"]
    after = count()
    assert after["piece"] == before["piece"] + 2
    assert after["event"] == before["event"] + 2


def test_import_json_object_with_pieces_array(client, world):
    data = json.dumps({"pieces": [piece_data(reference="P-1")]})
    response = post_import(client, world.maker, data, "application/json")
    assert response.status_code == 200, response.json
    assert response.json["created"] == 1


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(json.dumps(piece_data()), id="one-object"),
        pytest.param(json.dumps({"pieces": "many"}), id="pieces-not-array"),
        pytest.param('"pieces"', id="string"),
        pytest.param("42", id="number"),
        pytest.param("null", id="null"),
        pytest.param("[{", id="malformed"),
        pytest.param("", id="empty"),
        pytest.param(b"\xff\xfe[]", id="not-utf8"),
        pytest.param("[" * 100_000 + "]" * 100_000, id="nested-too-deep"),
    ],
)
def test_import_json_not_an_array_is_422_naming_file(client, world, count, data):
    before = count()
    response = post_import(client, world.maker, data, "application/json")
    assert_problem(response, 422, "file", slug="invalid-input")
    assert count() == before


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/xml",
        "application/x-www-form-urlencoded",
        "application/vnd.ms-excel",
        "",
    ],
)
def test_import_unsupported_content_type_is_415(client, world, count, content_type):
    before = count()
    data = csv_body(CSV_HEADER, "T-1,ring,Кольцо,,gold,585,1,,")
    response = post_import(client, world.maker, data, content_type)
    body = assert_problem(response, 415)
    assert "text/csv" in body["detail"] and "application/json" in body["detail"]
    assert count() == before


def test_import_multipart_upload_reads_its_file_field(client, world, count):
    before = count()
    file = (io.BytesIO(csv_body(CSV_HEADER, "T-1,ring,Кольцо,,gold,585,1,,")), "pieces.csv")
    response = client.post(
        "/api/v1/pieces/import", data={"file": file}, headers=bearer(world.maker)
    )
    assert response.status_code == 200, response.json
    assert response.json["created"] == 1
    assert count()["piece"] == before["piece"] + 1


def test_import_multipart_upload_without_its_file_field_is_422(client, world, count):
    before = count()
    file = (io.BytesIO(csv_body(CSV_HEADER, "T-1,ring,Кольцо,,gold,585,1,,")), "pieces.csv")
    response = client.post(
        "/api/v1/pieces/import", data={"sheet": file}, headers=bearer(world.maker)
    )
    assert_problem(response, 422)
    assert "file" in response.json["errors"]
    assert count() == before


def _csv_rows(n: int) -> bytes:
    return csv_body(CSV_HEADER, *(f"MAX-{i},ring,Кольцо,,gold,585,1,," for i in range(n)))


def _json_rows(n: int) -> str:
    return json.dumps([piece_data(reference=f"MAX-{i}") for i in range(n)])


@pytest.mark.parametrize(
    ("make", "content_type"),
    [
        pytest.param(_csv_rows, "text/csv", id="csv"),
        pytest.param(_json_rows, "application/json", id="json"),
    ],
)
def test_import_more_rows_than_the_limit_stores_nothing(
    small_client, world, count, make, content_type
):
    before = count()
    response = post_import(small_client, world.maker, make(SMALL_MAX_ROWS + 1), content_type)
    body = assert_problem(response, 422, "file", slug="invalid-input")
    assert str(SMALL_MAX_ROWS) in body["detail"]
    assert count() == before

    exactly = post_import(small_client, world.maker, make(SMALL_MAX_ROWS), content_type)
    assert exactly.status_code == 200, exactly.json
    assert exactly.json["created"] == SMALL_MAX_ROWS
    assert count()["piece"] == before["piece"] + SMALL_MAX_ROWS


@pytest.mark.parametrize("content_type", ["text/csv", "application/json"])
def test_import_body_larger_than_the_limit_is_413(small_client, world, count, content_type):
    before = count()
    data = b" " * (SMALL_MAX_BYTES + 1)
    response = post_import(small_client, world.maker, data, content_type)
    assert_problem(response, 413)
    assert count() == before


# -- GET /api/v1/pieces ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        pytest.param("limit=0", "limit", id="limit-0"),
        pytest.param("limit=-1", "limit", id="limit-negative"),
        pytest.param("limit=201", "limit", id="limit-too-large"),
        pytest.param("limit=abc", "limit", id="limit-text"),
        pytest.param("limit=1.5", "limit", id="limit-fraction"),
        pytest.param("limit=", "limit", id="limit-empty"),
        pytest.param("status=bogus", "status", id="status-unknown"),
        pytest.param("status=CERTIFIED", "status", id="status-case"),
        pytest.param("after=-1", "after", id="after-negative"),
        pytest.param("after=abc", "after", id="after-text"),
        pytest.param(f"after={2**31}", "after", id="after-too-large"),
        pytest.param(f"after={10**30}", "after", id="after-huge"),
        pytest.param("maker=", "maker", id="maker-empty"),
        pytest.param("maker=a%00b", "maker", id="maker-nul"),
    ],
)
def test_piece_listing_bad_parameter_is_400(client, world, query, parameter):
    for token in (world.maker, world.inspector):
        response = client.get(f"/api/v1/pieces?{query}", headers=bearer(token))
        body = assert_problem(response, 400, parameter, slug="invalid-parameters")
        assert list(body["errors"]) == [parameter]
        assert parameter in body["detail"]


@pytest.mark.parametrize("slug", ["no-such-maker", "a%00b", "Maker%201", "x" * 300])
def test_maker_lookup_of_an_unknown_slug_is_404(client, slug):
    assert_problem(client.get(f"/api/v1/makers/{slug}"), 404, slug="not-found")


@pytest.mark.parametrize("region", ["RU-MOW", "KYA", "", "a%00b"])
def test_maker_directory_of_an_unknown_region_is_400(client, region):
    response = client.get(f"/api/v1/makers?region={region}")
    assert_problem(response, 400, "region", slug="invalid-parameters")


def test_multiline_text_keeps_its_line_breaks_and_is_normalised(client, world):
    decomposed = "Кольцо с и\u0306олитом"  # й typed as и + combining breve
    made = client.post(
        "/api/v1/pieces",
        json=piece_data(title=decomposed, description="Line one\nLine two\twith a tab"),
        headers=bearer(world.maker),
    )
    assert made.status_code == 201, made.json
    assert made.json["description"] == "Line one\nLine two\twith a tab"
    assert made.json["title"] == "Кольцо с йолитом"


def test_the_largest_cursor_is_an_empty_page_not_an_error(client, world):
    page = client.get(f"/api/v1/pieces?after={2**31 - 1}", headers=bearer(world.inspector))
    assert page.status_code == 200
    assert page.json == {"items": [], "next_after": None}


@pytest.mark.parametrize(
    ("path", "content_type", "body"),
    [
        ("/api/v1/pieces", "application/json", '{"fineness": ' + "9" * 5000 + "}"),
        ("/api/v1/pieces/import", "application/json", "[" + "9" * 5000 + "]"),
        (
            "/api/v1/pieces/import",
            "text/csv",
            "reference,kind,title,metal,fineness,weight_g,stones\n"
            "A,ring,T,gold,5_85,1,diamond:²:0.1\n"
            "B,ring,T,gold,585,1,diamond:" + "9" * 5000 + ":0.1\n",
        ),
    ],
    ids=["huge-integer-json", "huge-integer-import", "odd-digits-csv"],
)
def test_numbers_python_will_not_convert_are_input_errors(
    client, world, count, path, content_type, body
):
    before = count()
    response = client.post(
        path, data=body.encode(), content_type=content_type, headers=bearer(world.maker)
    )
    assert 400 <= response.status_code < 500 or (
        response.status_code == 200 and response.json["created"] == 0
    ), response.get_data(as_text=True)
    assert count() == before


# -- invisible and direction-changing characters --------------------------------------------


@pytest.mark.parametrize(
    "look_alike",
    [
        "R-777\u200b",  # a zero-width space after it
        "R\u2011777",  # a non-breaking hyphen
        "\u2066R\u2212777\u2069",  # a minus sign, isolated left-to-right
        "R\u00ad777",  # a soft hyphen
        "R\u202e-777",  # a right-to-left override
    ],
    ids=["zwsp", "nb-hyphen", "minus-lri", "soft-hyphen", "rlo"],
)
def test_a_reference_written_with_invisible_or_look_alike_characters_is_the_same(
    client, world, count, look_alike
):
    assert register(client, world.maker, reference="R-777")["reference"] == "R-777"
    before = count()
    response = client.post(
        "/api/v1/pieces", json=piece_data(reference=look_alike), headers=bearer(world.maker)
    )
    body = assert_problem(response, 409, "reference", slug="conflict")
    assert "R-777" in body["detail"]
    assert count() == before


def test_a_maker_s_mark_and_an_assay_mark_lose_invisible_characters(client, world):
    admitted = client.post(
        "/api/v1/makers",
        json=maker_data(mark="KR\u2010\u200b9", slug="mark\u2011test"),
        headers=bearer(world.admin),
    )
    assert admitted.status_code == 201, admitted.json
    assert (admitted.json["mark"], admitted.json["slug"]) == ("KR-9", "mark-test")
    piece = register(client, world.maker, uin="\u20666431000000000777\u2069")
    assert piece["uin"] == "6431000000000777"
    attested = client.post(
        f"/api/v1/pieces/{piece['id']}/assay",
        json=assay_data(assay_mark="585\u2013KRS\u200d-2026"),
        headers=bearer(world.inspector),
    )
    assert attested.status_code == 201, attested.json
    assert attested.json["assay_mark"] == "585-KRS-2026"


def test_an_e_mail_address_loses_invisible_characters(client, world, count):
    made = client.post(
        "/api/v1/accounts",
        json={"email": "new\u200b@test.example", "role": "inspector"},
        headers=bearer(world.admin),
    )
    assert made.status_code == 201, made.json
    assert made.json["email"] == "new@test.example"
    before = count()
    again = client.post(
        "/api/v1/accounts",
        json={"email": "\u202enew@test.example", "role": "inspector"},
        headers=bearer(world.admin),
    )
    assert_problem(again, 409, "email", slug="conflict")
    assert count() == before


def test_free_text_keeps_its_letters_and_loses_direction_controls(client, world):
    # Stored without the controls rather than refused: they are invisible, so whoever
    # pasted them could not find them to take them out, and no letter is lost.
    made = client.post(
        "/api/v1/pieces",
        json=piece_data(
            title="Кольцо \u202eесйнеЕ\u202c «Енисей»",
            description="Line \u2067one\u2069\nи\u0306\u200f",
            stones=[{"type": "\u202ddiamond", "count": 1, "carat": 0.1}],
        ),
        headers=bearer(world.maker),
    )
    assert made.status_code == 201, made.json
    assert made.json["title"] == "Кольцо есйнеЕ «Енисей»"
    assert made.json["description"] == "Line one\nй"
    assert made.json["stones"][0]["type"] == "diamond"
    # What the certificate signs is what was stored.
    attested = client.post(
        f"/api/v1/pieces/{made.json['id']}/assay",
        json=assay_data(notes="Checked \u202eok"),
        headers=bearer(world.inspector),
    )
    assert attested.status_code == 201, attested.json
    assert attested.json["notes"] == "Checked ok"
    code = attested.json["certificate"]["code"]
    signed = client.get(f"/api/v1/certificates/{code}").get_data(as_text=True)
    assert "\u202e" not in json.loads(signed)["payload"]["piece"]["title"]
