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


#: Unicode's Bidi_Control characters (UAX #9 §2): invisible, and able to reverse the
#: text around them on a page or a certificate.
_BIDI_CONTROLS = dict.fromkeys(
    map(ord, "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
)
#: Dashes that read as a hyphen-minus in a reference or a mark (and the soft hyphen, which
#: reads as nothing or as a hyphen): all of them are the ASCII hyphen in an identifier.
#: Unicode's control characters (category Cc), all of them.
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f]")
_HYPHENS = dict.fromkeys(map(ord, "\u00ad\u2010\u2011\u2012\u2013\u2014\u2015\u2212"), "-")


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


def identifier(max_length: int, *, required: bool = True, **kwargs) -> fields.String:
    """A trimmed, non-empty identifier of at most `max_length` characters, one string for
    every way of writing it (see `clean`)."""
    return text(max_length, required=required, identifier=True, **kwargs)


def clean(
    value: str, *, identifier: bool = False, allowed_controls: str = "", strip: bool = True
) -> str:
    """Text as people type it: NFC-normalised, surrounding white space removed (where
    `strip`), and no control characters (but `allowed_controls`).

    Control characters have no place on a certificate or a tag, and NUL cannot even be
    stored by PostgreSQL. NFC makes a reference typed on two keyboards the same string.
    Direction controls are removed from every text (no letter is lost), so that none can
    reverse what surrounds it. An identifier (a reference, a mark, an e-mail address, a
    UIN) loses every invisible format character (Unicode category Cf: zero-width spaces
    and joiners, byte-order marks, ...), and its look-alike dashes and spaces become the
    ASCII ones: `R-777`, with a zero-width space, or with U+2011 for its hyphen, is
    one reference.

    Raises ValidationError for NUL or a control character.
    """
    if "\x00" in value:
        raise ValidationError("Must not contain NUL characters.")
    if value.isascii():
        # Most text of an import: nothing to remove or compose, only controls to find
        # (category Cc is exactly _CONTROLS).
        value = value.strip() if strip else value
        if any(c not in allowed_controls for c in _CONTROLS.findall(value)):
            raise ValidationError("Must not contain control characters.")
        return value
    if identifier:
        value = "".join(
            " " if unicodedata.category(c) == "Zs" else c
            for c in value.translate(_HYPHENS)
            if unicodedata.category(c) != "Cf"
        )
    else:
        value = value.translate(_BIDI_CONTROLS)
    # After the removals: a character taken from between a letter and its accent would
    # otherwise leave the pair uncomposed.
    value = unicodedata.normalize("NFC", value)
    value = value.strip() if strip else value
    if any(c not in allowed_controls for c in _CONTROLS.findall(value)):
        raise ValidationError("Must not contain control characters.")
    return value


class Trimmed(fields.String):
    """Text as people type it, made one string however it was typed (`clean`): line
    breaks and tabs only where `multiline`, and as an identifier where `identifier`."""

    def __init__(self, *args, multiline: bool = False, identifier: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.allowed_controls = "\n\r\t" if multiline else ""
        self.identifier = identifier

    def _deserialize(self, value, attr, data, **kwargs):
        return clean(
            super()._deserialize(value, attr, data, **kwargs),
            identifier=self.identifier,
            allowed_controls=self.allowed_controls,
        )


class Untrimmed(fields.String):
    """An identifier whose pattern says what it may hold (a slug, a UIN), cleaned of
    invisible characters and look-alike dashes (`clean`) but not trimmed: surrounding
    white space is refused by the pattern, as sent."""

    def _deserialize(self, value, attr, data, **kwargs):
        return clean(
            super()._deserialize(value, attr, data, **kwargs), identifier=True, strip=False
        )


class EmailAddress(fields.Email):
    """An e-mail address, cleaned as an untrimmed identifier before it is validated."""

    def _deserialize(self, value, attr, data, **kwargs):
        return clean(
            super()._deserialize(value, attr, data, **kwargs), identifier=True, strip=False
        )


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
