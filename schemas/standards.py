"""The legal vocabulary of the brand: regions, metals and their finenesses, kinds of piece.

One table each, so that validation, database constraints and documentation all read the
same source. Finenesses are the legal standards for precious-metal articles in Russia.
"""

REGIONS: dict[str, dict[str, str]] = {
    "RU-KYA": {"ru": "Красноярский край", "en": "Krasnoyarsk Krai"},
    "RU-KK": {"ru": "Республика Хакасия", "en": "Republic of Khakassia"},
    "RU-TY": {"ru": "Республика Тыва", "en": "Tyva Republic"},
}

FINENESSES: dict[str, tuple[int, ...]] = {
    "gold": (375, 500, 585, 750, 958, 999),
    "silver": (800, 830, 875, 925, 960, 999),
    "platinum": (850, 900, 950, 999),
    "palladium": (500, 850, 950, 999),
}

METALS: tuple[str, ...] = tuple(FINENESSES)

KINDS: tuple[str, ...] = (
    "ring",
    "earrings",
    "pendant",
    "brooch",
    "bracelet",
    "chain",
    "necklace",
    "cufflinks",
    "other",
)

ROLES: tuple[str, ...] = ("maker", "inspector", "admin")

ASSAY_RESULTS: tuple[str, ...] = ("passed", "failed")

PIECE_STATUSES: tuple[str, ...] = ("awaiting_assay", "certified", "assay_failed", "revoked")

CERTIFICATE_STATUSES: tuple[str, ...] = ("valid", "revoked", "superseded")

REVOCATION_REASONS: tuple[str, ...] = (
    "data_error",
    "fraud",
    "piece_destroyed",
    "piece_lost_or_stolen",
    "other",
)

#: Every kind of event the transparency log records (registry.log.ledger.Action).
EVENT_TYPES: tuple[str, ...] = (
    "maker:admitted",
    "account:created",
    "account:password_set",
    "token:created",
    "token:revoked",
    "piece:registered",
    "piece:photo_set",
    "piece:photo_removed",
    "assay:passed",
    "assay:failed",
    "certificate:issued",
    "certificate:revoked",
    "certificate:superseded",
    "key:generated",
    "key:rotated",
    "key:compromised",
)


def is_legal_fineness(metal: str, fineness: int) -> bool:
    """True when `fineness` is a legal standard for `metal`."""
    return fineness in FINENESSES.get(metal, ())
