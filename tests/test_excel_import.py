"""A CSV file as Russian Excel saves it imports as it is (issue 14, item 8): semicolons,
Windows-1251, decimal commas, Russian column names and Russian kinds, metals and stones,
through the API and through the maker's portal."""

import io

import openpyxl
import pytest

from registry import imports
from registry.edge import database
from tests.factories import bearer, sign_in, with_passwords

RUSSIAN_EXCEL = (
    "Артикул;Вид изделия;Наименование;Описание;Металл;Проба;Масса, г;Вставки;УИН\r\n"
    "EX-1;Кольцо;Кольцо «Енисей»;Золото, три бриллианта;Золото;585;3,42;"
    "бриллиант:3:0,15;\r\n"
    # Excel quotes a field holding its delimiter, as the stones' own `;` here.
    'EX-2;серьги;Серьги «Столбы»;;серебро;925;5,1;"Сапфир:2:0,4; другое (шунгит):1:1,5";\r\n'
    "EX-3;Брошь;Брошь «Саяны»;;Платина;950;12;;\r\n"
).encode("windows-1251")


def _pieces(client, token, rows) -> list[dict]:
    return [
        client.get(f"/api/v1/pieces/{row['piece_id']}", headers=bearer(token)).json for row in rows
    ]


def test_a_russian_excel_csv_imports_through_the_api_with_no_error(client, world):
    response = client.post(
        "/api/v1/pieces/import",
        data=RUSSIAN_EXCEL,
        content_type="text/csv",
        headers=bearer(world.maker),
    )

    assert response.status_code == 200, response.json
    assert response.json["created"] == 3, response.json
    ring, earrings, brooch = _pieces(client, world.maker, response.json["rows"])
    assert (ring["kind"], ring["metal"], ring["fineness"]) == ("ring", "gold", 585)
    assert ring["weight_g"] == 3.42
    assert ring["description"] == "Золото, три бриллианта"  # its comma is no delimiter
    assert ring["stones"] == [{"type": "diamond", "count": 3, "carat": 0.15}]
    assert (earrings["kind"], earrings["metal"]) == ("earrings", "silver")
    assert earrings["stones"] == [
        {"type": "sapphire", "count": 2, "carat": 0.4},
        {"type": "other", "name": "шунгит", "count": 1, "carat": 1.5},
    ]
    assert (brooch["kind"], brooch["metal"], brooch["weight_g"]) == ("brooch", "platinum", 12)


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_the_delimiter_is_the_one_the_header_uses(client, world, delimiter):
    header = delimiter.join(["reference", "kind", "title", "metal", "fineness", "weight_g"])
    line = delimiter.join([f"D-{ord(delimiter)}", "ring", "Кольцо", "gold", "585", "2"])
    response = client.post(
        "/api/v1/pieces/import",
        data=f"{header}\n{line}\n".encode(),
        content_type="text/csv",
        headers=bearer(world.maker),
    )
    assert response.status_code == 200, response.json
    assert response.json["created"] == 1, response.json


def test_an_unknown_kind_in_russian_is_reported_on_its_line(client, world):
    body = "Артикул;Вид;Название;Металл;Проба;Масса\nEX-9;колечко;Кольцо;золото;585;2\n"
    response = client.post(
        "/api/v1/pieces/import",
        data=body.encode("windows-1251"),
        content_type="text/csv",
        headers=bearer(world.maker),
    )
    assert response.status_code == 200, response.json
    assert response.json["created"] == 0
    (row,) = response.json["rows"]
    assert row["row"] == 2 and "kind" in row["errors"]


def test_a_russian_excel_csv_imports_through_the_portal_detecting_its_encoding(app, client, world):
    with app.app_context():
        with_passwords(database.session(), "maker@test.example")
    assert sign_in(client, "maker@test.example").status_code == 302
    page = client.get("/maker/import").get_data(as_text=True)
    assert '<option value="auto" selected>' in page
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]

    done = client.post(
        "/maker/import",
        data={
            "csrf_token": token,
            "file": (io.BytesIO(RUSSIAN_EXCEL), "изделия.csv"),
            "charset": "auto",
        },
        content_type="multipart/form-data",
    )

    assert done.status_code == 200
    html = done.get_data(as_text=True)
    assert 'data-import="done"' in html
    listed = client.get("/api/v1/pieces?q=EX-", headers=bearer(world.maker)).json["items"]
    assert sorted(p["reference"] for p in listed) == ["EX-1", "EX-2", "EX-3"]


def _signed_in_maker(app, client):
    with app.app_context():
        with_passwords(database.session(), "maker@test.example")
    assert sign_in(client, "maker@test.example").status_code == 302


def test_the_xlsx_template_filled_in_and_saved_by_openpyxl_imports_with_no_error(
    app, client, world
):
    _signed_in_maker(app, client)
    page = client.get("/maker/import").get_data(as_text=True)
    assert 'data-template="xlsx"' in page
    template = client.get("/maker/import/template.xlsx")
    assert template.status_code == 200
    assert template.mimetype == imports.XLSX
    assert "pieces-template.xlsx" in template.headers["Content-Disposition"]

    book = openpyxl.load_workbook(io.BytesIO(template.data))
    sheet = book.worksheets[0]
    header = [cell.value for cell in sheet[1]]
    assert header == [*imports.COLUMNS, imports.PHOTO]
    # A workshop keeps the examples, renames two and adds its own, in Russian.
    sheet["A2"], sheet["A3"] = "X-101", "X-205"
    sheet.append(
        ["X-300", "Подвеска", "Подвеска «Кедр»", None, "золото", 585, 2.05, "хризолит:1:0,8"]
    )
    sheet.append([None] * 9)  # a blank row, as Excel leaves them
    out = io.BytesIO()
    book.save(out)
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]

    done = client.post(
        "/maker/import",
        data={"csrf_token": token, "file": (io.BytesIO(out.getvalue()), "изделия.xlsx")},
        content_type="multipart/form-data",
    )

    assert done.status_code == 200
    assert 'data-import="done"' in done.get_data(as_text=True)
    listed = client.get("/api/v1/pieces?q=X-", headers=bearer(world.maker)).json["items"]
    by_reference = {p["reference"]: p for p in listed}
    assert sorted(by_reference) == ["X-101", "X-205", "X-300"]
    pendant = by_reference["X-300"]
    assert (pendant["kind"], pendant["metal"], pendant["weight_g"]) == ("pendant", "gold", 2.05)
    assert pendant["stones"] == [{"type": "chrysolite", "count": 1, "carat": 0.8}]
    assert by_reference["X-101"]["stones"] == [{"type": "diamond", "count": 3, "carat": 0.15}]


def test_a_workbook_imports_through_the_api(client, world):
    book = openpyxl.Workbook()
    sheet = book.worksheets[0]
    sheet.append(["Артикул", "Вид", "Название", "Металл", "Проба", "Масса"])
    sheet.append(["API-1", "кольцо", "Кольцо", "серебро", 925, 4])
    sheet.append(["API-2", "кольцо", "Кольцо", "серебро", 600, 4])  # not a legal fineness
    out = io.BytesIO()
    book.save(out)

    response = client.post(
        "/api/v1/pieces/import",
        data=out.getvalue(),
        content_type=imports.XLSX,
        headers=bearer(world.maker),
    )

    assert response.status_code == 200, response.json
    assert response.json["created"] == 1
    refused = [row for row in response.json["rows"] if row["status"] == "rejected"]
    assert [(row["row"], list(row["errors"])) for row in refused] == [(3, ["fineness"])]


@pytest.mark.parametrize(
    "body",
    [b"PK\x03\x04 not really a zip", b"PK\x03\x04" + bytes(200)],
    ids=["broken-zip", "zeros"],
)
def test_a_file_that_only_looks_like_a_workbook_is_refused_plainly(client, world, body):
    response = client.post(
        "/api/v1/pieces/import", data=body, content_type=imports.XLSX, headers=bearer(world.maker)
    )
    assert response.status_code == 422
    assert response.json["errors"] == {"file": ["Not a readable .xlsx workbook."]}
