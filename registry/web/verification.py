"""The verification page `/v/<code>` that a QR code opens, and the form to type a code."""

from datetime import datetime
from decimal import Decimal

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_babel import format_date, format_decimal, gettext

from registry import codes, db, http_cache, i18n, limits, signing, verification
from registry.errors import MalformedCode, MistypedCode, NotFound
from registry.web import words

bp = Blueprint("verification", __name__)

_REFUSALS = ((MistypedCode, "mistyped", 400), (MalformedCode, "malformed", 400))


@bp.get("/")
def home():
    return redirect(url_for("verification.form"))


@bp.get("/v/<code>")
@limits.public
def page(code: str):
    """The verdict first, then what the certificate says, in the visitor's language."""
    try:
        verdict = verification.verify(db.session(), signing.keyring(), code)
    except NotFound:
        return _refused("unknown", 404, code)
    except (MistypedCode, MalformedCode) as exc:
        kind, status = next((k, s) for cls, k, s in _REFUSALS if isinstance(exc, cls))
        return _refused(kind, status, code)
    html = render_template("verify/certificate.html", **_certificate_page(verdict))
    return _public(current_app.make_response(html))


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


def too_many_requests(_error):
    """The 429 page, in the visitor's language, for the page routes."""
    html = render_template("too_many_requests.html")
    return i18n.remember(current_app.make_response((html, 429)))


bp.register_error_handler(429, too_many_requests)


def _refused(kind: str, status: int, typed: str):
    html = render_template(
        "verify/refused.html",
        kind=kind,
        heading=words.heading(kind),
        shown_code=typed[:64],
        typed=typed[:64],
    )
    return _public(current_app.make_response((html, status)))


def _public(response):
    response = http_cache.public(response, max_age=current_app.config["VERDICT_MAX_AGE"])
    return i18n.remember(response)


def _certificate_page(verdict: verification.Verdict) -> dict:
    payload = verdict.payload
    certificate = verdict.certificate
    status = "stolen" if verdict.reported_stolen else str(verdict.status)
    photo = payload["piece"].get("photo")
    return {
        "verdict": verdict,
        "certificate": certificate,
        "payload": payload,
        "words": words,
        "heading": words.heading(status),
        "weight": format_decimal(Decimal(str(payload["piece"]["weight_g"])), "#,##0.00"),
        "stones": [
            {**stone, "carat": format_decimal(Decimal(str(stone["carat"])), "#,##0.00#")}
            for stone in payload["piece"]["stones"]
        ],
        "issued_on": format_date(certificate.issued_at, "long"),
        "attested_on": format_date(datetime.fromisoformat(payload["assay"]["attested_at"]), "long"),
        "revoked_on": format_date(certificate.revoked_at, "long")
        if certificate.revoked_at
        else None,
        "reason": words.reason(certificate.revocation_reason)
        if certificate.revocation_reason
        else None,
        "problem": words.problem(verdict.signature.fault) if verdict.signature.fault else None,
        "current_printed": codes.printed(verdict.current_code) if verdict.current_code else None,
        "photo": {
            "thumb": url_for("photos.thumb", sha256=photo["sha256"]),
            "full": url_for("photos.photo", sha256=photo["sha256"]),
        }
        if photo
        else None,
    }
