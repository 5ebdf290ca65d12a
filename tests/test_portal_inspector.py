"""The inspector's portal: the assay queue, attestation and revocation through forms,
a piece's history, search, the audit and its CSV export, the log's status."""

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from markupsafe import escape
from sqlalchemy import select

from registry import codes
from registry.edge import database
from registry.models import Account, Checkpoint, LogVerification, Maker
from tests.factories import bearer, certify, piece_data, post_form, sign_in, with_passwords


@pytest.fixture
def inspector(app, client, world):
    """The test client, signed in as the inspector, reading the pages in English."""
    with app.app_context():
        with_passwords(database.session(), "inspector@test.example", "maker@test.example")
    assert sign_in(client, "inspector@test.example").status_code == 302
    client.set_cookie("lang", "en")
    return world


def register(client, world, token=None, **fields) -> dict:
    made = client.post(
        "/api/v1/pieces", json=piece_data(**fields), headers=bearer(token or world.maker)
    )
    assert made.status_code == 201, made.json
    return made.json


def text_of(response) -> str:
    return response.get_data(as_text=True)


def attest_form(**overrides) -> dict:
    form = {
        "result": "passed",
        "metal": "gold",
        "fineness": "585",
        "assay_mark": "585-KRS-2026",
        "inspectorate": "East Siberian State Inspectorate of Assay Supervision",
        "notes": "Touchstone and XRF",
    }
    form.update(overrides)
    return form


def piece_status(client, world, piece_id) -> str:
    return client.get(f"/api/v1/pieces/{piece_id}", headers=bearer(world.inspector)).json["status"]


def test_the_queue_lists_pieces_awaiting_assay_oldest_first(client, inspector):
    first = register(client, inspector, reference="Q-FIRST")
    second = register(client, inspector, token=inspector.other_maker, reference="Q-SECOND")
    certify(client, inspector, reference="Q-CERTIFIED")
    page = client.get("/inspector/")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    html = text_of(page)
    assert html.index("Q-FIRST") < html.index("Q-SECOND")
    assert "Q-CERTIFIED" not in html
    assert f'href="/inspector/pieces/{first["id"]}#assay"' in html
    assert f'href="/inspector/pieces/{second["id"]}#assay"' in html
    assert "3.42 g" in html


def test_the_queue_pages_on_with_its_cursor(client, inspector, monkeypatch):
    monkeypatch.setattr("registry.web.inspector._PAGE", 2)
    for n in range(3):
        register(client, inspector, reference=f"PAGED-{n}")
    html = text_of(client.get("/inspector/"))
    assert "PAGED-0" in html and "PAGED-1" in html and "PAGED-2" not in html
    following = re.search(r'href="(/inspector/\?after=\d+)"', html).group(1)
    html = text_of(client.get(following))
    assert "PAGED-2" in html and "PAGED-0" not in html
    damaged = client.get("/inspector/?after=x1")
    assert damaged.status_code == 422
    assert "This page link is damaged" in text_of(damaged)


def test_attesting_through_the_form_issues_a_certificate(client, inspector):
    piece = register(client, inspector, metal="silver", fineness=925)
    path = f"/inspector/pieces/{piece['id']}"
    form_page = text_of(client.get(path))
    assert "East Siberian State Inspectorate of Assay Supervision" in form_page
    sent = post_form(
        client,
        f"{path}/assay",
        attest_form(metal="silver", fineness="925"),
        form_page=path,
    )
    assert sent.status_code == 303
    assert sent.headers["Location"] == path
    html = text_of(client.get(path))
    code = re.search(r"certificate (YS-[0-9A-Z-]+) is issued", html).group(1)
    assert piece_status(client, inspector, piece["id"]) == "certified"
    verdict = client.get(f"/api/v1/verify/{code}")
    assert verdict.json["status"] == "valid"
    assert verdict.json["certificate"]["assay"]["fineness"] == 925


@pytest.mark.parametrize("language", ["en", "ru"])
def test_the_attestation_form_has_the_inspector_choose_what_was_found(client, inspector, language):
    """Nothing found is filled in: a pass takes a chosen result and a confirmed metal and
    fineness, the declared ones shown beside the fields, not inside them."""
    piece = register(client, inspector, metal="silver", fineness=925)
    path = f"/inspector/pieces/{piece['id']}"
    html = text_of(client.get(f"{path}?lang={language}"))
    form = html[html.index('id="assay-heading"') :]

    assert " selected" not in form[: form.index('name="inspectorate"')]
    for field in ("result", "metal", "fineness"):
        select = re.search(rf'<select id="f-{field}"[^>]*>\s*<option value="">', form)
        assert select, field
    declared = {"en": "Declared: Silver.", "ru": "Заявлено: Серебро."}[language]
    assert declared in re.search(r'<p class="hint" id="h-metal">([^<]*)</p>', form).group(1)
    assert "925" in re.search(r'<p class="hint" id="h-fineness">([^<]*)</p>', form).group(1)
    left_blank = post_form(
        client,
        f"{path}/assay",
        attest_form(result="", metal="", fineness=""),
        form_page=path,
    )
    assert left_blank.status_code == 422
    assert piece_status(client, inspector, piece["id"]) == "awaiting_assay"


@pytest.mark.parametrize(
    ("language", "waiting", "failed"),
    [
        ("en", "the piece is awaiting assay", "the piece failed its assay"),
        ("ru", "изделие ждёт опробования", "изделие не прошло опробование"),
    ],
)
def test_a_waiting_piece_reads_as_waiting_not_as_failed(
    client, inspector, language, waiting, failed
):
    piece = register(client, inspector)
    path = f"/inspector/pieces/{piece['id']}"
    html = text_of(client.get(f"{path}?lang={language}"))
    assert waiting in html and failed not in html

    sent = post_form(client, f"{path}/assay", attest_form(result="failed"), form_page=path)
    assert sent.status_code == 303
    html = text_of(client.get(f"{path}?lang={language}"))
    assert failed in html and waiting not in html


def test_an_illegal_fineness_is_shown_on_the_form_and_issues_nothing(client, inspector):
    piece = register(client, inspector)
    path = f"/inspector/pieces/{piece['id']}"
    refused = post_form(client, f"{path}/assay", attest_form(fineness="925"), form_page=path)
    assert refused.status_code == 422
    html = text_of(refused)
    assert "925 is not a legal fineness for gold" in html
    assert 'value="585-KRS-2026"' in html  # what was typed is kept
    assert piece_status(client, inspector, piece["id"]) == "awaiting_assay"
    assert "data-certificate" not in html


def test_a_pass_below_the_declared_fineness_is_refused_beside_the_field(client, inspector):
    piece = register(client, inspector, fineness=750)
    path = f"/inspector/pieces/{piece['id']}"
    refused = post_form(client, f"{path}/assay", attest_form(fineness="585"), form_page=path)
    assert refused.status_code == 422
    assert "Declared fineness is 750." in text_of(refused)
    assert "A pass must find at least the declared fineness (750)" in text_of(refused)
    assert piece_status(client, inspector, piece["id"]) == "awaiting_assay"


def test_a_piece_certified_meanwhile_is_not_attested_twice(client, inspector):
    piece_id, certificate = certify(client, inspector)
    path = f"/inspector/pieces/{piece_id}"
    page = text_of(client.get(path))
    assert "Record the assay" not in page  # no form for a certified piece
    again = post_form(client, f"{path}/assay", attest_form(), form_page=path)
    assert again.status_code == 409
    assert "only a piece awaiting assay can be attested" in text_of(again)
    listed = client.get(f"/api/v1/pieces/{piece_id}", headers=bearer(inspector.inspector))
    assert listed.json["certificate"] == certificate["code"]


def test_a_failed_assay_is_recorded_and_issues_nothing(client, inspector):
    piece = register(client, inspector)
    path = f"/inspector/pieces/{piece['id']}"
    sent = post_form(client, f"{path}/assay", attest_form(result="failed"), form_page=path)
    assert sent.status_code == 303
    html = text_of(client.get(path))
    assert "Assay recorded as failed; no certificate is issued." in html
    assert "No certificate: the piece failed its assay." in html
    assert 'data-action="assay:failed"' in html
    assert "certificate:issued" not in html
    assert piece_status(client, inspector, piece["id"]) == "assay_failed"
    assert piece["reference"] not in text_of(client.get("/inspector/"))  # out of the queue


def test_revoking_through_the_form_makes_the_certificate_revoked(client, inspector):
    piece_id, certificate = certify(client, inspector)
    path = f"/inspector/pieces/{piece_id}"
    revoke = f"/inspector/certificates/{certificate['code']}/revoke"
    without_note = post_form(client, revoke, {"reason": "fraud"}, form_page=path)
    assert without_note.status_code == 422
    assert "Missing data for required field." in text_of(without_note)
    assert client.get(f"/api/v1/verify/{certificate['code']}").json["status"] == "valid"

    note = "The hallmark was forged"
    sent = post_form(client, revoke, {"reason": "fraud", "note": note}, form_page=path)
    assert sent.status_code == 303
    assert sent.headers["Location"] == path
    verdict = client.get(f"/api/v1/verify/{certificate['code']}").json
    assert verdict["status"] == "revoked"
    assert verdict["revocation"]["reason"] == "fraud"
    assert verdict["revocation"]["note"] == note
    html = text_of(client.get(path))
    assert "Fraud" in html and note in html
    assert "Revoke the certificate" not in html  # nothing left to revoke

    again = post_form(client, revoke, {"reason": "fraud", "note": "twice"}, form_page=path)
    assert again.status_code == 409
    assert "This certificate is already revoked." in text_of(again)


def test_a_maker_is_shown_the_403_page_on_every_inspector_page(client, inspector):
    piece = register(client, inspector)
    client.post("/logout", data={"csrf_token": _token(client, "/inspector/")})
    sign_in(client, "maker@test.example")
    for path in (
        "/inspector/",
        f"/inspector/pieces/{piece['id']}",
        "/inspector/search",
        "/inspector/audit",
        "/inspector/audit/export.csv",
        "/inspector/log",
    ):
        refused = client.get(path)
        assert refused.status_code == 403, path
        assert "Not for your account" in text_of(refused)
    token = _token(client, "/account")
    attest = client.post(
        f"/inspector/pieces/{piece['id']}/assay", data={**attest_form(), "csrf_token": token}
    )
    assert attest.status_code == 403
    assert piece_status(client, inspector, piece["id"]) == "awaiting_assay"


def test_signed_out_visitors_are_sent_to_sign_in(client, world):
    response = client.get("/inspector/log")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=/inspector/log")


def test_an_unknown_piece_is_not_found(client, inspector):
    assert client.get("/inspector/pieces/999999").status_code == 404


def test_the_history_shows_every_event_of_the_piece_in_log_order(client, inspector):
    piece_id, certificate = certify(client, inspector)
    revoked = client.post(
        f"/api/v1/certificates/{certificate['code']}/revoke",
        json={"reason": "piece_destroyed", "note": "Melted down"},
        headers=bearer(inspector.inspector),
    )
    assert revoked.status_code == 200
    html = text_of(client.get(f"/inspector/pieces/{piece_id}"))
    timeline = html[html.index('<ol class="timeline">') :]
    actions = re.findall(r'<li data-action="([^"]+)"', timeline)
    assert actions == [
        "piece:registered",
        "assay:passed",
        "certificate:issued",
        "certificate:revoked",
    ]
    labels = ["Piece registered", "Assay passed", "Certificate issued", "Certificate revoked"]
    positions = [timeline.index(label) for label in labels]
    assert positions == sorted(positions)
    assert "The piece was destroyed" in timeline and "Melted down" in timeline
    size = client.get("/api/v1/log/checkpoint").json["tree_size"]
    links = re.findall(r"/api/v1/log/proof/inclusion\?index=(\d+)&amp;tree_size=(\d+)", timeline)
    assert len(links) == 4
    assert all(int(tree_size) == size for _, tree_size in links)
    index, tree_size = links[0]
    proof = client.get(f"/api/v1/log/proof/inclusion?index={index}&tree_size={tree_size}")
    assert proof.status_code == 200


def test_search_finds_pieces_of_every_maker(client, inspector):
    _, certificate = certify(client, inspector, reference="SR-CODE-1", title="Серьги «Тайга»")
    register(client, inspector, reference="SR-OWN-2", title="Pendant Sayan Dawn")
    register(client, inspector, token=inspector.other_maker, reference="SR-OTHER-3")

    by_reference = text_of(client.get("/inspector/search?q=sr-other"))
    assert "SR-OTHER-3" in by_reference and "SR-OWN-2" not in by_reference

    by_title = text_of(client.get("/inspector/search?q=Sayan Dawn"))
    assert "SR-OWN-2" in by_title and "SR-CODE-1" not in by_title

    typed = certificate["code"].lower()  # canonical: no dashes
    by_code = text_of(client.get(f"/inspector/search?q={typed}"))
    assert "SR-CODE-1" in by_code and "SR-OWN-2" not in by_code
    assert certificate["printed_code"] in by_code

    everything = text_of(client.get("/inspector/search"))
    assert everything.index("SR-OTHER-3") < everything.index("SR-CODE-1")  # newest first

    certified = text_of(client.get("/inspector/search?status=certified"))
    assert "SR-CODE-1" in certified and "SR-OWN-2" not in certified
    theirs = text_of(client.get(f"/inspector/search?maker={inspector.other_maker_slug}"))
    assert "SR-OTHER-3" in theirs and "SR-OWN-2" not in theirs

    nothing = client.get("/inspector/search?q=no-such-piece")
    assert nothing.status_code == 200 and "No piece matches." in text_of(nothing)
    bad = client.get("/inspector/search?status=lost")
    assert bad.status_code == 400 and "Choose a status from the list." in text_of(bad)


def test_the_audit_shows_events_and_exports_the_same_csv_as_the_api(client, inspector):
    piece_id, _ = certify(client, inspector)
    register(client, inspector, token=inspector.other_maker)
    page = client.get(f"/inspector/audit?maker={inspector.maker_slug}&type=assay:passed")
    assert page.status_code == 200
    html = text_of(page)
    assert re.findall(r'<tr data-action="([^"]+)"', html) == ["assay:passed"]
    link = re.search(r'href="(/inspector/audit/export\.csv\?[^"]+)"', html).group(1)
    assert "type=assay:passed" in link.replace("%3A", ":")

    query = f"maker={inspector.maker_slug}"
    export = client.get(f"/inspector/audit/export.csv?{query}")
    assert export.status_code == 200
    assert export.mimetype == "text/csv"
    assert "attachment" in export.headers["Content-Disposition"]
    assert export.headers["Cache-Control"] == "no-store"
    # A byte-order mark first, so that Excel keeps Cyrillic (and nothing else differs).
    assert export.get_data().startswith(b"\xef\xbb\xbf")
    lines = export.get_data().decode("utf-8-sig").splitlines()
    assert lines[0] == "index,at,action,actor_role,actor_id,maker,piece,certificate,data,leaf_hash"
    rows = [line for line in lines[1:] if f",{piece_id}," in line]
    assert [row.split(",")[2] for row in rows] == [
        "piece:registered",
        "assay:passed",
        "certificate:issued",
    ]
    api = client.get(f"/api/v1/audit/export.csv?{query}", headers=bearer(inspector.inspector))
    assert export.get_data() == b"\xef\xbb\xbf" + api.get_data()
    # Excel's reading: the first column named as it is, a maker's Cyrillic city intact.
    opened = client.get(f"/inspector/audit/export.csv?{query}").get_data()
    decoded = opened.decode("utf-8-sig")
    assert decoded.startswith("index,") and "Красноярск" in decoded


def test_the_audit_takes_dates_as_whole_days_of_the_regions(client, inspector, app):
    certify(client, inspector)
    today = datetime.now(ZoneInfo(app.config["DISPLAY_TIMEZONE"])).date()
    kept = client.get(f"/inspector/audit?since={today}&until={today}")
    assert kept.status_code == 200
    assert 'data-action="certificate:issued"' in text_of(kept)
    later = today + timedelta(days=2)
    none = client.get(f"/inspector/audit?since={later}")
    assert none.status_code == 200 and "No event matches." in text_of(none)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("since=notadate", "Not a valid datetime."),
        ("until=2026-02-30", "Not a valid datetime."),
        ("since=2026-03-02&until=2026-03-01", "Must be later than since."),
        ("type=piece:eaten", "Must be one of"),
        ("maker=no-such-maker", "No maker has the slug"),
        ("after=-1", "This page link is damaged"),
    ],
)
def test_bad_audit_filters_show_the_form_with_the_error(client, inspector, query, message):
    page = client.get(f"/inspector/audit?{query}")
    assert page.status_code == 400
    assert message in text_of(page)
    assert '<form method="get"' in text_of(page)
    if not query.startswith("after"):
        export = client.get(f"/inspector/audit/export.csv?{query}")
        assert export.status_code == 400
        assert export.mimetype == "text/html"
        assert message in text_of(export)


def test_the_log_page_shows_the_checkpoint_and_the_last_verification(client, inspector, app):
    certify(client, inspector)
    size = client.get("/api/v1/log/checkpoint").json["tree_size"]
    html = text_of(client.get("/inspector/log"))
    assert f"<dd data-checkpoint-size>{size}</dd>" in html
    assert f"<dd data-log-size>{size}</dd>" in html
    assert "<dd data-uncovered>0</dd>" in html
    assert "never verified" in html
    assert "registry log verify" in html
    with app.app_context():
        note = database.session().scalar(select(Checkpoint.note).order_by(Checkpoint.id.desc()))
    assert f'<pre class="signed-note">{escape(note)}</pre>' in html

    now = datetime.now(UTC)
    with app.app_context():
        session = database.session()
        session.add(
            LogVerification(
                checked_at=now - timedelta(hours=1),
                tree_size=size,
                checkpoints=3,
                discrepancies=0,
            )
        )
        session.commit()
    html = text_of(client.get("/inspector/log"))
    assert 'data-verified="passed"' in html and "never verified" not in html

    with app.app_context():
        session = database.session()
        session.add(
            LogVerification(
                checked_at=now,
                tree_size=size,
                checkpoints=3,
                discrepancies=2,
                first="entry 1 (leaf): the stored entry does not hash to its leaf",
            )
        )
        session.commit()
    html = text_of(client.get("/inspector/log"))
    assert 'data-verified="failed"' in html
    assert "Failed: 2 discrepancies" in html
    assert "entry 1 (leaf): the stored entry does not hash to its leaf" in html


def test_a_form_posted_without_its_csrf_token_is_refused(client, inspector):
    piece = register(client, inspector)
    refused = client.post(f"/inspector/pieces/{piece['id']}/assay", data=attest_form())
    assert refused.status_code == 400
    assert "The form has expired" in text_of(refused)
    assert piece_status(client, inspector, piece["id"]) == "awaiting_assay"
    _, certificate = certify(client, inspector)
    forged = client.post(
        f"/inspector/certificates/{certificate['code']}/revoke",
        data={"reason": "fraud", "note": "from another site"},
    )
    assert forged.status_code == 400
    assert client.get(f"/api/v1/verify/{certificate['code']}").json["status"] == "valid"


def _token(client, path: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', text_of(client.get(path)))
    assert found, path
    return found.group(1)


@pytest.mark.parametrize("language", ["en", "ru"])
def test_the_audit_and_the_history_name_people_and_makers(app, client, inspector, language):
    piece_id, _ = certify(client, inspector)
    with app.app_context():
        session = database.session()
        people = {
            role: account.display_name or account.email
            for role, account in (
                (role, session.scalars(select(Account).where(Account.email == email)).one())
                for role, email in (
                    ("inspector", "inspector@test.example"),
                    ("maker", "maker@test.example"),
                )
            )
        }
        maker = session.scalars(select(Maker).where(Maker.slug == inspector.maker_slug)).one()
        maker_name = maker.name_en if language == "en" else maker.name_ru
    audit = text_of(client.get(f"/inspector/audit?maker={inspector.maker_slug}&lang={language}"))
    history = text_of(client.get(f"/inspector/pieces/{piece_id}?lang={language}"))

    for page in (audit, history):
        assert str(escape(people["inspector"])) in page
        assert str(escape(people["maker"])) in page
        assert not re.search(r'<span class="small">#\d+</span>', page)
    assert str(escape(maker_name)) in audit


@pytest.mark.parametrize("language", ["en", "ru"])
def test_a_correction_is_reviewed_old_beside_new_then_reissued(client, inspector, language):
    piece_id, certificate = certify(client, inspector)
    old = certificate["code"]
    path = f"/inspector/pieces/{piece_id}"
    page = text_of(client.get(f"{path}?lang={language}"))
    assert f'action="/inspector/certificates/{old}/reissue"' in page
    assert {"en": "Now: 3.42 g", "ru": "Сейчас: 3,42 г"}[language] in page

    review = post_form(
        client,
        f"/inspector/certificates/{old}/reissue",
        {"weight_g": "3,5" if language == "ru" else "3.5", "title": "", "note": "Weighed again."},
        form_page=path,
    )

    assert review.status_code == 200
    html = text_of(review)
    rows = re.findall(
        r'<tr data-field="([a-z_]+)"><th scope="row">[^<]+</th>'
        r'<td dir="auto">([^<]*)</td><td dir="auto"><strong>([^<]*)</strong>',
        html,
    )
    grams = {"en": ("3.42 g", "3.50 g"), "ru": ("3,42 г", "3,50 г")}[language]
    assert rows == [("weight_g", *grams)]  # only what changes, old beside new
    verdict = client.get(f"/api/v1/verify/{old}").json
    assert verdict["status"] == "valid"  # nothing issued until confirmed

    confirm = re.search(r'<form method="post" action="([^"]+/reissue)">(.*?)</form>', html, re.S)
    fields = dict(
        re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', confirm.group(2))
    )
    assert fields["confirm"] == "yes"
    done = client.post(confirm.group(1), data=fields)

    assert done.status_code == 303
    assert client.get(f"/api/v1/verify/{old}").json["status"] == "superseded"
    shown = text_of(client.get(path))
    said = {
        "en": "Certificate {} is issued; it supersedes",
        "ru": "Выдан сертификат {}; он заменяет",
    }
    new = re.search(said[language].format("(YS-[0-9A-Z-]+)"), shown).group(1)
    current = client.get(f"/api/v1/verify/{codes.parse(new).code}").json
    assert current["status"] == "valid"
    assert current["certificate"]["piece"]["weight_g"] == 3.5


def test_a_reissue_that_changes_nothing_or_lacks_its_reason_is_refused_on_the_page(
    client, inspector
):
    piece_id, certificate = certify(client, inspector)
    old = certificate["code"]
    path = f"/inspector/pieces/{piece_id}"
    same = post_form(
        client,
        f"/inspector/certificates/{old}/reissue",
        {"weight_g": "3.42", "note": "Checked."},
        form_page=path,
    )
    no_reason = post_form(
        client, f"/inspector/certificates/{old}/reissue", {"title": "Кольцо II"}, form_page=path
    )

    assert same.status_code == 422
    assert "Type the new value of at least one field." in text_of(same)
    assert no_reason.status_code == 422
    assert 'id="e-note"' in text_of(no_reason)
    assert 'value="Кольцо II"' in text_of(no_reason)  # what was typed is kept
    assert client.get(f"/api/v1/verify/{old}").json["status"] == "valid"


def test_a_reissue_review_names_stones_in_the_page_s_language(client, inspector):
    piece_id, certificate = certify(client, inspector)
    path = f"/inspector/pieces/{piece_id}"
    client.get(f"{path}?lang=ru")
    review = post_form(
        client,
        f"/inspector/certificates/{certificate['code']}/reissue",
        {"stones": "сапфир:2:0,4", "note": "Камни перепутаны."},
        form_page=path,
    )

    assert review.status_code == 200
    row = re.search(r'<tr data-field="stones">(.*?)</tr>', text_of(review), re.S).group(1)
    assert "бриллиант × 3, 0,15 кар." in row and "сапфир × 2, 0,40 кар." in row
    assert " ct" not in row


@pytest.mark.parametrize("language", ["en", "ru"])
def test_a_makers_waiting_pieces_are_ticked_and_attested_as_a_batch(client, inspector, language):
    """From the queue to a maker's batch: the pieces ticked get the findings confirmed
    once, each passes or is refused on its own, and the report says which."""
    client.set_cookie("lang", language)
    gold = [register(client, inspector, reference=f"B-GOLD-{n}") for n in range(3)]
    silver = register(client, inspector, reference="B-SILVER", metal="silver", fineness=925)
    untouched = register(client, inspector, reference="B-LATER")
    register(client, inspector, token=inspector.other_maker, reference="B-OTHER")

    queue = text_of(client.get("/inspector/"))
    assert 'href="/inspector/batch"' in queue
    makers = text_of(client.get("/inspector/batch"))
    assert f'href="/inspector/batch?maker={inspector.maker_slug}"' in makers
    assert f'href="/inspector/batch?maker={inspector.other_maker_slug}"' in makers
    path = f"/inspector/batch?maker={inspector.maker_slug}"
    page = text_of(client.get(path))
    assert "B-OTHER" not in page  # one maker's pieces only
    form = page[page.index('name="maker"') :]
    # Nothing found is filled in, as on a piece's own form.
    assert " selected" not in form[: form.index('name="inspectorate"')]
    assert " checked" not in form

    ticked = [p["id"] for p in gold] + [silver["id"]]
    left_blank = post_form(
        client,
        "/inspector/batch",
        {"maker": inspector.maker_slug, "piece": ticked, **attest_form(result="", metal="")},
        form_page=path,
    )
    assert left_blank.status_code == 422
    kept = text_of(left_blank)
    assert all(f'value="{i}" id="p-{i}" checked' in kept for i in ticked)
    assert piece_status(client, inspector, gold[0]["id"]) == "awaiting_assay"
    none_ticked = post_form(
        client, "/inspector/batch", {"maker": inspector.maker_slug, **attest_form()}, form_page=path
    )
    assert none_ticked.status_code == 422
    assert {"en": "Tick the pieces", "ru": "Отметьте изделия"}[language] in text_of(none_ticked)

    done = post_form(
        client,
        "/inspector/batch",
        {"maker": inspector.maker_slug, "piece": ticked, **attest_form()},
        form_page=path,
    )
    assert done.status_code == 200
    report = text_of(done)
    summary = {
        "en": "Passed: 3 · failed: 0 · refused: 1.",
        "ru": "Прошли: 3 · не прошли: 0 · отклонено: 1.",
    }
    assert summary[language] in report
    refused = re.search(r'data-piece="B-SILVER" data-status="rejected">(.*?)</tr>', report, re.S)
    declared = {"en": "Declared metal is silver.", "ru": "Заявлен металл: серебро."}
    assert declared[language] in refused.group(1)
    for piece in gold:
        row = re.search(
            rf'data-piece="{piece["reference"]}" data-status="passed">(.*?)</tr>', report, re.S
        )
        code = re.search(r"YS-[0-9A-Z-]+", row.group(1)).group(0)
        assert client.get(f"/api/v1/verify/{code}").json["status"] == "valid"
    assert piece_status(client, inspector, silver["id"]) == "awaiting_assay"
    assert piece_status(client, inspector, untouched["id"]) == "awaiting_assay"
