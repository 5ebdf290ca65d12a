"""A long write killed mid-way (SIGKILL: a crash, the OOM killer, a pulled plug) leaves
whole chunks only: every row stored with all it writes and its log entries, none half, and
a log without gaps that `registry log verify` passes."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import func, select

from registry import cli
from registry.edge import database
from registry.models import AssayRecord, Certificate, Event, LogHead, Piece
from tests.factories import assay_data

ROWS = 4_000
REGISTRY = Path(sys.executable).with_name("registry")
HEADER = "reference,kind,title,metal,fineness,weight_g,stones,uin\n"


def _killed_once_stored(command: list, env, log: Path, stored, *, at_least: int) -> None:
    """Run `command`, and SIGKILL it as soon as `stored()` reaches `at_least`, mid-way."""
    with log.open("wb") as errors:
        process = subprocess.Popen(  # noqa: S603 - the test's own command
            command, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=errors
        )
    deadline = time.monotonic() + 120
    while stored() < at_least:
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "nothing was stored in two minutes"
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=30) == -signal.SIGKILL


def _count(app, model, *where) -> int:
    with app.app_context():
        session = database.session()
        found = session.scalar(select(func.count()).select_from(model).where(*where))
        session.rollback()
        return found


def _gapless_and_verified(app, env) -> None:
    with app.app_context():
        session = database.session()
        size = session.scalar(select(LogHead.size))
        indices = session.scalars(select(Event.log_index).order_by(Event.log_index)).all()
        session.rollback()
    assert indices == list(range(size))
    result = CliRunner().invoke(cli.main, ["log", "verify"], env=env)
    assert result.exit_code == 0, result.output


def test_an_import_killed_mid_way_leaves_whole_chunks_and_a_gapless_log(app, world, env, tmp_path):
    sheet = tmp_path / "pieces.csv"
    sheet.write_text(
        HEADER
        + "".join(f"K-{n:05d},ring,Кольцо,gold,585,3.42,diamond:3:0.15,\n" for n in range(ROWS)),
        encoding="utf-8",
    )
    before = _count(app, Piece)
    _killed_once_stored(
        [REGISTRY, "import", str(sheet), "--maker", world.maker_slug],
        env,
        tmp_path / "import.log",
        lambda: _count(app, Piece) - before,
        at_least=600,
    )

    with app.app_context():
        session = database.session()
        references = session.scalars(
            select(Piece.reference).where(Piece.reference.like("K-%")).order_by(Piece.id)
        ).all()
        registered = session.scalar(
            select(func.count())
            .select_from(Event)
            .join(Piece, Piece.id == Event.piece_id)
            .where(Piece.reference.like("K-%"), Event.action == "piece:registered")
        )
        session.rollback()
    assert 600 <= len(references) < ROWS  # killed mid-way
    # The rows stored are the file's first ones, in order, each with its entry.
    assert references == [f"K-{n:05d}" for n in range(len(references))]
    assert registered == len(references)
    _gapless_and_verified(app, env)


def test_a_batch_of_attestations_killed_mid_way_leaves_whole_chunks_and_a_gapless_log(
    app, world, env, tmp_path
):
    with app.app_context():
        from registry import imports, makers

        session = database.session()
        maker = makers.get(session, world.maker_slug)
        rows = [
            (
                n,
                {
                    "reference": f"A-{n:05d}",
                    "kind": "ring",
                    "title": "Кольцо",
                    "metal": "gold",
                    "fineness": 585,
                    "weight_g": 3.42,
                },
            )
            for n in range(ROWS)
        ]
        *_, report = imports.run_in_chunks(session, maker, rows, actor=None, max_rows=ROWS)
        ids = [row["piece_id"] for row in report["rows"]]
    assert len(ids) == ROWS
    script = tmp_path / "script" / "attest.py"  # not beside the keys, which it would shadow
    script.parent.mkdir()
    script.write_text(
        textwrap.dedent(
            f"""
            from registry import accounts, assays, create_app
            from registry.edge import database, signing

            app = create_app()
            with app.app_context():
                session = database.session()
                inspector = accounts.by_email(session, "inspector@test.example")
                items = [{{"piece_id": i}} for i in {ids!r}]
                for _ in assays.attest_batch(
                    session, signing.keyring(), items, defaults={assay_data()!r},
                    issuer=signing.issuer(), actor=inspector, max_pieces={ROWS},
                ):
                    pass
            """
        )
    )
    _killed_once_stored(
        [sys.executable, str(script)],
        env,
        tmp_path / "attest.log",
        lambda: _count(app, Certificate),
        at_least=600,
    )

    with app.app_context():
        session = database.session()
        certified = session.scalars(
            select(Piece.id).where(Piece.status == "certified").order_by(Piece.id)
        ).all()
        assays = session.scalar(select(func.count()).select_from(AssayRecord))
        certificates = session.scalar(select(func.count()).select_from(Certificate))
        actions = session.execute(
            select(Event.action, func.count())
            .where(Event.action.in_(("assay:passed", "certificate:issued")))
            .group_by(Event.action)
        ).all()
        session.rollback()
    assert 600 <= len(certified) < ROWS  # killed mid-way
    # The pieces certified are the batch's first ones, each with one assay, one
    # certificate and their two entries; none of the rest has anything.
    assert certified == ids[: len(certified)]
    assert assays == certificates == len(certified)
    assert {action: n for action, n in actions} == {
        "assay:passed": len(certified),
        "certificate:issued": len(certified),
    }
    _gapless_and_verified(app, env)
