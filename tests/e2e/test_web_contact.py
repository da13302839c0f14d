"""The status page follows the contact step itself: a phone-only applicant keeps the SMS code
box after the NIK check finishes, and confirms with the code from an SMS that carries the
status link."""

from __future__ import annotations

import asyncio
import random
import re
import time

import httpx
import pytest
from playwright.async_api import Browser, expect

from testkit.population import MOBILE_PREFIXES, random_citizen
from tests.e2e.conftest import SHOTS
from tests.e2e.test_web import filled_form, send_sign_up

pytestmark = pytest.mark.e2e
SMS = "http://127.0.0.1:8092"


async def sms_text(phone: str, timeout_s: float = 90) -> str:
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(base_url=SMS, timeout=5) as client:
        while time.monotonic() < deadline:
            found = (await client.get("/v1/messages", params={"to": phone})).json()["messages"]
            if found:
                return str(found[-1]["text"])
            await asyncio.sleep(0.5)
    raise AssertionError(f"no SMS within {timeout_s}s")


async def test_phone_only_keeps_the_code_box_until_the_code_is_entered(browser: Browser) -> None:
    citizen = random_citizen(random.Random())
    # A real operator prefix: a random "08…" number is often no mobile number at all (the API
    # refused "0840…" with 422 in a clean-clone CI run, and the page waited for nothing).
    local = f"{random.choice(MOBILE_PREFIXES)}{random.randrange(10**8):08d}"
    page = await filled_form(browser, citizen, phone=f"0{local}")
    await send_sign_up(page)

    # The NIK check usually ends before anyone types a code: the box must still be there.
    await expect(page.locator('li[data-step="nik"]')).to_have_class("done", timeout=90_000)
    await expect(page.locator('li[data-step="contact"]')).to_have_class("current")
    await expect(page.get_by_label("Kode 6 angka dari SMS")).to_be_visible()
    await expect(page.locator("#status-text")).to_contain_text("lewat SMS ke ****")
    await page.screenshot(path=SHOTS / "status-sms-pending.png", full_page=True)

    text = await sms_text(f"+62{local}")
    assert page.url.split("/status", 1)[1].removesuffix("&sms=1") in text, (
        "the SMS does not carry the status link"
    )
    code = re.findall(r"\b(\d{6})\b", text)[0]
    # Pasted with a space, as people copy it from the message.
    await page.get_by_label("Kode 6 angka dari SMS").fill(f"{code[:3]} {code[3:]}")
    await expect(page.get_by_label("Kode 6 angka dari SMS")).to_have_value(code)
    await page.get_by_role("button", name="Konfirmasi kode").click()
    await expect(page.locator('li[data-step="verified"]')).to_have_class("done", timeout=90_000)
    await expect(page.locator("#otp")).to_be_hidden()
    await page.context.close()
