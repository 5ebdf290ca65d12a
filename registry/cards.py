"""Printables as PDF: the certificate card a maker hands to the buyer, and sheets of
QR labels for the tags of many pieces.

Pure rendering: a certificate's signed payload (and the address its QR code carries) in,
PDF bytes out; no Flask, no database. The card is bilingual, Russian and English side by
side, so it needs no request language; its words are registry.words', in English, and
their Russian comes from the pages' own catalog, so a card and a page name a kind or a
metal alike.

QR codes are drawn as vector squares, one per run of dark modules, so they print sharp
at any size, from the modules registry.qr makes (the verification address only, error
correction M), with a quiet zone of 4 modules.
"""

import contextlib
import io
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import cast
from zoneinfo import ZoneInfo

from fpdf import FPDF
from fpdf.enums import MethodReturnValue, WrapMode, XPos, YPos
from PIL import Image

from registry import numbers, qr, words

_MM_PER_PT = 25.4 / 72
#: Sizes are in millimetres, font sizes in points.
_A6 = (105.0, 148.0)
_MARGIN = 7.0
_FRAME_INSET = 3.5
_QUIET_ZONE = 4
#: The smallest QR module that phone cameras read reliably off a printed tag.
MIN_MODULE_MM = 0.33

_INK = (28, 43, 51)
_MUTED = (105, 112, 118)
_GOLD = (176, 141, 87)
_ELLIPSIS = "…"
_SPACES = re.compile(r"[ \t\r\n\f\v]+")
#: The details: label and value type sizes (pt), their line heights and column gutter (mm).
_LABEL_PT, _LABEL_LEAD = 5.8, 2.6
_VALUE_PT, _VALUE_LEAD = 7.6, 3.4
_GUTTER = 1.5
_PHOTO_W = 34.0
_CODE_FONT = "Courier"  # a PDF core font: monospaced, so the code's groups line up


@dataclass(frozen=True)
class Fonts:
    """TrueType files (Latin and Cyrillic) of the printables: settings CARD_FONT and
    CARD_FONT_BOLD."""

    regular: str
    bold: str

    def check(self) -> None:
        """Raise FileNotFoundError naming the setting when a font file is missing."""
        for setting, path in (("CARD_FONT", self.regular), ("CARD_FONT_BOLD", self.bold)):
            if not os.path.isfile(path):
                raise FileNotFoundError(
                    f"The font of the certificate cards and labels is missing: {path}. "
                    f"Set REGISTRY_{setting} to a TrueType font with Cyrillic, "
                    "or run `make fonts` to install DejaVu Sans."
                )


@dataclass(frozen=True)
class Label:
    """One tag label: the QR code of `url`, the printed code, the maker's reference."""

    printed_code: str
    url: str
    reference: str
    title: str


def card(
    payload: dict,
    *,
    printed_code: str,
    url: str,
    photo_jpeg: bytes | None,
    fonts: Fonts,
    timezone: str = "Asia/Krasnoyarsk",
) -> bytes:
    """The certificate card of a signed payload: one A6 portrait page, Russian and
    English, with the piece's photo when given, and the QR code of `url`.

    `url` is the verification address the QR code encodes; its part before `/v/` is
    printed as the site to check on. Dates are shown in `timezone` (the regions' own).
    Raises FileNotFoundError when a font file is missing.
    """
    with _document(fonts, _A6) as pdf:
        _draw_card(
            pdf, payload, printed_code=printed_code, url=url, photo_jpeg=photo_jpeg,
            timezone=timezone,
        )  # fmt: skip
        return bytes(pdf.output())


def _draw_card(
    pdf: FPDF, payload: dict, *, printed_code: str, url: str, photo_jpeg: bytes | None,
    timezone: str,
) -> None:  # fmt: skip
    piece, maker, region, assay = (payload[k] for k in ("piece", "maker", "region", "assay"))
    issued_at = datetime.fromisoformat(payload["issued_at"])
    pdf.set_title(printed_code)
    pdf.set_subject(_both("certificate"))
    pdf.set_author(payload["brand"])
    pdf.set_creator(payload["issuer"]["name"])
    pdf.set_lang("ru")
    pdf.set_creation_date(issued_at)
    pdf.add_page()
    width, height = _A6
    inner = width - 2 * _MARGIN

    pdf.set_draw_color(*_GOLD)
    pdf.set_line_width(0.35)
    pdf.rect(_FRAME_INSET, _FRAME_INSET, width - 2 * _FRAME_INSET, height - 2 * _FRAME_INSET)

    # 1. The heading: brand and what this is.
    y = _MARGIN
    pdf.set_text_color(*_INK)
    _text(pdf, "B", 14, payload["brand"], _MARGIN, y, inner, 6.0, align="C")
    y += 6.2
    pdf.set_text_color(*_MUTED)
    _text(pdf, "", 7.5, " · ".join(_pair("certificate")), _MARGIN, y, inner, 3.6, align="C")
    y += 5.0
    pdf.set_line_width(0.25)
    pdf.line(_MARGIN + 20, y, width - _MARGIN - 20, y)
    y += 2.5

    # 2. The bottom band: QR code, printed code, where to check. Fixed in place.
    qr_side = 28.0
    qr_top = height - _MARGIN - qr_side
    modules = qr.modules(url, border=_QUIET_ZONE)
    _draw_qr(pdf, modules, _MARGIN, qr_top, qr_side)
    quiet = qr_side / len(modules) * _QUIET_ZONE
    band_x = _MARGIN + qr_side + 1.0
    band_w = width - _MARGIN - band_x
    by = qr_top + quiet - 0.8
    pdf.set_text_color(*_MUTED)
    _text(pdf, "", 5.8, _both("code"), band_x, by, band_w, 2.6)
    by += 2.8
    pdf.set_text_color(*_INK)
    size = min(13.0, band_w / _MM_PER_PT / (0.6 * len(printed_code)))
    pdf.set_font(_CODE_FONT, "B", size)
    pdf.set_xy(band_x, by)
    pdf.cell(band_w, size * _MM_PER_PT * 1.2, printed_code)
    by += size * _MM_PER_PT * 1.2 + 1.2
    site = _site(url, payload["issuer"]["url"])
    pdf.set_text_color(*_MUTED)
    for phrase, most in zip(_pair("scan"), (3, 2), strict=True):
        by = _paragraph(pdf, "", 6.3, phrase.format(site=site), band_x, by, band_w, 2.8, most)
        by += 0.6

    # 3. The details, measured first so that the title block gets what space is left.
    rows = _detail_rows(piece, maker, region, assay, issued_at.astimezone(ZoneInfo(timezone)))
    measured = [
        [
            (label, _value_lines(pdf, value, share * inner - _GUTTER, most), share)
            for label, value, share, most in row
        ]
        for row in rows
    ]
    row_heights = [
        _LABEL_LEAD + max(len(lines) for _, lines, _ in row) * _VALUE_LEAD + 1.3 for row in measured
    ]
    details_bottom = qr_top - 2.5
    room = details_bottom - y - sum(row_heights) - 2.0
    block_h = min(40.0, room)
    # What room the title block and the details leave is shared above and below them.
    used = _title_block(pdf, piece, photo_jpeg, _MARGIN, y, inner, block_h, draw=False) - y
    y += (room - used) / 2
    y = _title_block(pdf, piece, photo_jpeg, _MARGIN, y, inner, block_h) + 2.0

    for row, row_height in zip(measured, row_heights, strict=True):
        x = _MARGIN
        for label, lines, share in row:
            column = share * inner - _GUTTER
            pdf.set_text_color(*_MUTED)
            _paragraph(pdf, "", _LABEL_PT, label, x, y, column, _LABEL_LEAD, 1)
            pdf.set_text_color(*_INK)
            for n, line in enumerate(lines):
                _text(pdf, "", _VALUE_PT, line, x, y + _LABEL_LEAD + n * _VALUE_LEAD, column, 3.4)
            x += share * inner
        y += row_height
    pdf.set_draw_color(*_GOLD)
    pdf.set_line_width(0.2)
    pdf.line(_MARGIN, details_bottom, width - _MARGIN, details_bottom)


@dataclass(frozen=True)
class Stock:
    """An A4 sheet of labels: its name, labels across and down, a label's size, where the
    first label's corner is, and the pitch from one label to the next (mm)."""

    name: str
    across: int
    down: int
    label: tuple[float, float]
    first: tuple[float, float]
    pitch: tuple[float, float]


#: Common label stocks, by the key a maker chooses: small tags of 65 a sheet, and larger
#: ones of 21, each in its makers' published layout.
STOCKS = {
    "l7651": Stock(
        "Avery L7651 / J8651 · 65 · 38.1 × 21.2 mm", 5, 13, (38.1, 21.2), (4.7, 10.7), (40.6, 21.2)
    ),
    "l7160": Stock(
        "Avery L7160 / J8160 · 21 · 63.5 × 38.1 mm", 3, 7, (63.5, 38.1), (7.2, 15.15), (66.0, 38.1)
    ),
}
DEFAULT_STOCK = "l7651"
#: The smallest printed QR symbol (without its quiet zone) that phones read at arm's length.
QR_MIN_MM = 15.0
_SHEET = (210.0, 297.0)
#: Room left at a label's edges, and the length of a cut mark (mm).
_LABEL_INSET = 0.8
_CUT_MARK = 3.0
#: Modules of quiet zone kept clear between a label's QR symbol and its text.
_TEXT_CLEARANCE = 2


def label_sheet(
    labels: list[Label], *, fonts: Fonts, stock: str = DEFAULT_STOCK, brand: str = ""
) -> bytes:
    """A4 sheets of tag labels on a common label stock (STOCKS), as many pages as needed:
    each the brand, the QR code (a symbol of at least QR_MIN_MM, its quiet zone beside),
    the printed code, the reference and the title; cut marks in the margins along every
    label's edges, for stock without die-cut labels or paper cut by hand.

    Raises ValueError for no labels, an unknown stock, or an address too long for a
    tag's QR code (its modules would be smaller than MIN_MODULE_MM); FileNotFoundError
    when a font file is missing.
    """
    if not labels:
        raise ValueError("No labels to print: choose at least one certified piece.")
    sheet = STOCKS.get(stock)
    if sheet is None:
        raise ValueError(f"Unknown label stock {stock!r}: one of {', '.join(STOCKS)}.")
    with _document(fonts, _SHEET) as pdf:
        pdf.set_title(f"{_both('labels')} ({len(labels)})")
        per_page = sheet.across * sheet.down
        for index, label in enumerate(labels):
            if index % per_page == 0:
                pdf.add_page()
                _cut_marks(pdf, sheet)
            column, row = index % sheet.across, index % per_page // sheet.across
            x = sheet.first[0] + column * sheet.pitch[0]
            y = sheet.first[1] + row * sheet.pitch[1]
            _label(pdf, label, sheet, x, y, brand)
        return bytes(pdf.output())


def _cut_marks(pdf: FPDF, sheet: Stock) -> None:
    """Short hairlines in the page's margins at every label edge, clear of the labels."""
    width, height = sheet.label
    left, top = sheet.first
    right = left + (sheet.across - 1) * sheet.pitch[0] + width
    bottom = top + (sheet.down - 1) * sheet.pitch[1] + height
    xs = sorted(
        {left + c * sheet.pitch[0] + edge for c in range(sheet.across) for edge in (0, width)}
    )
    ys = sorted(
        {top + r * sheet.pitch[1] + edge for r in range(sheet.down) for edge in (0, height)}
    )
    pdf.set_draw_color(*_MUTED)
    pdf.set_line_width(0.1)
    for x in xs:
        pdf.line(x, max(0.5, top - 1 - _CUT_MARK), x, top - 1)
        pdf.line(x, bottom + 1, x, min(_SHEET[1] - 0.5, bottom + 1 + _CUT_MARK))
    for y in ys:
        pdf.line(max(0.5, left - 1 - _CUT_MARK), y, left - 1, y)
        pdf.line(right + 1, y, min(_SHEET[0] - 0.5, right + 1 + _CUT_MARK), y)


@dataclass(frozen=True)
class _LabelType:
    """A label's type sizes (pt) and line heights (mm): the brand's, the code's largest,
    and the reference's and title's."""

    brand_pt: float
    brand_lead: float
    code_pt: float
    text_pt: float
    lead: float


_SMALL_TYPE = _LabelType(brand_pt=4.6, brand_lead=2.0, code_pt=6.0, text_pt=5.0, lead=2.1)
_LARGE_TYPE = _LabelType(brand_pt=6.5, brand_lead=2.8, code_pt=9.0, text_pt=6.0, lead=2.6)


def _label(pdf: FPDF, label: Label, sheet: Stock, x: float, y: float, brand: str) -> None:
    width, height = sheet.label
    modules = qr.modules(label.url, border=_QUIET_ZONE)
    symbol_modules = len(modules) - 2 * _QUIET_ZONE
    # The largest QR code, quiet zone included, that the label's height allows beside
    # room for the text; refused below QR_MIN_MM of symbol.
    side = min(height - 2 * _LABEL_INSET, width * 0.55)
    module = side / len(modules)
    if module * symbol_modules < QR_MIN_MM or module < MIN_MODULE_MM:
        raise ValueError(
            f"The QR code of {label.url} is too dense for a tag label: its symbol would "
            f"be {module * symbol_modules:.1f} mm ({module:.2f} mm modules); phones need "
            f"{QR_MIN_MM:g} mm and {MIN_MODULE_MM} mm."
        )
    top = y + (height - side) / 2
    _draw_qr(pdf, modules, x + _LABEL_INSET / 2, top, side)
    # Beside the QR code, two modules clear of the symbol: on a small tag the text takes
    # half of the quiet zone (phones read such codes; zxing-cpp reads them in the tests).
    side_x = x + _LABEL_INSET / 2 + side - module * (_QUIET_ZONE - _TEXT_CLEARANCE)
    side_w = x + width - _LABEL_INSET - side_x
    text_top = top + module * (_QUIET_ZONE - 1)
    text_bottom = top + side - module * (_QUIET_ZONE - 1)
    large = height > 30
    kind = _LARGE_TYPE if large else _SMALL_TYPE
    if brand:
        pdf.set_text_color(*_GOLD)
        text_top = _paragraph(
            pdf, "B", kind.brand_pt, brand, side_x, text_top, side_w, kind.brand_lead, 1
        )
    pdf.set_text_color(*_INK)
    # The code in two halves where the label is narrow: each readable, both the code.
    halves = [label.printed_code] if large else _halves(label.printed_code)
    widest = max(len(part) for part in halves)
    size = min(kind.code_pt, side_w / _MM_PER_PT / (0.6 * widest))
    pdf.set_font(_CODE_FONT, "B", size)
    for part in halves:
        pdf.set_xy(side_x, text_top)
        pdf.cell(side_w, size * _MM_PER_PT * 1.15, part)
        text_top += size * _MM_PER_PT * 1.2
    text_top = _paragraph(
        pdf, "B", kind.text_pt, label.reference, side_x, text_top + 0.3, side_w, kind.lead, 1
    )
    pdf.set_text_color(*_MUTED)
    lines = int((text_bottom - text_top) // kind.lead)
    if lines > 0:
        _paragraph(pdf, "", kind.text_pt, label.title, side_x, text_top, side_w, kind.lead, lines)


def _halves(code: str) -> list[str]:
    """YS-7K2M-9QXD-4TB-8R2 as YS-7K2M-9QXD- and 4TB-8R2: split at the dash nearest the
    middle, the dash kept on the first line so that no one reads two codes."""
    dashes = [i for i, ch in enumerate(code) if ch == "-"]
    if not dashes:
        return [code]
    cut = min(dashes, key=lambda i: abs(i - len(code) / 2)) + 1
    return [code[:cut], code[cut:]]


@contextlib.contextmanager
def _document(fonts: Fonts, size: tuple[float, float]) -> Iterator[FPDF]:
    """A blank PDF set in the card's fonts; on leaving, the font files are closed
    (fpdf2 reads them lazily through fontTools and leaves them open otherwise)."""
    fonts.check()
    pdf = FPDF(unit="mm", format=size)
    pdf.set_auto_page_break(False)
    pdf.set_margins(0, 0, 0)
    pdf.c_margin = 0
    try:
        pdf.add_font("Card", "", fonts.regular)
        pdf.add_font("Card", "B", fonts.bold)
        pdf.set_font("Card", "", 8)
        yield pdf
    finally:
        for font in pdf.fonts.values():
            ttfont = getattr(font, "ttfont", None)
            if ttfont is not None:
                ttfont.close()


def _in_both(message: str) -> tuple[str, str]:
    """A message in Russian and in English (its msgid)."""
    return words.russian().gettext(message), message


def _pair(word: str) -> tuple[str, str]:
    """One of the card's words (registry.words.CARD) in Russian and in English."""
    return _in_both(words.CARD[word])


def _both(word: str) -> str:
    return " / ".join(_pair(word))


def _named(table: dict[str, str], value: str) -> str:
    """A value of the vocabulary by its label in both languages, or as it is if unknown."""
    label = table.get(value)
    return " / ".join(_in_both(label)) if label else f"{value} / {value}"


def _stone(stone: dict) -> str:
    """A stone in both languages ("бриллиант / diamond"), or its name as typed."""
    russian, english = (words.stone_name(stone, t) for t in (words.russian().gettext, str))
    return english if russian == english else f"{russian} / {english}"


def _inspectorate(name: str | dict) -> str | tuple[str, str]:
    """The inspectorate in both languages (signed so since schema version 3), or the one
    name an older certificate signed."""
    return (name["ru"], name["en"]) if isinstance(name, dict) else name


def _detail_rows(piece: dict, maker: dict, region: dict, assay: dict, issued: datetime):
    """Rows of (label, value, share of the width, most lines). A (Russian, English) value
    is shown on one line when both fit, else one line each."""
    stones = "; ".join(
        # No-break spaces keep each stone's count and carats on one line.
        f"{_stone(stone)}\u00a0×\u00a0{stone['count']},\u00a0"
        f"{numbers.number(stone['carat'], 3, keep=0)}\u00a0ct"
        for stone in piece["stones"]
    )
    grams = "/".join(_pair("grams"))
    uin = piece.get("uin")
    rows = [
        [
            (_both("metal"), _named(words.METALS, piece["metal"]), 0.42, 2),
            (_both("fineness"), str(piece["fineness"]), 0.26, 1),
            (_both("weight"), f"{numbers.number(piece['weight_g'], 2, keep=0)} {grams}", 0.32, 1),
        ],
        [(_both("stones"), stones, 1.0, 2)] if stones else [],
        [(_both("maker"), (maker["name"]["ru"], maker["name"]["en"]), 1.0, 2)],
        [
            (_both("region"), (region["name"]["ru"], region["name"]["en"]), 0.7, 2),
            (_both("city"), maker["city"], 0.3, 2),
        ],
        [
            (_both("mark"), maker["mark"], 0.31, 1),
            (_both("assay_mark"), assay["mark"], 0.41, 2),
            (_both("issued"), issued.date().isoformat(), 0.28, 1),
        ],
        [(_both("inspectorate"), _inspectorate(assay["inspectorate"]), 1.0, 4)],
        [
            (_both("reference"), piece["reference"], 0.5 if uin else 1.0, 1),
            *([(_both("uin"), uin, 0.5, 1)] if uin else []),
        ],
    ]
    return [row for row in rows if row]


def _value_lines(pdf: FPDF, value: str | tuple[str, str], width: float, most: int) -> list[str]:
    if isinstance(value, str):
        return _lines(pdf, "", _VALUE_PT, value, width, most)
    joined = _lines(pdf, "", _VALUE_PT, " / ".join(value), width, 2)
    if len(joined) == 1:
        return joined
    # Each language on lines of its own, sharing `most` between them.
    each = max(1, most // 2)
    return [line for part in value for line in _lines(pdf, "", _VALUE_PT, part, width, each)]


def _title_block(
    pdf: FPDF,
    piece: dict,
    photo: bytes | None,
    x: float,
    y: float,
    width: float,
    height: float,
    *,
    draw: bool = True,
) -> float:
    """The photo (fitted into its box, aspect kept), then beside it title, kind and
    description, within `height`; returns where the block ends. Without `draw`, only
    measures."""
    text_x, text_w = x, width
    bottom = y
    if photo:
        with Image.open(io.BytesIO(photo)) as image:
            pixels = image.size
        scale = min(_PHOTO_W / pixels[0], height / pixels[1])
        w, h = pixels[0] * scale, pixels[1] * scale
        if draw:
            pdf.image(io.BytesIO(photo), x, y, w, h)
        text_x, text_w = x + w + 3.5, width - w - 3.5
        bottom = y + h
    pdf.set_text_color(*_INK)
    title_lines = max(1, min(3, int((height - 3.4) // 4.4)))
    ty = _paragraph(pdf, "B", 10.0, piece["title"], text_x, y, text_w, 4.4, title_lines, draw=draw)
    pdf.set_text_color(*_MUTED)
    kind = _named(words.KINDS, piece["kind"])
    ty = _paragraph(pdf, "", 7.2, kind, text_x, ty + 0.3, text_w, 3.2, 1, draw=draw)
    description = piece.get("description") or ""
    room = int((y + height - ty - 0.8) // 3.0)
    if description and room > 0:
        pdf.set_text_color(*_INK)
        ty = _paragraph(
            pdf, "", 6.8, description, text_x, ty + 0.8, text_w, 3.0, min(room, 6), draw=draw
        )
    return max(bottom, ty)


def _lines(pdf: FPDF, style: str, size: float, text: str, width: float, most: int) -> list[str]:
    """`text` wrapped to `width` between words, at most `most` lines, the last cut with an
    ellipsis. A word wider than a line is hyphenated (`_hyphenated`), never cut silently."""
    pdf.set_font("Card", style, size)
    # Ordinary whitespace only: no-break spaces stay and hold their words together.
    text = _SPACES.sub(" ", str(text)).strip()
    text = " ".join(_hyphenated(pdf, word, width) for word in text.split(" "))
    # fpdf2 documents the return as "a single value or a tuple, depending on the `output`
    # parameter": LINES alone gives the single value, the wrapped lines.
    lines = cast(
        list[str],
        pdf.multi_cell(
            width, text=text, dry_run=True, output=MethodReturnValue.LINES, wrapmode=WrapMode.WORD
        ),
    )
    if len(lines) <= most:
        return lines
    last = lines[most - 1].rstrip()
    while last and pdf.get_string_width(last + _ELLIPSIS) > width:
        last = last[:-1].rstrip()
    return [*lines[: most - 1], last + _ELLIPSIS]


#: A word: letters (perhaps joined by hyphens), with punctuation only around them.
_WORD = re.compile(r"[^\w\s]*[^\W\d_]+(?:-[^\W\d_]+)*[^\w\s]*")
#: Letters after which a word may be hyphenated (a syllable ends on a vowel, mostly).
_VOWELS = frozenset("аеёиоуыэюяaeiouy")


def _hyphenated(pdf: FPDF, word: str, width: float) -> str:
    """`word` as it is when it fits a line; else in pieces that each fit with a hyphen,
    cut after a vowel where one lies near the end, and at least two letters from either
    end: "Высокохудожественное" as "Высокохудо- жественное". Only words of letters: an
    address or a code is left to break where it must."""
    if not _WORD.fullmatch(word):
        return word  # an address or a code: a hyphen would change it
    pieces = []
    rest = word
    while pdf.get_string_width(rest) > width and len(rest) > 4:
        fits = [n for n in range(2, len(rest) - 1) if pdf.get_string_width(rest[:n] + "-") <= width]
        if not fits:
            break
        longest = fits[-1]
        cut = next(
            (n for n in range(longest, max(1, longest - 4), -1) if rest[n - 1].lower() in _VOWELS),
            longest,
        )
        pieces.append(rest[:cut] + "-")
        rest = rest[cut:]
    return " ".join([*pieces, rest])


def _paragraph(
    pdf: FPDF,
    style: str,
    size: float,
    text: str,
    x: float,
    y: float,
    width: float,
    leading: float,
    most: int,
    *,
    draw: bool = True,
) -> float:
    """Draw `text` wrapped (see _lines); returns the y below it."""
    for line in _lines(pdf, style, size, text, width, most):
        if draw:
            _text(pdf, style, size, line, x, y, width, leading)
        y += leading
    return y


def _text(
    pdf: FPDF,
    style: str,
    size: float,
    text: str,
    x: float,
    y: float,
    width: float,
    height: float,
    *,
    align: str = "L",
) -> None:
    pdf.set_font("Card", style, size)
    pdf.set_xy(x, y)
    pdf.cell(width, height, text, align=align, new_x=XPos.RIGHT, new_y=YPos.TOP)


def _draw_qr(pdf: FPDF, modules: list[list[bool]], x: float, y: float, side: float) -> None:
    """Draw a QR code in a `side` square at (x, y), a rectangle per run of dark modules."""
    module = side / len(modules)
    pdf.set_fill_color(0, 0, 0)
    for r, row in enumerate(modules):
        c = 0
        while c < len(row):
            if not row[c]:
                c += 1
                continue
            start = c
            while c < len(row) and row[c]:
                c += 1
            # A hair taller than a module, so that rows join without a visible seam.
            pdf.rect(x + start * module, y + r * module, (c - start) * module, module + 0.01, "F")


def _site(url: str, fallback: str) -> str:
    """Where a person types a code: the verification form of the site `url` is on."""
    base = url.rsplit("/v/", 1)[0] if "/v/" in url else fallback
    return base.split("://", 1)[-1].rstrip("/") + "/verify"
