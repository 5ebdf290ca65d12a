"""Verifications of the log asked for in the inspectors' portal, and run outside it.

A full check reads every entry, which takes longer than a request should: the portal
only asks (`request`), and `registry log verify-jobs`, which `registry serve` starts
beside the server, takes the oldest job asked for (`claim`), notes how far it has read
(`advance`) and links the outcome it keeps (`finish`). One job at a time: asking while
one waits or runs answers with that one.
"""

from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from registry.models import Account, LogVerification, LogVerificationJob, utcnow
from schemas.standards import JobState

#: A running job whose verifier has said nothing for this long was stopped with it.
SILENT_FOR = timedelta(minutes=5)
_PENDING = (JobState.QUEUED, JobState.RUNNING)


def request(session: Session, actor: Account) -> LogVerificationJob:
    """A job for a verification: a new one, or the one already waiting or running. The
    caller commits."""
    pending = session.scalar(
        select(LogVerificationJob)
        .where(LogVerificationJob.state.in_(_PENDING))
        .order_by(LogVerificationJob.id)
        .limit(1)
    )
    if pending is not None:
        return pending
    job = LogVerificationJob(requested_by_id=actor.id, state=JobState.QUEUED, checked=0)
    session.add(job)
    session.flush()
    return job


def latest(session: Session) -> LogVerificationJob | None:
    """The newest job, whatever its state."""
    return session.scalar(
        select(LogVerificationJob).order_by(LogVerificationJob.id.desc()).limit(1)
    )


def claim(session: Session) -> LogVerificationJob | None:
    """Take the oldest waiting job, now running; None when none waits. A job left running
    by a verifier that stopped is marked failed first. The caller commits."""
    now = utcnow()
    session.execute(
        update(LogVerificationJob)
        .where(
            LogVerificationJob.state == JobState.RUNNING,
            LogVerificationJob.updated_at < now - SILENT_FOR,
        )
        .values(
            state=JobState.FAILED,
            finished_at=now,
            error="The verifier stopped before it finished: ask again.",
        )
    )
    oldest = session.scalar(
        select(LogVerificationJob.id)
        .where(LogVerificationJob.state == JobState.QUEUED)
        .order_by(LogVerificationJob.id)
        .limit(1)
    )
    if oldest is None:
        return None
    # Taken only if still waiting: two verifiers never run one job.
    taken = session.execute(
        update(LogVerificationJob)
        .where(LogVerificationJob.id == oldest, LogVerificationJob.state == JobState.QUEUED)
        .values(state=JobState.RUNNING, started_at=now, updated_at=now)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return session.get(LogVerificationJob, oldest, populate_existing=True)


def advance(session: Session, job_id: int, checked: int, total: int) -> None:
    """Note how far the job has read. The caller commits."""
    session.execute(
        update(LogVerificationJob)
        .where(LogVerificationJob.id == job_id)
        .values(checked=checked, total=total, updated_at=utcnow())
    )


def finish(
    session: Session,
    job_id: int,
    *,
    outcome: LogVerification | None = None,
    error: str | None = None,
) -> None:
    """Close the job with its outcome, or with why it could not finish. The caller
    commits."""
    session.execute(
        update(LogVerificationJob)
        .where(LogVerificationJob.id == job_id)
        .values(
            state=JobState.DONE if outcome is not None else JobState.FAILED,
            verification_id=outcome.id if outcome is not None else None,
            error=error,
            finished_at=utcnow(),
            updated_at=utcnow(),
        )
    )
