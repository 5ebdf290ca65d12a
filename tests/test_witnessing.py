"""The registry's side of witnessing (registry/log/witnessing.py): a real witness in its own
process (`registry witness serve`) asked to cosign the registry's checkpoints; what it
answers stored, served, and checked by the test's own reading of the spec."""

import shutil
import time

import pytest
from sqlalchemy import select

from keys import witness as witness_keys
from registry.edge import database, log_signer, signing
from registry.log import checkpoints, witnessing
from registry.models import Checkpoint, WitnessState
from tests.factories import certify, free_port
from tests.test_witness import _check_cosignature, _text
from tests.witnesses import Served

NAME = "assay.test/witness"


@pytest.fixture
def witness_key(tmp_path):
    return witness_keys.generate(tmp_path / "witness", NAME)


@pytest.fixture
def witness_port() -> int:
    return free_port()


@pytest.fixture
def settings(witness_key, witness_port) -> dict:
    return {
        "WITNESSES": [
            {
                "vkey": str(witness_key.vkey),
                "url": f"http://127.0.0.1:{witness_port}",
                "name": {"ru": "Инспекция", "en": "The Inspectorate"},
            }
        ]
    }


@pytest.fixture
def witness(app, tmp_path, witness_key, witness_port):
    """The witness, given the registry's log key, on the port the registry was told."""
    with app.app_context():
        signer = log_signer.signer()
        vkey = checkpoints.verifier_key(signer.origin, signing.keyring().ensure_active())
    served = Served(tmp_path / "witness", [vkey])
    served.port, served.base = witness_port, f"http://127.0.0.1:{witness_port}"
    served.start()
    yield served
    served.stop()


def _ask(app) -> witnessing.Outcome:
    with app.app_context():
        return witnessing.ask(database.session(), log_signer.witnesses()[0], timeout=2)


def _catch_up(app) -> int:
    """Ask until the witness has cosigned every checkpoint; how many it cosigned."""
    cosigned = 0
    while (outcome := _ask(app)) is witnessing.Outcome.COSIGNED:
        cosigned += 1
    assert outcome is witnessing.Outcome.UP_TO_DATE, outcome
    return cosigned


def _settle(app) -> witnessing.Outcome:
    """Ask while the witness has more to cosign; the outcome that ended it."""
    while (outcome := _ask(app)) in (witnessing.Outcome.COSIGNED, witnessing.Outcome.SKIPPED):
        pass
    return outcome


def _state(app) -> WitnessState:
    with app.app_context():
        session = database.session()
        return session.get(WitnessState, NAME)


def test_a_checkpoint_is_cosigned_and_served_with_its_cosignature(
    app, client, world, witness, witness_key
):
    certify(client, world)
    assert _catch_up(app) >= 1
    assert _ask(app) is witnessing.Outcome.UP_TO_DATE  # nothing new: not asked again
    served = client.get("/api/v1/log/checkpoint").json
    assert served["witnessed"] is True
    assert [c["witness"] for c in served["cosignatures"]] == [NAME]
    line = served["note"].splitlines()[-1]
    stamp = _check_cosignature(line, str(witness_key.vkey), _text(served["note"]))
    assert abs(stamp - time.time()) < 60
    tiles = client.get("/log/checkpoint").get_data(as_text=True)
    assert tiles == served["note"]
    assert (
        client.get("/api/v1/log/checkpoint", headers={"Accept": "text/plain"}).get_data(
            as_text=True
        )
        == served["note"]
    )


def test_each_new_checkpoint_is_asked_from_the_size_last_cosigned(app, client, world, witness):
    certify(client, world)
    assert _catch_up(app) >= 1
    first = _state(app).cosigned_size
    certify(client, world)
    certify(client, world)
    # Each checkpoint signed since, in order (a certification signs two here).
    assert _catch_up(app) == 4
    with app.app_context():
        counts = database.session().scalars(
            select(Checkpoint.cosignatures).where(Checkpoint.tree_size > first)
        )
        assert set(counts) == {1}
    state = _state(app)
    with app.app_context():
        newest = checkpoints.latest(database.session())
    assert state.cosigned_size == newest.tree_size > first
    assert state.refusals == 0
    status, about = witness.get("/")
    assert f"cosigned size {newest.tree_size}" in about


def test_a_checkpoint_below_quorum_is_served_as_not_witnessed(app, client, world, witness):
    certify(client, world)
    served = client.get("/api/v1/log/checkpoint").json
    assert served["witnessed"] is False and served["cosignatures"] == []


def test_a_witness_down_is_noted_and_catches_up_when_it_returns(app, client, world, witness):
    certify(client, world)
    witness.stop()
    assert _ask(app) is witnessing.Outcome.UNREACHABLE
    state = _state(app)
    assert state.last_error and state.refusals == 0
    certify(client, world)
    witness.start()
    assert _catch_up(app) >= 1
    assert client.get("/api/v1/log/checkpoint").json["witnessed"] is True


def test_a_database_rolled_back_and_signed_again_is_refused_as_an_alarm(
    app, client, world, witness, database_url, tmp_path, caplog
):
    """Someone restores an old copy of the database, removes the signer's memory of what
    it signed, writes and signs again: the witness saw the genuine history and refuses
    the fork, the registry raises the alarm and rewrites nothing."""
    if not database_url.startswith("sqlite"):
        pytest.skip("the copy of a database file is SQLite's")
    codes_made = [certify(client, world)[1]["code"]]
    assert _catch_up(app) >= 1
    first_cosigned = _state(app).cosigned_size
    path = database_url.removeprefix("sqlite:///")
    app.extensions["registry.engine"].dispose()
    shutil.copyfile(path, tmp_path / "old.sqlite3")
    for _ in range(3):
        certify(client, world)
    assert _catch_up(app) >= 1
    genuine = _state(app).cosigned_size
    # The roll back: the old file, the signer's memory of the newest checkpoint gone.
    app.extensions["registry.engine"].dispose()
    shutil.copyfile(tmp_path / "old.sqlite3", path)
    log_signer_state = app.extensions["registry.log_signer"].state
    log_signer_state.unlink(missing_ok=True)
    for _ in range(5):  # another history, longer than the one the witness saw
        certify(client, world)
    with app.app_context():
        forked = checkpoints.latest(database.session())
    assert forked.tree_size > genuine
    with caplog.at_level("ERROR", logger="registry.log.witnessing"):
        assert _settle(app) is witnessing.Outcome.REFUSED
    assert "ALARM" in caplog.text
    state = _state(app)
    assert state.refusals == 1 and "does not extend" in state.last_refusal
    served = client.get("/api/v1/log/checkpoint").json
    assert served["tree_size"] == forked.tree_size
    assert served["witnessed"] is False
    # No scan is proved against the fork: a certificate of the shared past is proved
    # against the checkpoint the witness cosigned, one of the fork's against none.
    shared = client.get(f"/api/v1/verify/{codes_made[0]}").json["log"]["inclusion"]
    assert shared["tree_size"] == first_cosigned
    forked_code = certify(client, world)[1]["code"]
    assert client.get(f"/api/v1/verify/{forked_code}").json["log"]["inclusion"] is None
    with app.app_context():
        assert (
            database.session().scalar(
                select(Checkpoint.cosignatures).where(Checkpoint.id == forked.id)
            )
            == 0
        )


def test_a_scan_is_proved_against_the_newest_witnessed_checkpoint(
    app, client, world, witness, witness_key
):
    code = certify(client, world)[1]["code"]
    # Signed, not yet cosigned: nothing witnessed covers the certificate yet.
    assert client.get(f"/api/v1/verify/{code}").json["log"]["inclusion"] is None
    assert _catch_up(app) >= 1
    witnessed = client.get("/api/v1/log/checkpoint").json
    inclusion = client.get(f"/api/v1/verify/{code}").json["log"]["inclusion"]
    assert inclusion["tree_size"] == witnessed["tree_size"]
    assert inclusion["checkpoint"] == witnessed["note"]
    _check_cosignature(
        inclusion["checkpoint"].splitlines()[-1], str(witness_key.vkey), _text(witnessed["note"])
    )
    certify(client, world)  # a newer checkpoint, not cosigned
    assert client.get("/api/v1/log/checkpoint").json["tree_size"] > witnessed["tree_size"]
    again = client.get(f"/api/v1/verify/{code}").json["log"]["inclusion"]
    assert again["tree_size"] == witnessed["tree_size"]


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("not a list", "JSON list"),
        ([{"vkey": "x", "url": "http://w"}], "witness 1"),
        ([{"url": "http://w"}], "witness 1"),
    ],
)
def test_a_wrong_witness_setting_stops_the_start_with_its_reason(value, words):
    with pytest.raises(ValueError, match=words):
        witnessing.configured(value)


def test_a_quorum_beyond_the_witnesses_is_refused(witness_key):
    found = witnessing.configured([{"vkey": str(witness_key.vkey), "url": "http://w"}])
    assert witnessing.quorum(None, found) == 1
    with pytest.raises(ValueError, match="REGISTRY_WITNESS_QUORUM"):
        witnessing.quorum(2, found)
    with pytest.raises(ValueError, match="http"):
        witnessing.configured([{"vkey": str(witness_key.vkey), "url": "ftp://w"}])


def test_the_page_says_who_witnessed_the_checkpoint_in_both_languages(app, client, world, witness):
    code = certify(client, world)[1]["code"]
    assert "data-witnessed" not in client.get(f"/v/{code}").get_data(as_text=True)
    assert _catch_up(app) >= 1
    english = client.get(f"/v/{code}", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Witnessed by The Inspectorate on" in english
    russian = client.get(f"/v/{code}", headers={"Accept-Language": "ru"}).get_data(as_text=True)
    assert "Заверено: Инспекция" in russian


def test_a_cosignature_written_into_the_database_by_hand_names_no_one(
    app, client, world, witness, tmp_path
):
    """Someone who can write the database but not the witness's key adds a line in the
    witness's name: the page checks every line against the witness's key."""
    code = certify(client, world)[1]["code"]
    assert _catch_up(app) >= 1
    impostor = witness_keys.generate(tmp_path / "impostor", NAME)  # the same name, its own key
    with app.app_context():
        session = database.session()
        newest = checkpoints.latest(session)
        forged = impostor.cosign(newest.note.rpartition("\n\n")[0] + "\n", int(time.time()))
        newest.cosigned = forged
        session.commit()
    page = client.get(f"/v/{code}", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Witnessed by" not in page


def test_an_auditor_requiring_the_witness_passes_and_fails_with_another_key(
    app, client, world, witness, witness_key, env, live, tmp_path, monkeypatch
):
    from click.testing import CliRunner

    from registry import cli
    from registry.log import remote

    monkeypatch.setattr(remote, "COSIGNING_GRACE_S", 0.0)
    certify(client, world)
    assert _catch_up(app) >= 1

    def audit(*args):
        return CliRunner().invoke(cli.main, ["log", "verify", "--url", live, *args], env=env)

    passed = audit("--witness", str(witness_key.vkey))
    assert passed.exit_code == 0, passed.output
    assert f"cosigned by {NAME} (1 of 1 required)" in passed.output
    swapped = witness_keys.generate(tmp_path / "swapped", NAME)
    failed = audit("--witness", str(swapped.vkey))
    assert failed.exit_code == 1
    assert "0 valid cosignatures of the 1 required" in failed.output
    both = audit("--witness", str(witness_key.vkey), "--witness", str(swapped.vkey))
    assert both.exit_code == 1  # every witness given, by default
    one_of_two = audit(
        "--witness", str(witness_key.vkey), "--witness", str(swapped.vkey), "--quorum", "1"
    )
    assert one_of_two.exit_code == 0, one_of_two.output
    assert audit("--witness", str(witness_key.vkey), "--quorum", "2").exit_code == 2
    assert audit("--witness", "nonsense").exit_code == 2


def test_the_inspectors_log_page_shows_each_witness_its_lag_and_its_alarm(
    app, client, world, witness
):
    from tests.factories import sign_in, with_passwords

    certify(client, world)
    assert _catch_up(app) >= 1
    certify(client, world)  # a checkpoint it has not been asked about yet
    with app.app_context():
        with_passwords(database.session(), "inspector@test.example")
        session = database.session()
        state = session.get(WitnessState, NAME)
        state.refusals, state.last_refusal = 1, "422: the checkpoint does not extend it"
        state.last_refusal_at = state.cosigned_at
        session.commit()
        newest = checkpoints.latest(session).tree_size
        cosigned = state.cosigned_size
    assert sign_in(client, "inspector@test.example").status_code == 302
    page = client.get("/inspector/log", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert f'data-witness="{NAME}"' in page
    assert "The Inspectorate" in page
    assert f'data-cosigned-size="{cosigned}"' in page
    assert f'data-lag="{newest - cosigned}"' in page and newest > cosigned
    assert 'data-witness-refused="1"' in page and "does not extend it" in page
    russian = client.get("/inspector/log?lang=ru").get_data(as_text=True)
    assert "Свидетели" in russian and "Инспекция" in russian


def test_without_witnesses_the_log_page_says_so(client, world, app, settings):
    from tests.factories import sign_in, with_passwords

    app.extensions["registry.witnesses"] = ((), 0)
    with app.app_context():
        with_passwords(database.session(), "inspector@test.example")
    assert sign_in(client, "inspector@test.example").status_code == 302
    assert 'data-witnesses="none"' in client.get("/inspector/log").get_data(as_text=True)


def test_a_witness_that_never_answers_holds_up_no_write(app, client, world, witness_port):
    """The signer's sessions write (on SQLite, the database's one write lock): nothing
    may be held while a witness takes its time, or every write would wait on it."""
    import socket
    import threading

    from registry import db

    certify(client, world)
    hanging = socket.socket()
    hanging.bind(("127.0.0.1", witness_port))
    hanging.listen(8)  # connections are taken, and never answered
    outcomes: list[witnessing.Outcome] = []

    def ask_slowly() -> None:
        with app.app_context():
            db.writing(True)  # as `registry log signer` makes its sessions
            session = database.session()
            outcomes.append(witnessing.ask(session, log_signer.witnesses()[0], timeout=4))

    try:
        thread = threading.Thread(target=ask_slowly)
        thread.start()
        time.sleep(1)  # the witness is being asked by now
        started = time.monotonic()
        certify(client, world)
        took = time.monotonic() - started
        thread.join(timeout=10)
    finally:
        hanging.close()
    assert took < 2, f"a write waited {took:.1f} s for a witness"
    assert outcomes == [witnessing.Outcome.UNREACHABLE]
    assert "timed out" in _state(app).last_error
