"""The vocabulary of schemas.standards is written once: every member has its words in both
languages, and the database and the schemas accept exactly its members."""

import enum
import inspect
import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from marshmallow import ValidationError, validate
from sqlalchemy import CheckConstraint

from registry import models, words
from schemas import accounts, assays, audit, certificates, pieces, standards

CATALOG = Path(words.__file__).parent / "translations" / "ru" / "LC_MESSAGES" / "messages.po"

VOCABULARIES = [
    member
    for _, member in inspect.getmembers(standards, inspect.isclass)
    if issubclass(member, enum.StrEnum) and member.__module__ == standards.__name__
]


def _russian() -> dict[str, str]:
    with CATALOG.open("rb") as po:
        catalog = read_po(po)
    return {
        message.id: message.string
        for message in catalog
        if message.id and not message.fuzzy and isinstance(message.id, str)
    }


def test_every_vocabulary_has_a_label_table():
    assert set(VOCABULARIES) == set(words.VOCABULARIES)
    assert {standards.Role, standards.PieceStatus, standards.EventType} <= set(VOCABULARIES)


@pytest.mark.parametrize("vocabulary", VOCABULARIES, ids=lambda v: v.__name__)
def test_every_member_has_its_words_in_english_and_russian(vocabulary):
    labels = words.VOCABULARIES[vocabulary]
    russian = _russian()
    assert set(labels) == set(vocabulary), "a member without a label, or a label of no member"
    for member in vocabulary:
        assert labels[member].strip(), f"{member!r} has an empty English label"
        assert russian.get(labels[member], "").strip(), f"{labels[member]!r} lacks its Russian"


def test_the_cards_words_have_their_russian():
    russian = _russian()
    assert [word for word in words.CARD.values() if not russian.get(word, "").strip()] == []


def _check(model, name: str) -> str:
    (constraint,) = (
        c
        for c in model.__table__.constraints
        if isinstance(c, CheckConstraint) and c.name == f"ck_{model.__tablename__}_{name}"
    )
    return str(constraint.sqltext)


@pytest.mark.parametrize(
    ("model", "constraint", "column", "vocabulary"),
    [
        (models.Account, "role", "role", standards.Role),
        (models.Piece, "kind", "kind", standards.Kind),
        (models.Piece, "status", "status", standards.PieceStatus),
        (models.AssayRecord, "result", "result", standards.AssayResult),
        (models.Certificate, "status", "status", standards.CertificateStatus),
        (models.Certificate, "revocation_reason", "revocation_reason", standards.RevocationReason),
    ],
)
def test_the_database_accepts_exactly_the_members(model, constraint, column, vocabulary):
    (listed,) = re.findall(rf"\b{column} IN \(([^)]*)\)", _check(model, constraint))
    assert listed == ", ".join(f"'{member.value}'" for member in vocabulary)


@pytest.mark.parametrize("model", [models.Piece, models.AssayRecord])
def test_the_database_knows_the_finenesses_of_exactly_the_metals(model):
    metals = re.findall(r"metal = '([^']*)'", _check(model, "legal_fineness"))
    assert metals == [metal.value for metal in standards.Metal] == list(standards.FINENESSES)


def _choices(schema, field: str) -> list:
    target = schema.fields[field]
    target = getattr(target, "inner", target)  # a list of values: its items' validator
    (one_of,) = (v for v in target.validators if isinstance(v, validate.OneOf))
    return list(one_of.choices)


@pytest.mark.parametrize(
    ("schema", "field", "values"),
    [
        (accounts.AccountIn(), "role", list(standards.Role)),
        (pieces.PieceIn(), "kind", list(standards.Kind)),
        (pieces.PieceIn(), "metal", list(standards.Metal)),
        (pieces.PieceOut(), "status", list(standards.PieceStatus)),
        (pieces.PieceListArgs(), "status", list(standards.PieceStatus)),
        (assays.AssayIn(), "result", list(standards.AssayResult)),
        (assays.AssayIn(), "metal", list(standards.Metal)),
        (certificates.CertificateOut(), "status", list(standards.CertificateStatus)),
        (certificates.RevokeIn(), "reason", list(standards.RevocationReason)),
        (certificates.Revocation(), "reason", list(standards.RevocationReason)),
        (audit.AuditEvent(), "action", list(standards.EventType)),
        (audit.AuditArgs(), "type", list(standards.EventType)),
        (audit.AuditArgs(), "actor_role", [*standards.Role, standards.SYSTEM_ROLE]),
    ],
    ids=lambda value: type(value).__name__ if not isinstance(value, str | list) else None,
)
def test_the_schemas_accept_exactly_the_members(schema, field, values):
    # The order too: the OpenAPI document lists them in it.
    assert _choices(schema, field) == values
    target = schema.fields[field]
    target = getattr(target, "inner", target)
    for value in values:
        target.deserialize(str(value))
    with pytest.raises(ValidationError):
        target.deserialize("not-a-member")


def test_a_member_is_its_value_in_json_sql_and_the_log():
    assert str(standards.Role.MAKER) == f"{standards.Role.MAKER}" == "maker"
    assert standards.EventType.KEY_GENERATED == "key:generated"
