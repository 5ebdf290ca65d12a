"""The registry's words as pages and cards show them: the vocabulary of schemas.standards
(kinds, metals, reasons, statuses, roles, events), verdicts, and fixed labels.

Each member of a vocabulary maps to its English message; a page translates it as it
renders, with the rest of its messages, and a card looks it up in the same catalog
(registry/translations), so that both read the same. Flask-free, for the cards' sake.
`N_` only marks a message for extraction (`make translations`).
"""

import functools
from enum import StrEnum
from pathlib import Path

from babel.support import NullTranslations, Translations

from schemas.standards import (
    AlertKind,
    AssayResult,
    CertificateStatus,
    ClaimOrigin,
    EventType,
    JobState,
    Kind,
    Metal,
    OwnerReport,
    PieceStatus,
    ReportKind,
    ReportStatus,
    RevocationReason,
    Role,
    ShopKind,
    Stone,
)

#: The message catalogs of the pages (Babel's layout), which cards and parsers read too.
CATALOGS = Path(__file__).resolve().parent / "translations"


def N_(message: str) -> str:  # noqa: N802 (the name gettext tools look for)
    return message


#: Lower case: a stone is named mid-line ("diamond × 3, 0.15 ct").
STONES: dict[str, str] = {
    Stone.DIAMOND: N_("diamond"),
    Stone.SAPPHIRE: N_("sapphire"),
    Stone.RUBY: N_("ruby"),
    Stone.EMERALD: N_("emerald"),
    Stone.CHRYSOLITE: N_("chrysolite"),
    Stone.TOPAZ: N_("topaz"),
    Stone.AMETHYST: N_("amethyst"),
    Stone.GARNET: N_("garnet"),
    Stone.CITRINE: N_("citrine"),
    Stone.AQUAMARINE: N_("aquamarine"),
    Stone.TOURMALINE: N_("tourmaline"),
    Stone.ALEXANDRITE: N_("alexandrite"),
    Stone.OPAL: N_("opal"),
    Stone.BERYL: N_("beryl"),
    Stone.PEARL: N_("pearl"),
    Stone.NEPHRITE: N_("nephrite"),
    Stone.CHAROITE: N_("charoite"),
    Stone.LAPIS_LAZULI: N_("lapis lazuli"),
    Stone.AGALMATOLITE: N_("agalmatolite"),
    Stone.AMBER: N_("amber"),
    Stone.CUBIC_ZIRCONIA: N_("cubic zirconia"),
    Stone.OTHER: N_("other stone"),
}

KINDS: dict[str, str] = {
    Kind.RING: N_("Ring"),
    Kind.EARRINGS: N_("Earrings"),
    Kind.PENDANT: N_("Pendant"),
    Kind.BROOCH: N_("Brooch"),
    Kind.BRACELET: N_("Bracelet"),
    Kind.CHAIN: N_("Chain"),
    Kind.NECKLACE: N_("Necklace"),
    Kind.CUFFLINKS: N_("Cufflinks"),
    Kind.OTHER: N_("Other"),
}
METALS: dict[str, str] = {
    Metal.GOLD: N_("Gold"),
    Metal.SILVER: N_("Silver"),
    Metal.PLATINUM: N_("Platinum"),
    Metal.PALLADIUM: N_("Palladium"),
}
REASONS: dict[str, str] = {
    RevocationReason.DATA_ERROR: N_("An error in the certificate's data"),
    RevocationReason.FRAUD: N_("Fraud"),
    RevocationReason.PIECE_DESTROYED: N_("The piece was destroyed"),
    RevocationReason.PIECE_LOST_OR_STOLEN: N_("The piece was reported lost or stolen"),
    RevocationReason.OTHER: N_("Another reason"),
}
PIECE_STATUSES: dict[str, str] = {
    PieceStatus.AWAITING_ASSAY: N_("Awaiting assay"),
    PieceStatus.CERTIFIED: N_("Certified"),
    PieceStatus.ASSAY_FAILED: N_("Assay failed"),
    PieceStatus.REVOKED: N_("Revoked"),
    PieceStatus.WITHDRAWN: N_("Withdrawn by the maker"),
}
CERTIFICATE_STATUSES: dict[str, str] = {
    CertificateStatus.VALID: N_("Valid"),
    CertificateStatus.REVOKED: N_("Revoked"),
    CertificateStatus.SUPERSEDED: N_("Superseded"),
}
ASSAY_RESULTS: dict[str, str] = {
    AssayResult.PASSED: N_("Passed"),
    AssayResult.FAILED: N_("Failed"),
}
ROLES: dict[str, str] = {
    Role.MAKER: N_("Maker"),
    Role.INSPECTOR: N_("Inspector"),
    Role.ADMIN: N_("Brand office"),
    Role.SHOP: N_("Shop"),
}
EVENTS: dict[str, str] = {
    EventType.MAKER_ADMITTED: N_("Maker admitted"),
    EventType.MAKER_UPDATED: N_("Maker's details changed"),
    EventType.MAKER_SUSPENDED: N_("Maker suspended"),
    EventType.MAKER_REINSTATED: N_("Maker reinstated"),
    EventType.ACCOUNT_CREATED: N_("Account created"),
    EventType.ACCOUNT_PASSWORD_SET: N_("Password set"),
    EventType.ACCOUNT_DEACTIVATED: N_("Account deactivated"),
    EventType.ACCOUNT_REACTIVATED: N_("Account reactivated"),
    EventType.TOKEN_CREATED: N_("API token created"),
    EventType.TOKEN_REVOKED: N_("API token revoked"),
    EventType.PIECE_REGISTERED: N_("Piece registered"),
    EventType.PIECE_CORRECTED: N_("Piece's declaration corrected"),
    EventType.PIECE_WITHDRAWN: N_("Piece withdrawn by its maker"),
    EventType.PIECE_PHOTO_SET: N_("Photo set"),
    EventType.PIECE_PHOTO_REMOVED: N_("Photo removed"),
    EventType.ASSAY_PASSED: N_("Assay passed"),
    EventType.ASSAY_FAILED: N_("Assay failed"),
    EventType.CERTIFICATE_ISSUED: N_("Certificate issued"),
    EventType.CERTIFICATE_REVOKED: N_("Certificate revoked"),
    EventType.CERTIFICATE_SUPERSEDED: N_("Certificate superseded"),
    EventType.KEY_GENERATED: N_("Signing key generated"),
    EventType.KEY_ROTATED: N_("Signing key rotated"),
    EventType.KEY_COMPROMISED: N_("Signing key marked compromised"),
    EventType.SHOP_ADMITTED: N_("Shop admitted"),
    EventType.SALE_RECORDED: N_("Sale recorded"),
    EventType.SALE_CANCELLED: N_("Sale cancelled"),
    EventType.OWNERSHIP_CLAIMED: N_("Ownership claimed"),
    EventType.OWNERSHIP_REPORTED: N_("Reported stolen or lost by the owner"),
    EventType.OWNERSHIP_WITHDRAWN: N_("Owner's report withdrawn"),
    EventType.OWNERSHIP_HANDED_OVER: N_("Handed over to a new owner"),
    EventType.OWNER_KEY_RESET: N_("Owner key reset by the brand office"),
}
SHOP_KINDS: dict[str, str] = {
    ShopKind.JEWELLERY_CENTRE: N_("The Jewellery Centre"),
    ShopKind.MAKERS_SHOP: N_("A maker's own shop"),
    ShopKind.RETAILER: N_("Authorised retailer"),
}
OWNER_REPORTS: dict[str, str] = {
    OwnerReport.STOLEN: N_("Stolen"),
    OwnerReport.LOST: N_("Lost"),
    OwnerReport.FOUND: N_("Found"),
}
ALERTS: dict[str, str] = {
    AlertKind.REPORTED_STOLEN: N_("Reported stolen"),
    AlertKind.REPORTED_LOST: N_("Reported lost"),
    AlertKind.POSSIBLE_COPY: N_("Checked in many places"),
}
CLAIM_ORIGINS: dict[str, str] = {
    ClaimOrigin.SALE: N_("Sale slip"),
    ClaimOrigin.HANDOVER: N_("Hand-over"),
    ClaimOrigin.RESET: N_("Reset by the brand office"),
}
REPORT_KINDS: dict[str, str] = {
    ReportKind.SUSPECTED_FAKE: N_("A suspected fake"),
    ReportKind.COPIED_TAG: N_("A copied tag"),
    ReportKind.WRONG_DETAILS: N_("Wrong details"),
    ReportKind.OTHER: N_("Something else"),
}
REPORT_STATUSES: dict[str, str] = {
    ReportStatus.OPEN: N_("Open"),
    ReportStatus.HANDLED: N_("Handled"),
}
#: The label table of each vocabulary of schemas.standards (tests/test_vocabulary.py
#: checks that every member has its label).
JOB_STATES: dict[str, str] = {
    JobState.QUEUED: N_("Waiting"),
    JobState.RUNNING: N_("Running"),
    JobState.DONE: N_("Done"),
    JobState.FAILED: N_("Did not finish"),
}
VOCABULARIES: dict[type[StrEnum], dict[str, str]] = {
    AssayResult: ASSAY_RESULTS,
    Kind: KINDS,
    Stone: STONES,
    Metal: METALS,
    RevocationReason: REASONS,
    PieceStatus: PIECE_STATUSES,
    CertificateStatus: CERTIFICATE_STATUSES,
    Role: ROLES,
    EventType: EVENTS,
    ShopKind: SHOP_KINDS,
    OwnerReport: OWNER_REPORTS,
    AlertKind: ALERTS,
    ClaimOrigin: CLAIM_ORIGINS,
    ReportKind: REPORT_KINDS,
    ReportStatus: REPORT_STATUSES,
    JobState: JOB_STATES,
}
HEADINGS = {
    "valid": N_("Authentic"),
    "revoked": N_("Revoked"),
    "stolen": N_("Reported stolen"),
    "superseded": N_("Superseded"),
    "invalid": N_("Not valid"),
    "unknown": N_("Unknown code"),
    "mistyped": N_("Mistyped code"),
    "malformed": N_("Not a certificate code"),
}
PROBLEMS = {
    "signature": N_("its signature does not match the registry's keys."),
    "compromised": N_("the key that signed it was compromised before the certificate was issued."),
    "record": N_("the registry's record of it was changed outside the registry."),
}

#: Fixed words of the certificate page, translated once per language with every word
#: above: the page shows them as `L["…"]`, a lookup instead of a gettext call each.
LABELS = (
    N_("Assay mark"),
    N_("Brand"),
    N_("Certificate"),
    N_("Check the hallmark on the piece yourself"),
    N_("City"),
    N_("Code"),
    N_("Compare the piece with the photo and the description below."),
    N_("Date"),
    N_("Do not buy this piece. If it is offered to you, tell the police or the brand office."),
    N_("Download the certificate card (PDF)"),
    N_("Fineness"),
    N_("For specialists"),
    N_("Found"),
    N_("If anything differs, do not buy the piece and tell the brand office."),
    N_("Inspectorate"),
    N_("Issued"),
    N_("Issuer"),
    N_("Kind"),
    N_("Maker"),
    N_("Maker's mark"),
    N_("Metal"),
    N_("Name"),
    N_("Public log"),
    N_("Recorded on this certificate, which no longer vouches for the piece:"),
    N_("Recorded on this older certificate:"),
    N_("Reference"),
    N_("Region"),
    N_("State UIN"),
    N_("State assay"),
    N_("Stones"),
    N_(
        "The certificate is signed with the registry's key (Ed25519) and recorded in its "
        "public log; anyone can check both with the public keys alone."
    ),
    N_(
        "The piece has a newer certificate, with corrected details; it is the one that "
        "counts. This one is kept so that its code still leads there."
    ),
    N_("The registry's public keys"),
    N_("The signed certificate (JSON)"),
    N_("This certificate no longer vouches for the piece."),
    N_("Treat the piece as unverified."),
    N_("Weight"),
    N_("Witness"),
    N_("proof of inclusion"),
)

#: The words of the printables (registry/cards.py): the card shows each in Russian and in
#: English side by side, whatever the reader's language.
CARD = {
    "certificate": N_("Certificate of authenticity"),
    "metal": N_("Metal"),
    "fineness": N_("Fineness"),
    "weight": N_("Weight"),
    "stones": N_("Stones"),
    "maker": N_("Maker"),
    "region": N_("Region"),
    "mark": N_("Maker's mark"),
    "assay_mark": N_("Assay mark"),
    "inspectorate": N_("Assay inspectorate"),
    "issued": N_("Issued"),
    "city": N_("City"),
    "reference": N_("Reference"),
    "uin": N_("State UIN"),
    "code": N_("Certificate code"),
    "grams": N_("g"),
    "scan": N_("Scan or visit {site} to check"),
    "labels": N_("Labels"),
}


@functools.cache
def russian() -> NullTranslations:
    """The Russian catalog, for what is read or drawn outside a request (cards, imports)."""
    return Translations.load(str(CATALOGS), ["ru"])


def folded(text: str) -> str:
    """A name as people may write it, folded for matching: any case, ё as е, "_" as a
    space, runs of spaces as one ("Лазурит", "lapis_lazuli", "LAPIS  LAZULI")."""
    return " ".join(text.casefold().replace("ё", "е").replace("_", " ").split())


def stone_name(stone: dict, translate=lambda message: message) -> str:
    """A stone's name as a page or card shows it: its label from the vocabulary through
    `translate`, the name typed for `other`, or the type as signed before the vocabulary
    (a certificate's words are never rebuilt)."""
    if stone.get("name"):
        return str(stone["name"])
    label = STONES.get(stone["type"])
    return translate(label) if label else str(stone["type"])


def every_word() -> list[str]:
    """Every message the pages look up in `L`."""
    vocabularies = (
        KINDS,
        STONES,
        METALS,
        REASONS,
        HEADINGS,
        PROBLEMS,
        PIECE_STATUSES,
        ROLES,
        EVENTS,
        CERTIFICATE_STATUSES,
        ASSAY_RESULTS,
        SHOP_KINDS,
        OWNER_REPORTS,
        ALERTS,
        CLAIM_ORIGINS,
        REPORT_KINDS,
        REPORT_STATUSES,
    )
    return [*LABELS, *(word for table in vocabularies for word in table.values())]
