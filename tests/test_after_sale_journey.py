"""A piece's life after its sale, in Debian's Chromium on a live registry, at 390 px, in
Russian and in English (issue 13, the first "done when").

A shop signs in and records a sale by a code typed in lower case without dashes; it
downloads the slip, whose text (pypdfium2) holds the claim code and whose QR code (read
by zxing-cpp) is the claim address; a buyer claims the piece on a phone; another phone
scanning the piece's QR code sees it sold and owned; the owner reports it stolen, and
both the piece's code and the code its certificate superseded say so in red; the owner
withdraws the report (and reports it lost, and withdraws that too); the owner hands it
over, a second buyer claims it, and the first owner key no longer opens anything.

Every new verdict state is kept as a phone screenshot, tests/artifacts/after-sale/
<state>-<lang>.png: the set in docs/screenshots/after-sale/ was made by this test.

The browser sees pages, not backends: this file runs on SQLite only.
"""

import io
import re
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pypdfium2
import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, expect

from registry import accounts, codes, sales, scans
from registry.edge import database
from registry.edge import scans as edge_scans
from registry.models import Certificate, Shop
from tests import factories, live
from tests.factories import bearer

SHOP = "shop@test.example"  # world's shop account
SHOTS = live.ARTIFACTS / "after-sale"
# A phone as in tests/live.py, at one device pixel per CSS pixel: the screenshots are
# for reading in a note, not for checking how sharp the page is.
PHONE = {**live.PHONE, "device_scale_factor": 1}

LOCALES = {"ru": "ru-RU", "en": "en-US"}
SAYS = {
    "ru": {
        "sign_in": "Войти",
        "record": "Записать продажу",
        "sale_recorded": "Продажа записана",
        "claim": "Зарегистрировать",
        "yours": "Изделие ваше",
        "authentic": "Подлинное изделие",
        "superseded": "Сертификат заменён",
        "sold": "Продано",
        "owned": "Владение зарегистрировано с",
        "stolen": "Заявлено о краже",
        "lost": "Заявлено об утере",
        "copy": "Проверяли во многих местах",
        "unknown": "Код не найден",
        "report": "Сообщить о проблеме",
        "refused_key": "Этот ключ владельца",
        "open_owner": "Открыть страницу владельца",
    },
    "en": {
        "sign_in": "Sign in",
        "record": "Record the sale",
        "sale_recorded": "Sale recorded",
        "claim": "Claim the piece",
        "yours": "The piece is yours",
        "authentic": "Authentic",
        "superseded": "Superseded",
        "sold": "Sold on",
        "owned": "Ownership registered since",
        "stolen": "Reported stolen",
        "lost": "Reported lost",
        "copy": "Checked in many places",
        "unknown": "Unknown code",
        "report": "Report a problem",
        "refused_key": "This owner key is not, or no longer, valid.",
        "open_owner": "Open your owner's page",
    },
}


@pytest.fixture(scope="module")
def site(sqlite_template, tmp_path_factory) -> Iterator[dict]:
    """The live registry with world's accounts (a maker, an inspector, a shop with its
    account and the test password) and a client of the API beside it."""
    with live.served(sqlite_template, tmp_path_factory.mktemp("after-sale")) as (app, base):
        with app.app_context():
            session = database.session()
            world = factories.world(session)
            factories.with_passwords(session, SHOP)
            shop = session.query(Shop).filter_by(slug=world.shop_slug).one()
            names = {"ru": shop.name_ru, "en": shop.name_en}
        yield {
            "app": app,
            "base": base,
            "world": world,
            "shop": names,
            "client": app.test_client(),
        }


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with live.chromium() as browser:
        SHOTS.mkdir(parents=True, exist_ok=True)
        yield browser


@pytest.fixture
def phone(browser) -> Iterator[Callable[[str], Page]]:
    """A phone of one's own whose browser speaks `locale`; no page may break its
    Content-Security-Policy or fail a script."""
    contexts, violations = [], []

    def open_phone(locale: str) -> Page:
        context = browser.new_context(locale=locale, accept_downloads=True, **PHONE)
        context.set_default_timeout(15_000)
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


def shoot(page: Page, state: str, lang: str) -> None:
    """Keep the whole page as the phone shows it, in 256 colours (small enough to
    keep in the repository; the text stays sharp). Nothing on it may stick out sideways:
    a code or key cut off at the screen's edge cannot be copied."""
    wide = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert wide <= 0, f"{state}-{lang} is {wide} px wider than the phone"
    shot = Image.open(io.BytesIO(page.screenshot(full_page=True))).convert("RGB")
    shot.quantize(colors=256).save(SHOTS / f"{state}-{lang}.png", optimize=True)


def certify(site: dict) -> str:
    """A certified piece of world's maker: its certificate's code."""
    return factories.certify(site["client"], site["world"])[1]["code"]


def reissue(site: dict, code: str) -> str:
    """The inspector reissues the certificate: the new one's code (`code` is superseded)."""
    answer = site["client"].post(
        f"/api/v1/certificates/{code}/reissue",
        json={"weight_g": 3.5, "note": "Weighed again."},
        headers=bearer(site["world"].inspector),
    )
    assert answer.status_code == 201, answer.json
    return answer.json["code"]


def sold_and_copied(site: dict) -> str:
    """A piece the shop sold whose code was checked from more networks in the last
    days than a sold piece would be (as registry/demo.py makes one): its code."""
    code = certify(site)
    app = site["app"]
    with app.app_context():
        session = database.session()
        sales.record(session, code, accounts.by_email(session, SHOP))
        certificate = session.query(Certificate).filter_by(code=code).one()
        today = datetime.now(ZoneInfo(app.config["DISPLAY_TIMEZONE"])).date()
        scans.add_days(
            session,
            certificate.id,
            (
                scans.Daily(today - timedelta(days=days_ago), scans_made, networks)
                for days_ago, scans_made, networks in ((3, 9, 3), (2, 7, 2), (1, 5, 2))
            ),
        )
        session.commit()
        edge_scans.flush()  # the served worker reads what is watched, as at its next flush
    return code


def scan(page: Page, site: dict, code: str) -> str:
    """Fetch a certificate's QR code over HTTP and read it as a phone camera would."""
    response = page.request.get(f"{site['base']}/api/v1/certificates/{code}/qr.png")
    assert response.status == 200, response.text()
    return live.decode(response.body())


def verdict(page: Page) -> tuple:
    """The verdict section, and its heading."""
    section = page.locator("section.verdict")
    return section, section.get_by_role("heading", level=1)


def red(page: Page) -> bool:
    """Whether the verdict banner is drawn in red: red dominates its text colour."""
    colour = page.locator("section.verdict").evaluate("e => getComputedStyle(e).color")
    r, g, b = (int(n) for n in re.findall(r"\d+", colour)[:3])
    return r > 2 * g and r > 2 * b


def open_owner_page(page: Page, site: dict, key: str, says: dict) -> None:
    page.goto(f"{site['base']}/own")
    page.fill("#owner_key", key)
    page.locator("form[data-form=key]").get_by_role("button", name=says["open_owner"]).click()


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_a_sold_piece_is_claimed_reported_stolen_found_and_handed_over(site, phone, lang):
    says = SAYS[lang]
    locale = LOCALES[lang]
    base = site["base"]
    superseded = certify(site)
    code = reissue(site, superseded)  # the piece's current certificate
    copied = sold_and_copied(site)

    # 1. The shop signs in and records the sale, the code typed in lower case, no dashes.
    shop = phone(locale)
    shop.goto(f"{base}/login")
    shop.fill("#f-email", SHOP)
    shop.fill("#f-password", factories.PASSWORD)
    shop.get_by_role("button", name=says["sign_in"]).click()
    expect(shop).to_have_url(re.compile(r"/shop/$"))
    expect(shop.locator("html")).to_have_attribute("lang", lang)
    shop.fill("#f-code", code.lower().replace("-", ""))
    shop.get_by_role("button", name=says["record"]).click()
    expect(shop.locator("main h1")).to_have_text(says["sale_recorded"])
    claim_code = shop.locator("[data-claim-code]").inner_text().strip()
    shoot(shop, "journey-shop-sold", lang)
    assert claims_printed(claim_code)

    # 2. The slip: the printed claim code in its text, the claim address in its QR code.
    with shop.expect_download() as download:
        shop.locator("a[data-slip]").click()
    slip = pypdfium2.PdfDocument(download.value.path())
    assert claim_code in slip[0].get_textpage().get_text_range()
    claim_address = live.decode(slip[0].render(scale=4).to_pil())
    slip.close()
    assert claim_address.startswith(f"{base}/own/claim?code=")
    assert claim_address.rpartition("=")[2] == claim_code.replace("-", "")

    # Sold, not yet claimed: what a phone scanning the tag sees now.
    passer_by = phone(locale)
    passer_by.goto(scan(passer_by, site, code))
    section, heading = verdict(passer_by)
    expect(heading).to_have_text(says["authentic"])
    expect(section.locator("[data-sale]")).to_contain_text(says["sold"])
    expect(section.locator("[data-sale]")).to_contain_text(site["shop"][lang])
    expect(section.locator("[data-ownership]")).to_have_count(0)
    shoot(passer_by, "sold", lang)

    # 3. A buyer claims the piece on a phone, from the slip's QR code.
    buyer = phone(locale)
    buyer.goto(claim_address)
    expect(buyer.locator("#claim_code")).to_have_value(claim_code.replace("-", ""))
    buyer.get_by_role("button", name=says["claim"]).click()
    expect(buyer.locator("h1#verdict")).to_have_text(says["yours"])
    owner_key = buyer.locator("[data-owner-key]").inner_text().strip()
    shoot(buyer, "journey-claimed", lang)
    assert owner_key

    # 4. Another phone scanning the piece's QR code sees it sold and owned.
    other = phone(locale)
    address = scan(other, site, code)
    assert address == f"{base}/v/{code}"
    other.goto(address)
    section, heading = verdict(other)
    expect(section).to_have_attribute("data-verdict", "valid")
    expect(heading).to_have_text(says["authentic"])
    expect(section.locator("[data-sale]")).to_contain_text(says["sold"])
    expect(section.locator("[data-ownership]")).to_contain_text(says["owned"])
    expect(other.locator("html")).to_have_attribute("lang", lang)
    shoot(other, "sold-owned", lang)

    # 5. The owner reports it stolen: the code, and the code it superseded, say so in red.
    # (A phone that showed the page before may keep it for REGISTRY_VERDICT_MAX_AGE, as
    # the page allows: each look from here on is a phone of its own.)
    open_owner_page(buyer, site, owner_key, says)
    buyer.locator("button[data-action=stolen]").click()
    expect(buyer.locator("section.verdict")).to_have_attribute("data-report", "stolen")
    shoot(buyer, "journey-owner-stolen", lang)
    for shown, state in ((code, "stolen"), (superseded, "stolen-superseded")):
        other = phone(locale)
        other.goto(f"{base}/v/{shown}")
        section, heading = verdict(other)
        expect(section).to_have_class(re.compile(r"\bv-stolen\b"))
        expect(section).to_have_attribute("data-alert", "reported_stolen")
        expect(heading).to_contain_text(says["stolen"])
        expect(heading).not_to_have_text(says["authentic"])
        assert red(other), f"{state}: the banner is not red"
        shoot(other, state, lang)

    # 6. The owner withdraws the report: the pages no longer say stolen.
    buyer.locator("button[data-action=found]").click()
    expect(buyer.locator("section.verdict")).to_have_attribute("data-report", "")
    for shown, heading_text in ((code, says["authentic"]), (superseded, says["superseded"])):
        other = phone(locale)
        other.goto(f"{base}/v/{shown}")
        section, heading = verdict(other)
        expect(heading).to_have_text(heading_text)
        expect(section).not_to_have_class(re.compile(r"\bv-stolen\b"))
        expect(section).not_to_have_attribute("data-alert", "reported_stolen")
        expect(other.locator("main")).not_to_contain_text(says["stolen"])

    # The owner reports it lost (an amber box under the verdict), and finds it again.
    buyer.locator("button[data-action=lost]").click()
    expect(buyer.locator("section.verdict")).to_have_attribute("data-report", "lost")
    other = phone(locale)
    other.goto(f"{base}/v/{code}")
    expect(other.locator("[data-alert=reported_lost]")).to_contain_text(says["lost"])
    expect(verdict(other)[1]).to_have_text(says["authentic"])
    shoot(other, "lost", lang)
    buyer.locator("button[data-action=found]").click()
    expect(buyer.locator("section.verdict")).to_have_attribute("data-report", "")
    other = phone(locale)
    other.goto(f"{base}/v/{code}")
    expect(other.locator("[data-alert=reported_lost]")).to_have_count(0)

    # 7. The owner hands it over; a second buyer claims it; the first key is refused.
    buyer.locator("button[data-action=handover]").click()
    next_code = buyer.locator("[data-claim-code]").inner_text().strip()
    shoot(buyer, "journey-handover", lang)
    assert claims_printed(next_code)
    second = phone(locale)
    second.goto(f"{base}/own/claim")
    second.fill("#claim_code", next_code.lower())
    second.get_by_role("button", name=says["claim"]).click()
    expect(second.locator("h1#verdict")).to_have_text(says["yours"])
    second_key = second.locator("[data-owner-key]").inner_text().strip()
    assert second_key and second_key != owner_key
    open_owner_page(buyer, site, owner_key, says)
    expect(buyer.locator("#key-error")).to_contain_text(says["refused_key"])
    expect(buyer.locator("button[data-action]")).to_have_count(0)
    shoot(buyer, "journey-key-refused", lang)
    open_owner_page(second, site, second_key, says)
    expect(second.locator("button[data-action=stolen]")).to_be_visible()

    # The other new verdict states: a copy caution, an unknown code, and the report form.
    other.goto(f"{base}/v/{copied}")
    caution = other.locator("[data-alert=possible_copy]")
    expect(caution).to_contain_text(says["copy"])
    expect(caution.locator("a[href^='/report']")).to_be_visible()
    shoot(other, "copy-caution", lang)

    unknown = codes.new()
    response = other.goto(f"{base}/v/{unknown}")
    assert response.status == 404
    expect(verdict(other)[1]).to_have_text(says["unknown"])
    link = other.locator("a[data-report-unknown]")
    expect(link).to_be_visible()
    shoot(other, "unknown", lang)
    link.click()
    expect(other.locator("main h1")).to_have_text(says["report"])
    expect(other.locator("#f-code")).to_have_value(codes.printed(unknown))
    expect(other.locator("html")).to_have_attribute("lang", lang)
    shoot(other, "report-form", lang)


def claims_printed(text: str) -> bool:
    """A claim code as printed: groups of Crockford base32 between dashes."""
    return re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{3,5}(-[0-9A-HJKMNP-TV-Z]{3,5}){3,}", text) is not None
