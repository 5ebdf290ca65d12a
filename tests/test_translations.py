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


def _pages(client, world):
    # Data in neither language's words, so that only the pages' own words are compared.
    neutral = {
        "title": "YG 7",
        "description": "No. 7",
        "stones": [{"type": "beryl", "count": 1, "carat": 0.5}],
        "assay": {"inspectorate": "ESIAS-24"},
    }
    _, valid = certify(client, world, uin="1234567890123456", **neutral)
    _, revoked = certify(client, world, **neutral)
    client.post(
        f"/api/v1/certificates/{revoked['code']}/revoke",
        json={"reason": "fraud", "note": ""},
        headers=bearer(world.inspector),
    )
    return [
        f"/v/{valid['code']}",
        f"/v/{revoked['code']}",
        "/v/0000000000000G",
        "/v/nonsense",
        "/verify",
        "/verify?code=x",
    ]


def test_russian_pages_show_no_english_words_and_english_pages_no_russian(client, world, russian):
    """What the pages say (their data aside) is wholly in the language asked for."""
    english = {m.id for m in russian if m.id}
    russian_words = {m.string for m in russian if m.id}
    for path in _pages(client, world):
        ru = _visible(client.get(path, headers={"Accept-Language": "ru"}).get_data(as_text=True))
        en = _visible(client.get(path, headers={"Accept-Language": "en"}).get_data(as_text=True))
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
