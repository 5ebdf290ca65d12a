"""Pages set user text apart from their own (`<bdi>` or `dir="auto"`, and FSI…PDI in the
page title), so that right-to-left letters or a direction control in a title, a reference
or a maker's name cannot reorder the words around it."""

from html.parser import HTMLParser

import pytest
from sqlalchemy import create_engine, text

from registry.edge import database
from tests.factories import assay_data, bearer, piece_data, sign_in, with_passwords

FSI, PDI = "\u2068", "\u2069"
_VOID = {"area", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


class _Page(HTMLParser):
    """Each run of text with the element that holds it, and the page's title."""

    def __init__(self, html: str):
        super().__init__()
        self.stack: list[tuple[str, dict]] = []
        self.runs: list[tuple[str, dict, str]] = []
        self.title = ""
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        if tag not in _VOID:
            self.stack.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        while self.stack and self.stack.pop()[0] != tag:
            pass

    def handle_data(self, data):
        tag, attrs = self.stack[-1] if self.stack else ("", {})
        if tag == "title":
            self.title += data
        elif tag not in ("script", "style"):
            self.runs.append((tag, attrs, data))

    def assert_isolated(self, value: str) -> None:
        """`value` is shown, and wherever it is, it is the whole text of an isolated element."""
        holding = [(tag, attrs, data) for tag, attrs, data in self.runs if value in data]
        assert holding, f"{value!r} is not on the page"
        for tag, attrs, data in holding:
            assert tag == "bdi" or attrs.get("dir") == "auto", (value, tag, attrs)
            assert data.strip() == value, (value, data)


@pytest.fixture
def settings() -> dict:
    """An inspectorate whose names mix scripts, as configured names may."""
    return {"INSPECTORATES": [{"ru": "Инспекция פיקוח", "en": "Inspection פיקוח"}]}


def _certified(client, world, **piece) -> tuple[dict, dict]:
    made = client.post("/api/v1/pieces", json=piece_data(**piece), headers=bearer(world.maker))
    assert made.status_code == 201, made.json
    attested = client.post(
        f"/api/v1/pieces/{made.json['id']}/assay",
        json=assay_data(inspectorate="Инспекция פיקוח"),
        headers=bearer(world.inspector),
    )
    assert attested.status_code == 201, attested.json
    return made.json, attested.json["certificate"]


def test_the_certificate_page_isolates_every_user_text(client, world):
    piece, certificate = _certified(
        client,
        world,
        title="Кольцо טבעת זהב",
        reference="R-שלום-7",
        description="Описание תיאור",
        stones=[{"type": "other", "name": "алмаз יהלום", "count": 3, "carat": 0.15}],
    )
    html = client.get(f"/v/{certificate['code']}", headers={"Accept-Language": "en"})
    assert html.status_code == 200
    page = _Page(html.get_data(as_text=True))

    for value in ("Кольцо טבעת זהב", "R-שלום-7", "Описание תיאור", "алмаз יהלום"):
        page.assert_isolated(value)
    page.assert_isolated("Inspection פיקוח")
    maker = client.get(f"/api/v1/makers/{world.maker_slug}").json
    for value in (maker["name"]["en"], maker["city"], maker["mark"]):
        page.assert_isolated(value)
    assert f"{FSI}Кольцо טבעת זהב{PDI}" in page.title


def test_the_maker_s_public_page_isolates_its_name_and_its_pieces(client, world):
    _certified(client, world, title="Серьги עגילים")
    html = client.get(f"/makers/{world.maker_slug}", headers={"Accept-Language": "en"})
    assert html.status_code == 200
    page = _Page(html.get_data(as_text=True))
    maker = client.get(f"/api/v1/makers/{world.maker_slug}").json

    page.assert_isolated("Серьги עגילים")
    for value in (maker["name"]["en"], maker["city"], maker["mark"]):
        page.assert_isolated(value)
    assert f"{FSI}{maker['name']['en']}{PDI}" in page.title


def test_a_direction_control_stored_before_stays_inside_its_title(app, client, world, database_url):
    piece = client.post("/api/v1/pieces", json=piece_data(), headers=bearer(world.maker)).json
    # As a row written before titles lost their direction controls.
    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE piece SET title = :t WHERE id = :i"),
            {"t": "Кольцо \u202eйесинеЕ", "i": piece["id"]},
        )
    engine.dispose()
    with app.app_context():
        with_passwords(database.session(), "maker@test.example")
    assert sign_in(client, "maker@test.example").status_code == 302
    html = client.get(f"/maker/pieces/{piece['id']}", headers={"Accept-Language": "en"})
    assert html.status_code == 200, html.get_data(as_text=True)[:500]
    page = _Page(html.get_data(as_text=True))

    page.assert_isolated("Кольцо \u202eйесинеЕ")
    assert f"{FSI}Кольцо \u202eйесинеЕ{PDI}" in page.title
