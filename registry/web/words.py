"""The registry's vocabulary as the pages show it: kinds, metals, reasons, verdicts.

Each value maps to its English message; the page translates it as it renders, with the
rest of its messages. `N_` only marks a message for extraction (`make translations`).
"""


def N_(message: str) -> str:  # noqa: N802 (the name gettext tools look for)
    return message


KINDS = {
    "ring": N_("Ring"),
    "earrings": N_("Earrings"),
    "pendant": N_("Pendant"),
    "brooch": N_("Brooch"),
    "bracelet": N_("Bracelet"),
    "chain": N_("Chain"),
    "necklace": N_("Necklace"),
    "cufflinks": N_("Cufflinks"),
    "other": N_("Other"),
}
METALS = {
    "gold": N_("Gold"),
    "silver": N_("Silver"),
    "platinum": N_("Platinum"),
    "palladium": N_("Palladium"),
}
REASONS = {
    "data_error": N_("An error in the certificate's data"),
    "fraud": N_("Fraud"),
    "piece_destroyed": N_("The piece was destroyed"),
    "piece_lost_or_stolen": N_("The piece was reported lost or stolen"),
    "other": N_("Another reason"),
}
PIECE_STATUSES = {
    "awaiting_assay": N_("Awaiting assay"),
    "certified": N_("Certified"),
    "assay_failed": N_("Assay failed"),
    "revoked": N_("Revoked"),
}
CERTIFICATE_STATUSES = {
    "valid": N_("Valid"),
    "revoked": N_("Revoked"),
    "superseded": N_("Superseded"),
}
ROLES = {
    "maker": N_("Maker"),
    "inspector": N_("Inspector"),
    "admin": N_("Brand office"),
}
EVENTS = {
    "maker:admitted": N_("Maker admitted"),
    "account:created": N_("Account created"),
    "account:password_set": N_("Password set"),
    "token:created": N_("API token created"),
    "token:revoked": N_("API token revoked"),
    "piece:registered": N_("Piece registered"),
    "piece:photo_set": N_("Photo set"),
    "piece:photo_removed": N_("Photo removed"),
    "assay:passed": N_("Assay passed"),
    "assay:failed": N_("Assay failed"),
    "certificate:issued": N_("Certificate issued"),
    "certificate:revoked": N_("Certificate revoked"),
    "certificate:superseded": N_("Certificate superseded"),
    "key:generated": N_("Signing key generated"),
    "key:rotated": N_("Signing key rotated"),
    "key:compromised": N_("Signing key marked compromised"),
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
}

#: Fixed words of the certificate page, translated once per language with every word
#: above: the page shows them as `L["…"]`, a lookup instead of a gettext call each.
LABELS = (
    N_("A newer certificate replaces this one; the details below are the old ones."),
    N_("Assay mark"),
    N_("Brand"),
    N_("Certificate"),
    N_("Check the hallmark on the piece yourself"),
    N_("City"),
    N_("Code"),
    N_("Compare the piece with the photo and the description above."),
    N_("Date"),
    N_("Do not buy this piece. If it is offered to you, tell the police or the brand office."),
    N_("Fineness"),
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
    N_("Reference"),
    N_("Region"),
    N_("State UIN"),
    N_("State assay"),
    N_("Stones"),
    N_("The registry's public keys"),
    N_("The signed certificate (JSON)"),
    N_("This certificate no longer vouches for the piece."),
    N_("Treat the piece as unverified."),
    N_("Weight"),
    N_("proof of inclusion"),
)


#: Messages of the schemas and services that the portals' forms show beside a field: the
#: fixed ones are translated (forms.flat); those naming a value stay as they are.
FORM_MESSAGES = (
    N_("Missing data for required field."),
    N_("Field may not be null."),
    N_("Not a valid string."),
    N_("Not a valid integer."),
    N_("Not a valid number."),
    N_("Not a valid email address."),
    N_("Not a valid datetime."),
    N_("Unknown field."),
    N_("Must be greater than 0."),
    N_("Must be later than since."),
    N_("Must not contain NUL characters."),
    N_("Must not contain control characters."),
    N_("The state UIN is exactly 16 digits."),
    N_("A maker account needs the maker's slug."),
    N_("Only maker accounts belong to a maker."),
    N_("Does not match the new password."),
    N_("Already registered."),
    N_("Already taken."),
    N_("Already used by another of your pieces."),
    N_("Choose a CSV file."),
    N_("Choose a photo."),
    N_("Conflicts with another piece."),
    N_("No admitted maker has this slug."),
    N_("Required when name_en has no Latin letters."),
    N_("Same as the current password."),
    N_("Taken."),
    N_("Unknown encoding."),
    N_("Wrong password."),
    N_("Wrong text encoding."),
)


def every_word() -> list[str]:
    """Every message the pages look up in `L`."""
    vocabularies = (
        KINDS,
        METALS,
        REASONS,
        HEADINGS,
        PROBLEMS,
        PIECE_STATUSES,
        ROLES,
        EVENTS,
        CERTIFICATE_STATUSES,
    )
    return [*LABELS, *(word for table in vocabularies for word in table.values())]
