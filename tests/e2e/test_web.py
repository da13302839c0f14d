"""The sign-up page in a real browser (Debian's Chromium driven by Playwright), through the
gateway: what a person on a phone sees, from the form to `verified`, and the waiting room.

Screenshots go to reports/screenshots/ (ignored by git) so a failure can be looked at.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, Request, Route, expect

from loadtests.processes import registration_api
from testkit.population import Citizen, random_citizen
from testkit.simulators.mail_sink import find_messages
from tests.e2e.conftest import SHOTS

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
GATEWAY = "http://127.0.0.1:8080"
MAILDIR = REPO / ".run" / "mail"
LINK = re.compile(r"https?://\S+/api/v1/contact/verify\?token=[A-Za-z0-9_\-]+")


async def phone_page(browser: Browser) -> Page:
    context = await browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    return await context.new_page()


async def fill_domicile_and_work(page: Page, citizen: Citizen) -> None:
    """The part of the form that the public page and the posko page ask alike."""
    await page.get_by_label("Provinsi tempat tinggal sekarang").select_option(citizen.province_code)
    await page.get_by_label("Kabupaten/kota tempat tinggal sekarang").select_option(
        citizen.regency_code
    )
    await page.get_by_label("Status pekerjaan").select_option("laid_off")
    await page.locator('input[name="in_formal_education"][value="false"]').check()
    await page.locator('input[name="receives_social_aid"][value="false"]').check()


async def fill_form(page: Page, citizen: Citizen, email: str) -> None:
    await page.get_by_label("NIK (16 angka, lihat KTP)").fill(citizen.nik)
    await page.get_by_label("Nama lengkap sesuai KTP").fill(citizen.full_name)
    # The birth date is read from the NIK, so it is already there for the person to check.
    await expect(page.get_by_label("Tanggal lahir")).to_have_value(citizen.birth_date.isoformat())
    await page.get_by_label("Email (tidak wajib jika nomor HP diisi)").fill(email)
    await fill_domicile_and_work(page, citizen)
    await page.get_by_label("Saya menyatakan data di atas benar", exact=False).check()


async def filled_form(browser: Browser, citizen: Citizen, email: str = "", phone: str = "") -> Page:
    """The sign-up page on a phone, through the gateway, filled in for ``citizen``."""
    page = await phone_page(browser)
    await page.goto(GATEWAY)
    await fill_form(page, citizen, email)
    if phone:
        await page.get_by_label("Nomor HP (tidak wajib jika email diisi)").fill(phone)
    return page


async def send_sign_up(page: Page) -> None:
    """Sends the form and waits for the status page it leads to."""
    await page.get_by_role("button", name="Kirim pendaftaran").click()
    # Generous: the page retries by itself when the site or this address is busy.
    await page.wait_for_url(re.compile(r"/status#id=.+&t=.+"), timeout=120_000)


async def mail_link(email: str, timeout_s: float = 60) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for message in await asyncio.to_thread(find_messages, MAILDIR, email):
            body = message.get_body(preferencelist=("plain",))
            found = LINK.findall(str(body.get_content())) if body is not None else []
            if found:
                return str(found[-1])
        await asyncio.sleep(0.5)
    raise AssertionError(f"no confirmation email within {timeout_s}s")


async def test_mistakes_are_shown_next_to_the_fields_in_either_language(
    browser: Browser,
) -> None:
    page = await phone_page(browser)
    await page.goto(GATEWAY)
    nik = page.get_by_label("NIK (16 angka, lihat KTP)")
    await nik.fill("3275011708900000")
    await page.get_by_role("button", name="Kirim pendaftaran").click()
    summary = page.locator("#summary")
    await expect(summary).to_be_focused()
    await expect(page.locator("#nik-error")).to_have_text(
        "Empat angka terakhir NIK tidak boleh 0000."
    )
    await expect(nik).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#consent-error")).not_to_be_empty()
    await page.screenshot(path=SHOTS / "form-errors-id.png", full_page=True)

    await page.get_by_role("button", name="Switch to English").click()
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page.locator("#nik-error")).to_have_text(
        "The last four digits of the NIK cannot be 0000."
    )
    # What the person typed survives the switch.
    await expect(page.get_by_label("NIK (16 digits, see your KTP)")).to_have_value(
        "3275011708900000"
    )
    await page.screenshot(path=SHOTS / "form-errors-en.png", full_page=True)
    await page.context.close()


async def test_sign_up_confirm_by_email_link_and_reach_verified(browser: Browser) -> None:
    citizen = random_citizen(random.Random())
    email = f"web.{uuid.uuid4().hex[:10]}@example.id"
    page = await filled_form(browser, citizen, email)
    await page.screenshot(path=SHOTS / "form-filled.png", full_page=True)
    await send_sign_up(page)
    status_url = page.url
    await expect(page.get_by_role("heading", name="Status pendaftaran")).to_be_visible()
    # Shown once the sign-up is through Kafka and the projector: slow on a loaded machine.
    await expect(page.locator("#status-nik")).to_have_text(
        f"NIK berakhiran {citizen.nik[-4:]}", timeout=60_000
    )
    await page.screenshot(path=SHOTS / "status-submitted.png", full_page=True)

    link = await mail_link(email)
    await page.goto(link)
    confirmed = page.locator("#confirm-text")
    await expect(confirmed).to_have_class(re.compile("good"), timeout=60_000)
    await expect(confirmed).to_contain_text("kontak Anda sudah dikonfirmasi")
    # The token has served its purpose and is gone from the address bar (and history).
    assert "token=" not in page.url
    await page.screenshot(path=SHOTS / "email-confirmed.png", full_page=True)
    # The landing page leads on to the status, and a reload does not turn the answer red.
    await page.reload()
    await expect(confirmed).to_have_class(re.compile("good"), timeout=60_000)
    await page.locator("#to-status").click()
    await expect(page.locator("#status-nik")).to_have_text(
        f"NIK berakhiran {citizen.nik[-4:]}", timeout=60_000
    )

    await page.goto(status_url)
    await expect(page.locator('li[data-step="verified"]')).to_have_class("done", timeout=90_000)
    await expect(page.locator("#status-text")).to_contain_text("ikut dalam undian")
    await page.screenshot(path=SHOTS / "status-verified.png", full_page=True)
    await page.context.close()


# -- The waiting screen against a registration process with a tiny cap -------------------------


@pytest.fixture
def crowded_api() -> Iterator[str]:
    """Its own registration process: one request every 4 s and proof of work required, so the
    stack's own limits stay as they are."""
    with registration_api(
        "registration-web-test",
        {
            "GELOMBANG_ADMISSION_RATE_PER_S": "0.25",
            "GELOMBANG_ADMISSION_BURST": "1",
            # Busy enough to want proof of work from the browser, which is not trusted here.
            "GELOMBANG_POW_MODE": "always",
            "GELOMBANG_SIGNUP_IP_EXEMPT_CIDRS": "",
        },
    ) as base:
        yield base


async def test_a_full_site_makes_the_person_wait_and_submits_once_admitted(
    browser: Browser, crowded_api: str
) -> None:
    attempts: list[tuple[int, str | None, str | None, str | None, bool]] = []

    async def to_crowded_api(route: Route, request: Request) -> None:
        # Sign-ups go to the crowded process; everything else (the page, status) to the stack.
        answer = await route.fetch(url=f"{crowded_api}/api/v1/registrations")
        attempts.append(
            (
                answer.status,
                answer.headers.get("retry-after"),
                await request.header_value("idempotency-key"),
                request.post_data,
                await request.header_value("x-altcha") is not None,
            )
        )
        await route.fulfill(response=answer)

    page = await phone_page(browser)
    await page.route("**/api/v1/registrations", to_crowded_api)
    await page.goto(GATEWAY)
    citizen = random_citizen(random.Random())
    await fill_form(page, citizen, f"wait.{uuid.uuid4().hex[:10]}@example.id")

    # Other people got there first: the one free place is taken and two more are waiting.
    async with httpx.AsyncClient(base_url=crowded_api) as crowd:
        for _ in range(3):
            await crowd.get("/api/v1/registrations/00000000-0000-0000-0000-000000000000")
    await page.get_by_role("button", name="Kirim pendaftaran").click()

    # Not "in the queue": each retry is a fresh chance, and the page says so.
    waiting = page.get_by_role("heading", name="Situs sedang ramai")
    await expect(waiting).to_be_visible()
    await expect(waiting).to_be_focused()
    await expect(page.locator("h1:visible")).to_have_count(1)
    await expect(page.locator("#wait-fair")).to_contain_text("bukan antrean")
    first_wait = attempts[0][1]
    assert attempts[0][0] == 429 and first_wait is not None
    # The estimate is the wait the page will really make: never sooner than Retry-After.
    estimate = page.locator("#wait-when")
    await expect(estimate).to_have_text(re.compile(r"Perkiraan waktu tunggu: sekitar \d+ detik"))
    shown = re.search(r"sekitar (\d+) detik", await estimate.text_content() or "")
    assert shown and int(shown.group(1)) >= int(first_wait)
    await page.screenshot(path=SHOTS / "waiting-room.png", full_page=True)

    await page.wait_for_url(re.compile(r"/status#id="), timeout=90_000)
    await expect(page.get_by_role("heading", name="Status pendaftaran")).to_be_visible()
    await page.screenshot(path=SHOTS / "waiting-room-admitted.png", full_page=True)

    statuses = [a[0] for a in attempts]
    assert statuses[-1] == 202 and statuses.count(202) == 1, statuses
    # Turned away by the cap, asked for proof of work once admitted, solved it unseen.
    assert set(statuses[:-1]) == {429, 428}, statuses
    assert attempts[-1][4], "the admitted sign-up carried no proof of work"
    # Every attempt was the same sign-up: same key, same data the person typed once.
    assert len({a[2] for a in attempts}) == 1 and attempts[0][2]
    assert len({a[3] for a in attempts}) == 1
    await page.context.close()
