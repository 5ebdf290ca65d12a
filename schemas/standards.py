"""The registry's vocabulary: regions, metals and their finenesses, kinds of piece, roles,
statuses, revocation reasons and the log's event types.

Each is written here once, so that validation, database constraints, services, pages,
cards and the log all read the same source; a `StrEnum` member is its string value, so it
goes into JSON, SQL and log entries as that string. The enums list their members in the
order the API documents them. Finenesses are the legal standards for precious-metal
articles in Russia.
"""

import enum

REGIONS: dict[str, dict[str, str]] = {
    "RU-KYA": {"ru": "Красноярский край", "en": "Krasnoyarsk Krai"},
    "RU-KK": {"ru": "Республика Хакасия", "en": "Republic of Khakassia"},
    "RU-TY": {"ru": "Республика Тыва", "en": "Tyva Republic"},
}


class Role(enum.StrEnum):
    """Who an account acts as."""

    MAKER = "maker"
    INSPECTOR = "inspector"
    ADMIN = "admin"
    SHOP = "shop"


#: The role the log records for a write no account made (a key generated at start-up).
SYSTEM_ROLE = "system"


class Metal(enum.StrEnum):
    GOLD = "gold"
    SILVER = "silver"
    PLATINUM = "platinum"
    PALLADIUM = "palladium"


FINENESSES: dict[str, tuple[int, ...]] = {
    Metal.GOLD: (375, 500, 585, 750, 958, 999),
    Metal.SILVER: (800, 830, 875, 925, 960, 999),
    Metal.PLATINUM: (850, 900, 950, 999),
    Metal.PALLADIUM: (500, 850, 950, 999),
}


class Kind(enum.StrEnum):
    RING = "ring"
    EARRINGS = "earrings"
    PENDANT = "pendant"
    BROOCH = "brooch"
    BRACELET = "bracelet"
    CHAIN = "chain"
    NECKLACE = "necklace"
    CUFFLINKS = "cufflinks"
    OTHER = "other"


class Stone(enum.StrEnum):
    """The stones of the regions' jewellery (and the usual imported ones), each named in
    both languages on every page and card; any other is OTHER with a name as typed."""

    DIAMOND = "diamond"
    SAPPHIRE = "sapphire"
    RUBY = "ruby"
    EMERALD = "emerald"
    CHRYSOLITE = "chrysolite"
    TOPAZ = "topaz"
    AMETHYST = "amethyst"
    GARNET = "garnet"
    CITRINE = "citrine"
    AQUAMARINE = "aquamarine"
    TOURMALINE = "tourmaline"
    ALEXANDRITE = "alexandrite"
    OPAL = "opal"
    BERYL = "beryl"
    PEARL = "pearl"
    NEPHRITE = "nephrite"
    CHAROITE = "charoite"
    LAPIS_LAZULI = "lapis_lazuli"
    AGALMATOLITE = "agalmatolite"
    AMBER = "amber"
    CUBIC_ZIRCONIA = "cubic_zirconia"
    OTHER = "other"


class AssayResult(enum.StrEnum):
    PASSED = "passed"
    FAILED = "failed"


class PieceStatus(enum.StrEnum):
    AWAITING_ASSAY = "awaiting_assay"
    CERTIFIED = "certified"
    ASSAY_FAILED = "assay_failed"
    REVOKED = "revoked"
    #: Taken back by its maker before it was certified: never assayed, kept in the log.
    WITHDRAWN = "withdrawn"


class CertificateStatus(enum.StrEnum):
    VALID = "valid"
    REVOKED = "revoked"
    SUPERSEDED = "superseded"


class RevocationReason(enum.StrEnum):
    DATA_ERROR = "data_error"
    FRAUD = "fraud"
    PIECE_DESTROYED = "piece_destroyed"
    PIECE_LOST_OR_STOLEN = "piece_lost_or_stolen"
    OTHER = "other"


class EventType(enum.StrEnum):
    """Every kind of event the transparency log records, as `subject:action`."""

    MAKER_ADMITTED = "maker:admitted"
    MAKER_UPDATED = "maker:updated"
    MAKER_SUSPENDED = "maker:suspended"
    MAKER_REINSTATED = "maker:reinstated"
    ACCOUNT_CREATED = "account:created"
    ACCOUNT_PASSWORD_SET = "account:password_set"  # noqa: S105 - an event name, not a secret
    ACCOUNT_DEACTIVATED = "account:deactivated"
    ACCOUNT_REACTIVATED = "account:reactivated"
    TOKEN_CREATED = "token:created"  # noqa: S105 - an event name, not a secret
    TOKEN_REVOKED = "token:revoked"  # noqa: S105 - an event name, not a secret
    PIECE_REGISTERED = "piece:registered"
    PIECE_CORRECTED = "piece:corrected"
    PIECE_WITHDRAWN = "piece:withdrawn"
    PIECE_PHOTO_SET = "piece:photo_set"
    PIECE_PHOTO_REMOVED = "piece:photo_removed"
    ASSAY_PASSED = "assay:passed"
    ASSAY_FAILED = "assay:failed"
    CERTIFICATE_ISSUED = "certificate:issued"
    CERTIFICATE_REVOKED = "certificate:revoked"
    CERTIFICATE_SUPERSEDED = "certificate:superseded"
    KEY_GENERATED = "key:generated"
    KEY_ROTATED = "key:rotated"
    KEY_COMPROMISED = "key:compromised"
    SHOP_ADMITTED = "shop:admitted"
    SALE_RECORDED = "sale:recorded"
    SALE_CANCELLED = "sale:cancelled"
    OWNERSHIP_CLAIMED = "ownership:claimed"
    OWNERSHIP_REPORTED = "ownership:reported"
    OWNERSHIP_WITHDRAWN = "ownership:withdrawn"
    OWNERSHIP_HANDED_OVER = "ownership:handed_over"
    OWNER_KEY_RESET = "ownership:key_reset"


class ShopKind(enum.StrEnum):
    """Where the brand's pieces are sold."""

    JEWELLERY_CENTRE = "jewellery_centre"
    MAKERS_SHOP = "makers_shop"
    RETAILER = "retailer"


class OwnerReport(enum.StrEnum):
    """What an owner says of a piece with the owner key; FOUND withdraws the others."""

    STOLEN = "stolen"
    LOST = "lost"
    FOUND = "found"


class AlertKind(enum.StrEnum):
    """What a verdict warns of beside its status (DESIGN: the verify JSON's `alerts`)."""

    REPORTED_STOLEN = "reported_stolen"
    REPORTED_LOST = "reported_lost"
    POSSIBLE_COPY = "possible_copy"


class ClaimOrigin(enum.StrEnum):
    """Why an ownership claim code was made."""

    SALE = "sale"
    HANDOVER = "handover"
    RESET = "reset"


class ReportKind(enum.StrEnum):
    """What a buyer reports from a verdict page."""

    SUSPECTED_FAKE = "suspected_fake"
    COPIED_TAG = "copied_tag"
    WRONG_DETAILS = "wrong_details"
    OTHER = "other"


class ReportStatus(enum.StrEnum):
    OPEN = "open"
    HANDLED = "handled"


class JobState(enum.StrEnum):
    """Where a verification of the log asked for in the portal stands."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    #: Stopped before its outcome: the verifier was stopped, or could not read the log.
    FAILED = "failed"


def is_legal_fineness(metal: str, fineness: int) -> bool:
    """True when `fineness` is a legal standard for `metal`."""
    return fineness in FINENESSES.get(metal, ())
