"""The `registry` command: set up, administer and feed the registry from a shell.

It works on the same database and keys as the server, configured by the same
`REGISTRY_*` environment variables.
"""

import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import click
import flask
from flask import Flask
from marshmallow import ValidationError

import keys
from keys import note
from registry import (
    accounts,
    backup,
    certificates,
    config,
    db,
    imports,
    makers,
    migrate,
    signing_keys,
)
from registry import front as registry_front
from registry.edge import database, log_signer, signing
from registry.errors import RegistryError
from registry.log import adopt, check, checkpoints, jobs, public, remote, signer, tree
from registry.models import LogVerification
from schemas.accounts import PASSWORD_MIN, AccountIn
from schemas.makers import MakerIn, SuspendIn
from schemas.standards import Role


class _Group(click.Group):
    """Turns the registry's own errors into a readable message and exit status 1."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except RegistryError as exc:
            raise click.ClickException(_describe(exc.detail, exc.errors)) from None
        except ValidationError as exc:
            raise click.ClickException(_describe("invalid input", exc.messages)) from None
        except keys.KeysError as exc:
            raise click.ClickException(str(exc)) from None


def _describe(detail, errors) -> str:
    if not errors:
        return detail
    lines = [detail] + [
        f"  {field}: {' '.join(map(str, msgs)) if isinstance(msgs, list) else msgs}"
        for field, msgs in errors.items()
    ]
    return "\n".join(lines)


@click.group(cls=_Group)
@click.pass_context
def main(ctx: click.Context) -> None:
    """Yenisey Siberia jewellery registry."""
    if ctx.invoked_subcommand == "witness":
        return  # the witness is a program of its own: no registry, no database
    # Commands manage keys explicitly; only `init` and the server create the first one.
    if "REGISTRY_GENERATE_KEY_ON_START" not in os.environ:
        os.environ["REGISTRY_GENERATE_KEY_ON_START"] = "false"
        ctx.meta["registry.key_default_set"] = True
    from registry import create_app

    app = create_app()
    ctx.obj = app
    # Callbacks run last-in first-out: the engine closes after the app context ends.
    ctx.call_on_close(app.extensions["registry.engine"].dispose)
    ctx.with_resource(app.app_context())


def _app() -> Flask:
    return click.get_current_context().obj


@main.command()
def init() -> None:
    """Create or upgrade the database and make the first signing key if there is none.

    The first init fixes the log's origin for good (REGISTRY_LOG_ORIGIN, or else the
    public base URL's host and path, then /log); a later one never changes it. Signs a
    checkpoint when the log has entries none covers yet (after an upgrade).
    """
    migrate.upgrade(database.engine())
    session = database.session()
    origin = log_signer.keep_origin(session)  # before the first key's entry is signed
    key = signing_keys.ensure(session, signing.keyring(), actor=None)
    session.commit()
    # Rows stored before the registry proved its own writes (revision 0008) get proofs.
    adopted = adopt.entries(session, log_signer.signer())
    sealed = certificates.seal_unsealed(session)
    session.commit()
    if adopted.entries or sealed:
        click.echo(f"proofs given: {adopted.entries} log entries, {sealed} certificates")
    if adopted.unproven:
        click.echo(
            f"warning: {adopted.unproven} log entries carry no proof that the registry wrote "
            "them and no signed checkpoint covers them: nothing more is signed until "
            "`registry log verify` is heeded",
            err=True,
        )
    newest = checkpoints.latest(session)
    if tree.size(session) > (newest.tree_size if newest else 0):
        checkpoints.make(session, log_signer.signer())
    session.commit()
    click.echo(f"database ready: {database.engine().url.render_as_string(hide_password=True)}")
    click.echo(f"signing key: {key.kid} ({key.status})")
    click.echo(f"log origin: {origin}")


@main.command()
@click.option("--if-empty", is_flag=True, help="Do nothing when makers exist already.")
def demo(if_empty: bool) -> None:
    """Load demo makers, accounts and pieces in all three regions."""
    from registry import demo as demo_data

    session = database.session()
    if if_empty and makers.directory(session):
        # On every start of `make run`, what there is to open and whom to sign in as.
        base_url = flask.current_app.config["PUBLIC_BASE_URL"]
        shown = demo_data.summary(session, base_url)
        click.echo("demo: the registry has data already; left as it is")
        if shown:
            click.echo(shown)
        return
    summary = demo_data.load(
        session,
        signing.keyring(),
        signing.issuer(),
        zone=flask.current_app.config["DISPLAY_TIMEZONE"],
    )
    session.commit()
    click.echo(summary)


@main.group(name="makers")
def makers_group() -> None:
    """Makers admitted to the brand."""


@makers_group.command("admit")
@click.option("--slug")
@click.option("--name-ru", required=True)
@click.option("--name-en", required=True)
@click.option("--region", required=True, help="RU-KYA, RU-KK or RU-TY")
@click.option("--city", required=True)
@click.option("--mark", required=True, help="The maker's mark (imennik)")
def makers_admit(**options) -> None:
    """Admit a maker to the brand."""
    data = MakerIn().load({k: v for k, v in options.items() if v is not None})
    maker = makers.admit(database.session(), data, actor=None)
    database.session().commit()
    click.echo(maker.slug)


@makers_group.command("list")
def makers_list() -> None:
    """List the brand's makers."""
    for maker in makers.directory(database.session()):
        click.echo(f"{maker.slug}\t{maker.region}\t{maker.mark}\t{maker.name_en}")


@makers_group.command("suspend")
@click.argument("slug")
@click.option("--reason", required=True, help="Why; kept private (the log holds its commitment)")
def makers_suspend(slug: str, reason: str) -> None:
    """Suspend a maker: none of their pieces is registered or sold, and the showcase hides
    them, until reinstated. Their certificates keep their verdicts."""
    data = SuspendIn().load({"reason": reason})
    maker = makers.suspend(
        database.session(), makers.get(database.session(), slug), data["reason"], actor=None
    )
    database.session().commit()
    click.echo(f"{maker.slug} is suspended", err=True)


@makers_group.command("reinstate")
@click.argument("slug")
def makers_reinstate(slug: str) -> None:
    """End a maker's suspension."""
    maker = makers.reinstate(database.session(), makers.get(database.session(), slug), actor=None)
    database.session().commit()
    click.echo(f"{maker.slug} is reinstated", err=True)


@main.group(name="accounts")
def accounts_group() -> None:
    """Accounts of makers, inspectors and the brand office."""


@accounts_group.command("create")
@click.option(
    "--role",
    required=True,
    # Values, not members: click would offer an enum's member names.
    type=click.Choice([Role.ADMIN.value, Role.MAKER.value, Role.INSPECTOR.value]),
)
@click.option("--email", required=True)
@click.option("--maker", "maker_slug", help="The maker's slug (maker accounts)")
@click.option("--name", "display_name")
def accounts_create(role: str, email: str, maker_slug: str | None, display_name: str | None):
    """Create an account."""
    raw = {"role": role, "email": email, "maker": maker_slug, "display_name": display_name}
    data = AccountIn().load({k: v for k, v in raw.items() if v is not None})
    account = accounts.create(database.session(), data, actor=None)
    database.session().commit()
    click.echo(f"account {account.id}: {account.email} ({account.role})", err=True)


@accounts_group.command("password")
@click.option("--email", required=True)
@click.option(
    "--temporary",
    is_flag=True,
    help="Generate a password, print it, and have its owner change it at sign-in.",
)
def accounts_password(email: str, temporary: bool) -> None:
    """Set an account's portal password (asked for twice, unless --temporary)."""
    account = accounts.by_email(database.session(), email)
    if temporary:
        password = accounts.temporary_password()
    else:
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
        if len(password) < PASSWORD_MIN:
            raise click.ClickException(f"a password needs at least {PASSWORD_MIN} characters")
    accounts.set_password(database.session(), account, password, actor=None, must_change=temporary)
    database.session().commit()
    click.echo(f"password set for {account.email}", err=True)
    if temporary:
        click.echo(password)


@accounts_group.command("deactivate")
@click.option("--email", required=True)
def accounts_deactivate(email: str) -> None:
    """Deactivate an account: its sessions end, its tokens are revoked, and it cannot sign
    in until reactivated."""
    account = accounts.by_email(database.session(), email)
    revoked = accounts.deactivate(database.session(), account, actor=None)
    database.session().commit()
    click.echo(f"{account.email} is deactivated; {revoked} token(s) revoked", err=True)


@accounts_group.command("reactivate")
@click.option("--email", required=True)
def accounts_reactivate(email: str) -> None:
    """Let a deactivated account sign in again with the password it had."""
    account = accounts.reactivate(
        database.session(), accounts.by_email(database.session(), email), actor=None
    )
    database.session().commit()
    click.echo(f"{account.email} can sign in again", err=True)


@main.group(name="tokens")
def tokens_group() -> None:
    """API tokens."""


@tokens_group.command("create")
@click.option("--email", required=True)
@click.option("--name", help="What the token is for")
def tokens_create(email: str, name: str | None) -> None:
    """Create a token for an account; prints the token alone on stdout."""
    account = accounts.by_email(database.session(), email)
    token, secret = accounts.issue_token(database.session(), account, name=name, actor=None)
    database.session().commit()
    click.echo(f"token {token.prefix} for {account.email}; it is not shown again", err=True)
    click.echo(secret)


@main.group(name="keys")
def keys_group() -> None:
    """Signing keys."""


@keys_group.command("generate")
def keys_generate() -> None:
    """Generate the first signing key."""
    key = signing_keys.generate(database.session(), signing.keyring(), actor=None)
    database.session().commit()
    click.echo(key.kid)


@keys_group.command("rotate")
def keys_rotate() -> None:
    """Make a new active key; the old one is retired and keeps verifying."""
    key = signing_keys.rotate(database.session(), signing.keyring(), actor=None)
    database.session().commit()
    click.echo(key.kid)


@keys_group.command("compromise")
@click.argument("kid")
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"]),
    help="UTC time from which its signatures are not trusted (default: now)",
)
def keys_compromise(kid: str, since: datetime | None) -> None:
    """Mark a key compromised; rotate afterwards if it was the active one.

    A kid may begin with "-": write `registry keys compromise -- KID`.
    """
    when = since.replace(tzinfo=UTC) if since else datetime.now(UTC)
    key = signing_keys.compromise(
        database.session(), signing.keyring(), kid, since=when, actor=None
    )
    database.session().commit()
    click.echo(f"{key.kid}\t{key.status}\tsince {key.compromised_since:%Y-%m-%dT%H:%M:%SZ}")


@keys_group.command("list")
def keys_list() -> None:
    """List keys with their status."""
    for key in signing.keyring().keys():
        line = f"{key.kid}\t{key.status}\t{key.created_at:%Y-%m-%dT%H:%M:%SZ}"
        if key.compromised_since:
            line += f"\tcompromised since {key.compromised_since:%Y-%m-%dT%H:%M:%SZ}"
        click.echo(line)


@main.group(name="log")
def log_group() -> None:
    """The transparency log: verify it, sign checkpoints."""


@log_group.command("verify")
@click.option("--url", help="Audit the registry at this address through its public API alone.")
@click.option(
    "--state",
    type=click.Path(dir_okay=False, path_type=Path),
    help="With --url: the newest checkpoint seen and its tree's compact range: the next "
    "run reads only the entries added since.",
)
@click.option(
    "--samples",
    type=click.IntRange(0, 10_000),
    default=16,
    show_default=True,
    help="With --url: entries whose inclusion proof is also checked, besides the first "
    "and last (every entry is read and the tree recomputed in any case).",
)
@click.option(
    "--key",
    "vkeys",
    multiple=True,
    help="With --url: trust only this verifier key (name+id+key), not the JWKS.",
)
@click.option(
    "--witness",
    "witness_vkeys",
    multiple=True,
    help="With --url: a witness's verifier key; the newest checkpoint must carry its "
    "valid cosignature (repeat for more witnesses; see --quorum).",
)
@click.option(
    "--quorum",
    type=click.IntRange(min=1),
    default=None,
    help="With --witness: how many of the witnesses must have cosigned (default: all).",
)
def log_verify(
    url: str | None,
    state: Path | None,
    samples: int,
    vkeys: tuple[str, ...],
    witness_vkeys: tuple[str, ...],
    quorum: int | None,
) -> None:
    """Check that no entry of the log, no checkpoint and no record was altered or removed.

    Locally: recompute the tree from every stored entry, check every checkpoint's
    signature, root and consistency with the one before, and compare every certificate
    and assay with its entries. Exits 1 naming the first discrepancy.

    With --url: read every entry of a running registry through its public API (since
    --state, when it holds the tree's compact range), recompute the tree, and check it
    against the newest signed checkpoint. Exits 1 naming every entry that differs.
    """
    if url:
        _verify_remote(url, state, samples, vkeys, _required_witnesses(witness_vkeys, quorum))
        return
    if state or vkeys or witness_vkeys or quorum:
        raise click.UsageError("--state, --key, --witness and --quorum go with --url")
    report, _ = _verify_here()
    first = report.first
    if first is not None:
        for problem in report.problems[:20]:
            click.echo(str(problem), err=True)
        if len(report.problems) > 20:
            click.echo(f"... and {len(report.problems) - 20} more", err=True)
        raise click.ClickException(
            f"the log does not hold: first discrepancy at entry {first.index} "
            f"({first.kind}): {first.detail}"
        )
    click.echo(
        f"log verified: {report.entries} entries, {report.checkpoints} checkpoints, "
        f"{report.certificates} certificates and {report.assays} assays match"
    )
    if unchecked := report.unchecked_thumbnails:
        click.echo(
            f"{unchecked} thumbnail{'' if unchecked == 1 else 's'} set before the log "
            f"recorded thumbnails {'is' if unchecked == 1 else 'are'} not checked: no "
            "entry holds its hash, and a thumbnail cannot be made again from its photo"
        )


def _verify_here(
    progress: Callable[[int, int], None] | None = None,
) -> tuple[check.Report, LogVerification]:
    """The whole log checked here, in one read-only snapshot, and its outcome kept (for
    the inspectors' log page) in a transaction of its own."""
    db.declare_reading()
    session = database.session()
    if session.get_bind().dialect.name == "postgresql":
        # One snapshot for the whole check: writes made meanwhile are not half seen.
        session.connection(
            execution_options={"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
        )
    signer = log_signer.signer()
    report = check.check(
        session,
        signer.ring,
        origin=signer.origin,
        every=signer.every,
        trusted=signer.last_signed(),
        progress=progress,
    )
    database.end_session()
    token = db.writing(True)
    try:
        outcome = check.record(database.session(), report)
        database.session().commit()
    finally:
        db.done_writing(token)
    return report, outcome


@log_group.command("verify-jobs")
@click.option("--once", is_flag=True, help="Run the jobs waiting now, then stop.")
@click.option(
    "--poll",
    type=click.FloatRange(0.1, 3600),
    default=2.0,
    show_default=True,
    help="Seconds between looks for a new job.",
)
def log_verify_jobs(once: bool, poll: float) -> None:
    """Run the verifications inspectors ask for in the portal ("Verify now"), one at a
    time, noting their progress and keeping their outcome. `registry serve` (`make run`)
    starts this beside the server; elsewhere, run one beside the servers."""
    while True:
        ran = _next_verify_job()
        if ran is None and once:
            return
        if ran is None:
            time.sleep(poll)


def _next_verify_job() -> int | None:
    """Run the oldest job waiting, if any; its id."""
    token = db.writing(True)
    try:
        job = jobs.claim(database.session())
        database.session().commit()
    finally:
        db.done_writing(token)
        database.end_session()
    if job is None:
        return None
    job_id = job.id
    notes = flask.current_app.extensions["registry.sessionmaker"]

    def progress(read: int, total: int) -> None:
        # In a session of its own: the check's reads stay one snapshot.
        writing = db.writing(True)
        try:
            with notes() as noting:
                jobs.advance(noting, job_id, read, total)
                noting.commit()
        finally:
            db.done_writing(writing)

    outcome: LogVerification | None = None
    error: str | None = None
    try:
        _, outcome = _verify_here(progress)
    except Exception as exc:  # noqa: BLE001 - any failure is the job's outcome, said
        database.end_session()
        error = f"The verification could not run: {exc}"
    writing = db.writing(True)
    try:
        jobs.finish(database.session(), job_id, outcome=outcome, error=error)
        database.session().commit()
    finally:
        db.done_writing(writing)
        database.end_session()
    click.echo(f"verification {job_id}: {'done' if outcome else 'failed'}", err=True)
    return job_id


def _required_witnesses(vkeys: tuple[str, ...], quorum: int | None) -> remote.Witnesses | None:
    if not vkeys:
        if quorum is not None:
            raise click.UsageError("--quorum goes with --witness")
        return None
    try:
        keys_given = tuple(note.parse_verifier_key(vkey) for vkey in vkeys)
    except note.NoteError as exc:
        raise click.BadParameter(str(exc), param_hint="--witness") from None
    if any(key.kind != note.TIMESTAMPED_ED25519 for key in keys_given):
        raise click.BadParameter(
            "a witness's verifier key is an Ed25519 cosigner's (type 0x04)", param_hint="--witness"
        )
    if quorum is not None and quorum > len(keys_given):
        raise click.BadParameter(
            f"at most the {len(keys_given)} witnesses given", param_hint="--quorum"
        )
    return remote.Witnesses(keys_given, quorum or len(keys_given))


def _verify_remote(
    url: str,
    state: Path | None,
    samples: int,
    vkeys: tuple[str, ...],
    witnesses: remote.Witnesses | None = None,
) -> None:
    try:
        pinned = remote.pinned_keys(list(vkeys)) if vkeys else None
        report = remote.audit(url, state=state, samples=samples, pinned=pinned, witnesses=witnesses)
    except remote.Unreachable as exc:
        raise click.ClickException(f"the log at {url} could not be audited: {exc}") from None
    except remote.AuditFailed as exc:
        for problem in exc.problems[:20]:
            click.echo(str(problem), err=True)
        if len(exc.problems) > 20:
            click.echo(f"... and {len(exc.problems) - 20} more", err=True)
        raise click.ClickException(f"the log at {url} does not hold: {exc}") from None
    # An audit that returns has read both checkpoints (the older may be the newer).
    assert report.newer is not None and report.older is not None  # noqa: S101
    click.echo(
        f"log at {url} verified: checkpoint of {report.newer.size} entries is signed and "
        f"consistent with the one of {report.older.size}; "
        f"{report.read} entries read (from entry {report.start}) make its root; "
        f"{len(report.sampled)} entries proved included"
        + ("" if report.older is not report.newer else " (no earlier checkpoint to compare)")
        + (
            f"; cosigned by {', '.join(sorted(report.cosigned))} "
            f"({len(report.cosigned)} of {witnesses.quorum} required)"
            if witnesses
            else ""
        )
    )


@log_group.command("vkey")
def log_vkey() -> None:
    """Print the log's verifier keys (name+id+key), the active key's first: what a witness
    (`registry witness serve --log`) and an auditor (`registry log verify --key`) are given.
    Retired keys are printed too, since old checkpoints stay signed by them; compromised
    ones are not."""
    found = _log_vkeys()
    if not found:
        raise click.ClickException("the registry has no key yet: run `registry init`")
    for vkey in found:
        click.echo(vkey)


def _log_vkeys() -> list[str]:
    """The verifier keys of the log's keys that still verify, the active key's first."""
    origin = log_signer.signer().origin
    found = sorted(
        (
            info
            for info in signing.keyring().keys()
            if info.status is not keys.KeyStatus.COMPROMISED
        ),
        key=lambda info: info.status is not keys.KeyStatus.ACTIVE,
    )
    return [checkpoints.verifier_key(origin, info) for info in found]


@log_group.command("signer")
@click.option(
    "--interval",
    type=click.FloatRange(0.05, 3600),
    default=None,
    help="Seconds between two checkpoints at most (default: LOG_CHECKPOINT_INTERVAL).",
)
def log_signer_command(interval: float | None) -> None:
    """Sign the log's checkpoints as it grows: at most one per interval while writes
    arrive, and one promptly after a write that follows a quiet spell. One signer runs at
    a time (elected through PostgreSQL, or a lock beside the keys on SQLite); another
    started waits, ready. `registry serve` (`make run`) starts this beside the server."""
    app = flask.current_app
    every = interval if interval is not None else float(app.config["LOG_CHECKPOINT_INTERVAL"])
    stop = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stop.set())
    made = app.extensions["registry.sessionmaker"]

    def sessions():
        db.writing(True)
        return made()

    signer.run(
        app.extensions["registry.engine"],
        sessions,
        log_signer.signer(),
        interval=every,
        stop=stop,
        witnesses=log_signer.witnesses(),
    )


@log_group.command("checkpoint")
@click.option(
    "--every",
    type=click.IntRange(min=1),
    metavar="SECONDS",
    help="Keep running: sign one every SECONDS when the log has grown.",
)
def log_checkpoint(every: int | None) -> None:
    """Sign a checkpoint of the log as it stands."""
    while True:
        session = database.session()
        newest = checkpoints.latest(session)
        if every is None or newest is None or newest.tree_size < tree.size(session):
            made = checkpoints.make(session, log_signer.signer())
            session.commit()
            click.echo(f"checkpoint {made.tree_size} {public.b64(made.root_hash)}")
        else:
            session.rollback()
        if every is None:
            return
        time.sleep(every)


@main.group(name="witness")
def witness_group() -> None:
    """The inspectorate's witness of the log (c2sp.org/tlog-witness), run on its own
    machine: it needs nothing of the registry but the log's verifier key."""


def _witness_passphrase() -> bytes | None:
    value = os.environ.get("REGISTRY_WITNESS_PASSPHRASE")
    return value.encode() if value else None


@witness_group.command("keygen")
@click.option("--name", required=True, help="the witness's name, e.g. assay.example.ru/witness")
@click.option(
    "--keys",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("witness"),
    show_default=True,
    help="the folder of the witness's key and state",
)
def witness_keygen(name: str, folder: Path) -> None:
    """Make the witness's key (never replacing one) and print its vkey, which the registry
    (REGISTRY_WITNESSES) and auditors (`registry log verify --witness`) are given."""
    from keys import witness

    key = witness.generate(folder, name, passphrase=_witness_passphrase())
    click.echo(str(key.vkey))


@witness_group.command("serve")
@click.option("--port", type=click.IntRange(1, 65535), required=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option(
    "--keys",
    "folder",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    required=True,
    help="the folder `registry witness keygen` made: the key, and the state beside it",
)
@click.option(
    "--log",
    "vkeys",
    multiple=True,
    required=True,
    help="a log's verifier key (name+id+key; the registry serves it beside its checkpoint); "
    "repeat for more logs, or for a log's older keys",
)
def witness_serve(port: int, host: str, folder: Path, vkeys: tuple[str, ...]) -> None:
    """Serve the witness: POST /add-checkpoint, GET /<origin hash>/checkpoint."""
    from keys import note, witness
    from registry.witness import server, state

    try:
        logs = [note.parse_verifier_key(vkey) for vkey in vkeys]
    except note.NoteError as exc:
        raise click.BadParameter(str(exc), param_hint="--log") from None
    key = witness.load(folder, passphrase=_witness_passphrase())
    click.echo(f"witness {key.name} on http://{host}:{port}/ (vkey {key.vkey})", err=True)
    server.serve(server.Witness(key, logs, state.Store(folder)), host=host, port=port)


def _local_witness(folder: Path, port: int, env: dict[str, str]) -> list[str]:
    """The command line of a witness served from `folder` beside the registry, given
    every key of the log that still verifies; the registry asks it to cosign unless
    REGISTRY_WITNESSES says otherwise (set in `env`)."""
    from keys import witness

    key = witness.load(folder, passphrase=_witness_passphrase())
    command = [sys.executable, "-m", "registry.cli", "witness", "serve"]
    command += ["--port", str(port), "--keys", str(folder)]
    for vkey in _log_vkeys():
        command += ["--log", vkey]
    if not env.get("REGISTRY_WITNESSES"):
        inspectorate = signing.issuer().inspectorates[0]
        env["REGISTRY_WITNESSES"] = json.dumps(
            [
                {
                    "vkey": str(key.vkey),
                    "url": f"http://127.0.0.1:{port}",
                    "name": {"ru": inspectorate.ru, "en": inspectorate.en},
                }
            ]
        )
    click.echo(f"the inspectorate's witness: http://127.0.0.1:{port}/ (vkey {key.vkey})")
    return command


@main.command(name="backup")
@click.argument("destination", type=click.Path(file_okay=False, path_type=Path))
def backup_command(destination: Path) -> None:
    """Back up the registry into DESTINATION, a new directory, while the server runs.

    It receives a consistent snapshot of the database (SQLite's backup API, or pg_dump),
    the keys' public state, the log's origin, the newest checkpoint the snapshot holds, and
    manifest.json. The private keys and the commitment key are not copied: back up the
    keys directory's secrets separately.
    """
    signer = log_signer.signer()
    made, forks = backup.take(
        database.engine(), destination, signer=signer, keys_dir=Path(_app().config["KEYS_DIR"])
    )
    signed = f", signed up to {made.checkpoint.size}" if made.checkpoint else ", none signed"
    click.echo(f"backup in {destination}: {made.backend}, log of {made.tree_size} entries{signed}")
    if forks:
        click.echo(
            "warning: this database's log does not extend the last checkpoint signed; a "
            "restore of this backup would fork the log:\n" + "\n".join(map(str, forks)),
            err=True,
        )


@main.command(name="restore")
@click.argument("source", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--audit-state",
    "audit_states",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="An auditor's state file (`registry log verify --url … --state FILE`): the "
    "checkpoint it holds was published too. Repeatable.",
)
@click.option(
    "--accept-fork",
    is_flag=True,
    help="Restore even when the log would go back behind a published checkpoint: the log "
    "forks, and whoever holds that checkpoint will see it.",
)
def restore_command(source: Path, audit_states: tuple[Path, ...], accept_fork: bool) -> None:
    """Replace the database with the backup in SOURCE (made by `registry backup`).

    Stop the server and every other `registry` command first: a restore into a running
    server is not supported. Refused when the backup's log does not extend a checkpoint
    already published (the signer's memory, each --audit-state), unless --accept-fork.
    """
    # This command's own connections go first: the database is replaced under them.
    database.end_session()
    database.engine().dispose()
    done = backup.restore(
        source,
        database_url=_app().config["DATABASE_URL"],
        keys_dir=Path(_app().config["KEYS_DIR"]),
        signer=log_signer.signer(),
        audit_states=audit_states,
        accept_fork=accept_fork,
    )
    if done.forked:
        click.echo(backup.warning(done), err=True)
    for path in done.written:
        click.echo(f"written from the backup: {path}", err=True)
    if done.sessions_ended:
        click.echo(f"portal sessions ended: {done.sessions_ended} (everyone signs in again)")
    made = done.manifest
    click.echo(
        f"restored the backup of {made.created_at}: log of {made.tree_size} entries"
        + (f", signed up to {made.checkpoint.size}" if made.checkpoint else "")
    )


@main.command(name="import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--maker", "maker_slug", required=True)
@click.option("--charset", help="Encoding of a CSV file (default UTF-8)")
def import_file(file: Path, maker_slug: str, charset: str | None) -> None:
    """Import pieces for a maker from a CSV or JSON file."""
    from tqdm import tqdm

    session = database.session()
    maker = makers.get(session, maker_slug)
    body = file.read_bytes()
    max_rows = _app().config["IMPORT_MAX_ROWS"]
    if file.suffix.lower() == ".json":
        read = imports.rows_from_json(body)
    else:
        read = imports.rows_from_csv(body, charset=charset)
    rows = imports.limited(read, max_rows=max_rows)
    # Each chunk is committed as it is done; the report says which rows were stored.
    with tqdm(total=len(rows), unit="row", file=sys.stderr, disable=None) as bar:
        for report in imports.run_in_chunks(session, maker, rows, actor=None, max_rows=max_rows):
            bar.update(len(report["rows"]) - bar.n)
    for row in report["rows"]:
        if row["status"] == "rejected":
            click.echo(f"row {row['row']}: {_describe('rejected', row['errors'])}", err=True)
    click.echo(f"created {report['created']}, rejected {report['rejected']}")
    if report["rejected"]:
        sys.exit(1)


@main.command()
@click.option("--port", type=int, default=lambda: int(os.environ.get("PORT", "8000")))
@click.option("--host", default="127.0.0.1")
@click.option("--workers", type=int, default=2)
@click.option(
    "--front/--no-front",
    default=True,
    help="nginx in front, reading whole requests with timeouts (the default); without it, "
    "gunicorn alone, for a machine behind a proxy that buffers requests itself.",
)
@click.option(
    "--witness",
    "witness_dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    help="Also run the witness whose key `registry witness keygen` put in this folder, on "
    "127.0.0.1 (the demo's inspectorate; a real one runs on its own machine), and ask it "
    "to cosign unless REGISTRY_WITNESSES names the witnesses.",
)
@click.option("--witness-port", type=click.IntRange(1, 65535), default=8700, show_default=True)
def serve(
    port: int, host: str, workers: int, front: bool, witness_dir: Path | None, witness_port: int
) -> None:
    """Serve the registry with gunicorn, with the settings of `make run`, behind nginx,
    and beside it the verifier of the log (`registry log verify-jobs`) and the signer of
    its checkpoints (`registry log signer`). With --no-front, gunicorn alone, each write
    signing its checkpoint: run the verifier (and a signer) yourself."""
    env = dict(os.environ)
    helpers: dict[str, list[str]] = {}
    if witness_dir is not None:
        if not front:
            raise click.UsageError("--witness runs beside the front: not with --no-front")
        helpers["witness"] = _local_witness(witness_dir, witness_port, env)
    if click.get_current_context().meta.get("registry.key_default_set"):
        del env["REGISTRY_GENERATE_KEY_ON_START"]  # the server makes a key on first start
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        # Named as a module: gunicorn looks for a settings file in the working directory only.
        "--config",
        "python:registry.gunicorn_conf",
        "--workers",
        str(workers),
        "--access-logfile",
        "-",
        "wsgi:app",
    ]
    if not front:
        argv[-1:-1] = ["--bind", f"{host}:{port}"]
        os.execvpe(sys.executable, argv, env)  # noqa: S606 - replaces this process, no shell
    try:
        nginx = registry_front.nginx_binary()
    except registry_front.FrontError as exc:
        raise click.ClickException(str(exc)) from exc
    # nginx is one more proxy hop: the client's address and scheme come from it.
    env["REGISTRY_PROXY_HOPS"] = str(int(env.get("REGISTRY_PROXY_HOPS") or 0) + 1)
    settings = flask.Config(os.getcwd())
    settings.from_object(config.Defaults)
    config.load_environment(settings)
    state = registry_front.private_state()
    front_settings = registry_front.Front(
        host=host,
        port=port,
        max_body=int(settings["MAX_CONTENT_LENGTH"]),
        state=state,
        upload_max_body=int(settings["UPLOAD_MAX_BODY"]),
    )
    # The verifications inspectors ask for in the portal run beside the server, and so
    # does the signer of the log's checkpoints: the workers' writes sign none themselves.
    verifier = [sys.executable, "-m", "registry.cli", "log", "verify-jobs"]
    checkpoint_signer = [sys.executable, "-m", "registry.cli", "log", "signer"]
    env.setdefault("REGISTRY_LOG_CHECKPOINT_ENTRIES", "0")
    try:
        status = registry_front.serve(
            front_settings,
            argv,
            env=env,
            nginx=nginx,
            helpers={"verifier": verifier, "signer": checkpoint_signer, **helpers},
        )
    except registry_front.FrontError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        registry_front.cleanup(state)
    sys.exit(status)


if __name__ == "__main__":  # `python -m registry.cli`, as `registry serve` starts helpers
    main()
