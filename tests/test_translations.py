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

from registry import db
from registry.models import Certificate
from registry.web import words
from tests.factories import bearer, certify

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "registry" / "translations" / "ru" / "LC_MESSAGES"
KEYWORDS = {"_": None, "gettext": None, "lazy_gettext": None, "N_": None}


def _source_messages() -> set[str]:
    found = set()
    for method, pattern in (("python", "**.py"), ("jinja2", "**/templates/**.html")):
        for _file, _line, message, _comments, _context in extract_from_dir(
            ROOT / "registry",
            method_map=[(pattern, method)],
            keywords=KEYWORDS,
        ):
            found.add(message if isinstance(message, str) else message[0])
    return found


@pytest.fixture(scope="module")
def russian():
    with open(CATALOG / "messages.po", "rb") as po:
        return read_po(po, locale="ru")


def test_every_message_has_a_russian_translation(russian):
    messages = _source_messages()
    assert len(messages) > 50  # the extraction found the pages' messages
    missing = sorted(m for m in messages if not russian.get(m) or not russian.get(m).string)
    assert missing == [], "untranslated: run `make translations` and translate these"
    fuzzy = sorted(m.id for m in russian if m.id and m.fuzzy)
    assert fuzzy == [], "translations marked fuzzy need checking"
    stale = sorted(m.id for m in russian if m.id and m.id not in messages)
    assert stale == [], "translations of messages no longer used"


def test_placeholders_match_in_every_translation(russian):
    problems = [(m.id, str(errors)) for m, errors in russian.check() if errors]
    assert problems == []
    for message in russian:
        if message.id:
            assert set(re.findall(r"%\(\w+\)s", message.id)) == set(
                re.findall(r"%\(\w+\)s", message.string)
            ), message.id


def test_the_compiled_catalog_matches_its_source(russian):
    compiled = read_mo(io.BytesIO((CATALOG / "messages.mo").read_bytes()))
    source = {m.id: m.string for m in russian if m.id}
    assert {m.id: m.string for m in compiled if m.id} == source, "run `make translations`"


def _pages(app, client, world):
    # Data in neither language's words, so that only the pages' own words are compared.
    neutral = {
        "title": "YG 7",
        "description": "No. 7",
        "stones": [{"type": "beryl", "count": 1, "carat": 0.5}],
        "assay": {"inspectorate": "ESIAS-24"},
    }
    inspector = bearer(world.inspector)
    _, valid = certify(client, world, uin="1234567890123456", **neutral)
    pages = [f"/v/{valid['code']}"]
    for reason in ("fraud", "piece_lost_or_stolen"):
        _, revoked = certify(client, world, **neutral)
        client.post(
            f"/api/v1/certificates/{revoked['code']}/revoke",
            json={"reason": reason, "note": ""},
            headers=inspector,
        )
        pages.append(f"/v/{revoked['code']}")
    _, old = certify(client, world, **neutral)
    client.post(
        f"/api/v1/certificates/{old['code']}/reissue",
        json={"weight_g": 3.5, "note": "Weighed again."},
        headers=inspector,
    )
    _, forged = certify(client, world, **neutral)
    # In a context of its own: requests made inside an outer app context share it, and
    # with it the language Flask-Babel settled on for the first of them.
    with app.app_context():
        db.session().execute(
            update(Certificate).where(Certificate.code == forged["code"]).values(payload=b"{}")
        )
        db.session().commit()
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
    english = {m.id for m in russian if m.id}
    russian_words = {m.string for m in russian if m.id}
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
        ru = _visible(answers[path, "ru"].get_data(as_text=True))
        en = _visible(answers[path, "en"].get_data(as_text=True))
        assert ru != en, path
        for message in english:
            fixed = _fixed_part(message)
            if fixed and fixed not in _fixed_part(russian.get(message).string):
                assert fixed not in ru, (path, message)
        for message in russian_words:
            fixed = _fixed_part(message)
            if fixed and re.search("[а-яё]", fixed):
                assert fixed not in en, (path, message)


def _fixed_part(message: str) -> str:
    """The longest stretch of a message without placeholders, if long enough to tell."""
    parts = sorted(re.split(r"%\(\w+\)s", message), key=len)
    longest = parts[-1].strip(" .,:;—()") if parts else ""
    return longest if len(longest) >= 4 else ""


def _visible(html: str) -> str:
    html = re.sub(r"<(style|svg)\b.*?</\1>", " ", html, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", html)
    text = text.replace("&#39;", "'").replace("&amp;", "&").replace("&quot;", '"')
    return re.sub(r"\s+", " ", text)


def test_every_word_a_template_looks_up_is_translated_once_per_language():
    """`L["…"]` of a word missing from registry/web/words.py would print nothing."""
    known = set(words.every_word())
    used = set()
    for template in (ROOT / "registry" / "templates").rglob("*.html"):
        used |= set(re.findall(r'L\["([^"]+)"\]', template.read_text(encoding="utf-8")))
    assert used, "the templates look words up"
    assert used - known == set()
    assert set(words.LABELS) - used == set(), "labels no template shows"
