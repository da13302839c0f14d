"""What a person keeps on the sign-up page: what they typed across a reload (and a look at the
terms), the status link (copy, share), and the server's words in the language they chose.

Server answers are faked with page.route; the page itself comes through the gateway.
"""

from __future__ import annotations

import json
import random
import re
import uuid
from typing import Any

import pytest
from playwright.async_api import Browser, Page, Request, Route, expect

from gelombang.messages import Lang, message
from testkit.population import random_citizen
from tests.e2e.conftest import SHOTS
from tests.e2e.test_web import GATEWAY, fill_form, phone_page
from tests.e2e.test_web_errors import (
    SIGN_UP,
    STATUS,
    Endpoint,
    accepted,
    fake_status,
    json_answer,
    status_body,
)

pytestmark = pytest.mark.e2e

FORM_VALUES = """() => Object.fromEntries([...document.querySelectorAll('#signup [name]')]
  .filter((el) => el.type !== 'radio' || el.checked)
  .map((el) => [el.name, el.type === 'checkbox' ? el.checked : el.value]))"""


async def form_values(page: Page) -> dict[str, Any]:
    values: dict[str, Any] = await page.evaluate(FORM_VALUES)
    return values


async def test_the_form_survives_a_reload_and_a_look_at_the_terms(browser: Browser) -> None:
    citizen = random_citizen(random.Random())
    sign_up = Endpoint(json_answer(202, accepted()))
    page = await phone_page(browser)
    await page.route(SIGN_UP, sign_up)
    await page.route(STATUS, fake_status)
    await page.goto(GATEWAY)
    await fill_form(page, citizen, f"keep.{uuid.uuid4().hex[:8]}@example.id")
    await page.get_by_label("Nomor HP (tidak wajib jika email diisi)").fill("081234567890")
    typed = await form_values(page)
    assert typed["nik"] == citizen.nik and typed["regency_code"] == citizen.regency_code

    await page.reload()
    # Restored as typed; consent alone is asked again (it is given each time, on purpose).
    await expect(page.get_by_label("Kabupaten/kota tempat tinggal sekarang")).to_have_value(
        citizen.regency_code
    )
    assert await form_values(page) == {**typed, "consent": False}
    # Kept for this tab only: never in localStorage, never in the address.
    assert citizen.nik in (await page.evaluate("JSON.stringify(sessionStorage)"))
    assert citizen.nik not in (await page.evaluate("JSON.stringify(localStorage)"))
    assert citizen.nik not in page.url

    # The consent box links the terms, which say what the NIK check is for.
    await page.get_by_role(
        "link", name="Baca syarat dan ketentuan serta hak Anda atas data"
    ).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Syarat dan ketentuan")
    await expect(page.locator("#terms")).to_contain_text("Dukcapil")
    await expect(page.locator("#terms")).to_contain_text("Nomor 27 Tahun 2022")
    await expect(page).to_have_title(re.compile("^Syarat dan ketentuan"))
    await page.go_back()
    await expect(page.get_by_label("NIK (16 angka, lihat KTP)")).to_have_value(citizen.nik)
    await expect(page.get_by_label("Kabupaten/kota tempat tinggal sekarang")).to_have_value(
        citizen.regency_code
    )

    await page.get_by_label("Saya menyatakan data di atas benar", exact=False).check()
    await page.get_by_role("button", name="Kirim pendaftaran").click()
    await page.wait_for_url(re.compile(r"/status#id=.+&t=.+&sms=1"))
    assert sign_up.requests == 1
    # Done with: nothing of the form is left behind in the tab.
    assert await page.evaluate("sessionStorage.getItem('gelombang.draft')") is None
    await page.goto(GATEWAY)
    await expect(page.get_by_label("NIK (16 angka, lihat KTP)")).to_have_value("")
    await page.context.close()


async def test_the_form_is_usable_before_the_region_list_arrives(browser: Browser) -> None:
    held: list[Route] = []

    async def hold(route: Route, request: Request) -> None:
        held.append(route)

    page = await phone_page(browser)
    await page.route("**/data/regions.json", hold)
    await page.goto(GATEWAY)
    # Labels come with the page's script, not with the data.
    nik = page.get_by_label("NIK (16 angka, lihat KTP)")
    await nik.fill("3273015708900001")
    await page.get_by_label("Nama lengkap sesuai KTP").fill("Siti Aminah")
    await expect(page.get_by_label("Provinsi tempat tinggal sekarang")).to_contain_text("Memuat")
    await page.get_by_label("Nama lengkap sesuai KTP").focus()  # leaving the NIK field
    await expect(page.get_by_label("Tanggal lahir")).to_have_value("1990-08-17")
    assert held, "the region list was never asked for"
    for route in held:
        await route.continue_()
    await page.get_by_label("Provinsi tempat tinggal sekarang").select_option("32")
    await page.get_by_label("Kabupaten/kota tempat tinggal sekarang").select_option("3273")
    await page.context.close()


async def test_the_region_list_is_retried_when_it_fails(browser: Browser) -> None:
    async def busy(route: Route) -> None:
        await route.fulfill(status=503, body="busy")

    # Busy once, then the real list.
    regions = Endpoint(busy, Route.continue_)
    page = await phone_page(browser)
    await page.route("**/data/regions.json", regions)
    await page.clock.install()
    await page.goto(GATEWAY)
    await page.clock.run_for(3_000)  # the first backoff: 2 s plus jitter
    await page.get_by_label("Provinsi tempat tinggal sekarang").select_option("32")
    assert regions.requests == 2
    await page.context.close()


async def test_the_status_link_can_be_copied_and_shared(browser: Browser) -> None:
    context = await browser.new_context(
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
        permissions=["clipboard-read", "clipboard-write"],
    )
    # The phone's share sheet, recorded instead of opened.
    await context.add_init_script(
        "navigator.share = async (data) => { window.sharedWith = data; };"
    )
    page = await context.new_page()
    await page.route(STATUS, fake_status)
    url = f"{GATEWAY}/status#id={uuid.uuid4()}&t=token-{uuid.uuid4().hex}"
    await page.goto(url)
    await expect(page).to_have_title(re.compile("^Status pendaftaran"))
    await expect(page.get_by_label("Tautan status Anda")).to_have_value(url)

    await page.get_by_role("button", name="Salin tautan").click()
    await expect(page.locator("#copy-done")).to_have_text("Tautan disalin.")
    assert await page.evaluate("navigator.clipboard.readText()") == url
    await page.screenshot(path=SHOTS / "status-link-copied.png", full_page=True)

    await page.get_by_role("button", name="Kirim ke aplikasi lain").click()
    shared = await page.wait_for_function("window.sharedWith && window.sharedWith.url")
    assert await shared.json_value() == url
    await context.close()


async def test_without_the_clipboard_api_the_link_is_selected_for_copying(
    browser: Browser,
) -> None:
    page = await phone_page(browser)
    # Plain-http pages and older WebViews have no navigator.clipboard.
    await page.add_init_script(
        "Object.defineProperty(Navigator.prototype, 'clipboard', { get: () => undefined });"
    )
    await page.route(STATUS, fake_status)
    url = f"{GATEWAY}/status#id={uuid.uuid4()}&t=token"
    await page.goto(url)
    # No share sheet on this browser: no share button either.
    await expect(page.get_by_role("button", name="Kirim ke aplikasi lain")).to_be_hidden()
    await page.get_by_role("button", name="Salin tautan").click()
    await expect(page.locator("#copy-done")).to_have_text(
        re.compile("Tautan disalin|Tautan sudah dipilih")
    )
    selected = await page.evaluate(
        "(() => { const el = document.getElementById('status-link');"
        " return [el.selectionStart, el.selectionEnd, el.value.length]; })()"
    )
    assert selected == [0, len(url), len(url)]
    await page.context.close()


async def test_a_rejection_on_the_status_page_follows_a_language_switch(browser: Browser) -> None:
    asked: list[str | None] = []

    async def rejected(route: Route, request: Request) -> None:
        header = await request.header_value("accept-language")
        asked.append(header)
        lang: Lang = "en" if header == "en" else "id"
        history: list[dict[str, Any]] = [
            {"status": "submitted", "reason": None, "message": None, "at": "2026-12-03T10:00:00Z"},
            {
                "status": "rejected",
                "reason": "duplicate",
                "message": message("duplicate", lang),
                "at": "2026-12-03T10:00:05Z",
            },
        ]
        body = status_body("rejected", history=history)
        await route.fulfill(status=200, content_type="application/json", body=json.dumps(body))

    page = await phone_page(browser)
    await page.route(STATUS, rejected)
    await page.goto(f"{GATEWAY}/status#id={uuid.uuid4()}&t=token")
    text = page.locator("#status-text")
    await expect(text).to_contain_text("NIK ini sudah terdaftar melalui pendaftaran lain")
    # "Contact the complaints desk" comes with the desk's number and address.
    help_line = page.locator("#status-help")
    await expect(help_line.locator('a[href^="tel:"]')).to_have_count(1)
    await expect(help_line.locator('a[href^="mailto:"]')).to_have_count(1)

    await page.get_by_role("button", name="Switch to English").click()
    await expect(text).to_contain_text("This NIK was already registered by another sign-up")
    await expect(help_line).to_contain_text("complaints desk")
    await expect(page).to_have_title(re.compile("^Registration status"))
    assert "en" in asked
    await page.context.close()


async def test_the_code_page_has_its_own_heading_and_title(browser: Browser) -> None:
    page = await phone_page(browser)
    await page.goto(f"{GATEWAY}/kode#id={uuid.uuid4()}&t=token")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Masukkan kode SMS")
    await expect(page).to_have_title(re.compile("^Kode SMS"))
    await expect(page.get_by_label("Kode 6 angka dari SMS")).to_be_focused()
    await page.context.close()


async def test_the_code_box_and_its_answers_follow_the_contact_and_the_language(
    browser: Browser,
) -> None:
    contact = {
        "method": "sms",
        "state": "sent",
        "hint": "****4321",
        "confirm_by": "2026-12-05T10:00:00+00:00",
    }

    async def nik_checked(route: Route, request: Request) -> None:
        body = status_body("nik_verified", contact=contact)
        await route.fulfill(status=200, content_type="application/json", body=json.dumps(body))

    async def wrong_code(route: Route, request: Request) -> None:
        code = "otp_wrong"
        body = {
            "detail": message(code, "id"),
            "errors": [{"field": "code", "code": code, "message": message(code, "id")}],
        }
        await route.fulfill(status=422, content_type="application/json", body=json.dumps(body))

    page = await phone_page(browser)
    await page.route(STATUS, nik_checked)
    await page.route("**/api/v1/contact/otp/verify", wrong_code)
    await page.goto(f"{GATEWAY}/status#id={uuid.uuid4()}&t=token&sms=1")
    # The NIK check is done, the contact is not: the code box stays.
    await expect(page.locator('li[data-step="nik"]')).to_have_class("done")
    await expect(page.locator('li[data-step="contact"]')).to_have_class("current")
    await expect(page.locator("#status-text")).to_contain_text("lewat SMS ke ****4321")
    await page.get_by_label("Kode 6 angka dari SMS").fill("123 456")
    await page.get_by_role("button", name="Konfirmasi kode").click()
    await expect(page.locator("#code-error")).to_have_text(message("otp_wrong", "id"))
    await page.get_by_role("button", name="Switch to English").click()
    await expect(page.locator("#code-error")).to_have_text(
        "The verification code is wrong. Check the latest SMS you received."
    )
    await expect(page.locator("#status-text")).to_contain_text("by SMS to ****4321")
    await page.context.close()
