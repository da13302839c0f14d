"""'Change my number/email' on the status page, and a resend past its limit said out loud
(issue 20), in a phone-sized browser. The first test goes through the real stack (the SMS
simulator gets the new code at the new number); the others answer the API with page.route."""

from __future__ import annotations

import json
import random
import re
from typing import Any

import pytest
from playwright.async_api import Browser, Request, Route, expect

from gelombang.messages import message
from testkit.population import MOBILE_PREFIXES, random_citizen
from tests.e2e.conftest import SHOTS
from tests.e2e.test_web import filled_form, send_sign_up
from tests.e2e.test_web_again import RESEND, paused_status_page
from tests.e2e.test_web_axe import status_answer
from tests.e2e.test_web_contact import sms_text
from tests.e2e.test_web_errors import Endpoint, fulfil_json, json_answer, queued

pytestmark = pytest.mark.e2e
expect.set_options(timeout=30_000)

CHANGE = "**/api/v1/contact/change"


def mobile_number() -> str:
    """A local number with a real operator prefix (a random '08…' is often no mobile number)."""
    return f"0{random.choice(MOBILE_PREFIXES)}{random.randrange(10**8):08d}"


async def test_a_mistyped_number_is_changed_and_the_new_code_confirms(browser: Browser) -> None:
    citizen = random_citizen(random.Random())
    typed, right = mobile_number(), mobile_number()
    page = await filled_form(browser, citizen, phone=typed)
    await send_sign_up(page)
    await expect(page.locator("#status-text")).to_contain_text(
        f"lewat SMS ke ****{typed[-4:]}", timeout=90_000
    )
    first_sms = await sms_text(f"+62{typed[1:]}")

    await page.get_by_text("Salah mengetik email atau nomor HP?").click()
    field = page.get_by_label("Nomor HP yang benar")
    # Only the kind of contact this registration has.
    await expect(page.get_by_label("Alamat email yang benar")).to_be_hidden()
    # A landline: the API's sign-up rule, said under the field.
    await field.fill("021 5550 1234")
    await page.get_by_role("button", name="Ganti kontak").click()
    await expect(page.locator("#change-phone-error")).to_contain_text("Gunakan nomor HP")
    await expect(field).to_have_attribute("aria-invalid", "true")

    await field.fill(f"{right[:4]} {right[4:8]} {right[8:]}")
    await page.get_by_role("button", name="Ganti kontak").click()
    notice = page.locator("#change-notice")
    await expect(notice).to_contain_text(
        f"Permintaan diterima. Pesan konfirmasi baru sedang dikirim ke ****{right[-4:]}"
    )
    await expect(page.locator("#change-phone-error")).to_be_empty()
    # The status answer follows: the new number, masked, and the code box stays.
    await expect(page.locator("#contact-changed")).to_have_text(
        f"Kontak sudah diganti. Kami mengirim kode baru ke ****{right[-4:]}.", timeout=90_000
    )
    await expect(page.locator("#status-text")).to_contain_text(f"lewat SMS ke ****{right[-4:]}")
    await expect(page.get_by_label("Kode 6 angka dari SMS")).to_be_visible()
    await page.screenshot(path=SHOTS / "status-contact-changed.png", full_page=True)

    text = await sms_text(f"+62{right[1:]}")
    old_code = re.findall(r"\b(\d{6})\b", first_sms)[0]
    code = re.findall(r"\b(\d{6})\b", text)[0]
    box = page.get_by_label("Kode 6 angka dari SMS")
    if old_code != code:
        # The code sent to the mistyped number no longer works.
        await box.fill(old_code)
        await page.get_by_role("button", name="Konfirmasi kode").click()
        await expect(page.locator("#code-error")).not_to_be_empty()
    await box.fill(code)
    await page.get_by_role("button", name="Konfirmasi kode").click()
    await expect(page.locator('li[data-step="verified"]')).to_have_class("done", timeout=90_000)
    await expect(page.locator("#wrong-contact")).to_be_hidden()
    await page.context.close()


def waiting_for_code() -> dict[str, Any]:
    registration = status_answer("sms-sent-nik-done")
    assert registration is not None
    registration["contact"]["kinds"] = ["phone"]
    return registration


async def test_a_resend_past_the_limit_says_so_and_the_button_rests(browser: Browser) -> None:
    registration = waiting_for_code()
    page = await paused_status_page(browser, registration)
    code = "otp_resend_limit"
    limit = {"detail": message(code, "id", times=4), "errors": [], "code": code, "times": 4}
    resend = Endpoint(json_answer(429, limit))
    await page.route(RESEND, resend)
    await page.route(CHANGE, Endpoint(queued("contact_change_queued")))
    button = page.get_by_role("button", name="Kirim kode baru")
    await button.click()
    notice = page.locator("#otp-resend-notice")
    await expect(notice).to_contain_text("dikirim ulang 4 kali")
    await expect(notice).to_contain_text("ubah di halaman status")
    await expect(button).to_be_disabled()
    # No cooldown to wait out: the button stays off, however long the page is open.
    await page.clock.run_for(10 * 60_000)
    await expect(button).to_be_disabled()
    assert resend.requests == 1
    # In English, the page's own words for the same refusal.
    await page.get_by_role("button", name="Switch to English").click()
    await expect(notice).to_contain_text("as often as one registration allows")

    # A new number has sends of its own: the button is back.
    await page.get_by_text("Mistyped your email or phone number?").click()
    await page.get_by_label("The right mobile number").fill(mobile_number())
    await page.get_by_role("button", name="Change contact").click()
    await expect(page.locator("#change-notice")).to_contain_text("Request received")
    await expect(page.get_by_role("button", name="Send a new code")).to_be_enabled()
    await page.context.close()


async def test_a_change_refused_for_good_shuts_the_form(browser: Browser) -> None:
    registration = waiting_for_code()
    page = await paused_status_page(browser, registration)
    sent: list[dict[str, Any]] = []

    async def change(route: Route, request: Request) -> None:
        sent.append(json.loads(request.post_data or "{}"))
        code = "contact_change_limit"
        body = {"detail": message(code, "id", times=3), "errors": [], "code": code, "times": 3}
        await fulfil_json(route, 429, body)

    await page.route(CHANGE, change)
    await page.get_by_text("Salah mengetik email atau nomor HP?").click()
    submit = page.get_by_role("button", name="Ganti kontak")
    # Nothing typed: said under the field, nothing sent.
    await submit.click()
    await expect(page.locator("#change-phone-error")).to_have_text("Wajib diisi.")
    assert sent == []
    await page.get_by_label("Nomor HP yang benar").fill("0812 3456 7890")
    await submit.click()
    await expect(page.locator("#change-notice")).to_contain_text("sudah diubah 3 kali")
    await expect(submit).to_be_disabled()
    assert sent == [{"registration_id": registration["registration_id"], "phone": "0812 3456 7890"}]
    await page.context.close()
