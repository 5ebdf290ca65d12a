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
