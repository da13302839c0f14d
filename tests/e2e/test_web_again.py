"""The status page's ways forward, in a phone-sized browser: the contact message sent again
(SMS code or email) within the API's cooldown, what to do about a mistyped contact, and a
rejection that says "register again" leading back to the form, refilled except what was wrong.

The faked tests answer the API with page.route and move the page's paused clock by hand; the
last test goes through the real stack (verification's name check, the NIK's release).
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
import uuid
from typing import Any

import pytest
from playwright.async_api import Browser, Page, Request, Route, expect

from gelombang.messages import message
from testkit.population import random_citizen
from testkit.simulators.mail_sink import find_messages
from tests.e2e.conftest import SHOTS
from tests.e2e.test_web import (
    GATEWAY,
    MAILDIR,
    fill_form,
    filled_form,
    mail_link,
    phone_page,
    send_sign_up,
)
from tests.e2e.test_web_axe import status_answer
from tests.e2e.test_web_errors import Endpoint, accepted, fulfil_json, queued

pytestmark = pytest.mark.e2e
expect.set_options(timeout=30_000)

SIGN_UP = "**/api/v1/registrations"
STATUS = "**/api/v1/registrations/*"
RESEND = "**/api/v1/contact/otp/resend"


async def paused_status_page(browser: Browser, answer: dict[str, Any]) -> Page:
    """The status page of ``answer``'s registration, as its link opens it, with the page's
    clock paused; the status API answers ``answer`` (as it stands at each request)."""
    page = await phone_page(browser)

    async def status(route: Route, request: Request) -> None:
        await fulfil_json(route, 200, answer)

    await page.route(STATUS, status)
    await page.clock.install()
    await page.goto(f"{GATEWAY}/status#id={answer['registration_id']}&t=tok")
    await expect(page.locator("#status-nik")).to_have_text("NIK berakhiran 0042")
    now_ms = await page.evaluate("Date.now()")
    # A margin: on a busy machine the page's clock runs on while this line is sent, and a
    # pause must be in its future.
    await page.clock.pause_at(now_ms / 1000 + 10)
    return page


async def test_the_email_can_be_sent_again_once_the_cooldown_is_over(browser: Browser) -> None:
    asked: list[dict[str, Any]] = []
    answers = [(202, {}), (429, {"Retry-After": "45"})]

    async def resend(route: Route, request: Request) -> None:
        asked.append(json.loads(request.post_data or "{}"))
        status, headers = answers.pop(0)
        code = "otp_resend_queued" if status == 202 else "otp_resend_too_soon"
        await fulfil_json(route, status, {"status": code, "detail": message(code, "id")}, **headers)

    registration = status_answer("email-sent")
    assert registration is not None
    page = await paused_status_page(browser, registration)
    await page.route(RESEND, resend)
    button = page.get_by_role("button", name="Kirim ulang email konfirmasi")
    notice = page.locator("#email-resend-notice")
    # A mistyped address: changed there (issue 20), with the deadline.
    await page.get_by_text("Salah mengetik email atau nomor HP?").click()
    await expect(page.locator("#wrong-contact-text")).to_contain_text("Ganti di sini")
    await expect(page.locator("#wrong-contact-text")).to_contain_text("Desember")

    await button.click()
    await expect(notice).to_contain_text("Email konfirmasi sedang dikirim lagi ke b***@example.id")
    await expect(notice).to_contain_text("Bisa diminta lagi sekitar pukul")
    await expect(button).to_be_disabled()
    assert asked == [{"registration_id": registration["registration_id"]}]
    await page.clock.run_for(61_000)
    await expect(button).to_be_enabled()

    # Refused as too soon (another tab asked, say): rests as long as the server says.
    await button.click()
    await expect(notice).to_contain_text("belum bisa diminta lagi")
    await expect(button).to_be_disabled()
    await page.clock.run_for(30_000)
    await expect(button).to_be_disabled()
    await page.clock.run_for(16_000)
    await expect(button).to_be_enabled()
    assert len(asked) == 2
    await page.screenshot(path=SHOTS / "status-email-resend.png", full_page=True)
    await page.context.close()


async def test_the_sms_code_can_be_sent_again_and_the_box_stays(browser: Browser) -> None:
    resend = Endpoint(queued("otp_resend_queued"))
    registration = status_answer("sms-sent-nik-done")
    assert registration is not None
    page = await paused_status_page(browser, registration)
    await page.route(RESEND, resend)
    await expect(page.get_by_label("Kode 6 angka dari SMS")).to_be_visible()
    # The NIK check is done, but "verified" still waits for the code.
    await expect(page.locator('li[data-step="nik"]')).to_have_class("done")
    await expect(page.locator('li[data-step="verified"]')).to_have_class("todo")
    # Not the email's button: this person gave only a phone number.
    await expect(page.locator("#email-again")).to_be_hidden()
    button = page.get_by_role("button", name="Kirim kode baru")
    await button.click()
    await expect(page.locator("#otp-resend-notice")).to_contain_text("Kode baru sedang dikirim")
    await expect(button).to_be_disabled()
    await page.clock.run_for(61_000)
    await expect(button).to_be_enabled()
    assert resend.requests == 1
    await page.context.close()


async def test_nothing_to_send_again_once_the_contact_is_confirmed(browser: Browser) -> None:
    registration = status_answer("nik-check")
    assert registration is not None
    page = await paused_status_page(browser, registration)
    await expect(page.locator("#status-text")).to_contain_text("Kontak terkonfirmasi")
    await expect(page.locator("#email-again")).to_be_hidden()
    await expect(page.locator("#wrong-contact")).to_be_hidden()
    await expect(page.locator("#otp")).to_be_hidden()
    await page.context.close()


# -- Register again --------------------------------------------------------------------------


async def test_a_rejection_leads_back_to_the_form_refilled_except_the_wrong_field(
    browser: Browser,
) -> None:
    citizen = random_citizen(random.Random())
    email = f"again.{uuid.uuid4().hex[:8]}@example.id"
    posts: list[tuple[str | None, dict[str, Any]]] = []
    status_of: dict[str, str] = {}

    async def sign_up(route: Route, request: Request) -> None:
        posts.append(
            (await request.header_value("idempotency-key"), json.loads(request.post_data or "{}"))
        )
        answer = accepted()
        status_of[answer["registration_id"]] = (
            "rejected-mismatch" if len(posts) == 1 else "verified"
        )
        await fulfil_json(route, 202, answer)

    async def status(route: Route, request: Request) -> None:
        registration_id = request.url.rsplit("/", 1)[1]
        body = status_answer(status_of[registration_id])
        assert body is not None
        await fulfil_json(route, 200, {**body, "registration_id": registration_id})

    page = await phone_page(browser)
    await page.route(SIGN_UP, sign_up)
    await page.route(STATUS, status)
    await page.goto(GATEWAY)
    await fill_form(page, citizen, email)
    await page.get_by_role("button", name="Kirim pendaftaran").click()
    await page.wait_for_url(re.compile(r"/status#id="))
    await expect(page.locator("#status-text")).to_contain_text("tidak sesuai")
    again = page.locator("#again")
    await expect(again).to_contain_text("Formulir akan terisi lagi")
    await page.screenshot(path=SHOTS / "status-register-again.png", full_page=True)

    await page.get_by_role("button", name="Daftar ulang sekarang").click()
    await page.wait_for_url(f"{GATEWAY}/")
    notice = page.locator("#again-notice")
    await expect(notice).to_be_focused()
    await expect(notice).to_contain_text("nama atau tanggal lahir tidak sesuai")
    # Everything back but the name, which was wrong, and the consent, which is asked again.
    await expect(page.get_by_label("NIK (16 angka, lihat KTP)")).to_have_value(citizen.nik)
    await expect(page.get_by_label("Nama lengkap sesuai KTP")).to_have_value("")
    await expect(page.get_by_label("Tanggal lahir")).to_have_value(citizen.birth_date.isoformat())
    await expect(page.get_by_label("Email (tidak wajib jika nomor HP diisi)")).to_have_value(email)
    await expect(page.get_by_label("Kabupaten/kota tempat tinggal sekarang")).to_have_value(
        citizen.regency_code
    )
    await expect(
        page.get_by_label("Saya menyatakan data di atas benar", exact=False)
    ).not_to_be_checked()
    await page.screenshot(path=SHOTS / "form-register-again.png", full_page=True)
    # The language switch redraws the note too.
    await page.get_by_role("button", name="Switch to English").click()
    await expect(notice).to_contain_text("did not match the civil registry")
    await page.locator("#lang-switch").click()
    await expect(notice).to_contain_text("nama atau tanggal lahir tidak sesuai")

    await page.get_by_label("Nama lengkap sesuai KTP").fill(citizen.full_name)
    await page.get_by_label("Saya menyatakan data di atas benar", exact=False).check()
    await page.get_by_role("button", name="Kirim pendaftaran").click()
    await page.wait_for_url(re.compile(r"/status#id="))
    await expect(page.locator("#status-text")).to_contain_text("ikut dalam undian")
    # A new attempt (its own key), with the corrected name; the copy for "register again" goes
    # once the registration is past the checks.
    assert len(posts) == 2 and posts[0][0] != posts[1][0]
    assert posts[1][1]["full_name"] == citizen.full_name and posts[1][1]["nik"] == citizen.nik
    assert await page.evaluate("sessionStorage.getItem('gelombang.sent')") is None
    assert await page.evaluate("sessionStorage.getItem('gelombang.draft')") is None
    await page.context.close()


async def test_without_what_was_sent_the_form_comes_back_empty_and_says_so(
    browser: Browser,
) -> None:
    registration = status_answer("rejected-expired")
    assert registration is not None
    page = await phone_page(browser)

    async def status(route: Route, request: Request) -> None:
        await fulfil_json(route, 200, registration)

    await page.route(STATUS, status)
    # Opened from the link in an SMS, in a new tab: nothing of the sign-up is kept here.
    await page.goto(f"{GATEWAY}/status#id={registration['registration_id']}&t=tok")
    await expect(page.locator("#again")).to_contain_text("tidak tersimpan di browser ini")
    await page.get_by_role("button", name="Daftar ulang sekarang").click()
    await expect(page.locator("#again-notice")).to_contain_text("Isi formulir ini lagi")
    await expect(page.get_by_label("NIK (16 angka, lihat KTP)")).to_have_value("")
    await page.context.close()


async def test_a_name_mismatch_is_registered_again_with_the_same_nik(browser: Browser) -> None:
    """Through the real stack: the registry refuses the name, the NIK is given back, and the
    form the status page leads to registers the same NIK again."""
    citizen = random_citizen(random.Random())
    email = f"again.{uuid.uuid4().hex[:10]}@example.id"
    page = await filled_form(browser, citizen, email)
    await page.get_by_label("Nama lengkap sesuai KTP").fill(f"{citizen.full_name} Wijaya")
    await send_sign_up(page)
    first = page.url
    await expect(page.locator("#status-text")).to_contain_text("tidak sesuai", timeout=120_000)
    await page.get_by_role("button", name="Daftar ulang sekarang").click()
    await expect(page.locator("#again-notice")).to_be_focused()
    await expect(page.get_by_label("NIK (16 angka, lihat KTP)")).to_have_value(citizen.nik)
    await page.get_by_label("Nama lengkap sesuai KTP").fill(citizen.full_name)
    await page.get_by_label("Saya menyatakan data di atas benar", exact=False).check()
    # The NIK's release may still be on its way: the page then waits and sends again by itself.
    await send_sign_up(page)
    assert page.url != first
    await expect(page.locator("#status-nik")).to_have_text(
        f"NIK berakhiran {citizen.nik[-4:]}", timeout=60_000
    )
    await expect(page.locator('li[data-step="nik"]')).to_have_class("done", timeout=120_000)
    await expect(page.locator("#again")).to_be_hidden()
    await page.context.close()


async def test_the_confirmation_email_comes_again_on_request(browser: Browser) -> None:
    """Through the real stack: the button sends the same confirmation email a second time."""
    citizen = random_citizen(random.Random())
    email = f"resend.{uuid.uuid4().hex[:10]}@example.id"
    page = await filled_form(browser, citizen, email)
    await send_sign_up(page)
    first = await mail_link(email, timeout_s=120)
    button = page.get_by_role("button", name="Kirim ulang email konfirmasi")
    await button.click()
    await expect(page.locator("#email-resend-notice")).to_contain_text("sedang dikirim lagi")
    deadline = time.monotonic() + 120
    while len(await asyncio.to_thread(find_messages, MAILDIR, email)) < 2:
        assert time.monotonic() < deadline, "no second confirmation email within 120 s"
        await asyncio.sleep(0.5)
    # The same link: either email confirms the address.
    assert await mail_link(email) == first
    await page.context.close()
