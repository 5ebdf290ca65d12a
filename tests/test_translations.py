"""Every message of the pages in Russian and English; none left untranslated.

The messages are extracted from the code and the templates here, the way `make
translations` does, so a message added without its translation fails the suite.
"""

import io
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from sqlalchemy import update

from registry import words
from registry.edge import database
from registry.models import Certificate, Maker
from tests.factories import assay_data, bearer, certify, piece_data, sign_in, with_passwords

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "registry" / "translations" / "ru" / "LC_MESSAGES"
KEYWORDS = {
    "_": None,
    "gettext": None,
    "lazy_gettext": None,
    "N_": None,
    "ngettext": (1, 2),
}
#: A placeholder of a message: `%(name)s`, `%(count)d`.
PLACEHOLDER = r"%\(\w+\)[sd]"
#: Russian has three plural forms (1 мастер, 2 мастера, 5 мастеров).
RUSSIAN_PLURALS = (
    "(n%10==1 && n%100!=11 ? 0 : n%10>=2 && n%10<=4 && (n%100<10 || n%100>=20) ? 1 : 2)"
)


def _extracted() -> dict[str, str | tuple[str, ...]]:
    """Every message of the code and the templates, by its (singular) id."""
    found: dict[str, str | tuple[str, ...]] = {}
    # The modules' gettext calls and their errors' messages (registry.messages), as
    # babel.cfg extracts them.
    methods = (
        ("registry", "registry.messages:extract", "**.py"),
        ("schemas", "registry.messages:extract", "**.py"),
        ("registry", "jinja2", "**/templates/**.html"),
    )
    for directory, method, pattern in methods:
        for _file, _line, message, _comments, _context in extract_from_dir(
            ROOT / directory,
            method_map=[(pattern, method)],
            keywords=KEYWORDS,
        ):
            found[message if isinstance(message, str) else message[0]] = message
    return found


def _source_messages() -> set[str]:
    return set(_extracted())


def _key(message_id) -> str:
    """A catalog entry's id: its singular for a message with plural forms."""
    return message_id if isinstance(message_id, str) else message_id[0]


def _forms(text) -> tuple[str, ...]:
    """A message's or a translation's text: its forms, one for most messages."""
    return (text,) if isinstance(text, str) else tuple(text)


@pytest.fixture(scope="module")
def russian():
    with open(CATALOG / "messages.po", "rb") as po:
        return read_po(po, locale="ru")


def test_every_message_has_a_russian_translation(russian):
    messages = _source_messages()
    assert len(messages) > 50  # the extraction found the pages' messages
    missing = sorted(
        m for m in messages if not russian.get(m) or not all(_forms(russian.get(m).string))
    )
    assert missing == [], "untranslated: run `make translations` and translate these"
    fuzzy = sorted(_key(m.id) for m in russian if m.id and m.fuzzy)
    assert fuzzy == [], "translations marked fuzzy need checking"
    stale = sorted(_key(m.id) for m in russian if m.id and _key(m.id) not in messages)
    assert stale == [], "translations of messages no longer used"


def test_every_plural_message_has_the_three_russian_forms(russian):
    plural = {key: m for key, m in _extracted().items() if not isinstance(m, str)}
    assert plural, "the pages count makers and pieces with ngettext"
    assert russian.num_plurals == 3
    assert russian.plural_expr.replace(" ", "") == RUSSIAN_PLURALS.replace(" ", "")
    for key, source in plural.items():
        entry = russian.get(key)
        assert entry is not None and entry.pluralizable, key
        assert _forms(entry.id) == source, key
        assert len(entry.string) == 3 and all(entry.string), key
        assert len(set(entry.string)) > 1, key  # not one form copied three times


def test_placeholders_match_in_every_translation(russian):
    problems = [(m.id, str(errors)) for m, errors in russian.check() if errors]
    assert problems == []
    for message in russian:
        if message.id:
            wanted = {p for text in _forms(message.id) for p in re.findall(PLACEHOLDER, text)}
            for text in _forms(message.string):
                assert set(re.findall(PLACEHOLDER, text)) == wanted, (message.id, text)


def test_the_compiled_catalog_matches_its_source(russian):
    compiled = read_mo(io.BytesIO((CATALOG / "messages.mo").read_bytes()))
    source = {_key(m.id): _forms(m.string) for m in russian if m.id}
    assert {_key(m.id): _forms(m.string) for m in compiled if m.id} == source, (
        "run `make translations`"
    )


def _pages(app, client, world):
    # Data in neither language's words, so that only the pages' own words are compared.
    neutral = {
        "title": "YG 7",
        "description": "No. 7",
        "stones": [{"type": "beryl", "count": 1, "carat": 0.5}],
    }
    inspector = bearer(world.inspector)
    _, valid = certify(client, world, uin="1234567890123456", **neutral)
    pages = [f"/v/{valid['code']}"]
    for reason in ("fraud", "piece_lost_or_stolen"):
        _, revoked = certify(client, world, **neutral)
        refused = client.post(
            f"/api/v1/certificates/{revoked['code']}/revoke",
            json={"reason": reason, "note": "No. 7"},
            headers=inspector,
        )
        assert refused.status_code == 200, refused.json
        pages.append(f"/v/{revoked['code']}")
    _, old = certify(client, world, **neutral)
    reissued = client.post(
        f"/api/v1/certificates/{old['code']}/reissue",
        json={"weight_g": 3.5, "note": "Weighed again."},
        headers=inspector,
    )
    assert reissued.status_code in (200, 201), reissued.json
    _, forged = certify(client, world, **neutral)
    # In a context of its own: requests made inside an outer app context share it, and
    # with it the language Flask-Babel settled on for the first of them.
    with app.app_context():
        database.session().execute(
            update(Certificate).where(Certificate.code == forged["code"]).values(payload=b"{}")
        )
        database.session().commit()
    mistyped = ("1" if valid["code"][0] != "1" else "2") + valid["code"][1:]
    return [
        *pages,
        f"/v/{old['code']}",
        f"/v/{forged['code']}",
        f"/v/{mistyped}",
        "/v/0000000000000G",
        "/v/nonsense",
        "/verify",
        "/verify?code=x",
    ]


def test_russian_pages_show_no_english_words_and_english_pages_no_russian(
    app, client, world, russian
):
    """What the pages say (their data aside) is wholly in the language asked for."""
    _neutral_makers(app, world)
    paths = _pages(app, client, world)
    answers = {}
    for language in ("ru", "en"):
        for path in paths:
            answers[path, language] = client.get(path, headers={"Accept-Language": language})
        app.config["PUBLIC_RATE_LIMIT"] = "1 per hour"  # and the page that refuses
        client.get("/verify")
        answers["429", language] = client.get("/verify", headers={"Accept-Language": language})
        assert answers["429", language].status_code == 429
        app.config["PUBLIC_RATE_LIMIT"] = "300 per minute"
        app.extensions["registry.limiter"].storage.reset()
    for path in [*paths, "429"]:
        _assert_in_one_language(russian, path, answers[path, "ru"], answers[path, "en"])


def test_the_public_pages_and_the_portals_are_wholly_in_the_language_asked_for(
    app, client, world, russian
):
    """The site's own pages and every role's portal, signed in, in Russian and in English."""
    _neutral_makers(app, world)
    pages = _portal_pages(app, client, world)
    data = [*_ACCOUNTS.values(), world.maker_slug, world.other_maker_slug]
    visitors = {who: _signed_in(app, who) for who in (None, *_ACCOUNTS)}
    for (who, path), expected in pages.items():
        visitor = visitors[who]
        ru = visitor.get(path, headers={"Accept-Language": "ru"})
        en = visitor.get(path, headers={"Accept-Language": "en"})
        assert ru.status_code == en.status_code == expected, (who, path, ru.status_code)
        _assert_in_one_language(russian, (who, path), ru, en, data=data)


_ACCOUNTS = {
    "maker": "maker@test.example",
    "inspector": "inspector@test.example",
    "admin": "admin@test.example",
}


def _neutral_makers(app, world):
    """The test makers renamed to words of neither language: "Мастерская 1" holds the
    word "Мастер" (Maker), which an English page may show only as a name."""
    with app.app_context():
        for n, slug in enumerate((world.maker_slug, world.other_maker_slug), start=7):
            database.session().execute(
                update(Maker)
                .where(Maker.slug == slug)
                .values(name_ru=f"Ангара {n}", name_en=f"Angara {n}")
            )
        database.session().commit()


def _signed_in(app, who: str | None):
    visitor = app.test_client()
    if who is not None:
        assert sign_in(visitor, _ACCOUNTS[who]).status_code == 302
    return visitor


def _portal_pages(app, client, world) -> dict[tuple[str | None, str], int]:
    """{(who, path): status}: public pages (who None) and the portals' pages of each role,
    over pieces in every state, with data in neither language."""
    with app.app_context():
        with_passwords(database.session(), *_ACCOUNTS.values())
    neutral = {
        "title": "YG 7",
        "description": "No. 7",
        "stones": [{"type": "beryl", "count": 1, "carat": 0.5}],
    }
    assay: dict = {}
    waiting = client.post(
        "/api/v1/pieces", json=piece_data(**neutral), headers=bearer(world.maker)
    ).json["id"]
    failed = client.post(
        "/api/v1/pieces", json=piece_data(**neutral), headers=bearer(world.maker)
    ).json["id"]
    refused = client.post(
        f"/api/v1/pieces/{failed}/assay",
        json=assay_data(result="failed", **assay),
        headers=bearer(world.inspector),
    )
    assert refused.status_code == 201, refused.json
    certified, _ = certify(client, world, uin="1234567890123456", assay=assay, **neutral)
    revoked, certificate = certify(client, world, assay=assay, **neutral)
    withdrawn = client.post(
        f"/api/v1/certificates/{certificate['code']}/revoke",
        json={"reason": "fraud", "note": "No. 7"},
        headers=bearer(world.inspector),
    )
    assert withdrawn.status_code == 200, withdrawn.json
    every = (waiting, failed, certified, revoked)
    pages = {
        (None, "/"): 200,
        (None, "/makers"): 200,
        (None, "/makers?region=RU-KYA"): 200,
        (None, "/makers?region=RU-KK"): 200,  # no maker there
        (None, "/makers?region=XX"): 400,  # no such region
        (None, f"/makers/{world.maker_slug}"): 200,
        (None, f"/makers/{world.other_maker_slug}"): 200,  # no certified piece
        (None, "/login"): 200,
        ("maker", "/maker/"): 200,
        ("maker", "/maker/?status=awaiting_assay"): 200,
        ("maker", "/maker/?q=nothing-like-it"): 200,
        ("maker", "/maker/pieces/new"): 200,
        ("maker", "/maker/import"): 200,
        ("maker", "/account"): 200,
        ("maker", "/account/password"): 200,
        ("maker", "/inspector/"): 403,
        ("inspector", "/inspector/"): 200,
        ("inspector", "/inspector/search"): 200,
        ("inspector", "/inspector/search?q=YG"): 200,
        ("inspector", "/inspector/search?q=nothing-like-it"): 200,
        ("inspector", "/inspector/audit"): 200,
        ("inspector", "/inspector/log"): 200,
        ("inspector", "/inspector/pieces/999999"): 404,
        ("inspector", "/account"): 200,
        ("admin", "/admin/makers"): 200,
        ("admin", "/admin/accounts"): 200,
        ("admin", "/account"): 200,
    }
    for piece in every:
        pages["maker", f"/maker/pieces/{piece}"] = 200
        pages["inspector", f"/inspector/pieces/{piece}"] = 200
    return pages


def _assert_in_one_language(russian, where, ru_answer, en_answer, *, data=()):
    """No message of the pages untranslated on the Russian page, and none of their Russian
    on the English page. `data` (addresses, slugs) is left out of the comparison."""
    ru = _visible(ru_answer.get_data(as_text=True))
    en = _visible(en_answer.get_data(as_text=True))
    for value in data:
        ru, en = ru.replace(value, " "), en.replace(value, " ")
    assert ru != en, where
    for message in russian:
        if not message.id:
            continue
        translated = [_fixed_part(text) for text in _forms(message.string)]
        for text in _forms(message.id):
            fixed = _fixed_part(text)
            if fixed and not any(fixed in other for other in translated):
                assert fixed not in ru, (where, message.id)
        for fixed in translated:
            if fixed and re.search("[а-яё]", fixed):
                assert fixed not in en, (where, message.id)


def _fixed_part(message: str) -> str:
    """The longest stretch of a message without placeholders, if long enough to tell."""
    parts = sorted(re.split(PLACEHOLDER, message), key=len)
    longest = parts[-1].strip(" .,:;—()") if parts else ""
    return longest if len(longest) >= 4 else ""


def _visible(html: str) -> str:
    """The page's text as a reader or a screen reader meets it; code and hashes left out."""
    html = re.sub(r"<(style|script|svg|code|pre)\b.*?</\1>", " ", html, flags=re.S)
    labels = re.findall(r'\s(?:aria-label|alt|title|placeholder|data-label)="([^"]*)"', html)
    text = re.sub(r"<[^>]+>", " ", html) + " " + " ".join(labels)
    text = text.replace("&#39;", "'").replace("&amp;", "&").replace("&quot;", '"')
    return re.sub(r"\s+", " ", text)


def test_every_word_a_template_looks_up_is_translated_once_per_language():
    """`L["…"]` of a word missing from registry/words.py would print nothing."""
    known = set(words.every_word())
    used = set()
    for template in (ROOT / "registry" / "templates").rglob("*.html"):
        used |= set(re.findall(r'L\["([^"]+)"\]', template.read_text(encoding="utf-8")))
    assert used, "the templates look words up"
    assert used - known == set()
    assert set(words.LABELS) - used == set(), "labels no template shows"
