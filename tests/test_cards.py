"""The printables: the certificate card (A6) and sheets of tag labels (A4), read back as a
buyer's phone and a PDF reader see them."""

import io

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest
import zxingcpp
from PIL import Image

from registry import cards, codes
from tests import factories

A6_POINTS = (105 / 25.4 * 72, 148 / 25.4 * 72)
A4_POINTS = (210 / 25.4 * 72, 297 / 25.4 * 72)


@pytest.fixture
def fonts(app) -> cards.Fonts:
    return cards.Fonts(app.config["CARD_FONT"], app.config["CARD_FONT_BOLD"])


def _card(app, certificate: dict, fonts: cards.Fonts, *, photo: bytes | None = None) -> bytes:
    return cards.card(
        certificate["payload"],
        printed_code=certificate["printed_code"],
        url=_url(app, certificate["code"]),
        photo_jpeg=photo,
        fonts=fonts,
    )


def _url(app, code: str) -> str:
    return f"{app.config['PUBLIC_BASE_URL']}/v/{code}"


def _text(page) -> str:
    return page.get_textpage().get_text_range()


def _qr_codes(page, *, scale: float) -> list:
    found = zxingcpp.read_barcodes(page.render(scale=scale).to_pil())
    return [barcode for barcode in found if barcode.format == zxingcpp.BarcodeFormat.QRCode]


def _jpeg(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (190, 160, 90)).save(out, "JPEG")
    return out.getvalue()


def test_the_card_is_one_a6_page_with_the_certificate_in_both_languages(app, client, world, fonts):
    _, certificate = factories.certify(client, world)
    document = pdfium.PdfDocument(_card(app, certificate, fonts))
    assert len(document) == 1
    assert document[0].get_size() == pytest.approx(A6_POINTS, abs=0.5)
    assert document.get_metadata_dict()["Title"] == certificate["printed_code"]
    text = _text(document[0])
    payload = certificate["payload"]
    for expected in (
        certificate["printed_code"],
        "Кольцо «Енисей»",
        payload["maker"]["name"]["ru"],
        payload["maker"]["name"]["en"],
        "Проба / Fineness",
        "585",
        "Золото / Gold",
        "Кольцо / Ring",
        "3.42",
        "Certificate of authenticity",
        "Сертификат подлинности",
        payload["region"]["name"]["ru"],
        payload["region"]["name"]["en"],
        payload["maker"]["mark"],
        payload["assay"]["mark"],
        "Scan or visit registry.test/verify to check",
    ):
        assert expected in text
    # The inspectorate in both languages, each on lines of its own if need be.
    flowing = " ".join(text.split())
    assert payload["assay"]["inspectorate"]["ru"] in flowing
    assert payload["assay"]["inspectorate"]["en"] in flowing


def test_the_cards_qr_code_carries_the_verification_address_only(app, client, world, fonts):
    _, certificate = factories.certify(client, world)
    page = pdfium.PdfDocument(_card(app, certificate, fonts))[0]
    (qr,) = _qr_codes(page, scale=4)
    assert qr.text == f"https://registry.test/v/{certificate['code']}"
    assert qr.ec_level in ("M", "Q", "H")


def test_the_photo_keeps_its_shape_on_the_card(app, client, world, fonts):
    _, certificate = factories.certify(client, world)
    page = pdfium.PdfDocument(_card(app, certificate, fonts, photo=_jpeg(300, 600)))[0]
    (photo,) = page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE])
    left, bottom, right, top = photo.get_bounds()
    assert (right - left) / (top - bottom) == pytest.approx(0.5, rel=0.01)
    assert 0 < left < right < A6_POINTS[0] and 0 < bottom < top < A6_POINTS[1]
    assert len(_qr_codes(page, scale=4)) == 1


def test_a_long_title_and_description_stay_on_the_one_page(app, client, world, fonts):
    title = " ".join(["Колье"] + ["«Саянские снега» с хризолитами"] * 7)[:200]
    _, certificate = factories.certify(
        client,
        world,
        title=title,
        description="Серебро, ручная работа. " * 160,
        stones=[{"type": "chrysolite", "count": n, "carat": 1.25} for n in range(1, 30)],
    )
    document = pdfium.PdfDocument(_card(app, certificate, fonts, photo=_jpeg(800, 500)))
    assert len(document) == 1
    page = document[0]
    text = _text(page)
    assert "Колье «Саянские снега»" in text
    assert certificate["printed_code"] in text
    frame = 3.5 / 25.4 * 72
    textpage = page.get_textpage()
    for index in range(textpage.count_chars()):
        left, bottom, right, top = textpage.get_charbox(index)
        assert frame < left <= right < A6_POINTS[0] - frame
        assert frame < bottom <= top < A6_POINTS[1] - frame
    assert len(_qr_codes(page, scale=4)) == 1


def test_the_date_of_issue_is_the_regions_date(app, client, world, fonts):
    _, certificate = factories.certify(client, world)
    certificate["payload"]["issued_at"] = "2026-03-01T20:00:00Z"  # 03:00 on 2 March there
    text = _text(pdfium.PdfDocument(_card(app, certificate, fonts))[0])
    assert "2026-03-02" in text
    assert "2026-03-01" not in text


def test_the_same_certificate_makes_the_same_card(app, client, world, fonts):
    _, certificate = factories.certify(client, world)
    assert _card(app, certificate, fonts) == _card(app, certificate, fonts)


def _labels(app, count: int) -> list[cards.Label]:
    labels = []
    for n in range(count):
        code = codes.new()
        labels.append(cards.Label(codes.printed(code), _url(app, code), f"SAY-{n}", f"Кольцо {n}"))
    return labels


def _flowing(text: str) -> str:
    """A page's text with its line breaks closed up: a code split over two lines of a
    small label (pdfium reads the dash that ends a line as a soft hyphen)."""
    return text.replace("\ufffe", "-").replace("\u00ad", "-").replace("\r\n", "")


@pytest.mark.parametrize(("stock", "per_page"), [("l7651", 65), ("l7160", 21)])
def test_a_label_sheet_has_a_readable_qr_code_and_the_code_of_every_piece(
    app, fonts, stock, per_page
):
    labels = _labels(app, per_page + 5)
    sheet = cards.label_sheet(labels, fonts=fonts, stock=stock, brand="Yenisey Siberia")
    document = pdfium.PdfDocument(sheet)
    assert len(document) == 2
    for page, on_page in zip(document, (labels[:per_page], labels[per_page:]), strict=True):
        assert page.get_size() == pytest.approx(A4_POINTS, abs=0.5)
        # About what a phone's camera sees of a tag held close.
        assert sorted(qr.text for qr in _qr_codes(page, scale=3)) == sorted(
            label.url for label in on_page
        )
        text = _text(page)
        assert text.count("Yenisey Siberia") == len(on_page)  # the brand on every label
        for label in on_page:
            assert label.printed_code in _flowing(text)
            assert label.reference in text


@pytest.mark.parametrize("stock", ["l7651", "l7160"])
def test_label_qr_codes_are_at_least_15_mm_with_modules_large_enough_to_scan(app, fonts, stock):
    labels = _labels(app, 1)
    page = pdfium.PdfDocument(cards.label_sheet(labels, fonts=fonts, stock=stock))[0]
    scale = 4
    (qr,) = _qr_codes(page, scale=scale)
    modules = 17 + 4 * int(qr.extra["Version"])
    side_px = qr.position.top_right.x - qr.position.top_left.x
    symbol_mm = side_px / scale / 72 * 25.4
    assert symbol_mm >= cards.QR_MIN_MM - 0.2  # zxing measures between module centres
    assert symbol_mm / modules >= cards.MIN_MODULE_MM


def test_a_label_sheet_has_cut_marks_in_its_margins(app, fonts):
    page = pdfium.PdfDocument(cards.label_sheet(_labels(app, 1), fonts=fonts))[0]
    image = page.render(scale=4).to_pil().convert("L")
    per_mm = 4 * 72 / 25.4
    sheet = cards.STOCKS["l7651"]
    # Above the first label's left and right edges, in the top margin, and nowhere else
    # between them there.
    y = round((sheet.first[1] - 2.5) * per_mm)
    for edge in (sheet.first[0], sheet.first[0] + sheet.label[0]):
        x = round(edge * per_mm)
        assert min(image.getpixel((x + dx, y)) for dx in (-1, 0, 1)) < 160, edge
    middle = round((sheet.first[0] + sheet.label[0] / 2) * per_mm)
    assert image.getpixel((middle, y)) > 240


def test_an_unknown_stock_is_refused(app, fonts):
    with pytest.raises(ValueError, match="Unknown label stock"):
        cards.label_sheet(_labels(app, 1), fonts=fonts, stock="a4-plain")


def test_an_address_too_long_for_a_tag_is_refused(app, fonts):
    (label,) = _labels(app, 1)
    label = cards.Label(label.printed_code, label.url + "?" + "x" * 120, "R", "T")
    with pytest.raises(ValueError, match="too dense for a tag label"):
        cards.label_sheet([label], fonts=fonts)


def test_no_labels_is_refused(fonts):
    with pytest.raises(ValueError, match="No labels"):
        cards.label_sheet([], fonts=fonts)


def test_a_missing_font_names_the_setting_to_fix(app, client, world, fonts, tmp_path):
    _, certificate = factories.certify(client, world)
    missing = str(tmp_path / "missing.ttf")
    with pytest.raises(FileNotFoundError, match=r"REGISTRY_CARD_FONT .*make fonts"):
        _card(app, certificate, cards.Fonts(missing, fonts.bold))
    with pytest.raises(FileNotFoundError, match=r"REGISTRY_CARD_FONT_BOLD .*make fonts"):
        cards.label_sheet(_labels(app, 1), fonts=cards.Fonts(fonts.regular, missing))


@pytest.mark.parametrize(
    "title",
    [
        "Кольцо «Высокохудожественноеювелирноеизделие» с хризолитом",
        "Brooch Extraordinarilylongworkshopname silver",
    ],
)
def test_a_word_too_long_for_a_label_is_hyphenated_never_cut_silently(fonts, title):
    """Wrapped text breaks between words; a word wider than the line is hyphenated, and
    every line but the last of such a word ends with a hyphen."""
    with cards._document(fonts, (50, 30)) as pdf:
        pdf.add_page()
        lines = cards._lines(pdf, "", 8, title, 22.0, 10)
        widths = [pdf.get_string_width(line) for line in lines]
    words = title.split()
    assert " ".join(lines).replace("- ", "").split() == words  # only hyphens added
    assert all(width <= 22.0 + 0.01 for width in widths)
    pieces = [token for line in lines for token in line.split()]
    # Every token is a word of the title, or a piece of a longer one: ending with a hyphen,
    # or ending the word.
    for token in pieces:
        assert token in words or token.endswith("-") or any(w.endswith(token) for w in words)
    assert any(line.endswith("-") for line in lines)
