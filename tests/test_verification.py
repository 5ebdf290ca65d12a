"""What a scan is told: the verify API and the verification page, in both languages.

Verdicts are judged from the stored certificate on every request, so a revocation, a
tampered row or a compromised key shows at once; refusals say what went wrong.
"""

import base64
import hashlib
import os
import re
import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import rfc8785
from sqlalchemy import select, update

from registry import codes, create_app, db, verification
from registry.edge import signing
from registry.models import Certificate
from tests.factories import bearer, certify

PAGE_BUDGET = 30 * 1024
REDIS_URL = os.environ.get("REGISTRY_TEST_REDIS_URL")


def _mistyped(code: str) -> str:
    """`code` with its first symbol changed: the check symbol no longer matches."""
    first = "1" if code[0] != "1" else "2"
    return first + code[1:]


def _never_issued() -> str:
    return codes.new()


def _revoke(client, world, code, reason="fraud", note="Sold as a copy of another maker's ring."):
    response = client.post(
        f"/api/v1/certificates/{code}/revoke",
        json={"reason": reason, "note": note},
        headers=bearer(world.inspector),
    )
    assert response.status_code == 200, response.json


# The verify API.


def test_a_valid_certificate_is_valid_with_its_signed_payload(client, world):
    _, certificate = certify(client, world)
    response = client.get(f"/api/v1/verify/{certificate['printed_code'].lower()}")
    assert response.status_code == 200
    verdict = response.json
    assert verdict["status"] == "valid"
    assert verdict["code"] == certificate["code"]
    assert verdict["certificate"] == certificate["payload"]
    assert verdict["jws"] == certificate["jws"]
    assert verdict["signature"] == {
        "valid": True,
        "alg": "EdDSA",
        "kid": certificate["kid"],
        "key_status": "active",
        "problem": None,
    }
    assert verdict["revocation"] is None
    assert verdict["links"]["page"] == f"https://registry.test/v/{certificate['code']}"
    assert verdict["links"]["qr_png"].endswith(f"/certificates/{certificate['code']}/qr.png")


def test_a_revoked_certificate_says_why_and_when(client, world):
    _, certificate = certify(client, world)
    _revoke(client, world, certificate["code"], reason="piece_lost_or_stolen", note="Shop theft.")
    verdict = client.get(f"/api/v1/verify/{certificate['code']}").json
    assert verdict["status"] == "revoked"
    assert verdict["revocation"]["reason"] == "piece_lost_or_stolen"
    assert verdict["revocation"]["note"] == "Shop theft."
    assert verdict["signature"]["valid"] is True


def test_a_superseded_certificate_points_to_the_current_one(client, world):
    _, first = certify(client, world)
    second = client.post(
        f"/api/v1/certificates/{first['code']}/reissue",
        json={"weight_g": 3.5, "note": "Weighed again."},
        headers=bearer(world.inspector),
    ).json
    third = client.post(
        f"/api/v1/certificates/{second['code']}/reissue",
        json={"title": "Кольцо «Енисей» II", "note": "Title corrected."},
        headers=bearer(world.inspector),
    ).json
    verdict = client.get(f"/api/v1/verify/{first['code']}").json
    assert verdict["status"] == "superseded"
    assert verdict["superseded_by"] == second["code"]
    assert verdict["current"] == third["code"]
    assert client.get(f"/api/v1/verify/{third['code']}").json["status"] == "valid"


def test_a_payload_altered_in_the_database_is_invalid(app, client, world, session):
    _, certificate = certify(client, world)
    forged = certificate["payload"] | {"brand": "Somebody Else"}
    session.execute(
        update(Certificate)
        .where(Certificate.code == certificate["code"])
        .values(payload=rfc8785.dumps(forged))
    )
    session.commit()
    verdict = client.get(f"/api/v1/verify/{certificate['code']}").json
    assert verdict["status"] == "invalid"
    assert verdict["signature"]["valid"] is False
    assert "differs" in verdict["signature"]["problem"]
    page = client.get(f"/v/{certificate['code']}", headers={"Accept-Language": "en"})
    assert "Not valid" in page.get_data(as_text=True)
    assert "its signature does not match" in page.get_data(as_text=True)


def test_a_signature_altered_in_the_database_is_invalid(client, world, session):
    _, certificate = certify(client, world)
    head, body, signature = certificate["jws"].split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    session.execute(
        update(Certificate)
        .where(Certificate.code == certificate["code"])
        .values(jws=f"{head}.{body}.{flipped}")
    )
    session.commit()
    verdict = client.get(f"/api/v1/verify/{certificate['code']}").json
    assert verdict["status"] == "invalid"
    assert "does not verify" in verdict["signature"]["problem"]


def test_a_key_compromised_before_issue_makes_the_certificate_invalid(app, client, world):
    _, before = certify(client, world)
    with app.app_context():
        kid = signing.keyring().active().kid
        signing.keyring().mark_compromised(kid, since=datetime.now(UTC) - timedelta(days=1))
    verdict = client.get(f"/api/v1/verify/{before['code']}").json
    assert verdict["status"] == "invalid"
    assert verdict["signature"]["key_status"] == "compromised"
    assert "compromised" in verdict["signature"]["problem"]


def test_a_key_compromised_after_issue_leaves_the_certificate_valid(app, client, world):
    _, before = certify(client, world)
    with app.app_context():
        kid = signing.keyring().active().kid
        signing.keyring().mark_compromised(kid, since=datetime.now(UTC) + timedelta(hours=1))
    verdict = client.get(f"/api/v1/verify/{before['code']}").json
    assert verdict["status"] == "valid"
    assert verdict["signature"]["key_status"] == "compromised"


@pytest.mark.parametrize(
    ("make_code", "status", "kind"),
    [
        (lambda code: _never_issued(), 404, "not-found"),
        (_mistyped, 400, "mistyped-code"),
        (lambda code: "hello", 400, "malformed-code"),
    ],
    ids=["unknown", "mistyped", "malformed"],
)
def test_refusals_are_problem_json(client, world, make_code, status, kind):
    _, certificate = certify(client, world)
    response = client.get(f"/api/v1/verify/{make_code(certificate['code'])}")
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    assert response.json["type"].endswith(kind)
    assert response.json["status"] == status


def test_any_two_unknown_codes_get_the_same_status_and_body_shape(client, world):
    certify(client, world)
    answers = [client.get(f"/api/v1/verify/{_never_issued()}") for _ in range(5)]
    assert {a.status_code for a in answers} == {404}
    shapes = {tuple(sorted(a.json)) for a in answers}
    assert len(shapes) == 1
    # Nothing in the body depends on the code asked for.
    assert len({a.get_data() for a in answers}) == 1


def test_mistyped_and_unknown_codes_read_the_database_alike(client, world, monkeypatch):
    """Every refusal costs the same one indexed read, so timing does not tell them apart."""
    _, certificate = certify(client, world)
    reads: list[tuple] = []
    original = db.Prepared.one_or_none

    def counted(self, session, **parameters):
        row = original(self, session, **parameters)
        reads.append((id(self), row))
        return row

    monkeypatch.setattr(db.Prepared, "one_or_none", counted)
    seen = set()
    for code in (_never_issued(), _mistyped(certificate["code"]), "hello"):
        reads.clear()
        assert client.get(f"/api/v1/verify/{code}").status_code in (400, 404)
        assert len(reads) == 1 and reads[0][1] is None, code
        seen.add(reads[0][0])
    assert len(seen) == 1, "the same read for every refusal"


# HTTP behaviour of the public answers.


@pytest.mark.parametrize("path", ["/api/v1/verify/{code}", "/v/{code}"])
def test_etag_and_304(client, world, path):
    _, certificate = certify(client, world)
    url = path.format(code=certificate["code"])
    first = client.get(url, headers={"Accept-Language": "en"})
    assert first.status_code == 200
    etag = first.headers["ETag"]
    assert first.headers["Cache-Control"] == "public, max-age=60"
    again = client.get(url, headers={"If-None-Match": etag, "Accept-Language": "en"})
    assert again.status_code == 304
    assert again.get_data() == b""
    _revoke(client, world, certificate["code"])
    changed = client.get(url, headers={"If-None-Match": etag, "Accept-Language": "en"})
    assert changed.status_code == 200, "a revocation must change the ETag"
    assert changed.headers["ETag"] != etag


@pytest.mark.parametrize(
    "path", ["/v/{code}", "/api/v1/verify/{code}", "/verify", "/api/v1/verify/XX", "/v/XX"]
)
def test_security_headers_on_every_answer(client, world, path):
    _, certificate = certify(client, world)
    response = client.get(path.format(code=certificate["code"]))
    policy = response.headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert directives["base-uri"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert "script-src" not in directives  # falls back to default-src 'none': no script
    assert "unsafe-inline" not in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "Strict-Transport-Security" not in response.headers  # plain HTTP here


def test_hsts_when_served_over_https(client, world):
    response = client.get("/verify", base_url="https://registry.test")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_the_inline_stylesheet_is_the_one_the_policy_allows(client, world):
    _, certificate = certify(client, world)
    response = client.get(f"/v/{certificate['code']}")
    css = re.search(r"<style>(.*?)</style>", response.get_data(as_text=True), re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    assert f"'sha256-{digest}'" in response.headers["Content-Security-Policy"]
    assert response.get_data(as_text=True).count("<style") == 1


def _limited_app(app, limit="3 per minute"):
    app.config["PUBLIC_RATE_LIMIT"] = limit
    return app


def test_past_the_limit_the_api_answers_429_problem_json(app, client, world):
    _, certificate = certify(client, world)
    _limited_app(app)
    statuses = [client.get(f"/api/v1/verify/{certificate['code']}").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    refused = client.get(f"/api/v1/verify/{certificate['code']}")
    assert refused.mimetype == "application/problem+json"
    assert refused.json["status"] == 429
    # Whole seconds, rounded up: at most the minute of the window and one.
    assert 1 <= int(refused.headers["Retry-After"]) <= 61


@pytest.mark.parametrize(
    ("language", "words"),
    [("en", "Too many requests"), ("ru", "Слишком много запросов")],
)
def test_past_the_limit_the_page_is_a_friendly_429_in_the_visitors_language(
    app, client, world, language, words
):
    _, certificate = certify(client, world)
    _limited_app(app)
    # One allowance across the page, the form and the API.
    client.get(f"/v/{certificate['code']}")
    client.get("/verify")
    client.get(f"/api/v1/verify/{certificate['code']}")
    refused = client.get(f"/v/{certificate['code']}", headers={"Accept-Language": language})
    assert refused.status_code == 429
    assert refused.mimetype == "text/html"
    assert words in refused.get_data(as_text=True)
    assert "Retry-After" in refused.headers


def test_signed_in_work_does_not_use_up_the_public_allowance(app, client, world):
    _limited_app(app, "2 per minute")
    for _ in range(4):
        certify(client, world)
    assert client.get("/verify").status_code == 200


# The page.


def test_the_page_shows_the_verdict_first_then_the_details(client, world):
    _, certificate = certify(client, world, uin="1234567890123456")
    html = client.get(
        f"/v/{certificate['code']}", headers={"Accept-Language": "en-GB,en;q=0.9"}
    ).get_data(as_text=True)
    text = _visible_text(html)
    assert text.index("Authentic") < text.index("Ring") < text.index("Maker")
    for shown in (
        "Workshop",  # the maker's English name
        "Krasnoyarsk Krai",
        "585",
        "3.42 g",
        "585-KRS-2026",
        "East Siberian State Inspectorate of Assay Supervision",
        certificate["printed_code"],
        "1234567890123456",
        "Check the hallmark on the piece yourself",
    ):
        assert shown in text, shown
    assert f'href="/api/v1/certificates/{certificate["code"]}"' in html
    assert '<html lang="en">' in html


def test_the_page_names_the_log_entry_and_links_its_proof(client, world):
    _, certificate = certify(client, world)
    log = client.get(f"/api/v1/verify/{certificate['code']}").json["log"]
    for language, words in (("en", ("Public log", "entry")), ("ru", ("Открытый журнал", "запись"))):
        html = client.get(f"/v/{certificate['code']}?lang={language}").get_data(as_text=True)
        text = _visible_text(html)
        assert f"{words[0]} {words[1]}" in text and str(log["index"]) in text, text
    link = re.search(r'href="(/api/v1/log/proof/inclusion\?[^"]+)"', html).group(1)
    proof = client.get(link.replace("&amp;", "&"))
    assert proof.status_code == 200
    assert proof.json["index"] == log["index"]
    assert proof.json["proof"] == log["inclusion"]["proof"]


def test_a_revoked_page_names_the_reason_and_date(client, world):
    _, certificate = certify(client, world)
    _revoke(client, world, certificate["code"], reason="fraud")
    text = _visible_text(
        client.get(f"/v/{certificate['code']}", headers={"Accept-Language": "en"}).get_data(
            as_text=True
        )
    )
    assert "Revoked" in text
    assert "Reason: Fraud" in text
    assert datetime.now(UTC).strftime("%Y") in text


def test_a_stolen_piece_is_reported_stolen(client, world):
    _, certificate = certify(client, world)
    _revoke(client, world, certificate["code"], reason="piece_lost_or_stolen")
    text = _visible_text(
        client.get(f"/v/{certificate['code']}", headers={"Accept-Language": "ru"}).get_data(
            as_text=True
        )
    )
    assert "Заявлено о краже" in text
    assert "Не покупайте это изделие" in text


def test_a_superseded_page_links_to_the_current_certificate(client, world):
    _, first = certify(client, world)
    second = client.post(
        f"/api/v1/certificates/{first['code']}/reissue",
        json={"weight_g": 3.5, "note": "Weighed again."},
        headers=bearer(world.inspector),
    ).json
    html = client.get(f"/v/{first['code']}", headers={"Accept-Language": "en"}).get_data(
        as_text=True
    )
    assert "Superseded" in html
    assert f'href="/v/{second["code"]}"' in html
    assert second["printed_code"] in html


@pytest.mark.parametrize(
    ("make_code", "status", "words"),
    [
        (lambda code: _never_issued(), 404, "Unknown code"),
        (_mistyped, 400, "Check the code and type it again."),
        (lambda code: "not-a-code", 400, "Not a certificate code"),
    ],
    ids=["unknown", "mistyped", "malformed"],
)
def test_refused_codes_get_a_page_that_says_what_to_do(client, world, make_code, status, words):
    _, certificate = certify(client, world)
    response = client.get(f"/v/{make_code(certificate['code'])}", headers={"Accept-Language": "en"})
    assert response.status_code == status
    assert response.mimetype == "text/html"
    assert words in _visible_text(response.get_data(as_text=True))


def test_pages_fit_the_budget_and_load_nothing_from_elsewhere(client, world):
    _, long = certify(
        client,
        world,
        description="Ring " * 300,
        stones=[{"type": "diamond", "count": 1, "carat": 0.01}] * 20,
    )
    for path in (f"/v/{long['code']}", "/verify", f"/v/{_never_issued()}", "/verify?code=x"):
        for language in ("ru", "en"):
            response = client.get(path, headers={"Accept-Language": language})
            html = response.get_data(as_text=True)
            # The stylesheet is inline, so the page is HTML and CSS together.
            assert len(response.get_data()) < PAGE_BUDGET, (path, len(response.get_data()))
            assert "<script" not in html
            urls = re.findall(r"""(?:href|src|action)=["']([^"']+)["']""", html)
            assert urls, path
            assert all(u.startswith(("/", "?", "#")) for u in urls), urls  # "#": in the page
            assert "url(" not in html and "@import" not in html


def test_the_language_switch_keeps_the_choice(client, world):
    _, certificate = certify(client, world)
    url = f"/v/{certificate['code']}"
    russian = client.get(url, headers={"Accept-Language": "en"})
    assert '<html lang="en">' in russian.get_data(as_text=True)
    switched = client.get(f"{url}?lang=ru", headers={"Accept-Language": "en"})
    assert '<html lang="ru">' in switched.get_data(as_text=True)
    assert "lang=ru" in switched.headers["Set-Cookie"]
    assert "private" in switched.headers["Cache-Control"]
    # The next page, without the switch in its URL, stays Russian.
    kept = client.get("/verify", headers={"Accept-Language": "en"})
    assert '<html lang="ru">' in kept.get_data(as_text=True)
    assert "Accept-Language" in kept.headers["Vary"] and "Cookie" in kept.headers["Vary"]


def test_russian_is_the_default_for_other_languages(app, client, world):
    app.config["BABEL_DEFAULT_LOCALE"] = "ru"  # as deployed (the tests' app says "en")
    html = client.get("/verify", headers={"Accept-Language": "de-DE"}).get_data(as_text=True)
    assert '<html lang="ru">' in html


# The form.


def test_the_form_takes_a_code_as_typed_and_opens_its_page(client, world):
    _, certificate = certify(client, world)
    typed = " " + certificate["printed_code"].lower().replace("0", "o") + " "
    response = client.get("/verify", query_string={"code": typed})
    assert response.status_code == 303
    assert response.headers["Location"] == f"/v/{certificate['code']}"


def test_the_form_says_a_mistyped_code_is_mistyped_and_keeps_it(client, world):
    _, certificate = certify(client, world)
    typed = _mistyped(certificate["printed_code"].replace("YS-", ""))
    response = client.get(
        "/verify", query_string={"code": typed}, headers={"Accept-Language": "en"}
    )
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Check the code and type it again." in html
    assert f'value="{typed}"' in html


def test_the_form_escapes_what_was_typed(client, world):
    response = client.get("/verify", query_string={"code": '"><b>x</b>'})
    assert response.status_code == 400
    assert "<b>x</b>" not in response.get_data(as_text=True)


def _visible_text(html: str) -> str:
    """The words of the page's main part, as a reader sees them (without the site menu)."""
    html = html[html.find("<main") :]
    html = re.sub(r"<(style|svg)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_counting_requests_in_memory_starts_no_thread(app, client, world, monkeypatch):
    """The in-memory counters expire inline: limits' own storage starts a timer thread on
    a count whenever its previous timer has run, which under load is nearly every count."""
    # The timer that limits' storage starts when it is made: once it has run, limits'
    # own storage starts another at the first request below, without any waiting.
    app.extensions["registry.limiter"].storage.timer.join()
    started = []
    original = threading.Thread.start

    def start(self):
        started.append(self)
        return original(self)

    monkeypatch.setattr(threading.Thread, "start", start)
    for _ in range(5):
        assert client.get("/verify").status_code == 200
    assert started == []


@pytest.mark.skipif(not REDIS_URL, reason="REGISTRY_TEST_REDIS_URL names no Redis server")
def test_with_redis_every_worker_counts_against_one_allowance(database_url, tmp_path):
    """Two apps (two workers, or two machines) sharing Redis share each client's limit."""
    prefix = f"test-{uuid.uuid4().hex}"
    apps = [
        create_app(
            {
                "TESTING": True,
                "DATABASE_URL": database_url,
                "KEYS_DIR": str(tmp_path / "keys"),
                "PUBLIC_RATE_LIMIT": "4 per minute",
                "RATELIMIT_STORAGE_URI": REDIS_URL,
                "RATELIMIT_KEY_PREFIX": prefix,
            }
        )
        for _ in range(2)
    ]
    try:
        statuses = [apps[i % 2].test_client().get("/verify").status_code for i in range(5)]
        assert statuses == [200, 200, 200, 200, 429]
    finally:
        for each in apps:
            each.extensions["registry.engine"].dispose()


# Rows altered by hand, and data that could carry markup.


def test_a_row_given_another_certificates_signed_bytes_is_invalid(client, world, session):
    _, first = certify(client, world)
    _, second = certify(client, world)
    original = session.scalar(select(Certificate).where(Certificate.code == first["code"]))
    client.get(f"/api/v1/verify/{first['code']}")  # its signature is remembered as good
    session.execute(
        update(Certificate)
        .where(Certificate.code == second["code"])
        .values(payload=original.payload, jws=original.jws, kid=original.kid)
    )
    session.commit()
    verdict = client.get(f"/api/v1/verify/{second['code']}").json
    assert verdict["status"] == "invalid"
    assert "code" in verdict["signature"]["problem"]
    page = client.get(f"/v/{second['code']}", headers={"Accept-Language": "en"})
    assert "Not valid" in page.get_data(as_text=True)
    assert "Authentic" not in page.get_data(as_text=True)


def test_a_row_naming_another_key_is_invalid_even_after_a_good_check(app, client, world, session):
    _, certificate = certify(client, world)
    assert client.get(f"/api/v1/verify/{certificate['code']}").json["status"] == "valid"
    with app.app_context():
        other = signing.keyring().rotate().kid
    session.execute(
        update(Certificate).where(Certificate.code == certificate["code"]).values(kid=other)
    )
    session.commit()
    verdict = client.get(f"/api/v1/verify/{certificate['code']}").json
    assert verdict["status"] == "invalid"
    assert "another key" in verdict["signature"]["problem"]


def test_a_row_backdated_past_a_compromise_is_invalid(app, client, world, session):
    _, certificate = certify(client, world)
    with app.app_context():
        kid = signing.keyring().active().kid
        signing.keyring().mark_compromised(kid, since=datetime.now(UTC) - timedelta(days=1))
    session.execute(
        update(Certificate)
        .where(Certificate.code == certificate["code"])
        .values(issued_at=datetime.now(UTC) - timedelta(days=30))
    )
    session.commit()
    verdict = client.get(f"/api/v1/verify/{certificate['code']}").json
    assert verdict["status"] == "invalid"
    assert "issued_at" in verdict["signature"]["problem"]


@pytest.mark.parametrize(
    "payload",
    [b"{}", b'{"piece":{"kind":"ring"}}', b"[1]", b"not json", b'{"x":"\\ud800"}'],
    ids=["empty", "partial", "list", "not-json", "lone-surrogate"],
)
def test_payloads_written_by_hand_never_break_the_answers(client, world, session, payload):
    _, certificate = certify(client, world)
    session.execute(
        update(Certificate).where(Certificate.code == certificate["code"]).values(payload=payload)
    )
    session.commit()
    api = client.get(f"/api/v1/verify/{certificate['code']}")
    assert api.status_code == 200
    assert api.json["status"] == "invalid"
    page = client.get(f"/v/{certificate['code']}", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    assert "Not valid" in page.get_data(as_text=True)


def test_markup_in_certificate_data_is_shown_as_text(client, world):
    hostile = '<img src=x onerror=alert(1)>"&%(brand)s'
    _, certificate = certify(client, world, title=hostile, description=hostile)
    _revoke(client, world, certificate["code"], reason="other", note=hostile)
    html = client.get(f"/v/{certificate['code']}").get_data(as_text=True)
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;&#34;&amp;%(brand)s" in html


def test_ipv6_clients_are_counted_by_their_64_network(app, client, world):
    _limited_app(app, "2 per minute")
    statuses = [
        client.get("/verify", environ_base={"REMOTE_ADDR": f"2001:db8::{n}"}).status_code
        for n in range(1, 4)
    ]
    assert statuses == [200, 200, 429]
    other = client.get("/verify", environ_base={"REMOTE_ADDR": "2001:db8:0:1::1"})
    assert other.status_code == 200


def test_a_misspelt_rate_limit_stops_the_start_with_its_name(database_url, tmp_path):
    with pytest.raises(ValueError, match="REGISTRY_PUBLIC_RATE_LIMIT"):
        create_app(
            {
                "DATABASE_URL": database_url,
                "KEYS_DIR": str(tmp_path / "keys"),
                "PUBLIC_RATE_LIMIT": "three a minute",
            }
        )


def test_requests_without_a_client_address_are_not_counted_as_one_client(app, client, world):
    _limited_app(app, "1 per minute")
    statuses = [
        client.get("/verify", environ_base={"REMOTE_ADDR": ""}).status_code for _ in range(3)
    ]
    assert statuses == [200, 200, 200]


def test_a_sealed_certificate_is_confirmed_without_an_ed25519_check(app, client, world, session):
    _, certificate = certify(client, world)
    stored = session.scalar(select(Certificate).where(Certificate.code == certificate["code"]))
    assert stored.seal and len(stored.seal) == 64
    verifications = []
    with app.app_context():
        ring = signing.keyring()
        original = ring.verify
        ring.verify = lambda jws: verifications.append(jws) or original(jws)
    verification._verified.clear()
    assert client.get(f"/api/v1/verify/{certificate['code']}").json["status"] == "valid"
    assert verifications == []
    # A seal that does not match is no verdict: the signature is verified instead.
    session.execute(
        update(Certificate).where(Certificate.code == certificate["code"]).values(seal="0" * 64)
    )
    session.commit()
    assert client.get(f"/api/v1/verify/{certificate['code']}").json["status"] == "valid"
    assert len(verifications) == 1


def test_behind_a_proxy_the_forwarded_client_and_scheme_count(database_url, tmp_path):
    proxied = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "KEYS_DIR": str(tmp_path / "keys"),
            "PROXY_HOPS": 1,
            "PUBLIC_RATE_LIMIT": "1 per minute",
        }
    )
    try:
        client = proxied.test_client()

        def through_proxy(address: str):
            headers = {"X-Forwarded-For": address, "X-Forwarded-Proto": "https"}
            return client.get("/verify", headers=headers)

        first = through_proxy("203.0.113.7")
        assert first.status_code == 200
        assert first.headers["Strict-Transport-Security"].startswith("max-age=")
        assert through_proxy("203.0.113.7").status_code == 429
        assert through_proxy("203.0.113.8").status_code == 200  # another client
    finally:
        proxied.extensions["registry.engine"].dispose()


@pytest.mark.parametrize(
    ("language", "words"), [("en", "Temporarily unavailable"), ("ru", "Временно недоступно")]
)
def test_a_database_that_cannot_answer_gets_a_page_not_a_stack_trace(tmp_path, language, words):
    empty = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'never-migrated.sqlite3'}",
            "KEYS_DIR": str(tmp_path / "keys"),
        }
    )
    try:
        page = empty.test_client().get(
            f"/v/{_never_issued()}", headers={"Accept-Language": language}
        )
        assert page.status_code == 503
        assert page.mimetype == "text/html"
        assert words in page.get_data(as_text=True)
        assert page.headers["Retry-After"]
        api = empty.test_client().get(f"/api/v1/verify/{_never_issued()}")
        assert api.status_code == 503 and api.mimetype == "application/problem+json"
    finally:
        empty.extensions["registry.engine"].dispose()
