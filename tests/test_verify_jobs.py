"""An inspector verifies the log from the portal (issue 14, item 18): the portal asks, the
verifier (`registry log verify-jobs`, which `registry serve` starts) runs it outside the
request noting its progress, and the outcome is kept and shown."""

import re
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import update

from registry import cli
from registry.edge import database
from registry.log import jobs
from registry.models import LogVerificationJob, utcnow
from tests.factories import certify, post_form, sign_in, with_passwords


@pytest.fixture
def inspector(app, client, world):
    with app.app_context():
        with_passwords(database.session(), "inspector@test.example")
    assert sign_in(client, "inspector@test.example").status_code == 302
    return client


@pytest.fixture
def verifier(env):
    def run():
        result = CliRunner().invoke(cli.main, ["log", "verify-jobs", "--once"], env=env)
        assert result.exit_code == 0, result.output
        return result

    return run


def _job(page: str) -> str | None:
    found = re.search(r'data-job="(\w+)"', page)
    return found.group(1) if found else None


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_verify_now_runs_outside_the_request_and_its_outcome_is_kept(
    inspector, client, world, verifier, lang
):
    certify(client, world)
    page = inspector.get(f"/inspector/log?lang={lang}").get_data(as_text=True)
    assert "data-verify-now" in page and _job(page) is None
    asked = post_form(inspector, "/inspector/log/verify", {}, form_page="/inspector/log")
    assert asked.status_code == 303
    page = inspector.get("/inspector/log").get_data(as_text=True)
    assert _job(page) == "queued"
    assert '<meta http-equiv="refresh"' in page  # follows it without script
    assert "data-verify-now" not in page  # one at a time
    assert "registry log verify-jobs" in page  # says how the verifier starts
    # Asking again while it waits answers with the same job.
    post_form(inspector, "/inspector/log/verify", {}, form_page="/inspector/log")

    verifier()
    page = inspector.get("/inspector/log").get_data(as_text=True)
    assert _job(page) == "done"
    assert 'data-verified="passed"' in page
    assert "inspector@test.example" in page or "Inspector" in page
    assert '<meta http-equiv="refresh"' not in page
    with inspector.application.app_context():
        (job,) = database.session().query(LogVerificationJob).all()
        assert job.total and job.checked == job.total  # its progress was noted
        assert job.verification is not None and job.verification.passed


def test_a_verification_of_a_damaged_log_keeps_its_first_discrepancy(
    inspector, client, world, verifier, sql
):
    certify(client, world)
    sql("UPDATE piece SET fineness = 750 WHERE id = (SELECT min(id) FROM piece)")
    post_form(inspector, "/inspector/log/verify", {}, form_page="/inspector/log")
    verifier()
    page = inspector.get("/inspector/log?lang=en").get_data(as_text=True)
    assert 'data-verified="failed"' in page
    assert "was altered" in page


def test_a_job_whose_verifier_stopped_is_said_to_have_failed(app, inspector, world, verifier):
    post_form(inspector, "/inspector/log/verify", {}, form_page="/inspector/log")
    with app.app_context():
        session = database.session()
        job = jobs.claim(session)
        session.execute(
            update(LogVerificationJob)
            .where(LogVerificationJob.id == job.id)
            .values(updated_at=utcnow() - jobs.SILENT_FOR - timedelta(seconds=1))
        )
        session.commit()
    verifier()  # finds the silent job on its next look
    page = inspector.get("/inspector/log?lang=ru").get_data(as_text=True)
    assert _job(page) == "failed"
    assert "verifier stopped" not in page  # the reason, in the page's language
    assert "data-verify-now" in page  # and it may be asked for again


def test_the_verifier_with_nothing_to_do_stops_at_once_when_told(verifier):
    assert verifier().output == ""


def test_only_inspectors_ask_for_a_verification(app, client, world):
    with app.app_context():
        with_passwords(database.session(), "maker@test.example")
    assert sign_in(client, "maker@test.example").status_code == 302
    token = re.search(
        r'name="csrf_token" value="([^"]+)"', client.get("/maker/").get_data(as_text=True)
    ).group(1)
    refused = client.post("/inspector/log/verify", data={"csrf_token": token})
    assert refused.status_code == 403
    with app.app_context():
        assert jobs.latest(database.session()) is None
