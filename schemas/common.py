"""Field helpers shared by the resource schemas."""

import re
import unicodedata
from datetime import datetime
from decimal import Decimal

from marshmallow import ValidationError, fields, validate

#: Largest row id: the range of an INTEGER key on PostgreSQL.
MAX_ID = 2**31 - 1

# \Z, not $: `$` also matches before a trailing newline.
SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*\Z")


def text(
    max_length: int, *, required: bool = True, multiline: bool = False, **kwargs
) -> fields.String:
    """A trimmed, non-empty string of at most `max_length` characters."""
    extra = kwargs.pop("validate", [])
    return Trimmed(
        required=required,
        multiline=multiline,
        validate=[validate.Length(min=1, max=max_length), *extra],
        **kwargs,
    )


class Trimmed(fields.String):
    """Text as people type it: NFC-normalised, surrounding white space removed, and no
    control characters (line breaks and tabs only where `multiline`).

    Control characters have no place on a certificate or a tag, and NUL cannot even be
    stored by PostgreSQL. NFC makes a reference typed on two keyboards the same string.
    """

    def __init__(self, *args, multiline: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.allowed_controls = "\n\r\t" if multiline else ""

    def _deserialize(self, value, attr, data, **kwargs):
        result = unicodedata.normalize("NFC", super()._deserialize(value, attr, data, **kwargs))
        if "\x00" in result:
            raise ValidationError("Must not contain NUL characters.")
        result = result.strip()
        if any(unicodedata.category(c) == "Cc" and c not in self.allowed_controls for c in result):
            raise ValidationError("Must not contain control characters.")
        return result


class Quantity(fields.Decimal):
    """A positive decimal with a bounded number of places, dumped as a JSON number.

    Accepts a JSON number or a numeric string; refuses booleans, NaN and infinities.
    """

    def __init__(self, *, places: int, maximum: Decimal, **kwargs):
        self.max_places = places
        self.maximum = maximum
        # The bounds in the OpenAPI document too (3.0: exclusiveMinimum is a flag). Not the
        # places as multipleOf: validators that divide floats reject 3.42 as a multiple of 0.01.
        bounds = {"minimum": 0, "exclusiveMinimum": True, "maximum": float(maximum)}
        kwargs["metadata"] = {**bounds, **kwargs.get("metadata", {})}
        super().__init__(allow_nan=False, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool):
            raise ValidationError("Not a valid number.")
        number = super()._deserialize(value, attr, data, **kwargs)
        if number <= 0:
            raise ValidationError("Must be greater than 0.")
        if number > self.maximum:
            raise ValidationError(f"Must be at most {self.maximum}.")
        # quantize, not normalize(): normalising in the default context rounds a tiny
        # value such as 1e-99999 to 0, which would slip through as a whole number.
        if number != number.quantize(Decimal(1).scaleb(-self.max_places)):
            raise ValidationError(f"At most {self.max_places} decimal places.")
        return number

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return float(value)


def timestamp(value: datetime) -> str:
    """An aware UTC time as certificates print it: ISO 8601 with a `Z`, to the second."""
    # isoformat is several times faster than strftime, and this runs on every scan.
    return value.replace(tzinfo=None, microsecond=0).isoformat() + "Z"


class Timestamp(fields.DateTime):
    """An ISO 8601 UTC time with a `Z`, to the second, as certificates print it."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return timestamp(value)
