"""Buyers' reports: a suspected fake, a copied tag, wrong details, sent from a verdict page.

A report is private. It is not a log entry (the log is public, and a report names a
seller, a city, perhaps the buyer's contact); it is a row the brand office and the
inspectors work through, open first. The code the buyer typed is matched to its
certificate when it is one; otherwise it is kept as typed, and reports of the same
unknown code are found together by it. A photo is checked and encoded again as a piece's
photo is (registry.photos), so nothing of the phone's metadata is kept, and it is shown
to the brand office and the inspectors only.
"""

import secrets
from dataclasses import dataclass

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session, defer

from registry import codes, photos
from registry.errors import Forbidden, NotFound
from registry.models import Account, BuyerReport, Certificate, utcnow
from schemas.standards import ReportKind, ReportStatus, Role

#: Symbols of a reference: Crockford's base 32 (no I, L, O, U), so it can be read aloud.
_SYMBOLS = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
#: 10 symbols, 50 random bits: references are not guessable, nor counted.
_LENGTH = 10
#: Who works through the reports.
_HANDLERS = (Role.ADMIN, Role.INSPECTOR)
#: The photo limits when none are given (the configured ones are, from a request).
_PHOTO_LIMITS = photos.Limits()
#: Reports listed at most on one page of the queue.
PAGE_MAX = 200


@dataclass(frozen=True)
class Listed:
    """A report as the queue shows it: its certificate's code (canonical and printed)
    when it names one, and how many other reports name the same code."""

    report: BuyerReport
    code: str | None
    printed_code: str | None
    others: int

    @property
    def shown_code(self) -> str | None:
        """The code to show and to search by: the certificate's, else as typed."""
        return self.printed_code or self.report.typed_code


def new_reference() -> str:
    """A fresh reference, grouped as the buyer copies it down: `7K2MQ-9XD4T`."""
    symbols = "".join(secrets.choice(_SYMBOLS) for _ in range(_LENGTH))
    return f"{symbols[:5]}-{symbols[5:]}"


def submit(
    session: Session,
    *,
    kind: str,
    code_text: str | None,
    where_bought: str | None = None,
    seller: str | None = None,
    city: str | None = None,
    details: str | None = None,
    photo: bytes | None = None,
    contact: str | None = None,
    limits: photos.Limits = _PHOTO_LIMITS,
) -> BuyerReport:
    """Keep a buyer's report, with a new random reference to quote.

    `code_text` is the code as typed: a well-formed code of a certificate the registry
    issued links the report to it; anything else (unknown, mistyped, not a code) is kept
    as typed. A photo is checked and re-encoded as a piece's photo is. Raises
    PayloadTooLarge and InvalidInput (naming `photo`) for a photo refused. Writes no log
    entry. The caller commits.
    """
    kind = ReportKind(kind)
    certificate = _certificate(session, code_text)
    report = BuyerReport(
        reference=_unused_reference(session),
        kind=kind.value,
        certificate_id=certificate.id if certificate is not None else None,
        typed_code=None if certificate is not None else _typed(code_text),
        where_bought=where_bought or None,
        seller=seller or None,
        city=city or None,
        details=details or None,
        contact=contact or None,
        status=ReportStatus.OPEN.value,
        created_at=utcnow(),
    )
    if photo:
        report.photo = photos.cleaned(photo, limits)
        report.photo_media_type = photos.MEDIA_TYPE
    session.add(report)
    session.flush()
    return report


def listing(
    session: Session,
    *,
    actor: Account,
    status: str | None = None,
    code: str | None = None,
    limit: int = PAGE_MAX,
) -> list[Listed]:
    """Reports, open ones first, newest first within each; of one `status`, and of one
    code (a certificate's, however typed, or a code kept as typed) when given.

    Raises Forbidden for anyone but the brand office and inspectors.
    """
    _check(actor)
    query = _listed_query(session)
    if status is not None:
        query = query.where(BuyerReport.status == ReportStatus(status).value)
    if code is not None:
        query = query.where(_same_code(session, code))
    open_first = case((BuyerReport.status == ReportStatus.OPEN.value, 0), else_=1)
    query = query.order_by(open_first, BuyerReport.created_at.desc(), BuyerReport.id.desc())
    rows = session.execute(query.limit(limit)).all()
    return _with_others(session, rows)


def get(session: Session, report_id: int, *, actor: Account) -> Listed:
    """One report, with its certificate's code. Raises Forbidden, NotFound."""
    _check(actor)
    row = session.execute(_listed_query(session).where(BuyerReport.id == report_id)).first()
    if row is None:
        raise NotFound(f"No report {report_id}.")
    return _with_others(session, [row])[0]


def related(session: Session, report_id: int, *, actor: Account) -> list[Listed]:
    """The other reports of the same certificate, or of the same code as typed, newest
    first. Raises Forbidden, NotFound."""
    found = get(session, report_id, actor=actor).report
    query = _listed_query(session).where(_same_as(found), BuyerReport.id != found.id)
    query = query.order_by(BuyerReport.created_at.desc(), BuyerReport.id.desc())
    return _with_others(session, session.execute(query.limit(PAGE_MAX)).all())


def handle(session: Session, report_id: int, note: str, *, actor: Account) -> BuyerReport:
    """Mark a report handled, with a note of what was done (a later note replaces it).

    Raises Forbidden for anyone but the brand office and inspectors, NotFound. Writes no
    log entry. The caller commits.
    """
    _check(actor)
    report = session.get(BuyerReport, report_id, with_for_update=True)
    if report is None:
        raise NotFound(f"No report {report_id}.")
    report.status = ReportStatus.HANDLED.value
    report.note = note
    report.handled_by_id = actor.id
    report.handled_at = utcnow()
    session.flush()
    return report


def photo(session: Session, report_id: int, *, actor: Account) -> tuple[bytes, str]:
    """The photo sent with a report, and its media type. Raises Forbidden, NotFound (no
    such report, or none was sent)."""
    _check(actor)
    row = session.execute(
        select(BuyerReport.photo, BuyerReport.photo_media_type).where(BuyerReport.id == report_id)
    ).first()
    if row is None or row.photo is None:
        raise NotFound(f"Report {report_id} has no photo.")
    return row.photo, row.photo_media_type or photos.MEDIA_TYPE


def _check(actor: Account) -> None:
    if actor.role not in _HANDLERS:
        raise Forbidden("Only the brand office and inspectors see buyers' reports.")


def _certificate(session: Session, text: str | None) -> Certificate | None:
    if not text:
        return None
    parsed = codes.parse(text)
    if parsed.problem is not None:
        return None
    return session.scalar(select(Certificate).where(Certificate.code == parsed.code))


def _typed(text: str | None) -> str | None:
    """A code as typed, as it can be compared with others: grouped like a printed code
    when it has a code's length (so that `ys7k2m…` and `YS-7K2M-…` are one)."""
    if not text:
        return None
    return codes.as_typed(text.strip())[:64] or None


def _unused_reference(session: Session) -> str:
    while True:
        reference = new_reference()
        taken = select(BuyerReport.id).where(BuyerReport.reference == reference)
        if session.scalar(taken) is None:
            return reference


def _listed_query(session: Session):
    # The photo's bytes are read only when it is opened (`photo`), never for a list.
    return (
        select(BuyerReport, Certificate.code)
        .outerjoin(Certificate, Certificate.id == BuyerReport.certificate_id)
        .options(defer(BuyerReport.photo))
    )


def _same_code(session: Session, text: str):
    """Reports of the certificate `text` names, or kept with `text` as their code."""
    certificate = _certificate(session, text)
    if certificate is not None:
        return BuyerReport.certificate_id == certificate.id
    typed = _typed(text)
    return and_(BuyerReport.certificate_id.is_(None), BuyerReport.typed_code == typed)


def _same_as(report: BuyerReport):
    if report.certificate_id is not None:
        return BuyerReport.certificate_id == report.certificate_id
    if report.typed_code is None:
        return BuyerReport.id.is_(None)  # no code given: no report is "the same"
    return and_(BuyerReport.certificate_id.is_(None), BuyerReport.typed_code == report.typed_code)


def _with_others(session: Session, rows) -> list[Listed]:
    """The rows as Listed, each with the number of other reports of its code."""
    certificates = {r.certificate_id for r, _ in rows if r.certificate_id is not None}
    typed = {r.typed_code for r, _ in rows if r.certificate_id is None and r.typed_code}
    by_certificate: dict[int, int] = {}
    by_typed: dict[str, int] = {}
    if certificates:
        of_certificates = (
            select(BuyerReport.certificate_id, func.count())
            .where(BuyerReport.certificate_id.in_(certificates))
            .group_by(BuyerReport.certificate_id)
        )
        for certificate_id, count in session.execute(of_certificates).all():
            if certificate_id is not None:
                by_certificate[certificate_id] = count
    if typed:
        of_typed = (
            select(BuyerReport.typed_code, func.count())
            .where(BuyerReport.certificate_id.is_(None), BuyerReport.typed_code.in_(typed))
            .group_by(BuyerReport.typed_code)
        )
        for typed_code, count in session.execute(of_typed).all():
            if typed_code is not None:
                by_typed[typed_code] = count
    listed = []
    for report, code in rows:
        if report.certificate_id is not None:
            same = by_certificate.get(report.certificate_id, 1)
        else:
            same = by_typed.get(report.typed_code, 1) if report.typed_code else 1
        listed.append(
            Listed(
                report=report,
                code=code,
                printed_code=codes.printed(code) if code else None,
                others=same - 1,
            )
        )
    return listed
