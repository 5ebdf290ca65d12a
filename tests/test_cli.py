"""The `registry` command, as an operator types it, on the server's database and keys."""

import json

import pytest
from click.testing import CliRunner
from jwcrypto import jwk, jws
from sqlalchemy import func, select

from registry import cli, create_app
from registry.edge import database
from registry.models import Event, LogVerification
from tests.factories import assay_data, bearer, piece_data, sign_in


@pytest.fixture
def registry(env):
    def run(*args, ok=True):
        result = CliRunner().invoke(cli.main, list(args), env=env, catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, result.output + result.stderr
        return result

    run.env = env
    return run


@pytest.fixture
def server(env):
    """A server app on the same database and keys, as gunicorn would build it."""
    app = create_app(
        {
            "DATABASE_URL": env["REGISTRY_DATABASE_URL"],
            "KEYS_DIR": env["REGISTRY_KEYS_DIR"],
            "PUBLIC_BASE_URL": env["REGISTRY_PUBLIC_BASE_URL"],
            "GENERATE_KEY_ON_START": False,
        }
    )
    yield app.test_client()
    app.extensions["registry.engine"].dispose()


def test_init_demo_and_a_token_that_the_server_accepts(registry, server):
    assert "signing key" in registry("init").output
    demo = registry("demo", "--if-empty").output
    assert "3 makers" in demo
    again = registry("demo", "--if-empty").output
    assert "demo: the registry has data already" in again
    # `make run` runs this on every start: what to open and whom to sign in as, each time.
    assert again.split("left as it is\n", 1)[1] == demo
    for email in (
        "office@demo.yenisey.example",
        "inspector@demo.yenisey.example",
        "shop@demo.yenisey.example",
        "yenisey-gold@demo.yenisey.example",
        "sayan-silver@demo.yenisey.example",
    ):
        assert f"  {email}" in demo
    assert "(its superseded certificate)" in demo

    token = registry("tokens", "create", "--email", "inspector@demo.yenisey.example").stdout
    assert token.count("\n") == 1 and token.startswith("ysr_")
    client = server
    pieces = client.get("/api/v1/pieces", headers=bearer(token.strip())).json["items"]
    statuses = sorted(p["status"] for p in pieces)
    assert statuses.count("certified") >= 5
    assert {"revoked", "awaiting_assay", "assay_failed"} <= set(statuses)
    regions = {m["region"]["code"] for m in client.get("/api/v1/makers").json["items"]}
    assert regions == {"RU-KYA", "RU-KK", "RU-TY"}


def test_the_demo_shows_every_verdict_after_a_sale(registry, server):
    """`make run`'s demo prints a sold, an owned and a stolen piece (with its superseded
    code) and one with a copy caution; each scans as it says."""
    registry("init")
    demo = registry("demo").output
    shown = dict(
        (what.strip(), url.rsplit("/", 1)[1])
        for what, url in (
            line.rsplit(" ", 1)
            for line in demo.split("after the sale:")[1].split("accounts (")[0].strip().splitlines()
        )
    )
    verdict = {what: server.get(f"/api/v1/verify/{code}").json for what, code in shown.items()}
    assert verdict["sold"]["sale"]["shop"]["name"]["en"] == "Yenisey Jewellery Centre"
    assert verdict["sold"]["ownership"]["registered"] is False
    assert verdict["sold and owned"]["ownership"]["registered"] is True
    stolen = [a["kind"] for a in verdict["reported stolen by its owner"]["alerts"]]
    assert stolen == ["reported_stolen"]
    older = verdict["(its superseded certificate)"]
    assert older["status"] == "superseded"
    assert [a["kind"] for a in older["alerts"]] == ["reported_stolen"]
    copied = [a["kind"] for a in verdict["sold, with a copy caution"]["alerts"]]
    assert copied == ["possible_copy"]


def test_accounts_and_makers_from_the_shell(registry):
    registry("init")
    slug = registry(
        "makers",
        "admit",
        "--name-ru",
        "Мастер",
        "--name-en",
        "Abakan Master",
        "--region",
        "RU-KK",
        "--city",
        "Абакан",
        "--mark",
        "AB1",
    ).stdout.strip()
    assert slug == "abakan-master"
    registry("accounts", "create", "--role", "maker", "--email", "m@x.example", "--maker", slug)
    listed = registry("makers", "list").stdout
    assert "abakan-master\tRU-KK\tAB1" in listed


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("accounts", "create", "--role", "maker", "--email", "m@x.example"), "maker"),
        (("accounts", "create", "--role", "inspector", "--email", "not-an-email"), "email"),
        (("tokens", "create", "--email", "nobody@x.example"), "No account"),
        (
            (
                "makers",
                "admit",
                "--name-ru",
                "М",
                "--name-en",
                "Moscow Gold",
                "--region",
                "RU-MOW",
                "--city",
                "Москва",
                "--mark",
                "M1",
            ),
            "region",
        ),
        (("import", "/dev/null", "--maker", "nobody"), "No maker"),
    ],
)
def test_mistakes_get_a_readable_message_and_exit_1(registry, args, message):
    registry("init")
    result = registry(*args, ok=False)
    assert result.exit_code == 1
    assert message in result.stderr
    assert "Traceback" not in result.output + result.stderr


def test_keys_rotate_keeps_old_certificates_verifying(registry, server):
    registry("init")
    registry("demo")
    old_kid = registry("keys", "list").stdout.split("\t")[0]
    token = registry("tokens", "create", "--email", "inspector@demo.yenisey.example").stdout
    pieces = server.get("/api/v1/pieces", headers=bearer(token.strip())).json["items"]
    old_code = next(p["certificate"] for p in pieces if p["status"] == "certified")

    new_kid = registry("keys", "rotate").stdout.strip()
    assert new_kid != old_kid
    assert f"{old_kid}\tretired" in registry("keys", "list").stdout

    maker_token = registry("tokens", "create", "--email", "sayan-silver@demo.yenisey.example")
    made = server.post(
        "/api/v1/pieces",
        json=piece_data(metal="silver", fineness=925),
        headers=bearer(maker_token.stdout.strip()),
    ).json
    new = server.post(
        f"/api/v1/pieces/{made['id']}/assay",
        json=assay_data(metal="silver", fineness=925),
        headers=bearer(token.strip()),
    ).json["certificate"]
    assert new["kid"] == new_kid

    keyset = jwk.JWKSet.from_json(server.get("/.well-known/jwks.json").get_data(as_text=True))
    for code, kid in ((old_code, old_kid), (new["code"], new_kid)):
        certificate = server.get(f"/api/v1/certificates/{code}").json
        signed = jws.JWS()
        signed.deserialize(certificate["jws"])
        assert signed.jose_header["kid"] == kid
        signed.verify(keyset.get_key(kid), alg="EdDSA")
        assert json.loads(signed.payload) == certificate["payload"]


def test_keys_generate_refuses_a_second_active_key(registry):
    registry("keys", "generate")
    result = registry("keys", "generate", ok=False)
    assert result.exit_code == 1 and "rotate" in result.stderr


def test_import_reports_bad_rows_by_line_and_stores_the_good(registry, tmp_path):
    registry("init")
    registry("demo")
    csv = tmp_path / "pieces.csv"
    csv.write_text(
        "reference,kind,title,metal,fineness,weight_g,stones\n"
        "N-1,ring,Кольцо,gold,585,2.5,diamond:1:0.1\n"
        "N-2,ring,Кольцо,gold,925,2.5,\n"
        "N-3,pendant,Подвеска,silver,925,4,\n",
        encoding="utf-8",
    )
    result = registry("import", str(csv), "--maker", "yenisey-gold", ok=False)
    assert result.exit_code == 1
    assert "created 2, rejected 1" in result.stdout
    assert "row 3" in result.stderr and "fineness" in result.stderr


def test_key_changes_are_recorded_and_a_compromised_key_is_listed(registry, server):
    registry("init")
    first = registry("keys", "list").stdout.split("\t")[0]
    second = registry("keys", "rotate").stdout.strip()
    # A kid may begin with "-": after "--" it is never read as an option.
    marked = registry("keys", "compromise", "--since", "2026-01-02T03:04:05", "--", first).stdout
    assert "compromised" in marked and "2026-01-02T03:04:05Z" in marked
    assert "compromised since 2026-01-02T03:04:05Z" in registry("keys", "list").stdout
    assert registry("keys", "compromise", "no-such-kid", ok=False).exit_code == 1

    keys = {k["kid"]: k for k in server.get("/.well-known/jwks.json").json["keys"]}
    assert keys[first]["status"] == "compromised"
    assert keys[first]["compromised_since"].startswith("2026-01-02T03:04:05")
    assert keys[second]["status"] == "active"

    with server.application.app_context():
        actions = list(database.session().scalars(select(Event.action).order_by(Event.id)))
    assert actions == ["key:generated", "key:rotated", "key:compromised"]


def test_a_passphrase_is_taken_as_typed_and_encrypts_the_keys(registry, env, monkeypatch, tmp_path):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("REGISTRY_KEY_PASSPHRASE", "null")
    app = create_app()
    assert app.config["KEY_PASSPHRASE"] == "null"
    app.extensions["registry.engine"].dispose()
    result = CliRunner().invoke(
        cli.main, ["keys", "generate"], env={**env, "REGISTRY_KEY_PASSPHRASE": "null"}
    )
    assert result.exit_code == 0, result.output
    pem = next((tmp_path / "keys").glob("*.pem")).read_text()
    assert "ENCRYPTED" in pem


def test_a_restart_after_a_compromise_does_not_quietly_make_a_key(registry, env):
    registry("init")
    kid = registry("keys", "list").stdout.split("\t")[0]
    registry("keys", "compromise", "--", kid)
    app = create_app(
        {
            "DATABASE_URL": env["REGISTRY_DATABASE_URL"],
            "KEYS_DIR": env["REGISTRY_KEYS_DIR"],
            "GENERATE_KEY_ON_START": True,
        }
    )
    app.extensions["registry.engine"].dispose()
    assert registry("keys", "list").stdout.count("\n") == 1  # still only the compromised key


def test_a_portal_password_from_the_shell_signs_in(registry, server):
    registry("init")
    registry("accounts", "create", "--role", "admin", "--email", "office@example.org")
    chosen = CliRunner().invoke(
        cli.main,
        ["accounts", "password", "--email", "office@example.org"],
        env=registry.env,
        input="short\nshort\n",
    )
    assert chosen.exit_code == 1 and "at least 10 characters" in chosen.output
    temporary = registry("accounts", "password", "--email", "office@example.org", "--temporary")
    password = temporary.stdout.strip()
    signed_in = sign_in(server, "office@example.org", password)
    assert signed_in.headers["Location"].startswith("/account/password")  # change it first


def test_log_verify_keeps_its_outcome_for_the_log_page(registry, env):
    registry("init")
    registry("demo")
    assert "log verified" in registry("log", "verify").output
    app = create_app(
        {"DATABASE_URL": env["REGISTRY_DATABASE_URL"], "KEYS_DIR": env["REGISTRY_KEYS_DIR"]}
    )
    with app.app_context():
        kept = database.session().scalars(select(LogVerification)).all()
        assert [(row.passed, row.first) for row in kept] == [(True, None)]
        assert kept[0].tree_size == database.session().scalar(
            select(func.count()).select_from(Event)
        )
    app.extensions["registry.engine"].dispose()
