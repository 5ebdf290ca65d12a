"""Each role's journey through the portals, in Debian's Chromium, on a live registry.

One registry serves the whole module, and the journeys follow each other as the work
does: the brand office admits a maker and creates the accounts; the maker registers a
piece with its photo and imports a CSV; the inspector attests and revokes; the maker
prints the certificate card; a visitor finds the maker and checks the piece. Every main
page is saved at 390 px and 1280 px wide in tests/artifacts/portal-*.png.

The browser sees pages, not backends: this file runs on SQLite only.
"""

import re
from collections.abc import Iterator

import pypdfium2
import pytest
from PIL import Image
from playwright.sync_api import Browser, BrowserContext, Page, expect

from registry import accounts, codes
from registry.edge import database
from tests import live

WIDTHS = (390, 1280)
OFFICE = "office@brand.test"
OFFICE_PASSWORD = "office-birch-river-1"  # noqa: S105 - a test account's password
MAKER = "master@sayan.test"
INSPECTOR = "assay@inspectorate.test"
MAKER_EN = "Sayan Silver Workshop"
MAKER_RU = "Мастерская «Саянское серебро»"
PHOTO_TITLE = "Серьги «Саянские зори»"


@pytest.fixture(scope="module")
def site(sqlite_template, tmp_path_factory) -> Iterator[dict]:
    """The live registry with only the brand office's account; what the journeys learn
    on the way (passwords, codes) is kept in the returned dict for the next ones."""
    with live.served(sqlite_template, tmp_path_factory.mktemp("portals")) as (app, base):
        with app.app_context():
            session = database.session()
            office = accounts.create(
                session, {"email": OFFICE, "role": "admin", "display_name": "Brand office"},
                actor=None,
            )  # fmt: skip
            accounts.set_password(session, office, OFFICE_PASSWORD, actor=None)
            session.commit()
        yield {"base": base, "app": app}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with live.chromium() as browser:
        yield browser


@pytest.fixture
def person(browser, site) -> Iterator[callable]:
    """A browser of one's own (desktop-sized, English); no page may break the CSP."""
    contexts: list[BrowserContext] = []
    problems: list[str] = []

    def open_browser(*, locale: str = "en-GB", phone: bool = False) -> Page:
        options = live.PHONE if phone else live.DESKTOP
        context = browser.new_context(locale=locale, accept_downloads=True, **options)
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.on(
            "console",
            lambda message: (
                problems.append(message.text)
                if "Content Security Policy" in message.text or message.type == "error"
                else None
            ),
        )
        page.on("pageerror", lambda error: problems.append(str(error)))
        return page

    yield open_browser
    for context in contexts:
        context.close()
    assert problems == []


# Every picture of the page loaded, the lazy ones too (a full-page screenshot would
# otherwise catch them still loading): the sources of those that show nothing.
_BROKEN_IMAGES = """() => Promise.all([...document.images].map(img => {
    img.loading = "eager";
    return img.complete ? null : new Promise(done => { img.onload = img.onerror = done; });
})).then(() => [...document.images].filter(img => !img.naturalWidth).map(img => img.src))"""


def shoot(page: Page, name: str) -> None:
    """Keep the page as a person sees it on a phone and on a desktop, every picture on
    it shown."""
    assert page.evaluate(_BROKEN_IMAGES) == [], f"pictures not shown on {name}"
    size = page.viewport_size
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=live.ARTIFACTS / f"portal-{name}-{width}.png", full_page=True)
    page.set_viewport_size(size)


def sign_in(page: Page, site: dict, email: str, password: str) -> None:
    page.goto(f"{site['base']}/login")
    page.fill("#f-email", email)
    page.fill("#f-password", password)
    page.get_by_role("button", name="Sign in").click()


def choose_own_password(page: Page, temporary: str, own: str) -> None:
    """The first sign-in with the office's one-time password leads here."""
    expect(page).to_have_url(re.compile(r"/account/password"))
    page.fill("#f-current", temporary)
    page.fill("#f-new", own)
    page.fill("#f-repeat", own)
    page.get_by_role("button", name="Change password").click()


def test_the_office_admits_a_maker_and_creates_accounts(site, person):
    page = person()
    sign_in(page, site, OFFICE, OFFICE_PASSWORD)
    expect(page).to_have_url(re.compile(r"/admin/makers"))
    shoot(page, "admin-makers")
    page.fill("#f-name_ru", MAKER_RU)
    page.fill("#f-name_en", MAKER_EN)
    page.select_option("#f-region", "RU-KK")
    page.fill("#f-city", "Абакан")
    page.fill("#f-mark", "ХК-117")
    page.locator("form:has(#f-name_ru)").get_by_role("button").click()
    expect(page.locator("main")).to_contain_text(MAKER_EN)

    page.goto(f"{site['base']}/admin/accounts")
    for email, role in ((MAKER, "maker"), (INSPECTOR, "inspector")):
        page.fill("#f-email", email)
        page.select_option("#f-role", role)
        if role == "maker":
            page.select_option("#f-maker", label=f"{MAKER_EN} · Абакан")
        page.locator("form:has(#f-email)").get_by_role("button").click()
        secret = page.locator("[data-password]")
        expect(secret).to_be_visible()
        site[f"{role}_temporary"] = secret.inner_text().strip()
        if role == "maker":
            shoot(page, "admin-account-created")
        page.goto(f"{site['base']}/admin/accounts")
    expect(page.locator("main")).to_contain_text(MAKER)
    expect(page.locator("main")).to_contain_text(INSPECTOR)
    shoot(page, "admin-accounts")


def test_the_maker_registers_a_piece_with_a_photo_and_imports_a_csv(site, person, tmp_path):
    page = person()
    sign_in(page, site, MAKER, site["maker_temporary"])
    choose_own_password(page, site["maker_temporary"], "taiga-larch-morning")
    expect(page).to_have_url(re.compile(r"/maker/$"))
    shoot(page, "maker-dashboard-empty")

    page.get_by_role("link", name="Register a piece").first.click()
    page.fill("#f-reference", "SZ-1")
    page.select_option("#f-kind", "earrings")
    page.fill("#f-title", PHOTO_TITLE)
    page.fill("#f-description", "Серебряные серьги с хризолитами")
    page.select_option("#f-metal", "silver")
    page.select_option("#f-fineness", "925")
    page.fill("#f-weight_g", "5.6")
    page.fill("#f-stones", "chrysolite:2:0.8")
    photo = tmp_path / "earrings.jpg"
    Image.new("RGB", (800, 600), (196, 205, 214)).save(photo, "JPEG")
    page.set_input_files("#f-photo", str(photo))
    shoot(page, "maker-register")
    page.get_by_role("button", name="Register").click()
    expect(page.locator("main h1")).to_have_text(PHOTO_TITLE)
    expect(page.locator("img.photo")).to_be_visible()
    shoot(page, "maker-piece-waiting")

    rows = [f"SZ-{n},ring,Кольцо {n},,silver,925,2.{n:02d},," for n in range(2, 52)]
    rows[6] = "SZ-8,ring,Кольцо 8,,silver,999999,2.08,,"  # line 8: no such fineness
    rows[40] = "SZ-42,spoon,Ложка,,silver,925,2.42,,"  # line 42: no such kind
    csv = tmp_path / "pieces.csv"
    header = "reference,kind,title,description,metal,fineness,weight_g,stones,uin"
    csv.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    page.get_by_role("link", name="Import").first.click()
    shoot(page, "maker-import")
    page.set_input_files("#f-file", str(csv))
    page.locator("form:has(#f-file)").get_by_role("button", name="Import").click()
    report = page.locator("[data-import=done]")
    expect(report).to_contain_text("48 of 50 pieces registered.")
    lines = page.locator("tr[data-line]")
    expect(lines).to_have_count(2)
    expect(lines.nth(0)).to_contain_text("8")
    expect(lines.nth(0)).to_contain_text("not a legal fineness")
    expect(lines.nth(1)).to_contain_text("42")
    expect(lines.nth(1)).to_contain_text("Must be one of")
    shoot(page, "maker-import-report")
    page.goto(f"{site['base']}/maker/")
    expect(page.locator("tr[data-piece]")).to_have_count(49)
    shoot(page, "maker-dashboard")


def test_the_inspector_attests_one_piece_and_revokes_another(site, person):
    page = person()
    sign_in(page, site, INSPECTOR, site["inspector_temporary"])
    choose_own_password(page, site["inspector_temporary"], "hallmark-sable-river")
    expect(page).to_have_url(re.compile(r"/inspector/$"))
    queue = page.locator("main tbody tr")
    expect(queue.first).to_contain_text("SZ-1")  # oldest first
    shoot(page, "inspector-queue")

    site["photo_code"] = attest(page, "SZ-1")
    shoot(page, "inspector-piece-certified")
    site["revoked_code"] = attest(page, "SZ-2", queue_page=f"{site['base']}/inspector/")
    page.select_option("#f-reason", "data_error")
    page.fill("#f-note", "Weight recorded wrongly at registration.")
    page.get_by_role("button", name="Revoke").click()
    expect(page.locator("main")).to_contain_text("Revoked")
    timeline = page.locator(".timeline li")
    expect(timeline).to_have_count(4)  # registered, assay passed, issued, revoked
    shoot(page, "inspector-piece-revoked")

    page.get_by_role("link", name="Search").first.click()
    page.fill("#f-q", site["photo_code"].lower().replace("-", ""))
    page.keyboard.press("Enter")
    expect(page.locator("main tbody tr")).to_have_count(1)
    expect(page.locator("main tbody")).to_contain_text("SZ-1")
    shoot(page, "inspector-search")
    page.get_by_role("link", name="Audit").first.click()
    shoot(page, "inspector-audit")
    page.get_by_role("link", name="Log").first.click()
    shoot(page, "inspector-log")


def attest(page: Page, reference: str, *, queue_page: str | None = None) -> str:
    """Open a waiting piece from the queue and pass its assay; the printed code issued."""
    if queue_page:
        page.goto(queue_page)
    page.locator("main tbody tr", has_text=reference).get_by_role("link").first.click()
    # Nothing found is filled in: the inspector chooses it, the declared beside it.
    expect(page.locator("#h-metal")).to_contain_text("Silver")
    page.select_option("#f-result", "passed")
    page.select_option("#f-metal", "silver")
    page.select_option("#f-fineness", "925")
    page.fill("#f-assay_mark", "925-ХК-2026")
    page.locator("form:has(#f-assay_mark)").get_by_role("button").click()
    code = page.locator("main .code").first
    expect(code).to_be_visible()
    return code.inner_text().strip()


def test_the_maker_prints_the_certificate_card(site, person, tmp_path):
    page = person()
    sign_in(page, site, MAKER, "taiga-larch-morning")
    page.goto(f"{site['base']}/maker/?status=certified")
    page.get_by_role("link", name="SZ-1").click()
    shoot(page, "maker-piece-certified")
    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile("Certificate card")).click()
    path = tmp_path / "card.pdf"
    download.value.save_as(path)
    pdf = pypdfium2.PdfDocument(path)
    text = pdf[0].get_textpage().get_text_range()
    assert site["photo_code"] in text
    assert PHOTO_TITLE in text
    rendered = pdf[0].render(scale=4).to_pil()
    code = codes.parse(site["photo_code"]).code
    assert live.decode(rendered) == f"{site['base']}/v/{code}"

    page.goto(f"{site['base']}/maker/")
    page.locator("input[name=piece]").first.check()
    with page.expect_download() as download:
        page.get_by_role("button", name=re.compile("Print labels")).click()
    sheet = tmp_path / "labels.pdf"
    download.value.save_as(sheet)
    assert live.decode(pypdfium2.PdfDocument(sheet)[0].render(scale=4).to_pil()).startswith(
        f"{site['base']}/v/"
    )


def test_a_visitor_finds_the_maker_and_checks_the_piece(site, person):
    page = person(locale="ru-RU", phone=True)
    page.goto(site["base"] + "/")
    shoot(page, "public-home")
    page.get_by_role("link", name=re.compile("Хакасия")).first.click()
    expect(page).to_have_url(re.compile(r"/makers\?region=RU-KK"))
    shoot(page, "public-directory")
    page.get_by_role("link", name=re.compile(MAKER_RU)).first.click()
    showcase = page.locator("main")
    expect(showcase).to_contain_text(PHOTO_TITLE)
    expect(showcase).not_to_contain_text("Кольцо 2")  # its certificate was revoked
    shoot(page, "public-maker")
    page.get_by_role("link", name=re.compile(PHOTO_TITLE)).first.click()
    expect(page).to_have_url(re.compile(r"/v/"))
    expect(page.locator("section.verdict")).to_have_attribute("data-verdict", "valid")
    expect(page.locator("section.verdict h1")).to_have_text("Подлинное изделие")


def test_the_sign_in_and_account_pages(site, person):
    page = person()
    page.goto(f"{site['base']}/login")
    shoot(page, "login")
    sign_in(page, site, MAKER, "taiga-larch-morning")
    page.goto(f"{site['base']}/account")
    page.fill("#f-name", "Shop till")
    page.get_by_role("button", name="Create a token").click()
    expect(page.locator("[data-token]")).to_be_visible()
    shoot(page, "account-tokens")
