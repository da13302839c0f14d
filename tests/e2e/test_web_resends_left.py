"""The resends left, next to the "send again" buttons of the status page (issue 20), in a
phone-sized browser, with the API answered by page.route: told before any refusal, in both
languages, and at none the button is off with the limit said while the change form stays."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Browser, Request, Route, expect

from gelombang.messages import message
from tests.e2e.test_web_again import RESEND, paused_status_page
from tests.e2e.test_web_axe import status_answer
from tests.e2e.test_web_errors import Endpoint, fulfil_json, json_answer

pytestmark = pytest.mark.e2e
expect.set_options(timeout=20_000)


def waiting(state: str, left: int | None) -> dict[str, Any]:
    registration = status_answer(state)
    assert registration is not None
    if left is not None:
        registration["contact"].update(resends_left=left, resend_limit=4)
    return registration


async def test_the_resends_left_are_told_in_both_languages(browser: Browser) -> None:
    registration = waiting("sms-sent-nik-done", 2)
    page = await paused_status_page(browser, registration)
    left = page.locator("#otp-resend-left")
    await expect(left).to_have_text("tersisa 2 dari 4")
    button = page.get_by_role("button", name="Kirim kode baru")
    await expect(button).to_be_enabled()
    # Read out with the button, not only seen next to it.
    await expect(button).to_have_attribute("aria-describedby", "otp-resend-left")
    await page.get_by_role("button", name="Switch to English").click()
    await expect(left).to_have_text("2 of 4 left")
    await page.context.close()


async def test_a_resend_taken_shows_the_new_count_at_once(browser: Browser) -> None:
    registration = waiting("email-sent", 4)
    page = await paused_status_page(browser, registration)

    async def resend(route: Route, request: Request) -> None:
        # The API's count moves with the request it took; the page asks for it right away.
        registration["contact"]["resends_left"] -= 1
        code = "otp_resend_queued"
        await fulfil_json(route, 202, {"status": code, "detail": message(code, "id")})

    await page.route(RESEND, resend)
    left = page.locator("#email-resend-left")
    await expect(left).to_have_text("tersisa 4 dari 4")
    await page.get_by_role("button", name="Kirim ulang email konfirmasi").click()
    await expect(page.locator("#email-resend-notice")).to_contain_text("sedang dikirim lagi")
    # The page's clock is paused: let its timers run a moment, less than a polling interval.
    await page.clock.run_for(1_000)
    await expect(left).to_have_text("tersisa 3 dari 4")
    await page.context.close()


async def test_none_left_turns_the_button_off_and_leaves_the_change(browser: Browser) -> None:
    registration = waiting("sms-sent-nik-done", 0)
    registration["contact"]["kinds"] = ["phone"]
    page = await paused_status_page(browser, registration)
    resend = Endpoint(json_answer(500, {}))
    await page.route(RESEND, resend)
    button = page.locator("#otp-resend")
    notice = page.locator("#otp-resend-notice")
    await expect(page.locator("#otp-resend-left")).to_have_text("tersisa 0 dari 4")
    await expect(button).to_be_disabled()
    # Said before anyone presses, and what to do instead: change the number below.
    await expect(notice).to_contain_text("ubah di bawah")
    await expect(page.get_by_text("Salah mengetik email atau nomor HP?")).to_be_visible()
    await page.get_by_role("button", name="Switch to English").click()
    await expect(notice).to_contain_text("change it below")
    await expect(page.locator("#otp-resend-left")).to_have_text("0 of 4 left")
    await expect(button).to_be_disabled()
    await button.click(force=True)
    assert resend.requests == 0

    # A new number starts a new count (the API resets it): the button is back with the next
    # answer. (The page's clock is paused: it runs just past one polling interval.)
    registration["contact"]["resends_left"] = 4
    await page.clock.run_for(3_500)
    await expect(page.locator("#otp-resend-left")).to_have_text("4 of 4 left")
    await expect(button).to_be_enabled()
    await expect(notice).to_be_empty()
    await page.context.close()


async def test_an_answer_without_the_count_shows_none(browser: Browser) -> None:
    # Redis down (or an API from before): the page behaves as before, told only by a refusal.
    registration = waiting("email-sent", None)
    page = await paused_status_page(browser, registration)
    await expect(page.get_by_role("button", name="Kirim ulang email konfirmasi")).to_be_enabled()
    await expect(page.locator("#email-resend-left")).to_be_hidden()
    await page.context.close()
