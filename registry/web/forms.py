"""HTML forms at the edge: a posted form loaded with the same marshmallow schema as the
API's JSON, and its errors shown beside the fields, in the page's language."""

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

from marshmallow import Schema, ValidationError
from sqlalchemy.orm import Session

from registry.edge import i18n
from registry.errors import RegistryError


class Invalid(Exception):
    """A form that did not load, or that the service refused: its errors by field, ready
    to show, and the status of the page that shows them again."""

    def __init__(self, errors: dict[str, list[str]], *, status: int = 422):
        super().__init__("invalid form")
        self.errors = errors
        self.status = status


def cursor(text: str | None, *, largest: int) -> int | None:
    """A number as a page's own link writes it (the `after` of a paged list, an id): None
    when absent. Raises ValueError for anything else: not ASCII digits, or more digits
    than `largest` has, or larger than it (its digits are counted before it is read)."""
    if text is None:
        return None
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(largest)):
        raise ValueError(f"not a number from 0 to {largest}")
    if int(text) > largest:
        raise ValueError(f"not a number from 0 to {largest}")
    return int(text)


def load(schema: Schema, form: Mapping[str, str], *, lists: tuple[str, ...] = ()) -> dict:
    """The form's fields loaded by `schema`; a field left blank counts as not given.

    `lists` names fields sent several times (check boxes). Raises Invalid.
    """
    data: dict[str, Any] = {}
    for key in form:
        if key == "csrf_token":
            continue
        if key in lists:
            data[key] = [v for v in form.getlist(key) if v]  # type: ignore[attr-defined]
        elif (value := form.get(key, "")) != "":
            data[key] = value
    try:
        return schema.load(data)
    except ValidationError as exc:
        raise Invalid(flat(exc.messages)) from exc


def refused(error: RegistryError) -> Invalid:
    """A service's refusal (a taken reference, a wrong password) as the form's errors:
    beside the fields it names, and its whole explanation above the form, each in the
    page's language. The page answers 409 for a conflict with what is stored, 413 for a
    file too large, 422 for anything else the form asked."""
    errors = flat(error.errors) if error.errors else {}
    errors.setdefault("_schema", []).insert(0, i18n.explained(error.detail))
    return Invalid(errors, status=error.status if error.status in (409, 413) else 422)


@contextlib.contextmanager
def refusals(session: Session, *kinds: type[RegistryError]) -> Iterator[None]:
    """Inside, a service's refusal of the form's request (RegistryError, or only `kinds`)
    rolls the session back and becomes Invalid, to show the form again with it."""
    caught = kinds or (RegistryError,)
    try:
        yield
    except caught as error:
        session.rollback()
        raise refused(error) from error


def flat(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested messages as {field: [message, ...]}, nested fields dotted
    (stones.0.carat), each message in the page's language (edge.i18n.explained)."""
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return {prefix or "_schema": [i18n.explained(m) for m in messages]}
    result: dict[str, list[str]] = {}
    items = messages.items() if isinstance(messages, dict) else enumerate(messages)
    for key, value in items:
        name = f"{prefix}.{key}" if prefix else str(key)
        for field, texts in flat(value, name).items():
            result.setdefault(field, []).extend(texts)
    return result
