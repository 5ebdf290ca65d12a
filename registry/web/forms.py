"""HTML forms at the edge: a posted form loaded with the same marshmallow schema as the
API's JSON, and its errors shown beside the fields, in the page's language."""

from collections.abc import Mapping
from typing import Any

from flask_babel import gettext
from marshmallow import Schema, ValidationError

from registry.errors import RegistryError


class Invalid(Exception):
    """A form that did not load: its errors by field, ready to show."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("invalid form")
        self.errors = errors


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
    """A service's refusal (a taken reference, a wrong password) as the form's errors."""
    return Invalid(flat(error.errors) if error.errors else {"_schema": [error.detail]})


def flat(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested messages as {field: [message, ...]}, nested fields dotted
    (stones.0.carat), each message translated where the catalog knows it."""
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return {prefix or "_schema": [gettext(m) for m in messages]}
    result: dict[str, list[str]] = {}
    items = messages.items() if isinstance(messages, dict) else enumerate(messages)
    for key, value in items:
        name = f"{prefix}.{key}" if prefix else str(key)
        for field, texts in flat(value, name).items():
            result.setdefault(field, []).extend(texts)
    return result
