"""The verification page `/v/<code>` that a QR code opens, and the form to type a code."""

import functools
import logging
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext

from keys import note
from registry import codes, numbers, photos, verification, words
from registry.edge import (
    answers,
    database,
    http_cache,
    i18n,
    limits,
    log_signer,
    printing,
    problems,
    scans,
)
from registry.errors import MalformedCode, MistypedCode, NotFound
from registry.web import owner
from schemas.standards import AlertKind, RevocationReason

log = logging.getLogger(__name__)

# Its 429 and a database that cannot answer are pages of its own (registry.edge.problems).
bp = problems.verification_pages(Blueprint("verification", __name__))

#: A code the registry cannot look up, as the page that says so: its kind and status.
_REFUSALS = (
    (NotFound, "unknown", 404),
    (MistypedCode, "mistyped", 400),
    (MalformedCode, "malformed", 400),
)


@bp.get("/v/<code>")
@limits.public
def page(code: str):
    """The verdict first, then what the certificate says, in the visitor's language."""
    try:
        verdict = scans.scanned(code, proof=False)
    except (NotFound, MistypedCode, MalformedCode) as exc:
        return _refused_code(exc, code)
    if not verdict.signature.valid:
        # Nothing the row says can be trusted, not even that it is well formed.
        fault = verdict.signature.fault or "signature"
        return _refused("invalid", 200, code, problem=words.PROBLEMS[fault])
    payload = verification.payload(verdict)
    if payload is None:
        # Bytes whose signature verifies are the registry's own JSON object; never trust it.
        return _refused("invalid", 200, code, problem=words.PROBLEMS["signature"])
    photo = payload.get("piece", {}).get("photo")
    # A thumbnail changed by hand may be another piece's picture: checked on every scan,
    # and part of what the page kept ready was rendered from.
    sound = bool(photo) and photos.thumbnail_sound(database.engine(), photo["sha256"])
    html = answers.ready(
        ("page", str(get_locale()), request.full_path, verdict.fingerprint, sound),
        lambda: render_template(
            "verify/certificate.html", **_certificate_page(verdict, payload, sound)
        ).encode(),
    )
    return _public(current_app.make_response(html))


@bp.get("/v/<code>/card.pdf")
@limits.public
def card(code: str):
    """The certificate card (A6, Russian and English), the one the maker prints, for a
    buyer to keep. Only of a certificate that vouches for its piece now, and not
    counted as a scan; for any other the page says why."""
    try:
        verdict = scans.checked(code, proof=False)
    except (NotFound, MistypedCode, MalformedCode) as exc:
        return _refused_code(exc, code)
    if not _vouches(verdict):
        return redirect(url_for("verification.page", code=verdict.certificate.code), code=303)
    payload = verification.payload(verdict)
    if payload is None:  # signed bytes are the registry's own JSON object; never trust it
        return _refused("invalid", 200, code, problem=words.PROBLEMS["signature"])
    record = verdict.certificate
    response = current_app.make_response(printing.card(payload, record.code))
    response.mimetype = "application/pdf"
    filename = f"{codes.printed(record.code)}.pdf"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return http_cache.public(response, max_age=current_app.config["VERDICT_MAX_AGE"])


def _vouches(verdict: verification.Verdict) -> bool:
    """Whether the certificate stands for its piece now: the card is offered only then."""
    return (
        verdict.signature.valid
        and verdict.status is verification.Status.VALID
        and not verdict.reported_stolen
    )


@bp.get("/verify")
@limits.public
def form():
    """Type a code from a damaged tag or a printed card; a good one opens its page."""
    typed = request.args.get("code", "").strip()
    if not typed:
        return _public(current_app.make_response(render_template("verify/form.html")))
    parsed = codes.parse(typed)
    if parsed.problem is None:
        return redirect(url_for("verification.page", code=parsed.code), code=303)
    error = (
        gettext("This code has a typing error. Check the code and type it again.")
        if parsed.problem is codes.Problem.MISTYPED
        else gettext("This is not a certificate code: codes look like YS-XXXX-XXXX-XXX-XXX.")
    )
    html = render_template("verify/form.html", typed=typed[:64], error=error)
    return _public(current_app.make_response((html, 400)))


def _refused_code(error: Exception, typed: str):
    kind, status = next((k, s) for cls, k, s in _REFUSALS if isinstance(error, cls))
    return _refused(kind, status, typed)


def _refused(kind: str, status: int, typed: str, *, problem: str | None = None):
    html = render_template(
        "verify/refused.html",
        kind=kind,
        problem=problem,
        heading=words.HEADINGS[kind],
        shown_code=codes.as_typed(typed[:64]),
        typed=codes.as_typed(typed[:64]),
    )
    return _public(current_app.make_response((html, status)))


def _public(response):
    response = http_cache.public(response, max_age=current_app.config["VERDICT_MAX_AGE"])
    return i18n.remember(response)


def _certificate_page(verdict: verification.Verdict, payload: dict, sound: bool) -> dict:
    """What the certificate page shows: the signed statement, and the verdict on it.

    Words are given as messages for the template to translate; details come from the
    signed payload, so the page shows what the registry signed, not what rows say now.
    """
    certificate = verdict.certificate
    locale = str(get_locale())
    piece = payload["piece"]
    photo = piece.get("photo")
    if photo and not sound:
        # A thumbnail changed by hand may be another piece's picture: show none. The
        # verdict stands on the signed payload, whose photo hash the link still names.
        photo = None
    status = "stolen" if verdict.reported_stolen else str(verdict.status)
    record = verdict.certificate
    alerts = dict(verdict.alerts())
    return {
        # The banner: red for a theft whatever the certificate's own status.
        "shown": status,
        "sale": {
            "on": day(record.sold_at, locale),
            "by": record.seller_name_ru if locale == "ru" else record.seller_name_en,
            "city": record.seller_city,
        }
        if verdict.sold and record.sold_at
        else None,
        "owned_since": owner.month(record.owned_since, locale)
        if verdict.owned and record.owned_since
        else None,
        "stolen_on": _day_of(alerts.get(AlertKind.REPORTED_STOLEN), locale),
        "lost": AlertKind.REPORTED_LOST in alerts,
        "lost_on": _day_of(alerts.get(AlertKind.REPORTED_LOST), locale),
        "copy_caution": AlertKind.POSSIBLE_COPY in alerts,
        "verdict": verdict,
        "certificate": certificate,
        "payload": payload,
        "heading": words.HEADINGS[status],
        "kind": words.KINDS.get(piece["kind"], piece["kind"]),
        "metal": words.METALS.get(piece["metal"], piece["metal"]),
        "found_metal": words.METALS.get(payload["assay"]["metal"], payload["assay"]["metal"]),
        "weight": numbers.number(piece["weight_g"], 2, locale),
        "stones": [
            {**stone, "carat": numbers.number(stone["carat"], 3, locale, keep=2)}
            for stone in piece["stones"]
        ],
        "issued_on": day(certificate.issued_at, locale),
        "attested_on": day(datetime.fromisoformat(payload["assay"]["attested_at"]), locale),
        "revoked_on": day(certificate.revoked_at, locale) if certificate.revoked_at else None,
        "reason": words.REASONS.get(
            certificate.revocation_reason or "", words.REASONS[RevocationReason.OTHER]
        ),
        "witnessed": _witnessed(verdict, locale),
        "card_pdf": f"/v/{certificate.code}/card.pdf" if _vouches(verdict) else None,
        "current_printed": codes.printed(verdict.current_code) if verdict.current_code else None,
        # Written out: url_for costs more than the rest of a line of the page.
        "photo": {
            "thumb": f"/api/v1/photos/{photo['sha256']}/thumb.jpg",
            "full": f"/api/v1/photos/{photo['sha256']}.jpg",
        }
        if photo
        else None,
    }


def _day_of(value: date | None, locale: str) -> str | None:
    return _long_date(value, locale) if value else None


def _witnessed(verdict: verification.Verdict, locale: str) -> list[dict[str, str]]:
    """Who cosigned the checkpoint the certificate is proved against, and on which day,
    in the page's language. The cosignatures are checked against the witnesses' keys
    here, not taken from the rows: a line written into the database by hand names no one."""
    inclusion = verdict.inclusion
    configured = log_signer.witnesses()
    if inclusion is None or not inclusion.checkpoint or not configured:
        return []
    try:
        stamps = note.cosignatures(inclusion.checkpoint, [w.vkey for w in configured])
    except note.NoteError as exc:
        log.error("the cosignatures of checkpoint %d do not hold: %s", inclusion.tree_size, exc)
        return []
    return [
        {
            "by": witness.ru if locale == "ru" else witness.en,
            "on": day(datetime.fromtimestamp(stamps[witness.name], UTC), locale),
        }
        for witness in configured
        if witness.name in stamps
    ]


def day(moment: datetime, locale: str) -> str:
    """The date in the registry's time zone (the regions' own), in the page's language."""
    zone = current_app.config["DISPLAY_TIMEZONE"]
    return _long_date(moment.astimezone(ZoneInfo(zone)).date(), locale)


def moment(value: datetime, locale: str) -> str:
    """The date and time to the minute, in the registry's time zone and the page's language."""
    zone = ZoneInfo(current_app.config["DISPLAY_TIMEZONE"])
    return format_datetime(value.astimezone(zone), "medium", tzinfo=zone, locale=locale)


@functools.lru_cache(maxsize=4096)
def _long_date(day: date, locale: str) -> str:
    # Formatting costs tens of microseconds; certificates share few distinct days.
    return format_date(day, "long", locale=locale)
