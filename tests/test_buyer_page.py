"""The verification page as a buyer reads it (issue 14, items 1-4 and 7): the checks on
the piece in hand right after the verdict and the photo, the log and the signature
collapsed for specialists, the verdict in plain words, a superseded certificate that
leads to its successor without alarm, a look of its own for every verdict, and the
certificate card as a PDF. What a browser shows (lines, widths, the collapsed section
opening) is in tests/test_browser.py.
"""

import re

import pypdfium2 as pdfium
import pytest
import zxingcpp
from sqlalchemy import func, select

from registry import codes
from registry.edge import database
from registry.edge import scans as edge_scans
from registry.models import Certificate, ScanDay
from tests.factories import bearer, certify, jpeg

LANGUAGES = ("ru", "en")


def _page(client, code: str, language: str = "en") -> str:
    response = client.get(f"/v/{code}", headers={"Accept-Language": language})
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _revoke(client, world, code: str, reason: str) -> None:
    revoked = client.post(
        f"/api/v1/certificates/{code}/revoke",
        json={"reason": reason, "note": "Checked."},
        headers=bearer(world.inspector),
    )
    assert revoked.status_code == 200, revoked.json


def _reissue(client, world, code: str) -> str:
    reissued = client.post(
        f"/api/v1/certificates/{code}/reissue",
        json={"weight_g": 3.5, "note": "Weighed again."},
        headers=bearer(world.inspector),
    )
    assert reissued.status_code == 201, reissued.json
    return reissued.json["code"]


def _positions(html: str, *markers: str) -> list[int]:
    found = [html.find(marker) for marker in markers]
    assert -1 not in found, dict(zip(markers, found, strict=True))
    return found


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_checks_on_the_piece_come_right_after_the_verdict_and_the_photo(
    client, world, language
):
    _, certificate = certify(client, world, photo=jpeg())
    html = _page(client, certificate["code"], language)

    verdict, photo, checks, details, specialists = _positions(
        html, 'class="verdict', 'class="photo"', "data-checks", "<dl>", "data-specialists"
    )
    assert verdict < photo < checks < details < specialists
    # Nothing of the log or the signature before the checks; all of it in the one
    # collapsed section (no `open`), which needs no script.
    collapsed = html[specialists:]
    for specialist in ("/api/v1/log/proof/inclusion", "/.well-known/jwks.json", "Ed25519"):
        assert specialist not in html[:specialists]
        assert specialist in collapsed[: collapsed.index("</details>")]
    assert re.search(r"<details[^>]*data-specialists[^>]*>", html)
    assert " open" not in re.search(r"<details[^>]*>", html[specialists - 40 :]).group(0)
    assert "<script" not in html


@pytest.mark.parametrize(
    ("language", "says", "jargon"),
    [
        ("en", "A genuine Yenisey Siberia piece", ("signature", "registry's")),
        ("ru", "Подлинное изделие бренда Yenisey Siberia", ("подпись", "Подпись")),
    ],
)
def test_the_authentic_verdict_says_what_it_means_without_jargon(
    client, world, language, says, jargon
):
    _, certificate = certify(client, world)
    html = _page(client, certificate["code"], language)

    verdict = html[html.index('class="verdict') : html.index("</section>")]
    assert says in verdict
    for word in jargon:
        assert word not in verdict


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_superseded_certificate_leads_with_the_current_one_and_is_not_alarming(
    client, world, language
):
    _, certificate = certify(client, world)
    current = _reissue(client, world, certificate["code"])
    html = _page(client, certificate["code"], language)

    verdict = html[html.index('class="verdict') : html.index("</section>")]
    # The first thing after the heading is the way to the current certificate.
    after_heading = verdict[verdict.index("</h1>") :]
    first = after_heading[after_heading.index("<p>") : after_heading.index("</p>")]
    assert f'href="/v/{current}"' in first
    # Its old details are neutral: no red "no longer vouches", no dashed void cards.
    body = html[html.index("<body>") :]
    assert " void" not in body and "void-note" not in body
    assert 'class="old-note"' in body
    no_longer = {"en": "no longer vouches", "ru": "больше не подтверждает"}[language]
    assert no_longer not in body


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_revoked_certificate_still_says_it_no_longer_vouches(client, world, language):
    _, certificate = certify(client, world)
    _revoke(client, world, certificate["code"], "fraud")
    html = _page(client, certificate["code"], language)

    assert 'class="card void"' in html
    assert 'class="void-note"' in html
    assert "data-checks" not in html  # no checks to make on a piece nothing vouches for


def _banner(html: str) -> tuple[str, str, str]:
    """The banner's class, its icon (data-icon and shape) and its heading."""
    section = re.search(r'<section class="verdict ([^"]+)"', html).group(1)
    icon = re.search(r'<svg[^>]*data-icon="([^"]+)"[^>]*>(.*?)</svg>', html, re.S)
    heading = re.search(r'<h1 id="verdict">([^<]+)</h1>', html).group(1)
    return section, icon.group(1) + icon.group(2), heading


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_verdict_has_its_own_icon_heading_and_banner(client, world, language):
    headers = {"Accept-Language": language}
    _, valid = certify(client, world)
    _, revoked = certify(client, world)
    _revoke(client, world, revoked["code"], "fraud")
    _, stolen = certify(client, world)
    _revoke(client, world, stolen["code"], "piece_lost_or_stolen")
    _, old = certify(client, world)
    _reissue(client, world, old["code"])
    mistyped = valid["code"][:5] + ("X" if valid["code"][5] != "X" else "Y") + valid["code"][6:]
    pages = {
        "valid": client.get(f"/v/{valid['code']}", headers=headers),
        "revoked": client.get(f"/v/{revoked['code']}", headers=headers),
        "stolen": client.get(f"/v/{stolen['code']}", headers=headers),
        "superseded": client.get(f"/v/{old['code']}", headers=headers),
        "unknown": client.get(f"/v/{codes.new()}", headers=headers),
        "mistyped": client.get(f"/v/{mistyped}", headers=headers),
        "malformed": client.get("/v/not-a-code", headers=headers),
    }
    banners = {kind: _banner(page.get_data(as_text=True)) for kind, page in pages.items()}

    for part, name in enumerate(("banner class", "icon", "heading")):
        shown = [banner[part] for banner in banners.values()]
        assert len(set(shown)) == len(shown), (name, banners)
    # Both of each pair that looked alike differ in shape, not in colour alone.
    for one, other in (("revoked", "stolen"), ("unknown", "mistyped")):
        assert banners[one][1] != banners[other][1]


def test_the_card_of_a_valid_certificate_is_a_pdf_with_its_code_and_qr(app, client, world):
    _, certificate = certify(client, world)
    html = _page(client, certificate["code"])
    link = f"/v/{certificate['code']}/card.pdf"
    assert f'href="{link}"' in html

    response = client.get(link)

    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"].startswith("public")
    page = pdfium.PdfDocument(response.data)[0]
    text = page.get_textpage().get_text_range()
    assert certificate["printed_code"] in text
    assert certificate["payload"]["maker"]["name"]["ru"] in text
    found = zxingcpp.read_barcodes(page.render(scale=4).to_pil())
    assert [barcode.text for barcode in found] == [
        f"{app.config['PUBLIC_BASE_URL']}/v/{certificate['code']}"
    ]


def test_a_card_is_read_leniently_like_the_page(client, world):
    _, certificate = certify(client, world)
    typed = certificate["code"].lower().replace("-", "")

    response = client.get(f"/v/{typed}/card.pdf")

    assert response.status_code == 200
    assert response.mimetype == "application/pdf"


@pytest.mark.parametrize("case", ["revoked", "stolen", "superseded"])
def test_no_card_is_offered_for_a_certificate_that_does_not_vouch(client, world, case):
    _, certificate = certify(client, world)
    code = certificate["code"]
    if case == "superseded":
        _reissue(client, world, code)
    else:
        _revoke(client, world, code, "fraud" if case == "revoked" else "piece_lost_or_stolen")

    assert "card.pdf" not in _page(client, code)
    response = client.get(f"/v/{code}/card.pdf")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/v/{code}")


def test_a_card_of_an_unknown_or_mistyped_code_is_the_refusal_page(client, world):
    unknown = client.get(f"/v/{codes.new()}/card.pdf")
    assert unknown.status_code == 404
    assert unknown.mimetype == "text/html"
    assert 'data-verdict="unknown"' in unknown.get_data(as_text=True)
    _, certificate = certify(client, world)
    code = certificate["code"]
    wrong = code[:5] + ("X" if code[5] != "X" else "Y") + code[6:]
    mistyped = client.get(f"/v/{wrong}/card.pdf")
    assert mistyped.status_code == 400
    assert 'data-verdict="mistyped"' in mistyped.get_data(as_text=True)


def test_a_card_whose_signed_bytes_were_changed_is_not_drawn(app, client, world):
    """Someone who can write the database but not read the keys: the card is drawn only
    from bytes whose signature verifies, so a changed weight never reaches paper."""
    _, certificate = certify(client, world)
    code = certificate["code"]
    with app.app_context():
        session = database.session()
        row = session.scalars(select(Certificate).where(Certificate.code == code)).one()
        row.payload = row.payload.replace(b'"weight_g":3.42', b'"weight_g":9.99')
        session.commit()

    response = client.get(f"/v/{code}/card.pdf")

    assert response.status_code == 303
    page = client.get(f"/v/{code}")
    assert 'data-verdict="invalid"' in page.get_data(as_text=True)


def test_a_card_download_is_not_counted_as_a_scan(app, client, world):
    _, certificate = certify(client, world)
    for _ in range(3):
        assert client.get(f"/v/{certificate['code']}/card.pdf").status_code == 200
    with app.app_context():
        edge_scans.flush()
        session = database.session()
        counted = session.scalar(select(func.count()).select_from(ScanDay))
    assert counted == 0
    # …while a scan of the page is.
    _page(client, certificate["code"])
    with app.app_context():
        edge_scans.flush()
        assert database.session().scalar(select(func.count()).select_from(ScanDay)) == 1
