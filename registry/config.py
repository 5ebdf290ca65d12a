"""Every REGISTRY_* setting, its default and its meaning, in one place.

Each is read from the environment as `REGISTRY_<NAME>` (see `create_app`); tests pass a
dict instead. Defaults that depend on the instance folder are filled in by `resolve`.
"""

import os
from pathlib import Path


class Defaults:
    #: SQLAlchemy URL; default: SQLite file `registry.sqlite3` in the instance folder.
    DATABASE_URL: str | None = None
    #: Directory of signing keys; default: `keys/` in the instance folder.
    KEYS_DIR: str | None = None
    #: Passphrase that encrypts the private keys at rest; unset means unencrypted.
    KEY_PASSPHRASE: str | None = None
    #: Where buyers reach the registry; QR codes and certificates carry it.
    PUBLIC_BASE_URL = "http://127.0.0.1:8000"
    #: Name of the registry as it signs certificates.
    ISSUER_NAME = "Yenisey Siberia Jewellery Registry"
    #: The brand every certified piece belongs to.
    BRAND = "Yenisey Siberia"
    #: The assay inspectorates whose attestations the registry records, each as
    #: {"ru": …, "en": …}: pages and cards name one in the reader's language, and a
    #: certificate signs both. The first is an attestation's default. As JSON in
    #: REGISTRY_INSPECTORATES.
    INSPECTORATES = (
        {
            "ru": "Восточно-Сибирская государственная инспекция пробирного надзора",
            "en": "East Siberian State Inspectorate of Assay Supervision",
        },
    )
    #: The witnesses that cosign the log's checkpoints (registry/log/witnessing.py): a
    #: JSON list of {"vkey": …, "url": …, "name": … or {"ru": …, "en": …}}. None: none.
    WITNESSES: list = []
    #: Cosignatures that make a checkpoint witnessed; by default every witness's.
    WITNESS_QUORUM: int | None = None
    #: Largest request body accepted, in bytes, but by the requests that may carry photos
    #: (UPLOAD_MAX_BODY: an import, a piece's or a report's photo).
    MAX_CONTENT_LENGTH = 8 * 1024 * 1024
    #: Rows accepted in one bulk import.
    IMPORT_MAX_ROWS = 10_000
    #: Pieces one batch of attestations may hold (POST /api/v1/assays/batch).
    ASSAY_BATCH_MAX_PIECES = 10_000
    #: Generate a signing key on start when the key ring is empty (development).
    GENERATE_KEY_ON_START = True
    #: Logging level of the application's own messages.
    LOG_LEVEL = "INFO"
    #: Proxies in front of the app that set X-Forwarded-For/-Proto (a load balancer: 1).
    #: Rate limits count clients by the address these give; 0 trusts no header.
    PROXY_HOPS = 0

    #: Largest photo accepted, in bytes: what a 48 MP phone camera saves, which is then
    #: scaled down to PHOTO_MAX_SIDE. A form or request carrying a photo may be as large
    #: as UPLOAD_MAX_BODY; every other body keeps to MAX_CONTENT_LENGTH.
    PHOTO_MAX_BYTES = 24 * 1024 * 1024
    #: Largest photo accepted, in pixels, read from its header before anything is decoded:
    #: 8000×6000, what a 48 MP phone camera saves. A guard against decompression bombs too.
    #: A JPEG is decoded at a reduced scale (1/2 to 1/8, to PHOTO_MAX_SIDE), so its cost
    #: stays low whatever its size.
    PHOTO_MAX_PIXELS = 48_000_000
    #: Most pixels decoded for one photo. A PNG or WebP has no reduced-scale decoding, so
    #: this bounds it: 12.5 MP, a 12 MP phone photo (4032×3024) saved so, or any screenshot
    #: (a 24 MP PNG costs up to 3 s of a worker and near 300 MB).
    PHOTO_MAX_DECODED_PIXELS = 12_500_000
    #: Longest side of a stored photo, and of its thumbnail, in pixels.
    PHOTO_MAX_SIDE = 2000
    PHOTO_THUMB_SIDE = 640
    #: Largest body of a request that may carry photos (a maker's piece or photo form, the
    #: photo API, an import with its .zip, a buyer's report): above PHOTO_MAX_BYTES, so
    #: that a photo too large is still read past, and its form shown again with what was
    #: typed.
    UPLOAD_MAX_BODY = 32 * 1024 * 1024

    #: Seconds a verdict may be cached by the phone or a CDN: a revocation shows after at
    #: most this long.
    VERDICT_MAX_AGE = 60
    #: Bytes of rendered scan answers (verify JSON, verification pages) each worker keeps
    #: ready for scans of an unchanged verdict (registry/edge/answers.py); 0 keeps none.
    READY_ANSWERS_BYTES = 16 * 1024 * 1024
    #: Public scans counted per certificate and day (scans and distinct networks, never
    #: who scanned: registry/scans.py); false turns counting and the copy caution off.
    SCAN_COUNTING = True
    #: Seconds each worker keeps its counts in memory between writes: a worker killed
    #: loses at most this long of its counts. 0 writes after every scan (tests).
    SCAN_FLUSH_SECONDS = 5
    #: The copy caution: a sold code seen from more networks than this in 7 days, …
    COPY_NETWORKS_SOLD = 5
    #: … or an unsold one from more than this.
    COPY_NETWORKS_UNSOLD = 20
    #: Requests per client to the public verification pages and API (Flask-Limiter syntax).
    PUBLIC_RATE_LIMIT = "300 per minute"
    #: Where rate-limit counters live: memory:// (per process) or redis://host:port.
    RATELIMIT_STORAGE_URI = "memory://"
    #: How requests are counted: fixed-window, moving-window or sliding-window-counter.
    RATELIMIT_STRATEGY = "fixed-window"
    #: Prefix of the counters' keys, for several registries sharing one Redis.
    RATELIMIT_KEY_PREFIX = "registry"
    #: Rate limits on (false turns them off, for load tests of the whole stack).
    RATELIMIT_ENABLED = True
    #: Key that signs the portals' session cookies (the session's random id and the CSRF
    #: token; the session itself is kept in the database); default: generated once into
    #: KEYS_DIR/session-secret. Several machines behind one address must share it.
    SECRET_KEY: str | None = None
    #: Hours a portal sign-in lasts.
    SESSION_HOURS = 12
    #: Name of the portals' session cookie. Cookies are kept per host, whatever the port:
    #: registries (or other applications) sharing a host need a name each.
    SESSION_COOKIE_NAME = "registry_session"
    #: Failed sign-ins allowed (counted in the database, so across workers and machines;
    #: a wrong current password on the change of password counts too): per account from
    #: one client address, the limit a stranger's guesses meet first; …
    LOGIN_RATE_LIMIT_ACCOUNT_CLIENT = "10 per 15 minutes"
    #: … per client address, whatever accounts it tries; …
    LOGIN_RATE_LIMIT_CLIENT = "40 per 15 minutes"
    #: … and per account, far above what a person types: the cap on guesses spread over
    #: many addresses. A client the account signed in from in the last 30 days is spared
    #: it, so a stranger cannot lock the owner out.
    LOGIN_RATE_LIMIT_ACCOUNT = "200 per hour"
    #: After this many failures of one account within the hour, a client that failed on
    #: it waits 2 s after its own last failure, then 4, 8, …, at most
    #: LOGIN_DELAY_MAX_SECONDS; a client that has not failed does not wait.
    LOGIN_DELAY_AFTER = 10
    LOGIN_DELAY_MAX_SECONDS = 60
    #: TrueType fonts of the certificate card and the label sheets (Latin and Cyrillic).
    CARD_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
    CARD_FONT_BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
    #: The transparency log's name in its signed checkpoints (c2sp.org/tlog-checkpoint): a
    #: URL without its scheme. Default: the public base URL's host and path, then /log.
    #: Taken once, by the first `registry init`, and kept beside the keys (log-origin.txt):
    #: from then on the server and every command sign under that one, and a setting (or a
    #: public base URL) naming another is ignored with a warning. Another origin is a new log.
    LOG_ORIGIN: str | None = None
    #: A write that leaves this many entries or more outside the latest checkpoint makes a
    #: new one in its own transaction (1: every write; 0: only on demand or on a timer).
    LOG_CHECKPOINT_ENTRIES = 1
    #: The signer (`registry log signer`, started by `registry serve`) signs at most one
    #: checkpoint per this many seconds while writes arrive; `registry serve` then sets
    #: LOG_CHECKPOINT_ENTRIES to 0, so that writes sign none themselves.
    LOG_CHECKPOINT_INTERVAL = 1.0
    #: Where the last checkpoint signed is kept, outside the database, so that a log
    #: rewritten in the database is never signed; default: log-checkpoint.txt in KEYS_DIR.
    LOG_SIGNED_STATE: str | None = None
    #: Entries served at most per page of /api/v1/log/entries and of the audit API.
    LOG_PAGE_MAX = 1000
    #: Days within which a shop (or maker) may cancel its own sale of a piece (a return).
    SALE_CANCEL_DAYS = 14
    #: Buyers' reports (the form at /report and POST /api/v1/reports) per client, on top
    #: of the public allowance: a person reports a few pieces, not a hundred.
    REPORT_RATE_LIMIT = "10 per hour"
    #: The brand office, as every verdict page gives it (the address in both languages).
    CONTACT_PHONE = "+7 391 200-20-20"
    CONTACT_EMAIL = "office@yenisey-siberia.example"
    CONTACT_ADDRESS = "Красноярск, проспект Мира, 10, офис 5"
    CONTACT_ADDRESS_EN = "Office 5, 10 Prospekt Mira, Krasnoyarsk"
    #: Language of the public pages when the browser asks for neither Russian nor English.
    BABEL_DEFAULT_LOCALE = "ru"
    #: Time zone of the dates the pages show: the three regions' own (UTC+7).
    DISPLAY_TIMEZONE = "Asia/Krasnoyarsk"

    # Flask-Smorest: the OpenAPI document is served at /api/v1/openapi.json.
    API_TITLE = "Yenisey Siberia Jewellery Registry"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api/v1"
    OPENAPI_JSON_PATH = "openapi.json"
    JSON_SORT_KEYS = False


# Taken exactly as typed: read as JSON, a passphrase "null" would become None (no
# encryption at all) and "1e3" the string "1000.0".
_TEXT_SETTINGS = (
    "DATABASE_URL",
    "KEYS_DIR",
    "KEY_PASSPHRASE",
    "PUBLIC_BASE_URL",
    "ISSUER_NAME",
    "BRAND",
    "LOG_LEVEL",
    "PUBLIC_RATE_LIMIT",
    "RATELIMIT_STORAGE_URI",
    "RATELIMIT_STRATEGY",
    "RATELIMIT_KEY_PREFIX",
    "BABEL_DEFAULT_LOCALE",
    "DISPLAY_TIMEZONE",
    "LOG_ORIGIN",
    "LOG_SIGNED_STATE",
    "SECRET_KEY",
    "SESSION_COOKIE_NAME",
    "LOGIN_RATE_LIMIT_ACCOUNT",
    "LOGIN_RATE_LIMIT_ACCOUNT_CLIENT",
    "LOGIN_RATE_LIMIT_CLIENT",
    "CARD_FONT",
    "CARD_FONT_BOLD",
    "REPORT_RATE_LIMIT",
    "CONTACT_PHONE",
    "CONTACT_EMAIL",
    "CONTACT_ADDRESS",
    "CONTACT_ADDRESS_EN",
)


def load_environment(config) -> None:
    """Read every `REGISTRY_*` variable: numbers and booleans as JSON, text as typed."""
    config.from_prefixed_env("REGISTRY")
    for name in _TEXT_SETTINGS:
        value = os.environ.get(f"REGISTRY_{name}")
        if value is not None:
            config[name] = value


def resolve(config: dict, instance_path: str) -> None:
    """Fill in the defaults that live in the instance folder, creating it if needed."""
    instance = Path(instance_path)
    if not config.get("DATABASE_URL"):
        instance.mkdir(parents=True, exist_ok=True)
        config["DATABASE_URL"] = f"sqlite:///{instance / 'registry.sqlite3'}"
    if not config.get("KEYS_DIR"):
        config["KEYS_DIR"] = os.fspath(instance / "keys")
    config["PUBLIC_BASE_URL"] = config["PUBLIC_BASE_URL"].rstrip("/")


def log_origin(config) -> tuple[str, str | None]:
    """The log origin these settings give, and the setting that asks for it: the name of
    REGISTRY_LOG_ORIGIN or REGISTRY_PUBLIC_BASE_URL, or None when both are left at their
    defaults. Only the first `registry init` takes it; afterwards the origin kept then
    holds, and a setting that asks for another is ignored (see registry.edge.log_signer)."""
    if config.get("LOG_ORIGIN"):
        return config["LOG_ORIGIN"], "REGISTRY_LOG_ORIGIN"
    base = config["PUBLIC_BASE_URL"].rstrip("/")
    asked = None if base == Defaults.PUBLIC_BASE_URL else "REGISTRY_PUBLIC_BASE_URL"
    return base.split("://", 1)[-1] + "/log", asked
