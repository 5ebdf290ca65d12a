"""The registry's vocabulary in the visitor's language: kinds, metals, reasons."""

from flask_babel import lazy_gettext

_KINDS = {
    "ring": lazy_gettext("Ring"),
    "earrings": lazy_gettext("Earrings"),
    "pendant": lazy_gettext("Pendant"),
    "brooch": lazy_gettext("Brooch"),
    "bracelet": lazy_gettext("Bracelet"),
    "chain": lazy_gettext("Chain"),
    "necklace": lazy_gettext("Necklace"),
    "cufflinks": lazy_gettext("Cufflinks"),
    "other": lazy_gettext("Other"),
}
_METALS = {
    "gold": lazy_gettext("Gold"),
    "silver": lazy_gettext("Silver"),
    "platinum": lazy_gettext("Platinum"),
    "palladium": lazy_gettext("Palladium"),
}
_REASONS = {
    "data_error": lazy_gettext("an error in the certificate's data"),
    "fraud": lazy_gettext("fraud"),
    "piece_destroyed": lazy_gettext("the piece was destroyed"),
    "piece_lost_or_stolen": lazy_gettext("the piece was reported lost or stolen"),
    "other": lazy_gettext("another reason"),
}
_HEADINGS = {
    "valid": lazy_gettext("Authentic"),
    "revoked": lazy_gettext("Revoked"),
    "stolen": lazy_gettext("Reported stolen"),
    "superseded": lazy_gettext("Superseded"),
    "invalid": lazy_gettext("Not valid"),
    "unknown": lazy_gettext("Unknown code"),
    "mistyped": lazy_gettext("Mistyped code"),
    "malformed": lazy_gettext("Not a certificate code"),
}
_PROBLEMS = {
    "signature": lazy_gettext("its signature does not match the registry's keys."),
    "compromised": lazy_gettext(
        "the key that signed it was compromised before the certificate was issued."
    ),
}


def _lookup(table: dict, value: str) -> str:
    # A value from a newer vocabulary than this page knows is shown as it is.
    return str(table[value]) if value in table else value


def kind(value: str) -> str:
    return _lookup(_KINDS, value)


def metal(value: str) -> str:
    return _lookup(_METALS, value)


def reason(value: str) -> str:
    return _lookup(_REASONS, value)


def heading(value: str) -> str:
    return str(_HEADINGS[value])


def problem(value: str) -> str:
    return str(_PROBLEMS[value])
