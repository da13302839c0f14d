"""The posko officers' page (/posko/) in a real browser (Debian's Chromium, Playwright), through
the gateway, against the running stack: a walk-in registered end to end, ten walk-ins recorded
without a connection and sent once it returns (exactly once each, even when answers are lost),
a refusal shown with its field errors, a CSV upload with a bad row, and an axe-core scan of
every view (no violation of moderate impact or worse).

Screenshots at tablet and phone size go to reports/screenshots/ (ignored by git); the README's
copies are in docs/screenshots/. GELOMBANG_WEB_URL points the page at another gateway (the
officer keys and the checks still use the stack's own on 8080).
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import random
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

# No stubs or py.typed in axe-playwright-python; Axe().run(page).response is the axe JSON.
from axe_playwright_python.async_playwright import Axe  # type: ignore[import-untyped]
from playwright.async_api import Browser, BrowserContext, FilePayload, Page, Route, expect

from gelombang.pii import PiiCipher
from gelombang.settings import AdminSettings, CommonSettings
from loadtests.officer import provision_officer
from services.assisted.service import REQUIRED_COLUMNS
from testkit.population import Citizen, random_citizen
from tests.e2e.conftest import SHOTS
from tests.e2e.test_web import GATEWAY, fill_domicile_and_work, phone_page
from tests.integration.conftest import eventually

pytestmark = pytest.mark.e2e

BASE = os.environ.get("GELOMBANG_WEB_URL", GATEWAY).rstrip("/")
POSKO = f"{BASE}/posko/"
REGISTRATIONS = "/api/v1/assisted/registrations"
# Generous: the stack may be busy with other suites; a passing check returns at once anyway.
WAIT_MS = 30_000
BAD_IMPACTS = ("moderate", "serious", "critical")

# The device's queue, read as the page stores it (only after the page has opened it).
READ_QUEUE = """() => new Promise((resolve, reject) => {
  const open = indexedDB.open("gelombang-posko");
  open.onerror = () => reject(open.error);
  open.onsuccess = () => {
    const read = open.result.transaction("entries").objectStore("entries").getAll();
    read.onsuccess = () => { open.result.close(); resolve(read.result); };
    read.onerror = () => reject(read.error);
  };
})"""


class Officer:
    """A fresh posko and its officer, made the way an admin makes them (admin API)."""

    def __init__(self, key: str, posko_id: str, officer_id: str) -> None:
        self.key = key
        self.posko_id = posko_id
        self.officer_id = officer_id

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@pytest.fixture
async def officer() -> Officer:
    made = await asyncio.to_thread(provision_officer, GATEWAY, posko_name="Posko Uji Halaman")
    return Officer(made.api_key, made.posko_id, made.officer_id)


@pytest.fixture
async def db() -> AsyncIterator[tuple[asyncpg.Pool, PiiCipher]]:
    settings = CommonSettings()
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=2)
    yield pool, PiiCipher(settings.nik_hmac_key_bytes, settings.pii_key_bytes)
    await pool.close()


async def listed(officer: Officer) -> dict[str, dict[str, Any]]:
    """What the API lists for the officer's posko (the page's list uses the same endpoint)."""
    async with httpx.AsyncClient(base_url=GATEWAY, timeout=15) as client:
        response = await client.get(REGISTRATIONS, headers=officer.headers, params={"limit": 500})
    assert response.status_code == 200, response.text
    return {item["registration_id"]: item for item in response.json()["items"]}


async def tablet_page(browser: Browser) -> Page:
    context = await browser.new_context(
        viewport={"width": 820, "height": 1180}, is_mobile=True, has_touch=True
    )
    return await context.new_page()


async def assert_accessible(page: Page, view: str) -> None:
    results = await Axe().run(page)
    bad = [v for v in results.response["violations"] if v.get("impact") in BAD_IMPACTS]
    found = "; ".join(
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:5]}" for v in bad
    )
    assert not bad, f"axe, view '{view}': {found}"


# Script errors and Content-Security-Policy refusals seen by each page, checked at close().
PROBLEMS: dict[Page, list[str]] = {}


def watch(page: Page) -> None:
    if page in PROBLEMS:
        return
    seen = PROBLEMS[page] = []
    page.on("pageerror", lambda error: seen.append(f"script error: {error}"))
    page.on(
        "console",
        lambda message: (
            seen.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )


async def open_page(page: Page) -> None:
    watch(page)
    await page.goto(POSKO)


async def sign_in(page: Page, officer: Officer) -> None:
    await open_page(page)
    await page.get_by_label("Kunci API petugas").fill(officer.key)
    await page.get_by_role("button", name="Masuk").click()
    await expect(page.get_by_role("heading", name="Daftarkan pendaftar walk-in")).to_be_visible(
        timeout=WAIT_MS
    )


async def fill_walk_in(page: Page, citizen: Citizen, *, phone: str = "", email: str = "") -> None:
    await page.get_by_label("NIK (16 angka, sesuai KTP)").fill(citizen.nik)
    await page.get_by_label("Nama lengkap sesuai KTP").fill(citizen.full_name)
    # Read from the NIK, already there for the officer to check against the KTP.
    await expect(page.get_by_label("Tanggal lahir")).to_have_value(citizen.birth_date.isoformat())
    await page.get_by_label("Nomor HP pendaftar").fill(phone)
    await page.get_by_label("Email pendaftar").fill(email)
    await fill_domicile_and_work(page, citizen)
    await page.get_by_label("Pendaftar menyatakan datanya benar", exact=False).check()
    await page.get_by_label("Saya, petugas, sudah melihat KTP asli", exact=False).check()


async def save(page: Page) -> None:
    await page.get_by_role("button", name="Simpan dan kirim").click()
    await expect(page.get_by_role("heading", name="Hasil pendaftaran")).to_be_visible()


async def queue_of(page: Page) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = await page.evaluate(READ_QUEUE)
    return entries


async def close(page: Page) -> None:
    problems = PROBLEMS.pop(page, [])
    context: BrowserContext = page.context
    await context.close()
    assert not problems, problems


@pytest.fixture
async def page(browser: Browser, officer: Officer) -> AsyncIterator[Page]:
    """The page on a phone, the officer signed in; closed (and checked) after the test."""
    page = await phone_page(browser)
    await sign_in(page, officer)
    yield page
    await close(page)


async def test_the_gateway_serves_every_posko_address_under_a_strict_policy() -> None:
    """Passes once `make up` has loaded deploy/gateway/nginx.conf.template into the gateway."""
    async with httpx.AsyncClient(base_url=BASE, timeout=15) as client:
        for path in ("/posko/", "/posko/hari-ini", "/posko/hasil?e=x", "/posko/unggah"):
            page = await client.get(path)
            assert page.status_code == 200, path
            assert 'src="/posko/app.js"' in page.text, path
            policy = page.headers["content-security-policy"]
            for rule in ("script-src 'self'", "object-src 'none'", "frame-ancestors 'none'"):
                assert rule in policy, (path, policy)
            assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
            assert page.headers["cache-control"] == "no-cache"
        # A missing module is a 404, never the page's HTML; the bare address gets its slash.
        assert (await client.get("/posko/missing.js")).status_code == 404
        bare = await client.get("/posko")
        assert bare.status_code == 301 and bare.headers["location"] == "/posko/"


# -----------------------------------------------------------------------------------------------


async def test_a_walk_in_is_registered_end_to_end_and_gets_a_slip(
    browser: Browser, officer: Officer
) -> None:
    page = await tablet_page(browser)
    await open_page(page)
    await expect(page.get_by_role("heading", name="Masuk petugas posko")).to_be_visible()
    await assert_accessible(page, "sign-in")
    await page.screenshot(path=SHOTS / "posko-sign-in-tablet.png", full_page=True)

    # A wrong key is refused before any work is done, next to the field.
    await page.get_by_label("Kunci API petugas").fill("gpk_not-a-real-key")
    await page.get_by_role("button", name="Masuk").click()
    await expect(page.locator("#key-error")).to_have_text(
        re.compile("tidak dikenal atau sudah dicabut")
    )
    await expect(page.get_by_label("Kunci API petugas")).to_have_attribute("aria-invalid", "true")
    await assert_accessible(page, "sign-in, key refused")

    await sign_in(page, officer)
    # The key lives in this tab's session only: never in the address or in lasting storage.
    assert officer.key not in page.url
    assert await page.evaluate("sessionStorage.getItem('gelombang.posko.key')") == officer.key
    lasting = await page.evaluate("JSON.stringify(Object.assign({}, localStorage))")
    assert officer.key not in lasting

    # Nothing filled in: every mistake listed and marked, as on the public page.
    await page.get_by_role("button", name="Simpan dan kirim").click()
    await expect(page.locator("#summary")).to_be_focused()
    await expect(page.locator("#attested_id_card_seen-error")).to_have_text(
        "Petugas wajib menyatakan telah melihat KTP asli pendaftar."
    )
    await expect(page.locator("#nik")).to_have_attribute("aria-invalid", "true")
    await assert_accessible(page, "form with errors")
    await page.screenshot(path=SHOTS / "posko-form-errors-tablet.png", full_page=True)

    citizen = random_citizen(random.Random())
    await page.reload()  # a clean form (the officer stays signed in: same tab session)
    await fill_walk_in(page, citizen)
    await assert_accessible(page, "form filled")
    await page.screenshot(path=SHOTS / "posko-form-tablet.png", full_page=True)
    await save(page)

    await expect(page.locator("#answer-state")).to_have_text("Diterima server", timeout=WAIT_MS)
    await expect(page.locator("#answer-nik")).to_have_text(f"NIK ****{citizen.nik[-4:]}")
    registration_id = (await page.locator("#answer-registration").text_content() or "").strip()
    code = (await page.locator("#answer-code").text_content() or "").replace(" ", "")
    link = await page.locator("#status-link").input_value()
    assert link.endswith(f"/status#id={registration_id}&t={code}")
    await assert_accessible(page, "answer, accepted")
    await page.screenshot(path=SHOTS / "posko-accepted-tablet.png", full_page=True)

    # The status code on the slip opens the person's own status (the public status API).
    async with httpx.AsyncClient(base_url=GATEWAY, timeout=15) as client:
        status = await client.get(
            f"/api/v1/registrations/{registration_id}", headers={"X-Status-Token": code}
        )
    assert status.status_code == 200, status.text

    # The slip is what a printer gets: the code, nothing of the page around it.
    await page.emulate_media(media="print")
    await expect(page.locator("#slip")).to_be_visible()
    await expect(page.locator("#slip-code")).to_have_text(
        await page.locator("#answer-code").text_content() or ""
    )
    await expect(page.locator("#nav")).to_be_hidden()
    await expect(page.locator("#answer-state")).to_be_hidden()
    await page.screenshot(path=SHOTS / "posko-slip-print.png", full_page=True)
    await page.emulate_media(media="screen")

    # Registered at the server for this posko, and the page kept nothing personal.
    assert registration_id in await listed(officer)
    queue = await queue_of(page)
    assert [(e["state"], e["registrationId"], e["payload"]) for e in queue] == [
        ("accepted", registration_id, None)
    ]
    stored = json.dumps(queue)
    for personal in (citizen.nik, citizen.full_name, citizen.birth_date.isoformat()):
        assert personal not in stored

    # Today's list, with the state the read model reaches (the projector may take a moment).
    await page.get_by_role("link", name="Entri hari ini").click()
    item = page.locator(f'li[data-registration-id="{registration_id}"]')
    await expect(item).to_contain_text(f"****{citizen.nik[-4:]}", timeout=WAIT_MS)
    await expect(item).to_contain_text("Diterima server")

    async def projected() -> dict[str, Any] | None:
        entry = (await listed(officer)).get(registration_id)
        return entry if entry and entry["nik_last4"] == citizen.nik[-4:] else None

    await eventually(projected, every_s=0.5)
    await assert_accessible(page, "today")
    await page.screenshot(path=SHOTS / "posko-today-tablet.png", full_page=True)

    # The whole page switches language, the server's states too.
    await page.get_by_role("button", name="Switch to English").click()
    await expect(page.get_by_role("heading", name="Today's entries")).to_be_visible()
    await expect(item).to_contain_text("Accepted by the server")
    await assert_accessible(page, "today, English")
    await page.get_by_role("button", name="Ganti ke Bahasa Indonesia").click()
    await close(page)


async def test_ten_walk_ins_recorded_offline_are_each_registered_once(
    page: Page, officer: Officer, db: tuple[asyncpg.Pool, PiiCipher]
) -> None:
    # The page's files are cached by its service worker: it opens without a connection too.
    await page.evaluate("navigator.serviceWorker.ready.then(() => true)")

    # Two answers are lost on the way back (the server registered, the page never heard): the
    # page must send those entries again with the same key, not register the people twice.
    posts: list[str] = []
    lost = 0

    async def lose_two_answers(route: Route) -> None:
        nonlocal lost
        posts.append(await route.request.header_value("idempotency-key") or "")
        if route.request.method == "POST" and lost < 2:
            lost += 1
            await route.fetch()
            await route.abort("connectionreset")
            return
        await route.continue_()

    await page.route(f"**{REGISTRATIONS}", lose_two_answers)

    await page.context.set_offline(True)
    people = [random_citizen(random.Random()) for _ in range(10)]
    for number, citizen in enumerate(people, start=1):
        await fill_walk_in(page, citizen)
        await save(page)
        await expect(page.locator("#answer-state")).to_have_text(
            "Tersimpan di perangkat ini, belum terkirim"
        )
        await expect(page.locator("#answer-text")).to_contain_text("Tidak ada koneksi")
        if number == 1:
            await assert_accessible(page, "answer, saved offline")
            await page.screenshot(path=SHOTS / "posko-saved-offline-phone.png", full_page=True)
        await page.get_by_role("link", name="Daftarkan pendaftar berikutnya").click()
        await expect(page.get_by_label("NIK (16 angka, sesuai KTP)")).to_have_value("")
    assert posts == []

    queue_line = page.locator("#queue")
    await expect(queue_line).to_have_text(
        "Di perangkat ini: 10 belum terkirim, 0 menunggu jawaban server."
    )
    await expect(page.locator("#conn")).to_have_text("Tidak ada koneksi")
    # A reload (or a crashed browser) without a connection: the page and its queue are back.
    await page.reload()
    await expect(queue_line).to_have_text(
        "Di perangkat ini: 10 belum terkirim, 0 menunggu jawaban server.", timeout=WAIT_MS
    )
    await page.get_by_role("link", name="Entri hari ini").click()
    await expect(page.locator('#today-list li[data-state="saved"]')).to_have_count(10)
    await assert_accessible(page, "today, offline")
    await page.screenshot(path=SHOTS / "posko-today-offline-phone.png", full_page=True)
    saved = await queue_of(page)
    keys = {e["id"] for e in saved}
    assert len(keys) == 10 and all(e["payload"] for e in saved)

    await page.context.set_offline(False)
    await expect(queue_line).to_have_text("Semua entri sudah terkirim.", timeout=60_000)
    await expect(page.locator('#today-list li[data-state="accepted"]')).to_have_count(
        10, timeout=WAIT_MS
    )
    await page.screenshot(path=SHOTS / "posko-today-phone.png", full_page=True)

    # Every request carried one of the keys given at save time; two were sent again.
    assert lost == 2 and set(posts) == keys and len(posts) >= 12
    receipts = await queue_of(page)
    assert {e["state"] for e in receipts} == {"accepted"}
    assert all(e["payload"] is None for e in receipts)
    ids = {e["registrationId"] for e in receipts}
    assert len(ids) == 10

    # Exactly ten registrations for this posko, and for these ten people in the whole system.
    assert set(await listed(officer)) == ids
    pool, cipher = db

    async def ten_projected() -> int | None:
        count = await pool.fetchval(
            "SELECT count(*) FROM registrations WHERE nik_hash = ANY($1::text[])",
            [cipher.nik_hash(c.nik) for c in people],
        )
        return int(count) if count == 10 else None

    assert await eventually(ten_projected, every_s=0.5) == 10
    rows = await pool.fetch(
        "SELECT registration_id FROM registrations WHERE nik_hash = ANY($1::text[])",
        [cipher.nik_hash(c.nik) for c in people],
    )
    assert {str(r["registration_id"]) for r in rows} == ids


async def test_a_refused_walk_in_shows_the_field_errors_and_can_be_fixed(
    page: Page, officer: Officer
) -> None:
    citizen = random_citizen(random.Random())
    # Both pass the browser's checks and are refused by the API: two dots in a row, and a
    # toll-free (not mobile) number.
    await fill_walk_in(page, citizen, phone="08001234567", email="budi..santoso@example.com")
    await save(page)

    await expect(page.locator("#answer-state")).to_have_text("Ditolak server", timeout=WAIT_MS)
    reasons = page.locator("#answer-errors li")
    await expect(reasons).to_have_count(2)
    await expect(reasons.filter(has_text="Email pendaftar:")).to_have_count(1)
    await expect(reasons.filter(has_text="Nomor HP pendaftar:")).to_have_count(1)
    await assert_accessible(page, "answer, refused")
    await page.screenshot(path=SHOTS / "posko-refused-phone.png", full_page=True)

    await page.get_by_role("button", name="Switch to English").click()
    await expect(reasons.filter(has_text="Walk-in's email:")).to_contain_text(
        "The email address is not valid"
    )
    await page.get_by_role("button", name="Ganti ke Bahasa Indonesia").click()

    # Fixing: the form comes back with the data and the server's errors at their fields.
    await page.get_by_role("button", name="Perbaiki data").click()
    await expect(page.locator("#fixing")).to_be_visible()
    await expect(page.get_by_label("NIK (16 angka, sesuai KTP)")).to_have_value(citizen.nik)
    await expect(page.locator("#email-error")).not_to_be_empty()
    await expect(page.locator("#phone-error")).not_to_be_empty()
    await expect(page.get_by_label("Email pendaftar")).to_have_attribute("aria-invalid", "true")
    await assert_accessible(page, "form, fixing a refused entry")
    await page.get_by_label("Email pendaftar").fill("")
    await page.get_by_label("Nomor HP pendaftar").fill("081234567890")
    await page.get_by_label("Pendaftar menyatakan datanya benar", exact=False).check()
    await page.get_by_label("Saya, petugas, sudah melihat KTP asli", exact=False).check()
    await save(page)
    await expect(page.locator("#answer-state")).to_have_text("Diterima server", timeout=WAIT_MS)

    # The refused entry was replaced, not kept next to the accepted one.
    queue = await queue_of(page)
    assert [e["state"] for e in queue] == ["accepted"]
    assert len(await listed(officer)) == 1


async def test_a_busy_server_is_waited_for_as_it_asks_and_send_now_tries_at_once(
    page: Page,
) -> None:
    answers: list[int] = []

    async def busy_once(route: Route) -> None:
        if route.request.method == "POST" and not answers:
            answers.append(503)
            await route.fulfill(
                status=503,
                headers={"Retry-After": "120", "Content-Type": "application/json"},
                body=json.dumps(
                    {
                        "detail": "busy",
                        "errors": [
                            {"field": None, "code": "service_unavailable", "message": "busy"}
                        ],
                    }
                ),
            )
            return
        answers.append(0)
        await route.continue_()

    await page.route(f"**{REGISTRATIONS}", busy_once)
    await fill_walk_in(page, random_citizen(random.Random()))
    await save(page)
    # Told to come back in two minutes: the page says so and does not send meanwhile.
    await expect(page.locator("#answer-text")).to_contain_text(
        "Belum diterima: server sedang ramai", timeout=WAIT_MS
    )
    await expect(page.locator("#answer-state")).to_have_text(
        "Tersimpan di perangkat ini, belum terkirim"
    )
    await expect(page.locator("#queue")).to_contain_text("Dicoba lagi sekitar pukul")
    await assert_accessible(page, "answer, waiting for a busy server")
    await page.screenshot(path=SHOTS / "posko-waiting-phone.png", full_page=True)
    assert answers == [503]
    await page.get_by_role("button", name="Kirim sekarang").click()
    await expect(page.locator("#answer-state")).to_have_text("Diterima server", timeout=WAIT_MS)
    assert answers == [503, 0]

    # Signing out with nothing left to send: the key is gone, and so is the menu.
    await page.get_by_role("button", name="Keluar").click()
    await expect(page.get_by_role("heading", name="Masuk petugas posko")).to_be_visible()
    await expect(page.locator("#nav")).to_be_hidden()
    assert await page.evaluate("sessionStorage.length") == 0


def csv_row(citizen: Citizen, **overrides: str) -> list[str]:
    row = {
        "nik": citizen.nik,
        "full_name": citizen.full_name,
        "birth_date": citizen.birth_date.isoformat(),
        "province_code": citizen.province_code,
        "regency_code": citizen.regency_code,
        "employment_status": "laid_off",
        "in_formal_education": "tidak",
        "receives_social_aid": "tidak",
        "consent": "ya",
        "attested_id_card_seen": "ya",
        **overrides,
    }
    return [row[c] for c in REQUIRED_COLUMNS]


def csv_file(name: str, data: bytes) -> FilePayload:
    return {"name": name, "mimeType": "text/csv", "buffer": data}


async def test_a_csv_upload_shows_progress_and_its_bad_rows(
    browser: Browser, officer: Officer, tmp_path: Path
) -> None:
    page = await tablet_page(browser)
    await sign_in(page, officer)
    await page.get_by_role("link", name="Unggah CSV").click()
    await expect(page.get_by_role("heading", name="Unggah berkas CSV")).to_be_visible()
    await assert_accessible(page, "batch")

    # No file chosen, then a file whose header is wrong: said at the file field.
    await page.get_by_role("button", name="Unggah").click()
    await expect(page.locator("#batch-file-error")).to_have_text(
        "Pilih berkas CSV terlebih dahulu."
    )
    await page.get_by_label("Berkas CSV").set_input_files(
        files=csv_file("salah.csv", b"nama,umur\nBudi,30\n")
    )
    await page.get_by_role("button", name="Unggah").click()
    await expect(page.locator("#batch-file-error")).to_contain_text("Berkas ditolak seluruhnya")
    await expect(page.locator("#batch-file-error")).to_contain_text("nama")
    await assert_accessible(page, "batch, file refused")

    good = [random_citizen(random.Random()) for _ in range(3)]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(REQUIRED_COLUMNS)
    writer.writerow(csv_row(good[0]))
    writer.writerow(csv_row(random_citizen(random.Random()), nik="12345"))  # spreadsheet row 3
    writer.writerow(csv_row(good[1]))
    writer.writerow(csv_row(good[2]))
    await page.get_by_label("Berkas CSV").set_input_files(
        files=csv_file("walk-ins.csv", out.getvalue().encode())
    )
    await page.get_by_role("button", name="Unggah").click()
    await expect(page.locator("#batch-accepted")).to_have_text(
        "Berkas diterima: 4 baris, 1 baris tidak valid. Baris yang valid sedang dikirim.",
        timeout=WAIT_MS,
    )
    await expect(page.locator("#batch-state")).to_have_text("Selesai.", timeout=60_000)
    await expect(page.locator("#batch-progress")).to_have_attribute("value", "100")
    await expect(page.locator('tr[data-count="accepted"] td')).to_have_text("3")
    await expect(page.locator('tr[data-count="invalid"] td')).to_have_text("1")

    report = page.locator("#report-table tbody tr")
    await expect(report).to_have_count(1)
    await expect(report.first.locator("td").nth(0)).to_have_text("3")
    await expect(report.first.locator("td").nth(1)).to_have_text("nik")
    await expect(report.first.locator("td").nth(2)).to_have_text("nik_format")
    await assert_accessible(page, "batch, done with a bad row")
    await page.screenshot(path=SHOTS / "posko-batch-tablet.png", full_page=True)

    async with page.expect_download() as download_info:
        await page.get_by_role("button", name="Unduh laporan kesalahan (CSV)").click()
    download = await download_info.value
    saved = tmp_path / download.suggested_filename
    await download.save_as(saved)
    lines = list(csv.DictReader(io.StringIO(saved.read_text(encoding="utf-8-sig"))))
    assert [(line["row"], line["field"], line["code"]) for line in lines] == [
        ("3", "nik", "nik_format")
    ]
    assert lines[0]["message"]

    # The batch's people are in today's list of this posko, marked as from the upload.
    await page.get_by_role("link", name="Entri hari ini").click()
    await expect(page.locator("#today-list li", has_text="unggahan CSV")).to_have_count(
        3, timeout=WAIT_MS
    )
    await close(page)


async def test_phone_size_views_for_the_readme(browser: Browser, officer: Officer) -> None:
    """The form and the batch view on a phone (the tablet ones come from the tests above)."""
    page = await phone_page(browser)
    await open_page(page)
    await page.screenshot(path=SHOTS / "posko-sign-in-phone.png", full_page=True)
    await sign_in(page, officer)
    await fill_walk_in(page, random_citizen(random.Random()))
    await page.screenshot(path=SHOTS / "posko-form-phone.png", full_page=True)
    await save(page)
    await expect(page.locator("#answer-state")).to_have_text("Diterima server", timeout=WAIT_MS)
    await page.screenshot(path=SHOTS / "posko-accepted-phone.png", full_page=True)
    await page.get_by_role("link", name="Unggah CSV").click()
    await expect(page.get_by_role("heading", name="Unggah berkas CSV")).to_be_visible()
    await assert_accessible(page, "batch, phone")
    await page.screenshot(path=SHOTS / "posko-batch-phone.png", full_page=True)
    await close(page)


async def test_a_revoked_key_stops_the_queue_and_a_new_key_takes_it_over(
    page: Page, officer: Officer
) -> None:
    admin = {"Authorization": f"Bearer {AdminSettings().effective_admin_token}"}
    async with httpx.AsyncClient(base_url=GATEWAY, timeout=15) as client:
        revoked = await client.post(
            f"/api/v1/assisted/admin/officers/{officer.officer_id}/revoke", headers=admin
        )
    assert revoked.status_code == 200, revoked.text

    # The entry is saved; the server refuses the key: back to sign-in, the entry kept unsent.
    citizen = random_citizen(random.Random())
    await fill_walk_in(page, citizen)
    await page.get_by_role("button", name="Simpan dan kirim").click()
    await expect(page.get_by_role("heading", name="Masuk petugas posko")).to_be_visible(
        timeout=WAIT_MS
    )
    await expect(page.locator("#banner")).to_contain_text("Server menolak kunci petugas Anda")
    assert await page.evaluate("sessionStorage.getItem('gelombang.posko.key')") is None
    [kept] = await queue_of(page)
    assert kept["state"] == "saved" and kept["payload"]["nik"] == citizen.nik
    await assert_accessible(page, "sign-in after the key was refused")

    # A colleague's (or a new) key: the entry is offered, never sent silently as theirs.
    colleague = await asyncio.to_thread(provision_officer, GATEWAY, posko_id=officer.posko_id)
    await page.get_by_label("Kunci API petugas").fill(colleague.api_key)
    await page.get_by_role("button", name="Masuk").click()
    await expect(page.locator("#banner")).to_contain_text("disimpan dengan kunci petugas lain")
    await expect(page.locator("#queue")).to_have_text("Semua entri sudah terkirim.")
    await page.get_by_role("button", name="Saya yang mencatatnya", exact=False).click()
    await expect(page.locator("#banner")).to_be_empty()

    async def accepted() -> dict[str, Any] | None:
        [entry] = await queue_of(page)
        return entry if entry["state"] == "accepted" else None

    sent = await eventually(accepted, timeout_s=WAIT_MS / 1000, every_s=0.5)
    assert sent["payload"] is None
    listed_now = await listed(Officer(colleague.api_key, officer.posko_id, colleague.officer_id))
    assert sent["registrationId"] in listed_now
