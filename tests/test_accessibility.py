"""axe-core on every page type, in Debian's Chromium, at 1280 and 390 px, in Russian and
in English (issue 14, item 21): the public pages and verdicts, and each role's portal,
on a live registry holding the demo (every verdict, every role).

axe-core comes from the npm registry (`make axe`), injected into each page after it
loaded; the context bypasses the pages' CSP for that one script only. Every rule axe
runs by default counts: WCAG 2.x A and AA, and its best practices.
"""

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from registry import demo
from registry.edge import database, signing
from tests import live

AXE = Path(__file__).resolve().parent.parent / ".venv/axe/node_modules/axe-core/axe.min.js"
WIDTHS = (1280, 390)
LOCALES = ("ru", "en")
#: The widths each language is audited at: Russian, the longer words and the deployed
#: default, at both; English at the phone's, where its layout differs most from the
#: Russian one (the same markup and colours otherwise, which axe already saw).
AUDITED_WIDTHS = {"ru": WIDTHS, "en": WIDTHS[1:]}
ROLES = {
    "office": "office@demo.yenisey.example",
    "inspector": "inspector@demo.yenisey.example",
    "maker": "yenisey-gold@demo.yenisey.example",
    "shop": "shop@demo.yenisey.example",
}


@pytest.fixture(scope="module")
def site(sqlite_template, tmp_path_factory) -> Iterator[dict]:
    with live.served(sqlite_template, tmp_path_factory.mktemp("axe")) as (app, base):
        with app.app_context():
            session = database.session()
            shown = demo.load(session, signing.keyring(), signing.issuer())
            session.commit()
        codes = dict(
            (what.strip(), url.rsplit("/", 1)[1])
            for what, url in re.findall(r"^  (\S.*?)\s+(http\S+/v/\S+)$", shown, re.M)
        )
        yield {"base": base, "demo": shown, "codes": codes}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not AXE.exists():
        pytest.fail(f"axe-core is not installed: `make axe` puts it at {AXE}")
    with live.chromium() as browser:
        yield browser


def _violations(page: Page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    found = page.evaluate("async () => (await axe.run(document)).violations")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — "
        + "; ".join(node["target"][0] for node in v["nodes"][:3])
        for v in found
    ]


def _public_paths(site: dict) -> list[str]:
    lines = re.findall(r"(/v/[0-9A-Z]+)", site["demo"])
    some = list(dict.fromkeys(lines))
    return [
        "/",
        "/makers",
        "/makers/yenisey-gold",
        "/verify",
        "/verify?code=YS-0000",
        "/login",
        "/claim",
        f"/report?code={some[0][3:]}",
        *some,
        "/v/YS00000000000000",
        "/v/not-a-code",
    ]


def _sign_in(page: Page, base: str, email: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#f-email", email)
    page.fill("#f-password", demo.DEMO_PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_load_state()


@contextmanager
def _browsing(browser: Browser, site: dict, role: str | None, locale: str, **options):
    """A page in a browser of its own, in `locale`, signed in as `role`'s demo account."""
    context = browser.new_context(locale=locale, **options)
    try:
        page = context.new_page()
        page.goto(f"{site['base']}/?lang={locale}")
        if role:
            _sign_in(page, site["base"], ROLES[role])
        yield page
    finally:
        context.close()


def _portal_paths(page: Page, base: str) -> list[str]:
    """The role's menu, its account pages, and the first record each menu page links to."""
    menu = page.eval_on_selector_all("nav.portal a", "links => links.map(a => a.pathname)")
    paths = list(dict.fromkeys([*menu, "/account", "/account/password"]))
    details = []
    for path in menu:
        page.goto(base + path)
        found = page.eval_on_selector_all(
            "main a[href*='/pieces/'], main a[href*='/reports/'], main a[href^='/admin/makers/']",
            "links => links.map(a => a.pathname)",
        )
        details.extend(found[:1])
        # A piece not yet certified, and the form that corrects it (the maker's).
        waiting = page.eval_on_selector_all(
            "tr:has(.b-awaiting_assay) a[href*='/pieces/']", "links => links.map(a => a.pathname)"
        )
        details.extend(p for path in waiting[:1] for p in (path, f"{path}/edit"))
        # The inspector's batches: the makers whose pieces wait, and the first one's form.
        batches = page.eval_on_selector_all(
            "main a[href^='/inspector/batch']", "links => links.map(a => a.pathname + a.search)"
        )
        for batch in batches[:1]:
            page.goto(base + batch)
            first = page.eval_on_selector_all(
                "main a[href^='/inspector/batch?maker=']",
                "links => links.map(a => a.pathname + a.search)",
            )
            details.extend([batch, *first[:1]])
    return list(dict.fromkeys([*paths, *details]))


def _audit(browser: Browser, base: str, paths_of, email: str | None) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for locale in LOCALES:
        context = browser.new_context(
            locale=locale, bypass_csp=True, viewport={"width": WIDTHS[0], "height": 900}
        )
        try:
            page = context.new_page()
            page.goto(f"{base}/?lang={locale}")
            if email:
                _sign_in(page, base, email)
            for path in paths_of(page):
                for width in AUDITED_WIDTHS[locale]:
                    page.set_viewport_size({"width": width, "height": 900})
                    page.goto(base + path)
                    problems = _violations(page)
                    if problems:
                        found[f"{locale} {width} {path}"] = problems
        finally:
            context.close()
    return found


def test_the_public_pages_pass_axe(site, browser):
    found = _audit(browser, site["base"], lambda page: _public_paths(site), None)
    assert found == {}, json.dumps(found, ensure_ascii=False, indent=1)


@pytest.mark.parametrize("role", list(ROLES))
def test_each_portal_passes_axe(site, browser, role):
    found = _audit(
        browser, site["base"], lambda page: _portal_paths(page, site["base"]), ROLES[role]
    )
    assert found == {}, json.dumps(found, ensure_ascii=False, indent=1)


@pytest.mark.parametrize(
    ("locale", "words"), [("ru", "Перейти к содержанию"), ("en", "Skip to the content")]
)
def test_the_first_tab_offers_to_skip_to_the_content(site, browser, locale, words):
    with _browsing(browser, site, None, locale, **live.PHONE) as page:
        page.goto(f"{site['base']}/v/{site['codes']['sold']}")
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "() => [document.activeElement.className, document.activeElement.textContent]"
        )
        assert focused == ["skip", words]
        page.keyboard.press("Enter")
        assert page.evaluate("() => document.activeElement.id") == "main"


def test_a_refused_form_focuses_its_summary_which_links_to_each_field(site, browser):
    with _browsing(browser, site, "maker", "en", **live.DESKTOP) as page:
        page.goto(f"{site['base']}/maker/pieces/new")
        page.fill("#f-reference", "A11Y-1")
        page.select_option("#f-kind", "ring")
        page.fill("#f-title", "Кольцо")
        page.select_option("#f-metal", "gold")
        page.select_option("#f-fineness", "925")  # legal for silver, not for gold
        page.fill("#f-weight_g", "3")
        page.locator("main form button[type=submit]").click()

        summary = page.locator("[data-error-summary]")
        # The click posts the form: the answer is a new page, whose focus lands once it
        # has loaded (a busy machine took longer than an immediate look allows).
        page.wait_for_function(
            "() => document.activeElement"
            " && document.activeElement.hasAttribute('data-error-summary')",
            timeout=10_000,
        )
        link = summary.locator("a[href='#f-fineness']")
        assert "not a legal fineness for gold" in link.inner_text()
        described = page.get_attribute("#f-fineness", "aria-describedby").split()
        assert "e-fineness" in described
        assert "not a legal fineness" in page.inner_text("#e-fineness")
        link.click()
        assert page.evaluate("() => document.activeElement.id") == "f-fineness"
        assert page.input_value("#f-reference") == "A11Y-1"  # nothing typed is lost


@pytest.mark.parametrize("locale", LOCALES)
def test_on_a_phone_accounts_are_cards_with_their_actions_in_reach(site, browser, locale):
    with _browsing(browser, site, "office", locale, **live.PHONE) as page:
        page.goto(f"{site['base']}/admin/accounts")
        page.screenshot(path=live.ARTIFACTS / f"admin-accounts-390-{locale}.png", full_page=True)
        wrap = page.locator("table.accounts").locator("xpath=..")
        sideways = wrap.evaluate("el => el.scrollWidth - el.clientWidth")
        assert sideways <= 0
        width = live.PHONE["viewport"]["width"]
        for summary in page.locator("table.accounts summary").all()[:6]:
            box = summary.bounding_box()
            assert box and 0 <= box["x"] and box["x"] + box["width"] <= width, box


def test_checkboxes_on_a_phone_are_big_enough_to_tap(site, browser):
    with _browsing(browser, site, "maker", "en", **live.PHONE) as page:
        page.goto(f"{site['base']}/maker/")
        boxes = page.locator("input[type=checkbox]")
        assert boxes.count() > 0
        for box in boxes.all():
            size = box.bounding_box()
            assert size["width"] >= 24 and size["height"] >= 24, size


@pytest.mark.parametrize("role", list(ROLES))
def test_no_portal_page_scrolls_sideways_at_320_px(site, browser, role):
    """Issue 14, item 6, for the portals: every page of the role at 320 px, in Russian
    (the longer words), fits the width; wide tables scroll inside their own region."""
    wide = {}
    with _browsing(browser, site, role, "ru", viewport={"width": 320, "height": 800}) as page:
        for path in _portal_paths(page, site["base"]):
            page.goto(site["base"] + path)
            overflow = page.evaluate(
                "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            if overflow > 0:
                wide[path] = overflow
    assert wide == {}
