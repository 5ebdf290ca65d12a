"""A buyer's scan, end to end, in a real browser on a phone-sized screen.

The registry runs on a live HTTP server; its QR code is fetched over HTTP and decoded
with zxing-cpp (not the library that drew it); the address it holds is opened in
Debian's Chromium (driven by Playwright), and the test reads what a buyer would read.
Each page's screenshot is kept in tests/artifacts/ for a person to look at.

Chromium comes from the distribution (`make chromium`), never from `playwright install`.
The browser sees pages, not backends: this file runs on SQLite only.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from registry import codes
from registry.edge import database
from tests import factories, live
from tests.factories import assay_data, bearer, maker_data, piece_data

MAKER_EN = "Angara Jewellery House"
MAKER_RU = "Ювелирный дом «Ангара»"


@dataclass(frozen=True)
class Registry:
    """The live registry and the certificates made in it (canonical codes)."""

    base: str
    valid: str
    revoked: str  # for fraud
    stolen: str
    superseded: str


@pytest.fixture(scope="module")
def registry(sqlite_template, tmp_path_factory) -> Iterator[Registry]:
    """The registry served over HTTP on 127.0.0.1, its public address being its own."""
    with live.served(sqlite_template, tmp_path_factory.mktemp("browser")) as (app, base):
        yield _fill(app, base)


def _fill(app, base: str) -> Registry:
    """A maker with English and Russian names and four certificates, made via the API."""
    with app.app_context():
        world = factories.world(database.session())
    client = app.test_client()

    def ok(response, status=200):
        assert response.status_code == status, response.get_json()
        return response.json

    admin, inspector = bearer(world.admin), bearer(world.inspector)
    maker = ok(
        client.post(
            "/api/v1/makers",
            json=maker_data(name_en=MAKER_EN, name_ru=MAKER_RU, city="Красноярск"),
            headers=admin,
        ),
        201,
    )
    account = ok(
        client.post(
            "/api/v1/accounts",
            json={"email": "angara@test.example", "role": "maker", "maker": maker["slug"]},
            headers=admin,
        ),
        201,
    )
    token = ok(
        client.post(f"/api/v1/accounts/{account['id']}/tokens", json={}, headers=admin), 201
    )["token"]

    def certify() -> str:
        piece = ok(client.post("/api/v1/pieces", json=piece_data(), headers=bearer(token)), 201)
        assay = ok(
            client.post(
                f"/api/v1/pieces/{piece['id']}/assay", json=assay_data(), headers=inspector
            ),
            201,
        )
        return assay["certificate"]["code"]

    def revoke(code: str, reason: str, note: str) -> str:
        revoke_url = f"/api/v1/certificates/{code}/revoke"
        ok(client.post(revoke_url, json={"reason": reason, "note": note}, headers=inspector))
        return code

    superseded = certify()
    ok(
        client.post(
            f"/api/v1/certificates/{superseded}/reissue",
            json={"weight_g": 3.5, "note": "Weighed again."},
            headers=inspector,
        ),
        201,
    )
    return Registry(
        base=base,
        valid=certify(),
        revoked=revoke(certify(), "fraud", "The hallmark was forged."),
        stolen=revoke(certify(), "piece_lost_or_stolen", "Stolen from the shop."),
        superseded=superseded,
    )


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with live.chromium() as browser:
        yield browser


@pytest.fixture
def phone(browser) -> Iterator[Callable[[str], Page]]:
    """Open a page on a phone whose browser speaks `locale`; no page may break its
    Content-Security-Policy (the browser reports it on the console)."""
    contexts, violations = [], []

    def open_phone(locale: str) -> Page:
        context = browser.new_context(locale=locale, **live.PHONE)
        contexts.append(context)
        page = context.new_page()
        page.on(
            "console",
            lambda message: (
                violations.append(message.text)
                if "Content Security Policy" in message.text
                else None
            ),
        )
        page.on("pageerror", lambda error: violations.append(str(error)))
        return page

    yield open_phone
    for context in contexts:
        context.close()
    assert violations == []


def scan(page: Page, registry: Registry, code: str, image: str = "qr.png") -> str:
    """Fetch a certificate's QR code over HTTP and read it as a phone camera would."""
    response = page.request.get(f"{registry.base}/api/v1/certificates/{code}/{image}")
    assert response.status == 200, response.text()
    return decode(response.body())


def decode(png: bytes) -> str:
    return live.decode(png)


def verdict_shown(page: Page, verdict: str, heading: str) -> None:
    """The verdict is the first thing on the screen, in words."""
    section = page.locator("section.verdict")
    expect(section).to_have_attribute("data-verdict", verdict)
    title = section.get_by_role("heading", level=1)
    expect(title).to_have_text(heading)
    expect(title).to_be_visible()
    expect(title).to_be_in_viewport()


def screenshot(page: Page, name: str) -> None:
    page.screenshot(path=live.ARTIFACTS / f"{name}.png", full_page=True)


@pytest.mark.parametrize(
    ("case", "verdict", "heading", "says"),
    [
        ("valid", "valid", "Authentic", "confirmed its hallmark"),
        ("revoked", "revoked", "Revoked", "Reason: Fraud"),
        ("stolen", "revoked", "Reported stolen", "Do not buy this piece"),
        ("superseded", "superseded", "Superseded", "The piece has a newer certificate"),
    ],
)
def test_a_scanned_certificate_shows_its_verdict_and_maker(
    registry, phone, case, verdict, heading, says
):
    page = phone("en-US")
    code = getattr(registry, case)

    address = scan(page, registry, code)
    assert address == f"{registry.base}/v/{code}"
    response = page.goto(address)

    assert response.status == 200
    verdict_shown(page, verdict, heading)
    expect(page.locator("section.verdict")).to_contain_text(says, use_inner_text=True)
    expect(page.get_by_text(MAKER_EN, exact=True)).to_be_visible()
    expect(page.get_by_text(codes.printed(code), exact=True)).to_be_visible()
    screenshot(page, f"verify-{case}-en")


def test_a_superseded_certificate_leads_to_the_current_one(registry, phone):
    page = phone("en-US")
    page.goto(f"{registry.base}/v/{registry.superseded}")

    page.get_by_role("link", name="Open the current certificate").click()

    verdict_shown(page, "valid", "Authentic")
    expect(page.get_by_text(MAKER_EN, exact=True)).to_be_visible()
    assert page.url != f"{registry.base}/v/{registry.superseded}"


def test_a_never_issued_code_is_unknown(registry, phone):
    page = phone("en-US")
    code = codes.new()

    response = page.goto(f"{registry.base}/v/{code}")

    assert response.status == 404
    verdict_shown(page, "unknown", "Unknown code")
    screenshot(page, "verify-unknown-en")


def test_a_code_with_one_wrong_symbol_is_mistyped(registry, phone):
    page = phone("en-US")
    real = registry.valid
    wrong = real[:5] + ("X" if real[5] != "X" else "Y") + real[6:]

    response = page.goto(f"{registry.base}/v/{wrong}")

    assert response.status == 400
    verdict_shown(page, "mistyped", "Mistyped code")
    screenshot(page, "verify-mistyped-en")


def test_the_svg_qr_code_renders_under_the_csp_and_scans(registry, phone):
    """Chromium draws the SVG as served, Content-Security-Policy and all; its
    screenshot, read like a camera would, opens the certificate's page."""
    page = phone("en-US")
    svg = f"{registry.base}/api/v1/certificates/{registry.valid}/qr.svg"

    response = page.goto(svg)
    assert response.status == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert "style-src" in response.headers["content-security-policy"]
    shot = page.screenshot()
    (live.ARTIFACTS / "qr-svg.png").write_bytes(shot)
    address = decode(shot)

    assert address == f"{registry.base}/v/{registry.valid}"
    page.goto(address)
    verdict_shown(page, "valid", "Authentic")


def test_a_russian_phone_reads_the_page_in_russian(registry, phone):
    page = phone("ru-RU")

    page.goto(scan(page, registry, registry.valid))

    verdict_shown(page, "valid", "Подлинное изделие")
    expect(page.get_by_text(MAKER_RU, exact=True)).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    screenshot(page, "verify-valid-ru")


def test_the_language_can_be_chosen_on_the_page(registry, phone):
    page = phone("ru-RU")
    page.goto(f"{registry.base}/v/{registry.valid}")

    page.get_by_role("link", name="English").click()

    verdict_shown(page, "valid", "Authentic")
    expect(page.get_by_text(MAKER_EN, exact=True)).to_be_visible()


# Issue 14: the page as a buyer reads it on a small phone.

NARROW = {**live.PHONE, "viewport": {"width": 320, "height": 640}}


def _public_pages(registry: Registry) -> dict[str, str]:
    code = registry.valid
    mistyped = code[:5] + ("X" if code[5] != "X" else "Y") + code[6:]
    return {
        "home": "/",
        "makers": "/makers",
        "code-form": "/verify",
        "claim": "/claim",
        "report": f"/report?code={code}",
        "sign-in": "/login",
        **{f"verify-{case}": f"/v/{getattr(registry, case)}" for case in CASES},
        "verify-unknown": f"/v/{codes.new()}",
        "verify-mistyped": f"/v/{mistyped}",
    }


CASES = ("valid", "revoked", "stolen", "superseded")


@pytest.mark.parametrize("locale", ["ru-RU", "en-US"])
def test_no_public_page_scrolls_sideways_at_320_px(registry, browser, locale):
    """320 CSS px is a small phone, and a 640 px window at 200% zoom."""
    context = browser.new_context(locale=locale, **NARROW)
    try:
        page = context.new_page()
        pages = _public_pages(registry)
        page.goto(f"{registry.base}/makers")
        maker = page.locator("main a[href^='/makers/']").first.get_attribute("href")
        pages["maker"] = maker
        wide = {}
        for name, path in pages.items():
            page.goto(registry.base + path)
            overflow = page.evaluate(
                "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            if overflow > 0:
                wide[name] = overflow
            if name.startswith("verify-") or name == "home":
                screenshot(page, f"narrow-320-{name}-{locale[:2]}")
        assert wide == {}
    finally:
        context.close()


@pytest.mark.parametrize(
    ("locale", "heading"), [("ru-RU", "Подлинное изделие"), ("en-US", "Authentic")]
)
def test_the_authentic_verdict_reads_in_at_most_three_lines_on_a_phone(
    registry, phone, locale, heading
):
    page = phone(locale)
    page.goto(f"{registry.base}/v/{registry.valid}")
    verdict_shown(page, "valid", heading)

    sentence = page.locator("section.verdict p").first
    lines = sentence.evaluate(
        "p => Math.round(p.getBoundingClientRect().height"
        " / parseFloat(getComputedStyle(p).lineHeight))"
    )
    assert 1 <= lines <= 3


@pytest.mark.parametrize("locale", ["ru-RU", "en-US"])
def test_the_checks_come_first_and_the_specialist_details_open_without_script(
    registry, browser, locale
):
    context = browser.new_context(locale=locale, java_script_enabled=False, **live.PHONE)
    try:
        page = context.new_page()
        page.goto(f"{registry.base}/v/{registry.valid}")
        checks = page.locator("[data-checks]")
        specialists = page.locator("details[data-specialists]")
        proof = specialists.locator("a[href^='/api/v1/log/proof/inclusion']")
        expect(checks).to_be_visible()
        expect(proof).to_be_hidden()
        # The checks are on the first two screens: right after the verdict and the photo.
        assert checks.bounding_box()["y"] < 2 * live.PHONE["viewport"]["height"]
        assert checks.bounding_box()["y"] < specialists.bounding_box()["y"]
        screenshot(page, f"verify-valid-order-{locale[:2]}")

        specialists.locator("summary").click()

        expect(proof).to_be_visible()
        expect(specialists.locator("a[href='/.well-known/jwks.json']")).to_be_visible()
    finally:
        context.close()


@pytest.mark.parametrize("locale", ["ru-RU", "en-US"])
def test_the_verdict_pages_at_desktop_width(registry, browser, locale):
    """Screenshots for a person to look at: every verdict at 1280 px."""
    context = browser.new_context(locale=locale, viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        for name, path in _public_pages(registry).items():
            if not name.startswith("verify-"):
                continue
            page.goto(registry.base + path)
            expect(page.locator("section.verdict h1")).to_be_visible()
            screenshot(page, f"desktop-{name}-{locale[:2]}")
    finally:
        context.close()


def test_the_card_downloads_from_the_page(registry, phone):
    page = phone("en-US")
    page.goto(f"{registry.base}/v/{registry.valid}")

    with page.expect_download() as download:
        page.locator("[data-card-pdf]").click()

    saved = download.value
    assert saved.suggested_filename == f"{codes.printed(registry.valid)}.pdf"
    assert Path(saved.path()).read_bytes()[:5] == b"%PDF-"


@pytest.mark.parametrize(
    ("locale", "words"), [("ru-RU", "больше 24 МБ"), ("en-US", "larger than 24 MB")]
)
def test_a_photo_over_the_limit_is_refused_in_the_form_before_it_is_sent(
    registry, phone, locale, words
):
    """The file's size is checked as it is chosen (the page's one script, allowed by its
    CSP): the form is not sent, and what was typed stays."""
    page = phone(locale)
    page.goto(f"{registry.base}/report?code={codes.printed(registry.valid)}")
    page.fill("#f-where_bought", "Рынок у моста")
    sent = []
    page.on("request", lambda request: sent.append(request) if request.method == "POST" else None)
    limit = 24 * 1024 * 1024
    page.set_input_files(
        "#f-photo",
        files=[
            {"name": "big.jpg", "mimeType": "image/jpeg", "buffer": b"\xff\xd8" + b"\0" * limit}
        ],
    )
    message = page.eval_on_selector("#f-photo", "input => input.validationMessage")
    assert words in message
    page.locator("[data-form=report] button[type=submit]").click()
    page.wait_for_timeout(300)
    assert sent == []
    assert page.input_value("#f-where_bought") == "Рынок у моста"
    # A photo within the limit clears the refusal.
    page.set_input_files(
        "#f-photo", files=[{"name": "small.jpg", "mimeType": "image/jpeg", "buffer": b"\xff\xd8"}]
    )
    assert page.eval_on_selector("#f-photo", "input => input.validationMessage") == ""
