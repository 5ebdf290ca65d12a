"""Property-based fuzzing of the JSON API against its own OpenAPI document (schemathesis).

The schema is loaded from the app's `/api/v1/openapi.json`, in process over WSGI, and
every operation in it gets a few hundred generated requests, schema-valid and
schema-violating alike (examples, coverage and fuzzing phases). A response fails the run
when it is a server error, or when its status, content type, headers or body are not what
the document says for that operation.

Each operation is called with the token of a role that may call it (read from the view's
`require_role`, the source the document's `security` is made from), so that requests
reach validation and the services instead of stopping at 401; a smaller run sends every
guarded operation the tokens of the other roles, and none. Path parameters are often
swapped for ids, slugs and certificate codes that exist, so that the business rules
(ownership, state transitions, revocation, reissue) run, not only "not found".

Generation is seeded, so a failure replays. The schema is read when the module is
collected, so the apps are built then: one over SQLite in a temporary directory and,
where REGISTRY_TEST_DATABASE_URL names a PostgreSQL server, one over a database of its
own there. Each backend's `world` fixture fills its database (migrations, makers,
pieces, tokens) and removes it afterwards.
"""

import atexit
import contextlib
import io
import itertools
import os
import re
import shutil
import tempfile
import zlib
from pathlib import Path

import hypothesis
import openpyxl
import pytest
import schemathesis
from hypothesis import strategies as st
from schemathesis import checks
from sqlalchemy import create_engine, make_url, text

from registry import accounts, assays, codes, create_app, db, imports, migrate, pieces
from registry.edge import auth, database, signing
from registry.edge import scans as edge_scans
from registry.errors import Unauthorized
from tests import factories
from tests.conftest import PG_URL

pytestmark = pytest.mark.slow

#: Generated requests per operation with an entitled token, on top of the coverage phase
#: (26 operations on two backends: more would push CI past its ten minutes).
CASES_PER_OPERATION = 100
#: Generated requests per guarded operation with a wrong token or none.
CASES_PER_WRONG_ROLE = 30
#: Fixed, so that CI replays the same requests; change it locally to explore further.
SEED = 9457_8785


def status_code_listed(ctx, response, case) -> bool | None:
    """Every error status the operation answers is listed for it, not only as `default`.

    flask-smorest gives every operation a `default` response (problem details), which
    `status_code_conformance` accepts for any status; a client reading the document must
    still learn that, say, a malformed body is a 400.
    """
    if case.method.upper() != case.operation.method.upper() or response.status_code >= 500:
        return None  # the coverage phase's other methods (405); server errors are reported
    listed = case.operation.definition.raw["responses"]
    assert str(response.status_code) in listed, (
        f"{response.status_code} is not listed for {case.operation.label} "
        f"(it lists {', '.join(sorted(listed))})"
    )
    return None


CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    status_code_listed,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]
SETTINGS = {
    "deadline": None,
    "database": None,
    # In process, a slow case is the app's time, not the strategy's; and big bodies (bulk
    # imports) are wanted, not a problem.
    "suppress_health_check": [
        hypothesis.HealthCheck.too_slow,
        hypothesis.HealthCheck.data_too_large,
    ],
}
ROLES = ("maker", "inspector", "admin", "shop")
_EMAILS = {
    "maker": "maker@test.example",
    "other_maker": "other@test.example",
    "inspector": "inspector@test.example",
    "admin": "admin@test.example",
    "shop": "shop@test.example",
}

_WORKDIR = Path(tempfile.mkdtemp(prefix="registry-fuzz-"))
# Collected but deselected, the module's fixtures never run: remove the directory at exit.
atexit.register(shutil.rmtree, _WORKDIR, ignore_errors=True)


class Backend:
    """One app over one database, and what exists in it once `world` has seeded it."""

    def __init__(self, name: str, url: str):
        self.name = name
        self.url = url
        self.existing: dict[str, list] = {}
        self.app = create_app(
            {
                "TESTING": True,
                "DATABASE_URL": url,
                "KEYS_DIR": str(_WORKDIR / name / "keys"),
                "PUBLIC_BASE_URL": "https://registry.test",
                # Thousands of requests from one client: the limits have tests of their own.
                "RATELIMIT_ENABLED": False,
            }
        )

    def flatmap_path_parameters(self, context, path_parameters):
        """Half the time, put things that exist into the generated path (a hook)."""
        known = {
            name: st.sampled_from(self.existing[name])
            for name in path_parameters or {}
            if self.existing.get(name)
        }
        if not known:
            return st.just(path_parameters)
        return st.one_of(
            st.just(path_parameters),
            st.fixed_dictionaries(known).map(lambda values: {**path_parameters, **values}),
        )


_SQLITE_FILE = _WORKDIR / "registry.sqlite3"
BACKENDS = [Backend("sqlite", f"sqlite:///{_SQLITE_FILE}")]
_PG_SERVER = make_url(db.normalise_url(PG_URL)) if PG_URL else None
if _PG_SERVER is not None:
    _PG_NAME = f"{_PG_SERVER.database}_fuzz_{os.getpid()}"
    BACKENDS.append(
        Backend(
            "postgresql",
            _PG_SERVER.set(database=_PG_NAME).render_as_string(hide_password=False),
        )
    )
app = BACKENDS[0].app  # the routes, and so the document, are the same on every backend


def _workbook(*rows: list) -> bytes:
    book = openpyxl.Workbook()
    for row in rows:
        book.worksheets[0].append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# Imports take Excel workbooks too: schemathesis cannot make one from the document, so it
# gets real ones (good rows, a bad row, a header without the required columns) and bytes
# that only look like one (a zip's signature, then anything).
_COLUMNS = ["reference", "kind", "title", "metal", "fineness", "weight_g"]
schemathesis.openapi.media_type(
    imports.XLSX,
    st.one_of(
        st.sampled_from(
            [
                _workbook(_COLUMNS, ["FZ-1", "кольцо", "Кольцо", "золото", 585, 3.42]),
                _workbook(_COLUMNS, ["FZ-2", "ring", "Ring", "gold", 600, -1]),
                _workbook(["reference", "title"], ["FZ-3", "Ring"]),
            ]
        ),
        st.binary(max_size=512).map(lambda tail: b"PK\x03\x04" + tail),
    ),
)


def _load_schema(backend: Backend, *, coverage: bool) -> schemathesis.BaseSchema:
    """The app's own OpenAPI document, seeded, in every generation mode."""
    config = {
        "seed": SEED,
        "generation": {
            "mode": "all",
            "database": "none",
            # The tests send the bearer token themselves: every case of the entitled run
            # gets past authentication, and the other run sends a wrong token or none.
            "with-security-parameters": False,
        },
        "phases": {
            "examples": {"enabled": True},
            "coverage": {"enabled": coverage},
            "fuzzing": {"enabled": True},
            "stateful": {"enabled": False},
        },
    }
    loaded = schemathesis.openapi.from_wsgi(
        "/api/v1/openapi.json", backend.app, config=schemathesis.Config.from_dict(config)
    )

    # schemathesis knows a hook by its function's name, and marks the function itself.
    def flatmap_path_parameters(context, path_parameters):
        return backend.flatmap_path_parameters(context, path_parameters)

    loaded.hook(flatmap_path_parameters)
    return loaded


def _roles_by_operation() -> dict[tuple[str, str], tuple[str, ...]]:
    """(METHOD, OpenAPI path) → the roles its view admits; () for a public operation."""
    argument = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")
    found = {}
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        path = argument.sub(r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            found[(method, path)] = auth.roles_of(view)
    return found


ROLES_BY_OPERATION = _roles_by_operation()


def _allowed(operation) -> tuple[str, ...]:
    path = operation.schema.get_full_path(operation.path)
    return ROLES_BY_OPERATION[(operation.method.upper(), path)]


def _seed(session) -> dict[str, list]:
    """Pieces of both makers, half awaiting assay, half certified; what exists, by name."""
    maker = accounts.by_email(session, _EMAILS["maker"])
    other = accounts.by_email(session, _EMAILS["other_maker"])
    inspector = accounts.by_email(session, _EMAILS["inspector"])
    metals = itertools.cycle(
        [("gold", 585), ("silver", 925), ("platinum", 950), ("palladium", 500)]
    )
    piece_ids, issued = [], []
    for n in range(40):
        account = other if n % 4 == 0 else maker
        metal, fineness = next(metals)
        data = factories.piece_data(metal=metal, fineness=fineness)
        piece = pieces.register(session, account.maker, data, actor=account)
        session.flush()
        piece_ids.append(piece.id)
        if n % 2:
            assay = assays.attest(
                session,
                signing.keyring(),
                piece.id,
                factories.assay_data(metal=metal, fineness=fineness),
                issuer=signing.issuer(),
                actor=inspector,
            )
            issued.append(assay.certificate.code)
    session.commit()
    mistyped = issued[0][:-1] + ("1" if issued[0].endswith("0") else "0")
    never_issued = codes.new()
    everyone = accounts.listing(session)
    return {
        "piece_id": piece_ids,
        # As stored, printed and typed in lower case; mistyped; well-formed but unknown.
        "code": [
            *issued,
            *(codes.printed(code).lower() for code in issued[:5]),
            mistyped,
            never_issued,
        ],
        "slug": [maker.maker.slug, other.maker.slug],
        "account_id": [account.id for account in everyone],
        "token_id": [t.id for account in everyone for t in accounts.tokens_of(session, account)],
    }


def _prepare(backend: Backend, request) -> None:
    """An empty, migrated database for the backend."""
    if backend.name == "sqlite":
        assert not _SQLITE_FILE.exists(), "nothing may open the database before the copy"
        shutil.copy(request.getfixturevalue("sqlite_template"), _SQLITE_FILE)
        return
    with _pg_admin() as connection:
        connection.execute(text(f'CREATE DATABASE "{_PG_NAME}"'))
    migrate.upgrade(backend.app.extensions["registry.engine"])


def _discard(backend: Backend) -> None:
    # The scans the fuzzing counted are written before their database goes, not left for
    # the exit, where they would be reported lost.
    with backend.app.app_context():
        edge_scans.flush()
    backend.app.extensions["registry.engine"].dispose()
    if backend.name == "postgresql":
        with _pg_admin() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{_PG_NAME}" WITH (FORCE)'))


@contextlib.contextmanager
def _pg_admin():
    engine = create_engine(_PG_SERVER, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


class Tokens:
    """A working bearer token per role, renewed whenever the fuzzer has revoked it.

    `POST /tokens/{token_id}/revoke` is fuzzed with ids that exist, so sooner or later it
    revokes the tokens the run sends; the rest of the run would then be 401s only.
    """

    def __init__(self, backend: Backend, world: factories.World):
        self._app = backend.app
        self._secrets = {
            "maker": world.maker,
            "inspector": world.inspector,
            "admin": world.admin,
            "shop": world.shop,
        }

    def header(self, role: str) -> dict[str, str]:
        with self._app.app_context():
            session = database.session()
            try:
                accounts.authenticate(session, f"Bearer {self._secrets[role]}")  # still valid?
            except Unauthorized:
                account = accounts.by_email(session, _EMAILS[role])
                _, self._secrets[role] = accounts.issue_token(
                    session, account, name="fuzz", actor=None
                )
                session.commit()
        return factories.bearer(self._secrets[role])


def _tokens_fixture(backend: Backend):
    @pytest.fixture(scope="module", name=f"{backend.name}_tokens")
    def tokens(request) -> Tokens:
        """The backend's database, migrated and seeded; removed afterwards."""
        _prepare(backend, request)
        try:
            with backend.app.app_context():
                session = database.session()
                world = factories.world(session)
                backend.existing.update(_seed(session))
            yield Tokens(backend, world)
        finally:
            _discard(backend)

    return tokens


def _pick(case, choices: list):
    """One of `choices`, spread over the cases but always the same for the same request,
    so that Hypothesis replays a failure with the token it failed with."""
    return choices[zlib.crc32(f"{case.method} {case!r}".encode()) % len(choices)]


def _entitled_test(backend: Backend):
    schema = _load_schema(backend, coverage=True)

    @hypothesis.settings(max_examples=CASES_PER_OPERATION, **SETTINGS)
    @schema.parametrize()
    def test(case, request):
        tokens = request.getfixturevalue(f"{backend.name}_tokens")
        allowed = _allowed(case.operation)
        headers = tokens.header(_pick(case, list(allowed))) if allowed else None
        case.call_and_validate(headers=headers, checks=CHECKS)

    return test


def _wrong_role_test(backend: Backend):
    # Authentication comes before the body is read, so coverage cases add nothing here.
    schema = _load_schema(backend, coverage=False).include(
        lambda ctx: bool(_allowed(ctx.operation))
    )

    @hypothesis.settings(max_examples=CASES_PER_WRONG_ROLE, **SETTINGS)
    @schema.parametrize()
    def test(case, request):
        tokens = request.getfixturevalue(f"{backend.name}_tokens")
        allowed = _allowed(case.operation)
        role = _pick(case, [None, *(role for role in ROLES if role not in allowed)])
        headers = tokens.header(role) if role else None
        response = case.call_and_validate(headers=headers, checks=CHECKS)
        if response.status_code == 404 and response.json()["type"] == "about:blank":
            return  # no route for this path (an id out of range): routing precedes the token
        assert response.status_code == (403 if role else 401), response.text

    return test


for _backend in BACKENDS:
    globals()[f"{_backend.name}_tokens"] = _tokens_fixture(_backend)
    globals()[f"test_operation_with_an_entitled_token_on_{_backend.name}"] = _entitled_test(
        _backend
    )
    globals()[f"test_guarded_operation_with_a_wrong_token_or_none_on_{_backend.name}"] = (
        _wrong_role_test(_backend)
    )
